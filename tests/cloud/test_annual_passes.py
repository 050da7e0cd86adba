"""Annual passes (年卡), on SQLite and PostgreSQL: a paid annual ticket makes a pass linked to
its member; a renewal is a new signed ticket that runs on from the old expiry (or from the day
asked, once lapsed), refused outside its window; the RFID card and the face go over to the new
ticket as the gates see them; refunding a renewal puts the pass back; of two renewals paid at
once exactly one wins."""

from __future__ import annotations

import base64
import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cloud.core.errors import Code, Problem
from cloud.models import (
    AnnualPass,
    AuditEntry,
    Inventory,
    Order,
    PassRenewal,
    PassRule,
    Product,
    Refund,
    Revocation,
    Ticket,
    User,
)
from cloud.services import annual_passes, card_index, face_enrolment, holds, members, pass_faces
from cloud.services.catalogue import add_inventory, add_product
from cloud.services.face_enrolment import Who
from cloud.services.orders import LineRequest
from cloud.services.payments.settle import apply_payment, settle
from cloud.services.refunds import change_ticket, refund_tickets
from keys.card_index import CardIndex
from keys.clock import ManualClock, site_today
from keys.face_enrolment import FaceEnrolments
from keys.holder import holder_ref
from keys.keyring import IssuerKey, Keyring
from keys.signed_document import verify_document
from keys.ticket import verify_ticket
from tests import face_photos as photos
from tests.cloud.conftest import SALT, SITE_TZ, now
from tests.cloud.http_calls import bearer, problem
from tests.cloud.test_faces import jpeg
from tests.cloud.test_members import PHONE, sign_up
from tests.conftest import TEST_AT

OTHER_PHONE = "13700137000"  # another member the window may give a pass to

HOLDER_ID = "11010519491231002X"
RFID = "04A1B2C3"
PRICE = 30000  # fen: the pass's adult price, and its renewal's without a rule


@pytest.fixture
def annual(office) -> int:
    """A real-name annual pass product (365 days) on sale from the office's visit day."""
    with office.sessions.begin() as session:
        product = add_product(
            session,
            {
                "site": "S1",
                "code": "ANNUAL",
                "name_zh": "年卡",
                "name_en": "Annual pass",
                "kind": "annual",
                "validity_days": 365,
                "entries": 0,
                "entries_per_day": 2,
                "real_name": True,
            },
            [{"price_type": "adult", "amount_fen": PRICE, "peak_amount_fen": None}],
        )
        stock = add_inventory(
            session,
            product.id,
            office.day,
            100,
            slot_start=None,
            slot_end=None,
            warn_percent=80,
            stop_percent=100,
            today=site_today(ManualClock(TEST_AT), SITE_TZ),
        )
        return stock.id


