"""The card index the cloud keeps for the gates, on SQLite and PostgreSQL: a paid real-name
ticket enters under its holder, a refund or change takes it out, an RFID card binds only to a
valid annual pass, and each change reaches the gates as one signed delta in sequence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloud.core.errors import Problem
from cloud.models import Inventory, Price, Product
from cloud.services import card_index
from cloud.services.orders import LineRequest
from cloud.services.refunds import change_ticket
from keys.card_index import CardIndex
from keys.holder import holder_ref
from keys.signed_document import verify_document
from tests.cloud.conftest import SALT, now
from tests.cloud.services.test_payments_and_refunds import order, pay, refund, tickets

VALID_ID = "11010519491231002X"
ID_CARD = holder_ref(SALT, "id_card", VALID_ID)


def publish(office) -> bytes | None:
    """What the downlink service would publish now (one step)."""
    with office.sessions.begin() as session:
        return card_index.next_document(session, office.root, "S1", now())


def gate_applies(office, gate: CardIndex, raw: bytes | None) -> CardIndex:
    assert raw is not None
    gate.apply(verify_document(raw, office.root.public_key, doc_type="cards", site="S1"))
    return gate


def sell_real_name(office) -> str:
    order_no, total = order(office, LineRequest(office.real_name, "adult", 1, holders=[VALID_ID]))
    pay(office, order_no, total)
    return order_no


def test_a_paid_real_name_ticket_enters_the_index_under_its_holders_id_card(office):
    order_no = sell_real_name(office)
    (ticket,) = tickets(office, order_no)
    gate = gate_applies(office, CardIndex(), publish(office))
    assert gate.seq == 1 and gate.tickets_for(ID_CARD) == [ticket.text]


def test_a_refund_takes_the_ticket_out_with_the_next_delta(office):
    order_no = sell_real_name(office)
    gate = gate_applies(office, CardIndex(), publish(office))
    with office.sessions.begin() as session:
        refund(office, session, order_no, None, now())
    gate_applies(office, gate, publish(office))
    assert gate.seq == 2 and gate.tickets_for(ID_CARD) == []


def test_a_date_change_moves_the_id_card_to_the_new_ticket(office):
    order_no = sell_real_name(office)
    (old,) = tickets(office, order_no)
    gate = gate_applies(office, CardIndex(), publish(office))
    with office.sessions.begin() as session:
        later = Inventory(
            product_id=office.products["real"], day=office.day + timedelta(days=1), capacity=5
        )
        session.add(later)
        session.flush()
        change_ticket(
            session,
            ticket_number=old.ticket_id.hex(),
            inventory_id=later.id,
            issuer=office.issuer,
            root=office.root,
            actor="cashier1",
            source="10.0.0.5",
            now=now(),
        )
    gate_applies(office, gate, publish(office))
    new = [t for t in tickets(office, order_no) if t.status == "valid"]
    assert gate.tickets_for(ID_CARD) == [new[0].text] and new[0].text != old.text


def test_nothing_changed_signs_nothing_and_keeps_the_sequence(office):
    sell_real_name(office)
    publish(office)
    assert publish(office) is None
    with office.sessions() as session:
        raw = card_index.snapshot(session, office.root, "S1", office.day, now())
    assert gate_applies(office, CardIndex(), raw).seq == 1


def test_a_snapshot_for_a_gate_leaves_out_tickets_past_their_last_day(office):
    sell_real_name(office)
    publish(office)
    with office.sessions() as session:
        raw = card_index.snapshot(session, office.root, "S1", office.day + timedelta(days=1), now())
    assert gate_applies(office, CardIndex(), raw).tickets_for(ID_CARD) == []


def annual_pass(office) -> str:
    with office.sessions.begin() as session:
        product = Product(
            site="S1", code="ANNUAL", name_zh="年卡", name_en="Annual pass", kind="annual"
        )
        session.add(product)
        session.flush()
        session.add(Price(product_id=product.id, price_type="adult", amount_fen=30000))
        stock = Inventory(product_id=product.id, day=office.day, capacity=10)
        session.add(stock)
        session.flush()
        stock_id = stock.id
    order_no, total = order(office, LineRequest(stock_id, "adult", 1))
    pay(office, order_no, total)
    (ticket,) = tickets(office, order_no)
    return ticket.ticket_id.hex()


def test_an_rfid_card_bound_to_an_annual_pass_enters_the_index(office):
    number = annual_pass(office)
    with office.sessions.begin() as session:
        card_index.bind_rfid(session, number, "04a1b2c3", SALT)
    gate = gate_applies(office, CardIndex(), publish(office))
    assert len(gate.tickets_for(holder_ref(SALT, "rfid", "04A1B2C3"))) == 1


@pytest.mark.parametrize(
    ("uid", "code"),
    [("not-hex!", "bad_card_uid"), ("04A1B2C3", "card_already_bound")],
)
def test_a_card_uid_must_be_hex_and_free(office, uid, code):
    number = annual_pass(office)
    with office.sessions.begin() as session:
        card_index.bind_rfid(session, number, "04A1B2C3", SALT)
    with pytest.raises(Problem) as refused, office.sessions.begin() as session:
        card_index.bind_rfid(session, number, uid, SALT)
    assert refused.value.code == code


def test_only_a_valid_annual_pass_takes_an_rfid_card(office):
    order_no = sell_real_name(office)
    (ticket,) = tickets(office, order_no)
    with pytest.raises(Problem) as refused, office.sessions.begin() as session:
        card_index.bind_rfid(session, ticket.ticket_id.hex(), "04A1B2C3", SALT)
    assert refused.value.code == "not_annual_pass"
