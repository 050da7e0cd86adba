"""Members (会员): registration by phone or email with a verification code, member sessions,
profile, levels, points, checkout with points and coupons, export and deletion of one's own
data, and staff access (audited).

- A code is six digits, sent through a ``Sender`` (``ConsoleSender`` by default: it writes the
  message to a stream, for a site without an SMS gateway; an SMS or mail gateway is any class
  with the same ``send``). Only its HMAC is stored, for ``CODE_TTL``; ``MAX_ATTEMPTS`` wrong
  tries use it up. Each try is counted in its own committed transaction (``verify`` takes the
  sessionmaker), so a refusal cannot roll the count back.
- Contacts and names are sealed (services/personal_data.py: AES-GCM); a member is found by the
  blind reference of the contact, which is also the ``buyer_ref`` of their orders.
- Levels by lifetime spend (``LEVELS``); points: ``POINTS_PER_YUAN`` earned per yuan of a paid
  order (once per order), each point worth ``FEN_PER_POINT`` at checkout. Spending is one
  conditional UPDATE (``points >= n``), so concurrent checkouts cannot spend a point twice.
  A refund takes back the points earned on its part and gives back those redeemed on it
  (services/points_refund.py).
- Deletion wipes the contact, name and reference and ends every session; orders stay (the
  books need them) with their own sealed contact, as the law on accounting records asks.
  Annual passes stay valid but lose the holder's name, contact and face (``_forget_passes``);
  the export lists them with their renewals.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TextIO

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.core.security import new_token, token_hash
from cloud.models import (
    AnnualPass,
    FaceEnrolment,
    Inventory,
    Member,
    MemberCode,
    MemberSession,
    MemberTake,
    Order,
    OrderItem,
    PassRenewal,
    PointsMovement,
    Price,
)
from cloud.models.base import as_utc
from cloud.services import promotions
from cloud.services.audit import audit
from cloud.services.orders import LineRequest, create_order
from cloud.services.personal_data import PersonalData

CODE_TTL = timedelta(minutes=10)
RESEND_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5
SESSION_TTL = timedelta(days=30)
LEVELS = (("gold", 500_000), ("silver", 100_000), ("regular", 0))  # lifetime spend, fen
POINTS_PER_YUAN = 1
FEN_PER_POINT = 1  # 100 points = 1 yuan
_PHONE = re.compile(r"1[3-9]\d{9}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}")


class Sender(Protocol):
    def send(self, contact: str, text_en: str, text_zh: str) -> None: ...


class ConsoleSender:
    """Writes each message to ``stream`` (default stderr): the default on a site without an
    SMS gateway, and what the demo and tests read the code from."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def send(self, contact: str, text_en: str, text_zh: str) -> None:
        print(f"to {contact}: {text_zh} / {text_en}", file=self.stream, flush=True)


@dataclass(frozen=True)
class SignedIn:
    member_id: int
    token: str  # shown once; stored hashed
    new: bool


def normalise_contact(contact: str) -> str:
    text = contact.strip().replace(" ", "").replace("-", "")
    if text.startswith("+86"):
        text = text[3:]
    if _PHONE.fullmatch(text) or _EMAIL.fullmatch(text):
        return text.lower()
    raise Problem(Code.BAD_CONTACT)


def request_code(
    session: Session, contact: str, *, pd: PersonalData, sender: Sender, now: datetime
) -> None:
    """Send a new code to ``contact``; 429 if one went out less than a minute ago."""
    contact = normalise_contact(contact)
    ref = pd.blind_ref(contact)
    held = session.get(MemberCode, ref)
    if held is not None and as_utc(held.expires_at) - CODE_TTL + RESEND_AFTER > now:
        raise Problem(Code.CODE_TOO_SOON, seconds=int(RESEND_AFTER.total_seconds()))
    code = f"{secrets.randbelow(10**6):06d}"
    if held is not None:
        session.delete(held)
        session.flush()
    session.add(
        MemberCode(contact_ref=ref, code_hash=_code_hash(pd, ref, code), expires_at=now + CODE_TTL)
    )
    session.flush()
    sender.send(
        contact,
        f"Your verification code is {code}, valid for 10 minutes.",
        f"您的验证码是{code}，10分钟内有效。",
    )