def at_site(day: date, hour: int = 10) -> datetime:
    """An instant on ``day`` at the site (Asia/Shanghai)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=SITE_TZ)


def pay(office, order_no: str, amount: int, at: datetime, txn: str | None = None) -> Any:
    headers, body = office.sandbox.simulate_payment(order_no, amount, txn)
    note = office.sandbox.verify_notification(headers, body)
    with office.sessions.begin() as session:
        return apply_payment(session, note, office.issuer, at)


def sell_pass(office, annual: int) -> tuple[members.SignedIn, int]:
    """A member buys the annual pass with their phone and pays: (member, pass id)."""
    signed = sign_up(office)
    with office.sessions.begin() as session:
        me = members.member_of(session, signed.token, now())
        order = members.checkout(
            session,
            me,
            [LineRequest(annual, "adult", 1, holders=[HOLDER_ID])],
            site="S1",
            pd=office.pd,
            holder_salt=SALT,
            now=now(),
        )
        order_no, total = order.order_no, order.total_fen
    assert pay(office, order_no, total, now()).status == "paid"
    with office.sessions() as session:
        held = session.scalar(select(AnnualPass))
        return signed, held.id


def ask(office, pass_id: int, at: datetime) -> annual_passes.Asked:
    with office.sessions.begin() as session:
        return annual_passes.ask_renewal(
            session,
            pass_id,
            member=None,
            channel="window",
            actor="till1",
            source="10.0.0.5",
            now=at,
        )


def renew(office, pass_id: int, at: datetime) -> Ticket:
    """Ask for a renewal at the window and pay it: the new ticket."""
    asked = ask(office, pass_id, at)
    assert pay(office, asked.order.order_no, asked.order.total_fen, at).status == "paid"
    return current(office, pass_id)[1]


def current(office, pass_id: int) -> tuple[AnnualPass, Ticket]:
    with office.sessions() as session:
        held = session.get(AnnualPass, pass_id)
        return held, session.get(Ticket, held.ticket_id)


def first_ticket(office, pass_id: int) -> Ticket:
    with office.sessions() as session:
        return session.get(Ticket, session.get(AnnualPass, pass_id).first_ticket_id)


def expiry(office) -> date:
    return office.day + timedelta(days=364)


# --- sale ----------------------------------------------------------------------------------------


def test_a_paid_annual_ticket_makes_a_pass_linked_to_the_member_who_bought_it(office, annual):
    signed, pass_id = sell_pass(office, annual)
    held, ticket = current(office, pass_id)
    assert held.member_id == signed.member_id and held.status == "active"
    assert held.holder_ref == holder_ref(SALT, "id_card", HOLDER_ID) == ticket.holder_ref
    assert (held.valid_from, held.valid_until) == (office.day, expiry(office))
    with office.sessions() as session:
        me = members.member_of(session, signed.token, now())
        (seen,) = [
            annual_passes.view(session, p, office.pd, now())
            for p in annual_passes.of_member(session, me)
        ]
    assert seen["holder_contact"] == PHONE and seen["status"] == "active"
    assert seen["ticket_text"] == ticket.text and seen["renew_from"] == expiry(office) - timedelta(
        days=30
    )


def test_day_tickets_make_no_pass(office):
    from tests.cloud.services.test_payments_and_refunds import order

    order_no, total = order(office, LineRequest(office.day_ticket, "adult", 2))
    pay(office, order_no, total, now())
    with office.sessions() as session:
        assert session.scalar(select(AnnualPass)) is None


# --- renewal -------------------------------------------------------------------------------------


def test_a_renewal_in_the_window_is_a_new_ticket_from_the_old_expiry(office, annual, issuer_key):
    signed, pass_id = sell_pass(office, annual)
    old = first_ticket(office, pass_id)
    new = renew(office, pass_id, at_site(expiry(office) - timedelta(days=10)))
    ring = Keyring([IssuerKey(issuer_key.kid, issuer_key.public_key)])
    claims = verify_ticket(new.text, ring).claims
    assert claims.valid_from == expiry(office) + timedelta(days=1)
    assert claims.valid_until == expiry(office) + timedelta(days=365)
    assert claims.holder == old.holder_ref and new.ticket_id != old.ticket_id
    kept = verify_ticket(old.text, ring).claims  # the old one is not extended in place
    assert kept.valid_until == expiry(office) and first_ticket(office, pass_id).status == "valid"
    held, _ = current(office, pass_id)
    assert (held.valid_from, held.valid_until) == (claims.valid_from, claims.valid_until)
    with office.sessions() as session:
        me = members.member_of(session, signed.token, now())
        assert me.points == 2 * PRICE // 100  # the renewal earns points like a sale


def test_a_renewal_within_the_grace_days_after_expiry_still_runs_on_from_it(office, annual):
    _, pass_id = sell_pass(office, annual)
    new = renew(office, pass_id, at_site(expiry(office) + timedelta(days=20)))
    assert new.valid_from == expiry(office) + timedelta(days=1)


def expire_hold(office, order_no: str, at: datetime) -> None:
    """The hold expirer runs past the order's hold (as ``serve`` does every 30 s)."""
    with office.sessions.begin() as session:
        order = session.scalar(select(Order).where(Order.order_no == order_no))
        assert holds.expire_order(session, order.id, at)


def test_a_renewal_paid_after_its_hold_is_still_paid_while_its_dates_hold(office, annual):
    _, pass_id = sell_pass(office, annual)
    when = at_site(expiry(office) - timedelta(days=5))
    asked = ask(office, pass_id, when)
    expire_hold(office, asked.order.order_no, when + timedelta(hours=1))
    late = when + timedelta(hours=3)  # the same day: asked again it would give the same dates
    assert pay(office, asked.order.order_no, asked.order.total_fen, late).status == "paid"
    _, ticket = current(office, pass_id)
    assert ticket.valid_from == expiry(office) + timedelta(days=1)


