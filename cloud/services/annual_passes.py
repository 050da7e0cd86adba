"""Annual passes (年卡): made when an annual ticket is paid, renewed by a new signed ticket,
reverted when a renewal is refunded. Never extends a ticket in place: gates trust only signed
texts, so a renewal is a new ticket and the old one keeps its own validity.

- **Sale** (``on_sale``, in the payment's transaction, services/payments/settle.py): one pass
  per annual ticket, linked to the member whose contact bought it; staff may link a member
  later by phone (``link_member``).
- **Renewal** (``ask_renewal``): a member, or a cashier at the window, asks; the answer is a
  pending order for the product's rule's price (services/pass_rules.py; without a price, the
  product's adult price; a member's level may take a percentage off).
  The order holds no place of any day: a renewal continues a holder, it does not take a
  day's capacity (``OrderItem.holds_place``).
  The window: from ``renew_before_days`` before the expiry; until ``grace_days`` after it the
  new term runs on from the old expiry (the days lapsed are not given back), later it starts
  on the day asked; beyond ``lapse_limit_days`` it is a new pass, not a renewal. Asked
  earlier or later: 409 ``renewal_outside_window``.
- **Payment** (``claim_renewal`` then ``issue_renewal``): the pass is claimed by one
  conditional UPDATE on its current ticket (bumping its version), so of two renewals racing
  for one pass exactly one wins; the loser's money goes back (settle's
  ``refunded_pass_renewed``), or, at a till where it was not taken, 409 ``pass_renewed``.
  The winner gets a new signed ticket and the pass points to it; the RFID cards bound to the
  old ticket are bound to the new one too, and a face enrolment moves to it
  (``face_pending``: the downlink service signs the faces delta, services/pass_faces.py).
  The real-name ID card enters with the new ticket as any ticket's does.
- **Refund** (``on_refund``, in the refund's transaction, services/refunds.py): refunding a
  renewal's ticket puts the pass back on the ticket and dates it had (the refund path revokes
  the new ticket and takes its card entries out); refunding the first ticket marks the pass
  refunded; refunding a ticket that has been renewed since is refused (``pass_renewed_since``).

Every change of a pass is a conditional UPDATE on its ``version`` whose row count is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.core.security import new_token, token_hash
from cloud.models import (
    AnnualPass,
    CardEntry,
    FaceEnrolment,
    Inventory,
    Member,
    Order,
    OrderItem,
    PassRenewal,
    Price,
    Product,
    Site,
    Ticket,
)
from cloud.services.audit import audit
from cloud.services.issuing import Issuer, make_ticket
from cloud.services.members import normalise_contact
from cloud.services.orders import HOLD_MINUTES, _order_no
from cloud.services.pass_rules import Rule, of_product
from cloud.services.personal_data import PersonalData

# --- sale --------------------------------------------------------------------------------------


def on_sale(session: Session, order: Order, tickets: list[Ticket], now: datetime) -> int:
    """A pass for each annual ticket of a just-paid order (not a renewal's); how many made."""
    member = (
        session.scalar(select(Member).where(Member.contact_ref == order.buyer_ref))
        if order.buyer_ref
        else None
    )
    made = 0
    for ticket in tickets:
        product = session.get(Product, ticket.product_id)
        item = session.get(OrderItem, ticket.item_id)
        assert product is not None and item is not None
        if product.kind != "annual" or not item.holds_place:
            continue
        session.add(
            AnnualPass(
                site=order.site,
                product_id=product.id,
                member_id=member.id if member else None,
                holder_ref=ticket.holder_ref,
                holder_name=member.name if member else None,
                holder_contact=member.contact if member else None,
                contact_ref=member.contact_ref if member else None,
                first_ticket_id=ticket.id,
                ticket_id=ticket.id,
                valid_from=ticket.valid_from,
                valid_until=ticket.valid_until,
                status="active",
                version=1,
                created_at=now,
            )
        )
        made += 1
    if made:
        session.flush()
    return made


# --- renewal -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A renewal asked for: the pending order to pay (with its buyer's token) and its term."""

    order: Order
    access_token: str  # shown once: pays and reads the order (X-Order-Token)
    renewal: PassRenewal


def term(rule: Rule, product: Product, valid_until: date, today: date) -> tuple[date, date]:
    """The dates a renewal asked ``today`` gives a pass that runs until ``valid_until``, or
    409 ``renewal_outside_window``."""
    opens = valid_until - timedelta(days=rule.renew_before_days)
    closes = valid_until + timedelta(days=rule.lapse_limit_days)
    if not opens <= today <= closes:
        raise Problem(
            Code.RENEWAL_OUTSIDE_WINDOW,
            opens=opens.isoformat(),
            closes=closes.isoformat(),
            valid_until=valid_until.isoformat(),
        )
    lapsed = today > valid_until + timedelta(days=rule.grace_days)
    first = today if lapsed else valid_until + timedelta(days=1)
    return first, first + timedelta(days=max(1, product.validity_days) - 1)


def price_of(session: Session, rule: Rule, product: Product, member: Member | None) -> int:
    """The renewal's price in fen: the rule's (else the adult price), less the member level's
    percentage (rounded down in the holder's favour: the discount rounds up)."""
    base = rule.price_fen
    if base is None:
        price = session.get(Price, (product.id, "adult"))
        if price is None:
            raise Problem(Code.NO_PRICE, price_type="adult")
        base = price.amount_fen
    percent = rule.level_discounts.get(member.level, 0) if member else 0
    return base - (base * percent + 99) // 100


def ask_renewal(
    session: Session,
    pass_id: int,
    *,
    member: Member | None,
    channel: str,
    actor: str,
    source: str,
    now: datetime,
) -> Asked:
    """A pending order renewing pass ``pass_id``. ``member``: the member asking (the pass must
    be theirs); None for a cashier at the window (audited)."""
    held = session.get(AnnualPass, pass_id)
    if held is None or (member is not None and held.member_id != member.id):
        raise not_found(Thing.ANNUAL_PASS)
    if held.status != "active":
        raise Problem(Code.PASS_NOT_ACTIVE, pass_id=pass_id, pass_status=held.status)
    product = session.get(Product, held.product_id)
    site = session.get(Site, held.site)
    first = session.get(Ticket, held.first_ticket_id)
    assert product is not None and site is not None and first is not None
    local_now = now.astimezone(ZoneInfo(site.timezone))
    rule = of_product(session, product.id)
    valid_from, valid_until = term(rule, product, held.valid_until, local_now.date())
    owner = session.get(Member, held.member_id) if held.member_id else None
    price = price_of(session, rule, product, owner)
    token = new_token()
    order = Order(
        order_no=_order_no(local_now),
        site=held.site,
        status="pending",
        channel=channel,
        total_fen=price,
        buyer_ref=owner.contact_ref if owner else None,  # the member earns its points
        buyer_contact=owner.contact if owner else None,
        access_hash=token_hash(token),
        created_at=now,
        expires_at=now + timedelta(minutes=HOLD_MINUTES),
    )
    session.add(order)
    session.flush()
    session.add(
        OrderItem(
            order_id=order.id,
            product_id=product.id,
            inventory_id=first.inventory_id,  # where the pass was sold; no place is taken
            price_type="adult",
            quantity=1,
            unit_fen=price,
            holds_place=False,
        )
    )
    renewal = PassRenewal(
        pass_id=held.id,
        order_id=order.id,
        seen_version=held.version,
        member_id=held.member_id,
        from_ticket_id=held.ticket_id,
        prev_valid_from=held.valid_from,
        prev_valid_until=held.valid_until,
        valid_from=valid_from,
        valid_until=valid_until,
        status="pending",
        created_at=now,
    )
    session.add(renewal)
    session.flush()
    audit(
        session,
        actor,
        source,
        "pass.renewal_asked",
        f"pass:{held.id}",
        {"order": order.order_no, "valid_from": valid_from.isoformat(), "price_fen": price},
        at=now,
    )
    return Asked(order, token, renewal)


def late_renewal(session: Session, order: Order, now: datetime) -> Problem | None:
    """Why a renewal order paid after its hold expired can no longer be paid (409
    ``renewal_expired``), or None: for an order that is no renewal, or when asked ``now`` the
    renewal would give the same dates. A renewal takes no place, so an expired one is not
    held back by stock; what it must not do is outlive its terms: a renewal asked within the
    grace days and paid after them would otherwise run on from the old expiry, one asked
    within the window paid after it closed would renew a pass past its lapse limit."""
    renewal = renewal_of(session, order)
    if renewal is None:
        return None
    product = session.get(Product, session.get_one(AnnualPass, renewal.pass_id).product_id)
    site = session.get(Site, order.site)
    assert product is not None and site is not None
    today = now.astimezone(ZoneInfo(site.timezone)).date()
    try:
        dates = term(of_product(session, product.id), product, renewal.prev_valid_until, today)
    except Problem:
        dates = None
    if dates == (renewal.valid_from, renewal.valid_until):
        return None
    return Problem(
        Code.RENEWAL_EXPIRED,
        order_no=order.order_no,
        valid_from=renewal.valid_from.isoformat(),
    )


def renewal_of(session: Session, order: Order) -> PassRenewal | None:
    return session.scalar(select(PassRenewal).where(PassRenewal.order_id == order.id))


def claim_renewal(session: Session, order: Order) -> bool:
    """Take the pass for a just-paid renewal order: one conditional UPDATE on the ticket it
    renews (the pass's current ticket when it was asked), which also bumps the version and so
    holds the row until the commit. False if another renewal (or a refund) moved the pass to
    another ticket since, or to another member than the one it belonged to when asked (a
    former owner's order): this one is ``lost`` and its money goes back. Other housekeeping
    (the same member linked again, a face re-signed) does not void a renewal. True for any
    other order."""
    renewal = renewal_of(session, order)
    if renewal is None:
        return True
    claimed = session.execute(
        update(AnnualPass)
        .where(
            AnnualPass.id == renewal.pass_id,
            AnnualPass.ticket_id == renewal.from_ticket_id,
            AnnualPass.status == "active",
            *([] if renewal.member_id is None else [AnnualPass.member_id == renewal.member_id]),
        )
        .values(version=AnnualPass.version + 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        _set_renewal(session, renewal, "pending", "lost")
        return False
    return True


def issue_renewal(session: Session, order: Order, issuer: Issuer, now: datetime) -> list[Ticket]:
    """The new ticket of a claimed renewal; the pass moves to it with its cards and face.
    Empty for an order that is no renewal (its tickets are issued as usual)."""
    renewal = renewal_of(session, order)
    if renewal is None:
        return []
    held = session.get(AnnualPass, renewal.pass_id)
    item = session.scalar(select(OrderItem).where(OrderItem.order_id == order.id))
    old = session.get(Ticket, renewal.from_ticket_id)
    assert held is not None and item is not None and old is not None
    session.refresh(held)
    product = session.get(Product, item.product_id)
    stock = _inventory(session, item)
    assert product is not None
    new = make_ticket(
        session,
        issuer,
        order,
        item,
        product,
        stock,
        1,
        held.holder_ref,
        now,
        days=(renewal.valid_from, renewal.valid_until),
    )
    session.flush()
    face = _carry_over(session, held.site, old, new)
    _move(
        session,
        held,
        held.version,  # read after the claim, under its row lock
        ticket=new.id,
        valid_from=new.valid_from,
        valid_until=new.valid_until,
        face_pending=face or held.face_pending,
    )
    renewal.to_ticket_id = new.id
    _set_renewal(session, renewal, "pending", "paid")
    audit(
        session,
        "payments",
        "system",
        "pass.renewed",
        f"pass:{held.id}",
        {
            "order": order.order_no,
            "from": _number(old),
            "to": _number(new),
            "valid_until": new.valid_until.isoformat(),
        },
        at=now,
    )
    return [new]


# --- refunds and changes -----------------------------------------------------------------------


def on_refund(session: Session, tickets: list[Ticket], now: datetime) -> None:
    """Tickets just refunded: a renewal's reverts its pass, a pass's first ticket refunds it."""
    for ticket in tickets:
        renewal = session.scalar(
            select(PassRenewal).where(
                PassRenewal.to_ticket_id == ticket.id, PassRenewal.status == "paid"
            )
        )
        first = session.scalar(select(AnnualPass).where(AnnualPass.first_ticket_id == ticket.id))
        held = (
            session.get(AnnualPass, renewal.pass_id, populate_existing=True)
            if renewal is not None
            else first
        )
        if held is None:
            continue
        session.refresh(held)
        if held.ticket_id != ticket.id:
            raise Problem(Code.PASS_RENEWED_SINCE, ticket=_number(ticket), pass_id=held.id)
        if renewal is None:
            _move(session, held, held.version, status="refunded")
            continue
        old = session.get(Ticket, renewal.from_ticket_id)
        assert old is not None
        face = _face_to(session, held.site, ticket, old)
        _move(
            session,
            held,
            held.version,
            ticket=old.id,
            valid_from=renewal.prev_valid_from,
            valid_until=renewal.prev_valid_until,
            face_pending=face or held.face_pending,
        )
        _set_renewal(session, renewal, "paid", "refunded")
        audit(
            session,
            "refunds",
            "system",
            "pass.renewal_refunded",
            f"pass:{held.id}",
            {"back_to": _number(old), "valid_until": renewal.prev_valid_until.isoformat()},
            at=now,
        )


def check_changeable(session: Session, ticket: Ticket) -> None:
    """A renewal's ticket keeps its dates (it took no place to move); a pass's ticket that has
    been renewed since cannot change either."""
    if session.scalar(select(PassRenewal.id).where(PassRenewal.to_ticket_id == ticket.id)):
        raise Problem(Code.NOT_CHANGEABLE)
    held = session.scalar(select(AnnualPass).where(AnnualPass.first_ticket_id == ticket.id))
    if held is not None and held.ticket_id != ticket.id:
        raise Problem(Code.PASS_RENEWED_SINCE, ticket=_number(ticket), pass_id=held.id)


def on_change(session: Session, old: Ticket, new: Ticket) -> None:
    """A pass's first ticket moved to another day (date change): the pass follows, with its
    RFID cards and face."""
    held = session.scalar(select(AnnualPass).where(AnnualPass.first_ticket_id == old.id))
    if held is None:
        return
    face = _carry_over(session, held.site, old, new)
    _move(
        session,
        held,
        held.version,
        ticket=new.id,
        first_ticket=new.id,
        valid_from=new.valid_from,
        valid_until=new.valid_until,
        face_pending=face or held.face_pending,
    )


# --- members and staff -------------------------------------------------------------------------


def link_member(
    session: Session,
    pass_id: int,
    contact: str,
    pd: PersonalData,
    *,
    actor: str,
    source: str,
    now: datetime,
) -> AnnualPass:
    """At the window: the pass belongs to the member with this phone (or email) from now on;
    their name and contact become the holder's. Audited."""
    held = session.get(AnnualPass, pass_id)
    if held is None:
        raise not_found(Thing.ANNUAL_PASS)
    member = session.scalar(
        select(Member).where(Member.contact_ref == pd.blind_ref(normalise_contact(contact)))
    )
    if member is None or member.deleted_at is not None:
        raise Problem(Code.NOT_A_MEMBER)
    _move(
        session,
        held,
        held.version,
        member_id=member.id,
        holder_contact=member.contact,
        contact_ref=member.contact_ref,
        **({"holder_name": member.name} if member.name else {}),
    )
    audit(
        session, actor, source, "pass.link_member", f"pass:{pass_id}", {"member": member.id}, at=now
    )
    return held


def of_member(session: Session, member: Member) -> list[AnnualPass]:
    return list(
        session.scalars(
            select(AnnualPass).where(AnnualPass.member_id == member.id).order_by(AnnualPass.id)
        )
    )


def find(
    session: Session,
    pd: PersonalData,
    *,
    pass_id: int | None,
    phone: str | None,
    actor: str,
    source: str,
    now: datetime,
) -> list[AnnualPass]:
    """Staff look-up by pass id or by the holder's (or their member's) phone; audited, since
    the answer carries the holder's name and phone."""
    if pass_id is not None:
        found = [p for p in [session.get(AnnualPass, pass_id)] if p is not None]
    elif phone:
        ref = pd.blind_ref(normalise_contact(phone))
        member_ids = select(Member.id).where(Member.contact_ref == ref)
        found = list(
            session.scalars(
                select(AnnualPass)
                .where(or_(AnnualPass.contact_ref == ref, AnnualPass.member_id.in_(member_ids)))
                .order_by(AnnualPass.id)
            )
        )
    else:
        raise Problem(Code.INVALID_REQUEST, where="query", problem="pass_id_or_phone")
    audit(
        session,
        actor,
        source,
        "pass.view",
        ",".join(f"pass:{p.id}" for p in found) or "pass:-",
        {"by": "id" if pass_id is not None else "phone"},
        at=now,
    )
    return found


def view(session: Session, held: AnnualPass, pd: PersonalData, now: datetime) -> dict[str, Any]:
    """What the holder and staff see of a pass: dates, status (``expired`` past its last
    day), its ticket, whether a face and cards go with it, the window, its renewals."""
    site = session.get(Site, held.site)
    product = session.get(Product, held.product_id)
    ticket = session.get(Ticket, held.ticket_id)
    assert site is not None and product is not None and ticket is not None
    today = now.astimezone(ZoneInfo(site.timezone)).date()
    rule = of_product(session, product.id)
    status = "expired" if held.status == "active" and held.valid_until < today else held.status
    face = (
        session.get(FaceEnrolment, (held.site, bytes(held.holder_ref))) if held.holder_ref else None
    )
    cards = session.scalar(
        select(CardEntry.id).where(
            CardEntry.ticket_id == ticket.ticket_id,
            CardEntry.kind == "rfid",
            CardEntry.removed.is_(False),
        )
    )
    renewals = session.execute(
        select(PassRenewal, Order.order_no, Order.status)
        .join(Order, Order.id == PassRenewal.order_id)
        .where(PassRenewal.pass_id == held.id)
        .order_by(PassRenewal.id)
    ).all()
    return {
        "pass_id": held.id,
        "site": held.site,
        "product": product.code,
        "status": status,
        "valid_from": held.valid_from,
        "valid_until": held.valid_until,
        "ticket_no": _number(ticket),
        "ticket_text": ticket.text,
        "member_id": held.member_id,
        "holder_name": pd.open(held.holder_name) if held.holder_name else None,
        "holder_contact": pd.open(held.holder_contact) if held.holder_contact else None,
        "face_enrolled": face is not None and face.deleted_at is None,
        "card_bound": cards is not None,
        "renew_from": held.valid_until - timedelta(days=rule.renew_before_days),
        "renew_until": held.valid_until + timedelta(days=rule.lapse_limit_days),
        "renewals": [
            {
                "order_no": order_no,
                # an unpaid renewal whose hold ran out reads as its order does
                "status": "expired" if (r.status, paid) == ("pending", "expired") else r.status,
                "valid_from": r.valid_from,
                "valid_until": r.valid_until,
            }
            for r, order_no, paid in renewals
        ],
    }


def current_ticket(session: Session, pass_id: int) -> tuple[AnnualPass, Ticket]:
    held = session.get(AnnualPass, pass_id)
    if held is None:
        raise not_found(Thing.ANNUAL_PASS)
    ticket = session.get(Ticket, held.ticket_id)
    assert ticket is not None
    return held, ticket


# --- inside ------------------------------------------------------------------------------------


def _move(session: Session, held: AnnualPass, seen: int, **values: Any) -> None:
    """Change the pass, if it is still at version ``seen``; the version grows by one."""
    renamed = {
        {"ticket": "ticket_id", "first_ticket": "first_ticket_id"}.get(k, k): v
        for k, v in values.items()
    }
    moved = session.execute(
        update(AnnualPass)
        .where(AnnualPass.id == held.id, AnnualPass.version == seen)
        .values(version=seen + 1, **renamed)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.PASS_RENEWED, pass_id=held.id)
    session.refresh(held)


def _set_renewal(session: Session, renewal: PassRenewal, was: str, status: str) -> None:
    done = session.execute(
        update(PassRenewal)
        .where(PassRenewal.id == renewal.id, PassRenewal.status == was)
        .values(status=status, to_ticket_id=renewal.to_ticket_id)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.PASS_RENEWED, pass_id=renewal.pass_id)
    session.refresh(renewal)


def _carry_over(session: Session, site: str, old: Ticket, new: Ticket) -> bool:
    """The RFID cards bound to ``old`` open ``new`` too (the old entries stay until the old
    ticket's last day: it still admits); a face enrolled with ``old`` moves to ``new``. True
    if a face moved (the gates' faces document must be re-signed)."""
    for entry in session.scalars(
        select(CardEntry).where(
            CardEntry.ticket_id == old.ticket_id,
            CardEntry.kind == "rfid",
            CardEntry.removed.is_(False),
        )
    ).all():
        session.add(
            CardEntry(
                site=site,
                kind="rfid",
                holder_ref=entry.holder_ref,
                ticket_id=new.ticket_id,
                text=new.text,
                last_day=new.valid_until,
            )
        )
    return _face_to(session, site, old, new)


def _face_to(session: Session, site: str, was: Ticket, now_on: Ticket) -> bool:
    if was.holder_ref is None:
        return False
    moved = session.execute(
        update(FaceEnrolment)
        .where(
            FaceEnrolment.site == site,
            FaceEnrolment.holder_ref == bytes(was.holder_ref),
            FaceEnrolment.ticket_id == was.ticket_id,
            FaceEnrolment.deleted_at.is_(None),
        )
        .values(ticket_id=now_on.ticket_id)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def _inventory(session: Session, item: OrderItem) -> Inventory:
    stock = session.get(Inventory, item.inventory_id)
    assert stock is not None
    return stock


def _number(ticket: Ticket) -> str:
    return bytes(ticket.ticket_id).hex().upper()
