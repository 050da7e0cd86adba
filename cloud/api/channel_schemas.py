"""What the routes of reconciliation, distributors and OTAs, and members send back (their
response models, so /docs shows them): routes/reconciliation.py, routes/channel.py,
routes/members.py.

As in schemas.py's answers, fields that were always ISO text stay ``str`` (dates, and times in
the site's time zone with their offset), and fields are in the order the routes and services
write them, so the JSON is exactly what it was.
"""

from __future__ import annotations

from pydantic import BaseModel

# --- reconciliation (routes/reconciliation.py, services/reconciliation/matching.py) ---


class StatementImported(BaseModel):
    statement_id: int
    lines: int
    total_fen: int
    mismatches: dict[str, int]  # kind -> how many of that kind the import found


class MismatchOut(BaseModel):
    """Where a channel's statement and our payments disagree (``matching.mismatch_view``)."""

    id: int
    channel: str
    day: str  # ISO date
    kind: str  # matching.MISMATCH_KINDS
    subject: str  # payment | refund
    key: str  # the channel's transaction (or refund) number
    order_no: str
    ours_fen: int | None
    theirs_fen: int | None
    ours_status: str | None
    theirs_status: str | None
    state: str  # open | resolved
    note: str | None
    resolved_by: str | None


class DayClosed(BaseModel):
    channel: str
    day: str  # ISO date
    statement_fen: int  # the channel's payments less refunds
    ours_fen: int  # ours on that day, likewise
    resolved: int  # mismatches resolved with a note


# --- distributors and OTAs (routes/channel.py, services/channels.py) ---


class ChannelAccountOut(BaseModel):
    """A partner's own account, as its API key sees it."""

    code: str
    kind: str  # ota | distributor
    site: str
    balance_fen: int
    credit_limit_fen: int


class ChannelTicket(BaseModel):
    ticket_no: str
    text: str  # the signed code to print or send
    ota_code: str | None  # the channel's own code the ticket stands for, if it gave one


class ChannelSale(BaseModel):
    """A partner's sale (``channels.Sale``), charged to its balance at the net price."""

    order_no: str
    gross_fen: int
    commission_fen: int
    net_fen: int
    balance_fen: int
    tickets: list[ChannelTicket]


class ChannelRefund(BaseModel):
    order_no: str
    refund_fen: int
    fee_fen: int
    revoked: list[str]  # ticket numbers
    balance_fen: int


class ChannelCreated(BaseModel):
    code: str
    api_key: str  # the partner's key, shown once
    note: str


class TermsSet(BaseModel):
    status: str  # ok


class ToppedUp(BaseModel):
    balance_fen: int


class ChannelStatementOut(BaseModel):
    """A partner's daily statement (对账单); ``confirmed_by`` once finance confirmed it."""

    day: str  # ISO date
    sales_fen: int
    refunds_fen: int
    commission_fen: int
    net_fen: int
    topups_fen: int
    balance_fen: int
    orders: int
    confirmed_by: str | None


# --- members, coupons and flash sales (routes/members.py, services/members.py) ---


class CodeSent(BaseModel):
    status: str  # sent


class MemberSignedIn(BaseModel):
    member_id: int
    token: str  # send as X-Member-Token
    new: bool  # the contact signed up just now


class MemberProfile(BaseModel):
    member_id: int
    contact: str | None  # None once deleted
    name: str | None
    level: str
    points: int
    spent_fen: int
    since: str  # ISO instant, site time


class MemberOrder(BaseModel):
    order_no: str
    status: str
    total_fen: int
    created_at: str  # ISO instant, site time


class PointsMovementOut(BaseModel):
    at: str  # ISO instant, site time
    change: int
    reason: str  # earned | redeemed | taken_back | taken_back_fen | given_back (refunds)
    order_no: str
    fen: int = 0  # taken_back_fen: deducted from the refund for points already spent


class OfferTaken(BaseModel):
    offer: str
    taken: int


class PassRenewalExported(BaseModel):
    status: str
    valid_from: str
    valid_until: str


class PassExported(BaseModel):
    """An annual pass (年卡) of the member, as the export lists it."""

    pass_id: int
    status: str
    valid_from: str
    valid_until: str
    holder_name: str | None
    holder_contact: str | None
    renewals: list[PassRenewalExported]


class MemberExport(BaseModel):
    """Everything held about a member (个人信息导出)."""

    profile: MemberProfile
    orders: list[MemberOrder]
    points: list[PointsMovementOut]
    offers: list[OfferTaken]
    passes: list[PassExported]


class MemberDeleted(BaseModel):
    status: str  # deleted


class MemberCheckout(BaseModel):
    order_no: str
    total_fen: int
    points: int  # the member's points after the order


class PointsEarned(BaseModel):
    earned: int
    points: int  # the member's points after them


class FlashOrder(BaseModel):
    order_no: str
    total_fen: int


class FlashSaleCreated(BaseModel):
    id: int


class CouponCreated(BaseModel):
    code: str  # upper case, as buyers type it in any case