def test_a_renewal_paid_after_its_hold_and_past_its_terms_is_refunded_or_refused(office, annual):
    """Asked within the grace days (it would run on from the old expiry), paid after them:
    the money goes back, the pass is untouched; at a till, the cash is not taken."""
    _, pass_id = sell_pass(office, annual)
    asked_at = at_site(expiry(office) + timedelta(days=20))  # grace: 30 days
    asked = ask(office, pass_id, asked_at)
    assert asked.renewal.valid_from == expiry(office) + timedelta(days=1)
    expire_hold(office, asked.order.order_no, asked_at + timedelta(hours=1))
    late = at_site(expiry(office) + timedelta(days=45))  # now it would start on the day asked
    till = ask(office, pass_id, at_site(expiry(office) + timedelta(days=21)))
    expire_hold(office, till.order.order_no, at_site(expiry(office) + timedelta(days=22)))

    outcome = pay(office, asked.order.order_no, asked.order.total_fen, late)

    assert outcome.status == "refunded_renewal_expired"
    held, ticket = current(office, pass_id)
    assert ticket.id == held.first_ticket_id and held.valid_until == expiry(office)
    with office.sessions() as session:
        refund = session.scalar(select(Refund).where(Refund.order_id == asked.order.id))
        assert refund is not None and refund.amount_fen == asked.order.total_fen
    headers, body = office.sandbox.simulate_payment(till.order.order_no, till.order.total_fen)
    note = office.sandbox.verify_notification(headers, body)
    with pytest.raises(Problem) as refused, office.sessions.begin() as session:
        apply_payment(session, note, office.issuer, late, refuse_unpayable=True)
    assert refused.value.code is Code.RENEWAL_EXPIRED
    assert refused.value.extra["order_no"] == till.order.order_no


def test_a_pass_lapsed_beyond_the_grace_days_renews_from_the_day_asked(office, annual):
    _, pass_id = sell_pass(office, annual)
    asked_on = expiry(office) + timedelta(days=45)
    new = renew(office, pass_id, at_site(asked_on))
    assert (new.valid_from, new.valid_until) == (asked_on, asked_on + timedelta(days=364))


@pytest.mark.parametrize("days", [-31, 366], ids=["too-early", "lapsed-over-a-year"])
def test_a_renewal_outside_its_window_is_refused_with_the_window(office, annual, days):
    _, pass_id = sell_pass(office, annual)
    with pytest.raises(Problem) as refused:
        ask(office, pass_id, at_site(expiry(office) + timedelta(days=days)))
    assert refused.value.code is Code.RENEWAL_OUTSIDE_WINDOW
    assert refused.value.extra["opens"] == (expiry(office) - timedelta(days=30)).isoformat()
    assert "续卡" in refused.value.zh


def test_a_products_rule_sets_the_window_and_the_members_price(office, annual):
    _, pass_id = sell_pass(office, annual)
    with office.sessions.begin() as session:
        held = session.get(AnnualPass, pass_id)
        session.add(
            PassRule(
                product_id=held.product_id,
                renew_before_days=60,
                grace_days=0,
                lapse_limit_days=30,
                price_fen=25000,
                level_discounts={"regular": 10},
            )
        )
    asked = ask(office, pass_id, at_site(expiry(office) - timedelta(days=50)))
    assert asked.order.total_fen == 22500 and asked.renewal.valid_from == expiry(
        office
    ) + timedelta(days=1)


# --- cards and faces go over ---------------------------------------------------------------------


