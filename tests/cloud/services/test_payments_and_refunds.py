"""Money: a notification pays once for the right amount; refunds and changes follow the rules
and revoke the old codes for the gates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cloud.core.errors import Problem
from cloud.models import AuditEntry, GateEventRecord, Inventory, Order, Payment, Ticket
from cloud.services.holds import expire_orders
from cloud.services.orders import LineRequest
from cloud.services.payments.cash import cash_notification, close_shift, open_shift
from cloud.services.payments.settle import apply_payment
from cloud.services.refunds import change_ticket, refund_tickets
from keys.keyring import IssuerKey, Keyring
from keys.revocation import RevocationList
from keys.signed_document import verify_document
from keys.ticket import verify_ticket
from tests.cloud.conftest import now, place_order


def order(office, *lines, at=None):
    made = place_order(office, *lines, at=at)
    return made.order_no, made.total_fen


def pay(office, order_no, amount, txn=None):
    headers, body = office.sandbox.simulate_payment(order_no, amount, txn)
    note = office.sandbox.verify_notification(headers, body)
    with office.sessions.begin() as session:
        return apply_payment(session, note, office.issuer, now())


def tickets(office, order_no):
    with office.sessions() as session:
        found = session.scalar(select(Order).where(Order.order_no == order_no))
        return session.scalars(select(Ticket).where(Ticket.order_id == found.id)).all()


def test_paying_issues_one_signed_code_per_ticket(office, issuer_key):
    order_no, total = order(office, office_line(office, 2), office_line(office, 1, "child"))
    result = pay(office, order_no, total)
    assert result.status == "paid" and result.tickets == 3
    ring = Keyring([IssuerKey(issuer_key.kid, issuer_key.public_key)])
    issued = tickets(office, order_no)
    assert len({t.ticket_id for t in issued}) == 3
    for ticket in issued:
        verified = verify_ticket(ticket.text, ring)
        assert verified.valid and verified.claims.valid_from == office.day


def office_line(office, quantity, price_type="adult", **extra):
    return LineRequest(office.day_ticket, price_type, quantity, **extra)


def test_a_group_order_can_take_one_code_for_everyone(office):
    order_no, total = order(office, office_line(office, 12, group_ticket=True))
    pay(office, order_no, total)
    (group,) = tickets(office, order_no)
    assert group.people == 12 and group.unit_fen == 12 * 8000


def test_a_replayed_notification_pays_once(office):
    order_no, total = order(office, office_line(office, 1))
    headers, body = office.sandbox.simulate_payment(order_no, total, "TXN-1")
    for expected in ("paid", "already_applied"):
        note = office.sandbox.verify_notification(headers, body)
        with office.sessions.begin() as session:
            assert apply_payment(session, note, office.issuer, now()).status == expected
    assert len(tickets(office, order_no)) == 1


def test_a_forged_notification_changes_nothing(office):
    order_no, total = order(office, office_line(office, 1))
    headers, body = office.sandbox.simulate_payment(order_no, total)
    forged = body.replace(b"SUCCESS", b"SUCCESS ")
    with pytest.raises(Problem) as info:
        office.sandbox.verify_notification(headers, forged)
    assert info.value.code == "bad_notification_signature"
    with pytest.raises(Problem):
        office.sandbox.verify_notification({}, body)
    assert tickets(office, order_no) == []


def test_an_amount_mismatch_changes_nothing_and_is_audited(office):
    order_no, total = order(office, office_line(office, 2))
    headers, body = office.sandbox.simulate_payment(order_no, total - 1)
    note = office.sandbox.verify_notification(headers, body)
    with pytest.raises(Problem) as info, office.sessions.begin() as session:
        apply_payment(session, note, office.issuer, now())
    assert info.value.code == "amount_mismatch"
    assert tickets(office, order_no) == []


def test_payment_after_the_hold_expired_retakes_the_places_if_there_are_any(office):
    order_no, total = order(office, LineRequest(office.timed_9, "adult", 10))
    with office.sessions.begin() as session:
        expire_orders(session, now() + timedelta(hours=1))
    assert pay(office, order_no, total).status == "paid"
    with office.sessions() as session:
        assert session.get(Inventory, office.timed_9).taken == 10


def test_payment_after_the_places_went_to_others_is_refunded_at_once(office):
    order_no, total = order(office, LineRequest(office.timed_9, "adult", 20))
    with office.sessions.begin() as session:
        expire_orders(session, now() + timedelta(hours=1))
    for _ in range(2):
        order(office, LineRequest(office.timed_9, "adult", 20))  # 40 of 50 taken by others
    result = pay(office, order_no, total)
    assert result.status == "refunded_no_places" and tickets(office, order_no) == []
    with office.sessions() as session:
        assert session.scalar(select(Payment.status)) == "refunded"


def test_a_second_payment_of_a_paid_order_is_refunded(office):
    order_no, total = order(office, office_line(office, 1))
    pay(office, order_no, total, "TXN-A")
    assert pay(office, order_no, total, "TXN-B").status == "refunded_duplicate"
    assert len(tickets(office, order_no)) == 1


def test_cash_at_the_window_goes_through_the_shift_and_its_count(office):
    with office.sessions.begin() as session:
        from cloud.models import User

        user = User(username="cashier1", password_hash="x", role="cashier")
        session.add(user)
        session.flush()
        shift = open_shift(session, user.id, 50_000, now())
        shift_id = shift.id
    order_no, total = order(office, office_line(office, 2))
    with office.sessions.begin() as session:
        shift = session.get(type(shift), shift_id)
        found = session.scalar(select(Order).where(Order.order_no == order_no))
        note = cash_notification(found, shift, 20_000)
        assert note.raw["change_fen"] == 20_000 - total
        apply_payment(session, note, office.issuer, now(), shift=shift)
        close_shift(session, shift, 50_000 + total - 100, "cashier1", "10.0.0.5", now())
        assert shift.expected_fen == 50_000 + total
    with office.sessions() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "close_shift"))
    assert entry.detail["difference_fen"] == -100 and entry.source == "10.0.0.5"


def refund(office, session, order_no, numbers, at):
    """A cashier refunds ``numbers`` (None: every valid ticket) of an order at ``at``."""
    return refund_tickets(
        session,
        order_no=order_no,
        ticket_numbers=numbers,
        providers=office.providers,
        root=office.root,
        actor="cashier1",
        source="10.0.0.5",
        now=at,
    )


def change(office, session, number, inventory_id):
    """A cashier moves ticket ``number`` to the places of ``inventory_id``, now."""
    return change_ticket(
        session,
        ticket_number=number,
        inventory_id=inventory_id,
        issuer=office.issuer,
        root=office.root,
        actor="cashier1",
        source="10.0.0.5",
        now=now(),
    )


def gate_list(office, raw):
    revoked = RevocationList()
    revoked.apply(verify_document(raw, office.root.public_key, doc_type="revocations", site="S1"))
    return revoked


def test_a_refund_pays_back_less_the_fee_and_revokes_the_code(office):
    order_no, total = order(office, office_line(office, 2))
    pay(office, order_no, total)
    first = tickets(office, order_no)[0]
    with office.sessions.begin() as session:
        outcome = refund(office, session, order_no, [first.ticket_id.hex()], now())
    assert (outcome.refund_fen, outcome.fee_fen) == (7200, 800)  # 10 % fee
    assert gate_list(office, outcome.revocation).is_revoked(first.ticket_id)
    with office.sessions() as session:
        assert session.scalar(select(Order.status)) == "partially_refunded"
        assert session.get(Inventory, office.day_ticket).taken == 1


def test_a_ticket_used_at_a_gate_cannot_be_refunded(office):
    order_no, total = order(office, office_line(office, 1))
    pay(office, order_no, total)
    (ticket,) = tickets(office, order_no)
    with office.sessions.begin() as session:
        session.add(
            GateEventRecord(
                site="S1",
                node="G1",
                seq=1,
                kind="use",
                at=now(),
                data={"ticket": ticket.ticket_id.hex().upper()},
                raw=b"",
                received_at=now(),
            )
        )
    with pytest.raises(Problem) as info, office.sessions.begin() as session:
        refund(office, session, order_no, None, now())
    assert info.value.code == "ticket_used"


def test_refunds_close_before_the_visit_day(office):
    order_no, total = order(office, office_line(office, 1))
    pay(office, order_no, total)
    late = now() + timedelta(days=6, hours=12)  # under 24 h before the day starts
    with pytest.raises(Problem) as info, office.sessions.begin() as session:
        refund(office, session, order_no, None, late)
    assert info.value.code == "refund_window_closed"


def test_a_refunded_ticket_cannot_be_refunded_again(office):
    order_no, total = order(office, office_line(office, 1))
    pay(office, order_no, total)
    number = tickets(office, order_no)[0].ticket_id.hex()
    with office.sessions.begin() as session:
        refund(office, session, order_no, [number], now())
    with pytest.raises(Problem) as info, office.sessions.begin() as session:
        refund(office, session, order_no, [number], now())
    assert info.value.code == "ticket_not_valid"


def test_a_date_change_issues_a_new_code_and_revokes_the_old(office):
    order_no, total = order(office, office_line(office, 1))
    pay(office, order_no, total)
    (old,) = tickets(office, order_no)
    with office.sessions.begin() as session:
        later = Inventory(
            product_id=office.products["day"], day=office.day + timedelta(days=1), capacity=10
        )
        session.add(later)
        session.flush()
        later_id = later.id
    with office.sessions.begin() as session:
        outcome = change(office, session, old.ticket_id.hex(), later_id)
    assert gate_list(office, outcome.revocation).is_revoked(old.ticket_id)
    with office.sessions() as session:
        new = session.scalar(select(Ticket).where(Ticket.status == "valid"))
        assert new.valid_from == office.day + timedelta(days=1)
        assert session.get(Inventory, later_id).taken == 1
        assert session.get(Inventory, office.day_ticket).taken == 0
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "change")
            )
            == 1
        )


def test_a_change_to_a_peak_day_at_another_price_is_refused(office):
    from cloud.models import CalendarDay

    order_no, total = order(office, office_line(office, 1))
    pay(office, order_no, total)
    (old,) = tickets(office, order_no)
    peak_day = office.day + timedelta(days=2)
    with office.sessions.begin() as session:
        session.add(CalendarDay(site="S1", day=peak_day, peak=True))
        peak = Inventory(product_id=office.products["day"], day=peak_day, capacity=10)
        session.add(peak)
        session.flush()
        peak_id = peak.id
    with pytest.raises(Problem) as info, office.sessions.begin() as session:
        change(office, session, old.ticket_id.hex(), peak_id)
    assert info.value.code == "price_differs"
    with office.sessions() as session:
        assert session.get(Inventory, peak_id).taken == 0
