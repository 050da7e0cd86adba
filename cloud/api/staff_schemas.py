"""What the staff routes send back (their response models, so /docs shows them): reports,
search and an order's story, accounts and second factors, the calendar and prices, the audit
viewer.

As in schemas.py's answers, fields that were always ISO text stay ``str`` (times in the site's
time zone, with their offset), and fields are in the order the services write them, so the
JSON is exactly what it was. What a gate reported (signed event data, never checked by the
cloud) and what an audit entry's detail holds are passed on as they are: ``Any``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

# --- reports (routes/reports.py) ---


class ReportSummary(BaseModel):
    """A report's measures added up per value of ``by`` (sorted), and in total."""

    site: str
    from_: str = Field(alias="from")  # ISO date, the site's, inclusive
    to: str  # ISO date, inclusive
    report: str  # sales, entries, refunds, shifts, capacity, in_park
    by: str  # the column grouped by
    measures: list[str]  # the columns added up
    rows: list[dict[str, Any]]  # {<by>: value, <measure>: sum...} per value of by
    total: dict[str, int]  # <measure>: sum over all rows


class InParkHour(BaseModel):
    day: str  # ISO date
    hour: int
    entries: int
    exits: int
    in_park: int  # the count at the hour's last passage


class InParkCurve(BaseModel):
    """``in_park`` by ``hour``: the count in the park at the end of each hour with passages."""

    model_config = ConfigDict(extra="forbid")  # a summary (measures, total) is not a curve

    site: str
    from_: str = Field(alias="from")
    to: str
    report: str
    by: str
    rows: list[InParkHour]


class ReportOut(RootModel[ReportSummary | InParkCurve]):
    """A report as JSON: a summary, or the in-park curve for ``in_park`` by ``hour``."""


# --- search and an order's story (routes/search.py, services/order_story.py) ---


class OrderFound(BaseModel):
    """An order as a search lists it."""

    order_no: str
    site: str
    status: str
    channel: str
    total_fen: int
    paid_fen: int
    refunded_fen: int
    created_at: str  # ISO instant, site time
    paid_at: str | None
    flag_reason: str | None
    has_contact: bool  # a contact is kept (encrypted; never shown here)


class StoryItem(BaseModel):
    product: str  # product code
    price_type: str
    quantity: int
    unit_fen: int
    inventory_id: int


class StoryPayment(BaseModel):
    provider: str
    provider_txn: str
    amount_fen: int
    status: str
    shift_id: int | None  # the till's shift, for cash
    received_at: str


class StoryTicket(BaseModel):
    """A ticket without its code."""

    ticket_no: str
    status: str
    people: int
    unit_fen: int
    valid_from: str  # ISO date
    valid_until: str
    real_name: bool
    issued_at: str
    replaced_by: str | None  # the ticket number a date change replaced it with


class StoryEntry(BaseModel):
    """A use or refusal a gate reported; the gate's fields are as it signed them."""

    at: str
    gate: str  # node
    zone: int | None
    kind: str  # use | denial
    ticket_no: Any
    direction: Any  # in | out
    granted: Any  # people let through, for a use
    passages: int  # who actually walked through
    reason: Any  # keys/reasons.py, for a denial


class StoryRefund(BaseModel):
    kind: str  # refund | change
    tickets: list[str]
    amount_fen: int
    fee_fen: int
    status: str
    actor: str
    at: str


class StoryAudit(BaseModel):
    at: str
    actor: str
    source: str  # client address
    action: str
    target: str
    detail: Any


class OrderStory(OrderFound):
    """Everything that happened to one order, each part in time order."""

    items: list[StoryItem]
    payments: list[StoryPayment]
    tickets: list[StoryTicket]
    entries: list[StoryEntry]
    refunds: list[StoryRefund]
    audit: list[StoryAudit]


# --- accounts and second factors (routes/users.py) ---


class UserOut(BaseModel):
    username: str
    role: str
    active: bool
    second_factor: bool  # signing in needs a TOTP code


class UserChanged(UserOut):
    sessions_ended: int  # the user's sessions a new role or disabling ended


class SecondFactorEnrolment(BaseModel):
    secret: str  # base32, for typing into an authenticator app
    uri: str  # otpauth://, for a QR code


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]  # shown this once; each signs in once instead of a code


# --- the calendar and prices (routes/calendar.py) ---


class DayPrice(BaseModel):
    product: str  # product code
    price_type: str
    amount_fen: int  # what one place costs that day (the peak price on a peak day)


class CalendarDayOut(BaseModel):
    day: str  # ISO date
    closed: bool
    peak: bool
    prices: list[DayPrice]  # none on a closed day


class CalendarDaySet(BaseModel):
    site: str
    day: str  # ISO date
    closed: bool
    peak: bool


class ProductPrice(BaseModel):
    product_id: int
    price_type: str
    amount_fen: int
    peak_amount_fen: int | None  # None: the normal amount on peak days too


# --- the audit viewer (routes/audit_log.py) ---


class AuditEntryOut(BaseModel):
    id: int
    at: str  # ISO instant, site time
    actor: str
    source: str
    action: str
    target: str
    detail: Any


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]  # oldest first, at most 500
    next_after_id: int | None  # pass as after_id for the next page; None: the last page