def test_the_rfid_card_and_the_face_go_over_to_the_renewed_ticket(office, annual):
    _, pass_id = sell_pass(office, annual)
    old = first_ticket(office, pass_id)
    with office.sessions.begin() as session:
        card_index.bind_rfid(session, old.ticket_id.hex(), RFID, SALT)
        enrolled = face_enrolment.enrol(
            session,
            office.root,
            office.pd,
            old,
            "S1",
            jpeg(photos.astronaut()),
            "window",
            Who("till1", "10.0.0.5"),
            now(),
        )
    cards, faces = CardIndex(), FaceEnrolments()
    cards.apply(cards_document(office))
    faces.apply(
        verify_document(enrolled.document, office.root.public_key, doc_type="faces", site="S1")
    )
    holder, card = bytes(old.holder_ref), holder_ref(SALT, "rfid", RFID)
    assert faces.entries[holder].tickets == (old.text,)

    new = renew(office, pass_id, at_site(expiry(office) - timedelta(days=5)))
    cards.apply(cards_document(office))
    assert cards.tickets_for(card) == [old.text, new.text]  # old still admits until its end
    assert cards.tickets_for(bytes(old.holder_ref)) == [old.text, new.text]  # the ID card
    raw = faces_document(office)
    assert raw is not None and faces_document(office) is None  # signed once
    faces.apply(verify_document(raw, office.root.public_key, doc_type="faces", site="S1"))
    assert faces.entries[holder].tickets == (old.text, new.text)
    with office.sessions() as session:
        view = annual_passes.view(session, session.get(AnnualPass, pass_id), office.pd, now())
    assert view["face_enrolled"] and view["card_bound"]


def cards_document(office):
    with office.sessions.begin() as session:
        raw = card_index.next_document(session, office.root, "S1", now())
    return verify_document(raw, office.root.public_key, doc_type="cards", site="S1")


def faces_document(office) -> bytes | None:
    """What the downlink service signs on its next step for the renewed passes' faces."""
    with office.sessions.begin() as session:
        assert pass_faces.sites_pending(session) in ([], ["S1"])
        return pass_faces.sign_pending(session, office.root, office.pd, "S1", now())


# --- refunds -------------------------------------------------------------------------------------


def refund(office, order_no: str, at: datetime) -> Any:
    with office.sessions.begin() as session:
        return refund_tickets(
            session,
            order_no=order_no,
            ticket_numbers=None,
            providers=office.providers,
            root=office.root,
            actor="till1",
            source="10.0.0.5",
            now=at,
        )


def test_refunding_a_renewal_puts_the_pass_back_and_revokes_the_new_ticket(office, annual):
    _, pass_id = sell_pass(office, annual)
    old = first_ticket(office, pass_id)
    with office.sessions.begin() as session:
        card_index.bind_rfid(session, old.ticket_id.hex(), RFID, SALT)
    cards = CardIndex()
    cards.apply(cards_document(office))
    when = at_site(expiry(office) - timedelta(days=5))
    asked = ask(office, pass_id, when)
    pay(office, asked.order.order_no, asked.order.total_fen, when)
    new = current(office, pass_id)[1]
    cards.apply(cards_document(office))

    done = refund(office, asked.order.order_no, when + timedelta(hours=1))
    assert done.refund_fen == PRICE and done.tickets == [new.ticket_id.hex().upper()]
    held, ticket = current(office, pass_id)
    assert ticket.id == old.id and (held.valid_from, held.valid_until) == (
        office.day,
        expiry(office),
    )
    with office.sessions() as session:
        assert session.get(Revocation, ("S1", new.ticket_id)) is not None
        renewal = session.scalar(select(PassRenewal))
        assert renewal.status == "refunded"
    cards.apply(cards_document(office))
    assert cards.tickets_for(holder_ref(SALT, "rfid", RFID)) == [old.text]
    again = renew(office, pass_id, when + timedelta(days=1))  # and it can be renewed again
    assert again.valid_from == expiry(office) + timedelta(days=1)


def test_refunding_the_first_ticket_marks_the_pass_refunded(office, annual):
    _, pass_id = sell_pass(office, annual)
    with office.sessions() as session:
        order_no = _order_no_of(session, first_ticket(office, pass_id))
    refund(office, order_no, now())
    assert current(office, pass_id)[0].status == "refunded"
    with pytest.raises(Problem) as refused:
        ask(office, pass_id, at_site(expiry(office) - timedelta(days=5)))
    assert refused.value.code is Code.PASS_NOT_ACTIVE
    assert refused.value.zh == "年卡1已退款，不能续卡"  # no English status word in the Chinese


def _order_no_of(session, ticket: Ticket) -> str:
    return session.get(Order, ticket.order_id).order_no


