"""Request and response bodies of the HTTP API (pydantic), apart from the tables they touch.

Money is integer fen; days are ISO dates in the site's calendar; ticket numbers are upper-case
hex. Unknown fields are refused, so a typo is an error, not a silently ignored option. Input is
strict: a number is a JSON number and a flag a JSON boolean, so ``"1"`` or ``true`` is refused
as a quantity instead of becoming 1 (dates alone are ISO text, ``Day``). Site codes are whole
matches of one rule (services/sites.py): they become MQTT topic levels.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, model_validator

from cloud.services.sites import SITE_CODE

# Far above any gate setting's range (keys/gate_settings.py names the real one in its 422):
# only so that no integer the API takes is unbounded.
SETTING_CEILING = 1_000_000
# A database id: positive and within a 32-bit column, so no input can overflow the engine.
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
PathId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # the same, in a route's path
# An ISO date in JSON text (the one kind of input that is not strict).
Day = Annotated[date, Field(strict=False)]
SiteCode = Annotated[str, Field(pattern=f"^{SITE_CODE}$")]  # pydantic: $ is the text's end
ZoneId = Annotated[int, Field(ge=0, le=65535)]  # keys/claims.py: zone ids are uint16


def _distinct(zones: list[int] | None) -> list[int] | None:
    if zones is not None and len(set(zones)) != len(zones):
        raise ValueError("zones must be distinct")
    return zones


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class Login(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    # The one-time code (or a recovery code) of an account with a second factor.
    totp: str | None = Field(default=None, min_length=1, max_length=32)


class TokenOut(BaseModel):
    access_token: str
    role: str
    expires_at: datetime


class ZoneIn(Strict):
    zone: ZoneId
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)


class SiteIn(Strict):
    code: SiteCode
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    zones: list[ZoneIn] = Field(default_factory=list, max_length=100)


class PriceIn(Strict):
    price_type: str = Field(pattern="^(adult|child|concession|senior|group|member)$")
    amount_fen: int = Field(ge=0, le=10_000_000)
    peak_amount_fen: int | None = Field(default=None, ge=0, le=10_000_000)


class ProductIn(Strict):
    site: SiteCode
    code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(day|multi_day|month|season|annual|package|timed)$")
    validity_days: int = Field(default=1, ge=1, le=400)
    entries: int = Field(default=1, ge=0, le=65535)
    entries_per_day: int | None = Field(default=None, ge=1, le=65535)
    # 1-64 distinct zone ids, as a ticket's zones claim allows; None: every zone of the site.
    zones: Annotated[
        list[ZoneId] | None, Field(min_length=1, max_length=64), AfterValidator(_distinct)
    ] = None
    real_name: bool = False
    refund_until_hours: int = Field(default=24, ge=-24, le=24 * 365)
    refund_fee_percent: int = Field(default=0, ge=0, le=100)
    changeable: bool = True
    max_per_order: int = Field(default=20, ge=1, le=1000)
    prices: list[PriceIn] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _one_price_per_type(self) -> ProductIn:
        types = [price.price_type for price in self.prices]
        if len(set(types)) != len(types):
            raise ValueError("each price type at most once / 每种票价类型只能出现一次")
        return self


class InventoryIn(Strict):
    product_id: Id
    day: Day
    capacity: int = Field(ge=0, le=1_000_000)
    slot_start: int | None = Field(default=None, ge=0, le=1439)
    slot_end: int | None = Field(default=None, ge=1, le=1440)
    warn_percent: int = Field(default=80, ge=1, le=100)
    stop_percent: int = Field(default=100, ge=1, le=100)

    @model_validator(mode="after")
    def _warn_before_stop(self) -> InventoryIn:
        # 预警 before 限流: a warning that comes after sales have stopped warns of nothing.
        if self.warn_percent > self.stop_percent:
            raise ValueError("warn_percent must not exceed stop_percent / 预警比例不能高于限流比例")
        if (self.slot_start is None) != (self.slot_end is None):
            raise ValueError("give slot_start and slot_end together / 时段起止须同时给出")
        if (
            self.slot_start is not None
            and self.slot_end is not None
            and (self.slot_end <= self.slot_start)
        ):
            raise ValueError("slot_end must be after slot_start / 时段结束须晚于开始")
        return self


class LineIn(Strict):
    inventory_id: Id
    price_type: str = Field(max_length=16)
    quantity: int = Field(ge=1, le=1000)
    group_ticket: bool = False
    holders: list[str] = Field(default_factory=list, max_length=1000)


class OrderIn(Strict):
    site: SiteCode
    channel: str = Field(default="web", max_length=16)
    contact: str | None = Field(default=None, max_length=100)
    lines: list[LineIn] = Field(min_length=1, max_length=50)


class TicketOut(BaseModel):
    ticket_no: str
    status: str
    people: int
    valid_from: date
    valid_until: date
    text: str


class OrderOut(BaseModel):
    order_no: str
    status: str
    total_fen: int
    paid_fen: int
    refunded_fen: int
    expires_at: datetime
    duplicate_of: str | None = None
    access_token: str | None = None  # only in the answer that created the order
    tickets: list[TicketOut] = Field(default_factory=list)


class CashPaid(OrderOut):
    """The order after cash was taken, and the change to hand back (找零)."""

    tendered_fen: int
    change_fen: int


class PayIn(Strict):
    provider: str = Field(pattern="^(sandbox|wechat|alipay)$")  # UnionPay: no maintained SDK


class CashIn(Strict):
    tendered_fen: int = Field(ge=0, le=100_000_000)


class ShiftOpen(Strict):
    float_fen: int = Field(ge=0, le=100_000_000)


class ShiftClose(Strict):
    counted_fen: int = Field(ge=0, le=100_000_000)


class RefundIn(Strict):
    tickets: list[str] | None = Field(default=None, max_length=1000)


class ChangeIn(Strict):
    inventory_id: Id


class VerifyIn(Strict):
    code: str = Field(min_length=1, max_length=400)
    zone: ZoneId | None = None  # where the partner stands; None: zones are not checked


# --- Answers: what each route sends back (its response_model, so /docs shows it) ---
# Fields that were always ISO text stay ``str``, so the JSON is exactly what it was.


class WhoAmI(BaseModel):
    id: int
    username: str
    role: str


class SessionsEnded(BaseModel):
    ended: int  # how many sessions of the user were ended


class ZoneOut(BaseModel):
    zone: int
    name_zh: str
    name_en: str


class SiteOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    timezone: str
    zones: list[ZoneOut]


class PriceOut(BaseModel):
    price_type: str
    amount_fen: int
    peak_amount_fen: int | None


class ProductOut(BaseModel):
    id: int
    code: str
    site: str
    name_zh: str
    name_en: str
    kind: str
    validity_days: int
    entries: int
    real_name: bool
    refund_until_hours: int
    refund_fee_percent: int
    changeable: bool
    prices: list[PriceOut]


class InventoryOut(BaseModel):
    """A day's (or a slot's) places, as ``Inventory.describe`` gives them."""

    inventory_id: int
    day: str  # ISO date
    slot_start: int | None  # minutes of the day; None: the whole day
    slot_end: int | None
    capacity: int
    taken: int
    available: int  # what may still be sold: up to the stop threshold (限流)
    warning: bool  # taken has reached warn_percent (预警)
    stopped: bool  # taken has reached stop_percent: sales stop


class PaymentIntentOut(BaseModel):
    provider: str
    order_no: str
    amount_fen: int
    pay_url: str | None
    details: dict[str, Any] | None  # what the channel's client needs (JSAPI parameters...)


class NotifyOut(BaseModel):
    code: str  # "SUCCESS": the channel stops retrying
    order_no: str
    result: str  # paid, already_applied, flagged, refunded...


class SandboxPaid(BaseModel):
    order_no: str
    result: str
    tickets: int  # how many codes were issued


class ShiftOpened(BaseModel):
    shift_id: int
    float_fen: int


class ShiftClosed(BaseModel):
    shift_id: int
    expected_fen: int
    counted_fen: int | None
    difference_fen: int  # counted less expected: negative when the till is short


class ChangeOut(BaseModel):
    """What a refund or a date change did: money back (a change has none), the codes revoked
    at the gates, the new codes (a refund has none)."""

    order_no: str
    refund_fen: int
    fee_fen: int
    revoked: list[str]
    new_tickets: list[str]


class RefundOut(ChangeOut):
    refund_status: str  # succeeded, or pending: retry with the same Idempotency-Key


class RefundsRetried(RootModel[dict[str, int]]):
    """How many pending refunds ended in each state (``succeeded``, ``pending``...)."""


class VerifyOut(BaseModel):
    ticket_no: str | None
    verified_at: str  # ISO instant
    valid: bool
    reason: str  # keys/reasons.py
    message_en: str
    message_zh: str
    used_at: str | None  # ISO instant of the first entry, if any
    entries_used: int


class Health(BaseModel):
    status: str


# --- the visitor's phone (routes/visitor.py) ---
class ZoneName(BaseModel):
    zh: str
    en: str


class TicketCard(BaseModel):
    """One code as the ticket page shows and keeps it on the phone."""

    ticket_no: str
    status: str
    people: int
    price_type: str
    product_id: int
    product_zh: str
    product_en: str
    day: str  # ISO date, the site's
    valid_until: str
    slot: str | None  # "09:00-10:00" in the site's time; None for a whole day
    zones: list[ZoneName]
    holder: str | None  # the ID number masked, for a real-name ticket
    qr_png: str | None  # a data: URI; None once the code is no longer valid
    refundable: bool
    changeable: bool
    refund_fen: int
    fee_fen: int
    refund_until_hours: int | None
    why_not: str | None  # the refusal code when neither is possible


class CardSite(BaseModel):
    code: str
    name_zh: str
    name_en: str
    timezone: str


class TicketCardsOut(BaseModel):
    order_no: str
    status: str
    total_fen: int
    paid_fen: int
    refunded_fen: int
    expires_at: str
    site: CardSite
    tickets: list[TicketCard]


class ChangeOption(InventoryOut):
    slot: str | None  # "09:00-10:00" in the site's time


class QuoteOut(BaseModel):
    """What refunding or changing a ticket would do now, before the visitor confirms."""

    ticket_no: str
    refundable: bool
    changeable: bool
    refund_fen: int
    fee_fen: int
    change_fee_fen: int
    refund_until_hours: int | None
    why_not: str | None
    options: list[ChangeOption]


# --- per-site gate settings (routes/gate_settings.py, services/gate_settings.py) ---
# Types only here: the ranges are the gates' own rules (keys/gate_settings.py), checked by the
# service, so a value a gate would refuse is 422 ``bad_gate_setting`` naming the field.


class GateFaceSettings(BaseModel):
    """A face lane's thresholds (gate_node/face/settings.py says what each does); a figure
    left out is the gate's default."""

    model_config = ConfigDict(extra="forbid", strict=True)
    max_distance: float | None = None  # 0.2-0.8, default 0.5
    frames: int | None = Field(default=None, le=SETTING_CEILING)  # 1-30, default 5
    min_face_px: int | None = Field(default=None, le=SETTING_CEILING)  # 40-1000, default 80
    detect_scale: float | None = None  # 0.25-1.0, default 1.0
    min_score: float | None = None  # -1.0-2.0, default 0.3
    liveness: str | None = None  # blink or off
    blink_ratio: float | None = None  # 0.3-0.95, default 0.7
    check_timeout_s: float | None = None  # 1-30, default 5
    keep_images_days: int | None = Field(
        default=None, le=SETTING_CEILING
    )  # 0-30, default 0 (never kept)


class GateSettingsIn(BaseModel):
    """Every gate of a site: a setting left out keeps each gate's own value."""

    model_config = ConfigDict(extra="forbid", strict=True)
    slot_grace_before: int | None = Field(
        default=None, le=SETTING_CEILING
    )  # minutes a slot's tickets are good before it starts
    slot_grace_after: int | None = Field(default=None, le=SETTING_CEILING)  # minutes after it ends
    min_gap_minutes: int | None = Field(
        default=None, le=SETTING_CEILING
    )  # between two uses of one ticket
    exit_requires_entry: bool | None = None
    real_name_check: str | None = None  # none, id_card or face
    face: GateFaceSettings | None = None

    def chosen(self) -> dict[str, Any]:
        """Only the settings given (face: only its figures given)."""
        return self.model_dump(exclude_none=True)


class GateSettingsOut(BaseModel):
    site: str
    settings: dict[str, Any]  # the settings the gates were last sent (only those set)
    config_seq: int | None  # the root-signed config document that carries them
    signed_at: datetime | None