def verify(
    sessions: sessionmaker[Session], contact: str, code: str, *, pd: PersonalData, now: datetime
) -> SignedIn:
    """Sign in (registering on first use) with the code sent to ``contact``."""
    contact = normalise_contact(contact)
    ref = pd.blind_ref(contact)
    with sessions.begin() as db:  # count the try first, in a transaction of its own
        counted = db.execute(
            update(MemberCode)
            .where(
                MemberCode.contact_ref == ref,
                MemberCode.attempts < MAX_ATTEMPTS,
                MemberCode.expires_at > now,
            )
            .values(attempts=MemberCode.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount != 1:  # type: ignore[attr-defined]
            raise Problem(Code.BAD_MEMBER_CODE)
        held = db.get(MemberCode, ref)
        assert held is not None
        if not hmac.compare_digest(held.code_hash, _code_hash(pd, ref, code.strip())):
            wrong = True
        else:
            wrong = False
            db.delete(held)
    if wrong:
        raise Problem(Code.BAD_MEMBER_CODE)
    with sessions.begin() as db:
        member = db.scalar(select(Member).where(Member.contact_ref == ref))
        new = member is None
        if member is None:
            member = Member(contact_ref=ref, contact=pd.seal(contact), created_at=now)
            db.add(member)
            try:
                db.flush()
            except IntegrityError:  # registered concurrently: sign in to that account
                raise Problem(Code.BAD_MEMBER_CODE) from None
        token = new_token()
        db.add(
            MemberSession(
                token_hash=token_hash(token), member_id=member.id, expires_at=now + SESSION_TTL
            )
        )
        return SignedIn(member.id, token, new)


def member_of(session: Session, token: str | None, now: datetime) -> Member:
    """The member a token belongs to, or 401."""
    if not token:
        raise Problem(Code.UNAUTHENTICATED)
    held = session.get(MemberSession, token_hash(token))
    if held is None or as_utc(held.expires_at) <= now:
        raise Problem(Code.UNAUTHENTICATED)
    member = session.get(Member, held.member_id)
    if member is None or member.deleted_at is not None:
        raise Problem(Code.UNAUTHENTICATED)
    return member


def set_name(session: Session, member: Member, name: str, pd: PersonalData) -> None:
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise Problem(Code.INVALID_REQUEST, where="name", problem="length_1_64")
    member.name = pd.seal(name)


def profile(member: Member, pd: PersonalData) -> dict[str, Any]:
    return {
        "member_id": member.id,
        "contact": pd.open(member.contact) if member.contact else None,
        "name": pd.open(member.name) if member.name else None,
        "level": member.level,
        "points": member.points,
        "spent_fen": member.spent_fen,
        "since": member.created_at.isoformat(),
    }


def export(session: Session, member: Member, pd: PersonalData) -> dict[str, Any]:
    """Everything we hold about the member (个人信息导出): profile, orders, points, offers."""
    orders = (
        session.scalars(
            select(Order).where(Order.buyer_ref == member.contact_ref).order_by(Order.id)
        ).all()
        if member.contact_ref
        else []
    )
    return {
        "profile": profile(member, pd),
        "orders": [
            {
                "order_no": o.order_no,
                "status": o.status,
                "total_fen": o.total_fen,
                "created_at": o.created_at.isoformat(),
            }
            for o in orders
        ],
        "points": [
            {
                "at": p.at.isoformat(),
                "change": p.change,
                "reason": p.reason,
                "order_no": p.order_no,
                "fen": p.fen,
            }
            for p in session.scalars(
                select(PointsMovement)
                .where(PointsMovement.member_id == member.id)
                .order_by(PointsMovement.id)
            )
        ],
        "offers": [
            {"offer": t.offer, "taken": t.taken}
            for t in session.scalars(select(MemberTake).where(MemberTake.member_id == member.id))
        ],
        "passes": _passes(session, member, pd),
    }


def _passes(session: Session, member: Member, pd: PersonalData) -> list[dict[str, Any]]:
    """The member's annual passes (年卡) with their holder data and renewals, for the export."""
    found = []
    for held in session.scalars(
        select(AnnualPass).where(AnnualPass.member_id == member.id).order_by(AnnualPass.id)
    ):
        renewals = session.scalars(
            select(PassRenewal).where(PassRenewal.pass_id == held.id).order_by(PassRenewal.id)
        )
        found.append(
            {
                "pass_id": held.id,
                "status": held.status,
                "valid_from": held.valid_from.isoformat(),
                "valid_until": held.valid_until.isoformat(),
                "holder_name": pd.open(held.holder_name) if held.holder_name else None,
                "holder_contact": pd.open(held.holder_contact) if held.holder_contact else None,
                "renewals": [
                    {
                        "status": r.status,
                        "valid_from": r.valid_from.isoformat(),
                        "valid_until": r.valid_until.isoformat(),
                    }
                    for r in renewals
                ],
            }
        )
    return found


def delete_member(session: Session, member: Member, now: datetime) -> None:
    """Erase the member's personal data and end their sessions (orders stay, see above)."""
    session.execute(delete(MemberSession).where(MemberSession.member_id == member.id))
    wiped = session.execute(
        update(Member)
        .where(Member.id == member.id, Member.deleted_at.is_(None))
        .values(contact=None, name=None, contact_ref=None, deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    if wiped.rowcount != 1:  # type: ignore[attr-defined]
        raise not_found(Thing.MEMBER)
    _forget_passes(session, member, now)


def _forget_passes(session: Session, member: Member, now: datetime) -> None:
    """The member's passes keep admitting (they were paid for) and keep their finance rows, but
    lose the holder's name and contact; the holder's face is wiped and, through the pass's
    ``face_pending`` mark, removed from every gate (services/pass_faces.py). Each pass is
    changed by a conditional UPDATE on its version."""
    for held in session.scalars(select(AnnualPass).where(AnnualPass.member_id == member.id)).all():
        if held.holder_ref is not None:
            session.execute(
                update(FaceEnrolment)
                .where(
                    FaceEnrolment.site == held.site,
                    FaceEnrolment.holder_ref == bytes(held.holder_ref),
                    FaceEnrolment.deleted_at.is_(None),
                )
                .values(embedding_sealed=None, deleted_at=now)
                .execution_options(synchronize_session=False)
            )
        wiped = session.execute(
            update(AnnualPass)
            .where(AnnualPass.id == held.id, AnnualPass.version == held.version)
            .values(
                holder_name=None,
                holder_contact=None,
                contact_ref=None,
                face_pending=held.holder_ref is not None,
                version=held.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if wiped.rowcount != 1:  # type: ignore[attr-defined]
            raise Problem(Code.PASS_RENEWED)


def staff_view(
    session: Session, member_id: int, pd: PersonalData, *, actor: str, source: str, now: datetime
) -> dict[str, Any]:
    """A member's profile for staff; every look is in the audit log."""
    member = session.get(Member, member_id)
    if member is None:
        raise not_found(Thing.MEMBER)
    audit(session, actor, source, "member_view", f"member:{member_id}", None, at=now)
    return profile(member, pd)


def level_for(spent_fen: int) -> str:
    return next(name for name, least in LEVELS if spent_fen >= least)


def earn_on_payment(session: Session, order: Order, now: datetime) -> int:
    """Credit a just-paid order's points to the member whose contact bought it, if any
    (called by services/payments/settle.py in the payment's transaction)."""
    if order.buyer_ref is None:
        return 0
    member = session.scalar(select(Member).where(Member.contact_ref == order.buyer_ref))
    if member is None:
        return 0
    return earn_points(session, member, order.order_no, now)


def earn_points(session: Session, member: Member, order_no: str, now: datetime) -> int:
    """Credit the points of one of the member's paid orders, once; the points credited."""
    order = session.scalar(select(Order).where(Order.order_no == order_no))
    if order is None or order.buyer_ref is None or order.buyer_ref != member.contact_ref:
        raise not_found(Thing.ORDER)
    if order.status not in ("paid", "partially_refunded"):
        raise Problem(Code.NOT_PAID)
    points = (order.paid_fen // 100) * POINTS_PER_YUAN
    try:
        with session.begin_nested():
            session.add(
                PointsMovement(
                    member_id=member.id,
                    at=now,
                    change=points,
                    reason="earned",
                    order_no=order_no,
                    once_key=f"earned:{order_no}",
                )
            )
    except IntegrityError:
        return 0
    spent = member.spent_fen + order.paid_fen
    session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(
            points=Member.points + points,
            spent_fen=Member.spent_fen + order.paid_fen,
            level=level_for(spent),
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(member)
    return points


def checkout(
    session: Session,
    member: Member,
    lines: list[LineRequest],
    *,
    site: str,
    pd: PersonalData,
    holder_salt: bytes,
    now: datetime,
    coupon: str | None = None,
    points: int = 0,
) -> Order:
    """A member's order: ``member`` prices where the product has them, then a coupon, then
    points. The discount is spread evenly over the order's people and taken off each one's
    price (rounded down to a whole fen a person, never below zero; unused points stay), so
    every ticket carries what was paid for it and a refund pays back no more than that."""
    contact = pd.open(member.contact) if member.contact else None
    lines = [_member_price(session, line) for line in lines]
    order = create_order(
        session,
        site=site,
        lines=lines,
        channel="web",
        contact=contact,
        pd=pd,
        holder_salt=holder_salt,
        now=now,
    )
    session.flush()
    items = session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)).all()
    people = sum(item.quantity for item in items)
    room = min(item.unit_fen for item in items) * people  # no person's price below zero
    off = promotions.use_coupon(session, coupon, member.id, order, now) if coupon else 0
    discount = min(off, room) // people * people
    if points:
        if points < 0:
            raise Problem(Code.NOT_ENOUGH_POINTS, points=member.points)
        points = min(points, (room - discount) // FEN_PER_POINT) // people * people
        spent = session.execute(
            update(Member)
            .where(Member.id == member.id, Member.points >= points)
            .values(points=Member.points - points)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise Problem(Code.NOT_ENOUGH_POINTS, points=member.points)
        session.add(
            PointsMovement(
                member_id=member.id,
                at=now,
                change=-points,
                reason="redeemed",
                order_no=order.order_no,
                once_key=f"redeemed:{order.order_no}",
            )
        )
        discount += points * FEN_PER_POINT
    if discount:
        promotions.discount(session, order, discount // people)
    session.refresh(member)
    return order


def _member_price(session: Session, line: LineRequest) -> LineRequest:
    """An adult line at the product's ``member`` price, where it has one (会员价)."""
    stock = session.get(Inventory, line.inventory_id)
    if line.price_type != "adult" or stock is None:
        return line
    if session.get(Price, (stock.product_id, "member")) is None:
        return line
    return replace(line, price_type="member")


def _code_hash(pd: PersonalData, ref: str, code: str) -> bytes:
    return hashlib.sha256(f"{pd.derived_token('member-code:' + ref)}:{code}".encode()).digest()