def test_the_old_ticket_of_a_renewed_pass_cannot_be_refunded(office, annual):
    _, pass_id = sell_pass(office, annual)
    old = first_ticket(office, pass_id)
    with office.sessions.begin() as session:  # a product refundable to its last day, say
        session.get(Product, old.product_id).refund_until_hours = -24 * 365
    renew(office, pass_id, at_site(expiry(office) - timedelta(days=5)))
    with office.sessions() as session:
        order_no = _order_no_of(session, old)
    with pytest.raises(Problem) as refused:
        refund(office, order_no, at_site(expiry(office) - timedelta(days=4)))
    assert refused.value.code is Code.PASS_RENEWED_SINCE


def test_a_date_change_of_the_first_ticket_takes_the_pass_and_its_card_along(office, annual):
    _, pass_id = sell_pass(office, annual)
    old = first_ticket(office, pass_id)
    with office.sessions.begin() as session:
        card_index.bind_rfid(session, old.ticket_id.hex(), RFID, SALT)
        later = Inventory(product_id=old.product_id, day=office.day + timedelta(days=2), capacity=5)
        session.add(later)
        session.flush()
        change_ticket(
            session,
            ticket_number=old.ticket_id.hex(),
            inventory_id=later.id,
            issuer=office.issuer,
            root=office.root,
            actor="till1",
            source="10.0.0.5",
            now=now(),
        )
    held, ticket = current(office, pass_id)
    assert ticket.id != old.id and held.first_ticket_id == ticket.id
    assert held.valid_until == expiry(office) + timedelta(days=2)
    cards = CardIndex()
    cards.apply(cards_document(office))
    assert cards.tickets_for(holder_ref(SALT, "rfid", RFID)) == [ticket.text]


def test_a_renewals_ticket_keeps_its_dates(office, annual):
    _, pass_id = sell_pass(office, annual)
    new = renew(office, pass_id, at_site(expiry(office) - timedelta(days=5)))
    with office.sessions.begin() as session:
        later = Inventory(product_id=new.product_id, day=office.day + timedelta(days=3), capacity=5)
        session.add(later)
        session.flush()
        with pytest.raises(Problem) as refused:
            change_ticket(
                session,
                ticket_number=new.ticket_id.hex(),
                inventory_id=later.id,
                issuer=office.issuer,
                root=office.root,
                actor="till1",
                source="10.0.0.5",
                now=at_site(expiry(office) - timedelta(days=5)),
            )
    assert refused.value.code is Code.NOT_CHANGEABLE


# --- two renewals at once ------------------------------------------------------------------------


def _race(n: int, act) -> list[Any]:
    barrier = threading.Barrier(n)
    answers: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = act(i)
        except Problem as refused:
            answers[i] = refused.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_renewals_of_one_pass_paid_at_once_exactly_one_wins(office, annual):
    _, pass_id = sell_pass(office, annual)
    when = at_site(expiry(office) - timedelta(days=5))
    orders = [ask(office, pass_id, when).order for _ in range(2)]

    def act(i: int) -> str:
        headers, body = office.sandbox.simulate_payment(orders[i].order_no, orders[i].total_fen)
        note = office.sandbox.verify_notification(headers, body)
        return settle(office.sessions, note, office.issuer, when, "platform").status

    answers = _race(2, act)
    assert sorted(answers) == ["paid", "refunded_pass_renewed"], answers
    with office.sessions() as session:
        renewals = session.scalars(select(PassRenewal).order_by(PassRenewal.id)).all()
        assert sorted(r.status for r in renewals) == ["lost", "paid"]
        won = next(r for r in renewals if r.status == "paid")
        held = session.get(AnnualPass, pass_id)
        assert held.ticket_id == won.to_ticket_id
        assert held.valid_until == expiry(office) + timedelta(days=365)
        lost = next(r for r in renewals if r.status == "lost")
        assert session.scalar(select(Refund).where(Refund.order_id == lost.order_id)) is not None
        assert session.scalars(select(Ticket).where(Ticket.order_id == lost.order_id)).all() == []


def test_housekeeping_on_the_pass_between_asking_and_paying_does_not_void_a_renewal(office, annual):
    _, pass_id = sell_pass(office, annual)
    when = at_site(expiry(office) - timedelta(days=5))
    asked = ask(office, pass_id, when)
    with office.sessions.begin() as session:  # the window links the member again meanwhile
        annual_passes.link_member(
            session, pass_id, PHONE, office.pd, actor="till1", source="10.0.0.5", now=when
        )
    assert pay(office, asked.order.order_no, asked.order.total_fen, when).status == "paid"


def test_a_former_owners_renewal_paid_after_the_pass_moved_is_lost_and_refunded(office, annual):
    _, pass_id = sell_pass(office, annual)
    when = at_site(expiry(office) - timedelta(days=5))
    asked = ask(office, pass_id, when)  # asked while the pass is the first member's
    sign_up(office, contact=OTHER_PHONE, at=when)
    with office.sessions.begin() as session:  # then the window gives it to another member
        annual_passes.link_member(
            session, pass_id, OTHER_PHONE, office.pd, actor="till1", source="10.0.0.5", now=when
        )
    assert pay(office, asked.order.order_no, asked.order.total_fen, when).status == (
        "refunded_pass_renewed"
    )
    held, ticket = current(office, pass_id)
    assert ticket.id == held.first_ticket_id and held.valid_until == expiry(office)
    with office.sessions() as session:
        renewal = session.scalar(select(PassRenewal).where(PassRenewal.pass_id == pass_id))
        assert renewal.status == "lost"
        assert session.scalar(select(Refund).where(Refund.order_id == renewal.order_id))
        assert (
            session.scalars(select(Ticket).where(Ticket.order_id == renewal.order_id)).all() == []
        )


def test_two_cash_renewals_at_once_one_is_refused_before_the_money_is_taken(office, annual):
    from cloud.services.payments.cash import cash_notification, current_shift, open_shift

    _, pass_id = sell_pass(office, annual)
    when = at_site(expiry(office) - timedelta(days=5))
    orders = [ask(office, pass_id, when).order.order_no for _ in range(2)]
    with office.sessions.begin() as session:
        for name in ("till1", "till2"):
            session.add(User(username=name, password_hash="x", role="cashier"))
        session.flush()
        users = session.scalars(select(User).order_by(User.id)).all()
        for user in users:
            open_shift(session, user.id, 0, when)
        ids = [u.id for u in users]

    def act(i: int) -> str:
        with office.sessions.begin() as session:
            shift = current_shift(session, ids[i])
            order = session.scalar(select(Order).where(Order.order_no == orders[i]))
            note = cash_notification(order, shift, order.total_fen)
            return apply_payment(session, note, office.issuer, when, shift=shift).status

    answers = _race(2, act)
    assert sorted(map(str, answers)) == ["paid", "pass_renewed"], answers


# --- members' data -------------------------------------------------------------------------------


def test_the_member_export_lists_the_passes_and_deletion_keeps_the_pass_without_personal_data(
    office, annual
):
    signed, pass_id = sell_pass(office, annual)
    old = first_ticket(office, pass_id)
    with office.sessions.begin() as session:
        face_enrolment.enrol(
            session,
            office.root,
            office.pd,
            old,
            "S1",
            jpeg(photos.astronaut()),
            "window",
            Who("till1", "10.0.0.5"),
            now(),
        )
        me = members.member_of(session, signed.token, now())
        exported = members.export(session, me, office.pd)
    (listed,) = exported["passes"]
    assert listed["pass_id"] == pass_id and listed["holder_contact"] == PHONE
    with office.sessions.begin() as session:
        me = members.member_of(session, signed.token, now())
        members.delete_member(session, me, now())
    held, ticket = current(office, pass_id)
    assert held.status == "active" and ticket.status == "valid"
    assert held.holder_contact is None and held.contact_ref is None and held.holder_name is None
    raw = faces_document(office)
    gate = FaceEnrolments()
    gate.seq = 1
    gate.entries = {}
    assert gate.apply(
        verify_document(raw, office.root.public_key, doc_type="faces", site="S1")
    ) == [bytes(old.holder_ref)]


# --- over HTTP -----------------------------------------------------------------------------------


def test_a_member_renews_over_http_and_staff_find_the_pass_by_phone(api, office, annual):
    _, pass_id = sell_pass(office, annual)
    when = at_site(expiry(office) - timedelta(days=3))
    api.app.state.context.clock = ManualClock(when)
    signed = sign_up(office, at=when)  # a year on: signed in again
    me = {"X-Member-Token": signed.token}
    (listed,) = api.get("/api/v1/members/me/passes", headers=me).json()
    assert listed["pass_id"] == pass_id and listed["status"] == "active"
    answer = api.post(f"/api/v1/members/me/passes/{pass_id}/renewals", headers=me)
    assert answer.status_code == 201, answer.text
    renewal = answer.json()
    paid = api.post(
        f"/api/v1/sandbox/pay/{renewal['order_no']}",
        headers={"X-Order-Token": renewal["access_token"]},
    )
    assert paid.json()["result"] == "paid", paid.text
    (after,) = api.get("/api/v1/members/me/passes", headers=me).json()
    assert (
        after["valid_until"]
        == renewal["valid_until"]
        == (expiry(office) + timedelta(days=365)).isoformat()
    )
    assert [r["status"] for r in after["renewals"]] == ["paid"]

    staff = bearer(api, "till1")
    found = api.get("/api/v1/passes", params={"phone": "138 0013 8000"}, headers=staff).json()
    assert [p["pass_id"] for p in found] == [pass_id] and found[0]["holder_contact"] == PHONE
    with office.sessions() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "pass.view"))
    too_early = api.post(f"/api/v1/passes/{pass_id}/renewals", headers=staff)
    problem(too_early, 409, "renewal_outside_window")


def test_staff_link_a_pass_to_a_member_by_phone_and_enrol_the_holders_face(
    api, office, annual, published
):
    from tests.cloud.services.test_payments_and_refunds import order

    order_no, total = order(office, LineRequest(annual, "adult", 1, holders=[HOLDER_ID]))
    pay(office, order_no, total, now())
    with office.sessions() as session:
        held = session.scalar(select(AnnualPass))
        assert held.member_id is None
    signed = sign_up(office)
    staff = bearer(api, "till1")
    linked = api.put(f"/api/v1/passes/{held.id}/member", json={"contact": PHONE}, headers=staff)
    assert linked.status_code == 200, linked.text
    assert linked.json()["member_id"] == signed.member_id and not linked.json()["face_enrolled"]
    photo = base64.b64encode(jpeg(photos.astronaut())).decode()
    enrolled = api.post(f"/api/v1/passes/{held.id}/face", json={"photo": photo}, headers=staff)
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["face_enrolled"] and [k for _, k, _ in published] == ["faces"]
    unknown = api.put(
        f"/api/v1/passes/{held.id}/member", json={"contact": "13900139000"}, headers=staff
    )
    problem(unknown, 404, "not_a_member")


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/members/me/passes/{big}/renewals"),
        ("post", "/api/v1/passes/{big}/renewals"),
        ("put", "/api/v1/passes/{big}/member"),
        ("post", "/api/v1/passes/{big}/face"),
        ("get", "/api/v1/passes?pass_id={big}"),
        ("get", "/api/v1/passes?pass_id=0"),
    ],
)
def test_a_pass_id_beyond_any_pass_is_a_request_error_not_a_crash(api, office, method, path):
    signed = sign_up(office)
    headers = {**bearer(api, "till1"), "X-Member-Token": signed.token}
    body = {"contact": PHONE, "photo": "AAAA"} if method != "get" else None
    answer = api.request(method, path.format(big=2**64), headers=headers, json=body)
    problem(answer, 422, "invalid_request")


def test_a_renewal_sent_twice_with_one_idempotency_key_is_one_order_to_pay(api, office, annual):
    _, pass_id = sell_pass(office, annual)
    when = at_site(expiry(office) - timedelta(days=3))
    api.app.state.context.clock = ManualClock(when)
    signed = sign_up(office, at=when)
    mine = f"/api/v1/members/me/passes/{pass_id}/renewals"
    tap = {"X-Member-Token": signed.token, "Idempotency-Key": "renew-tap-0001"}
    first, again = api.post(mine, headers=tap), api.post(mine, headers=tap)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()  # the same order, and its token to pay it
    staff = {**bearer(api, "till1"), "Idempotency-Key": "renew-tap-0001"}
    window = api.post(f"/api/v1/passes/{pass_id}/renewals", headers=staff)  # another caller's key
    assert window.status_code == 201 and window.json()["order_no"] != first.json()["order_no"]
    with office.sessions() as session:
        asked = session.scalars(select(PassRenewal.order_id)).all()
        assert len(asked) == 2
    paid = api.post(
        f"/api/v1/sandbox/pay/{again.json()['order_no']}",
        headers={"X-Order-Token": again.json()["access_token"]},
    )
    assert paid.json()["result"] == "paid", paid.text
