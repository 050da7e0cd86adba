"""Orders hold their places atomically; nothing oversells, even with 200 buyers at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.core.errors import Problem
from cloud.models import CalendarDay, Inventory, Order
from cloud.services.holds import expire_orders
from cloud.services.orders import LineRequest
from tests.cloud.conftest import now, place_order

VALID_ID = "11010519491231002X"
OTHER_ID = "110101199003074477"


def buy(office, *lines, contact=None, at=None, key=None):
    order = place_order(office, *lines, at=at, contact=contact, idempotency_key=key)
    return order.order_no, order.total_fen, order.duplicate_of


def taken(office, inventory_id):
    with office.sessions() as session:
        return session.get(Inventory, inventory_id).taken


def test_an_order_holds_its_places_and_prices_in_fen(office):
    _, total, _ = buy(
        office,
        LineRequest(office.day_ticket, "adult", 2),
        LineRequest(office.day_ticket, "child", 1),
    )
    assert total == 2 * 8000 + 4000
    assert taken(office, office.day_ticket) == 3


def test_two_hundred_buyers_for_the_last_fifty_places_buy_exactly_fifty(office):
    sold, refused, errors = [], [], []
    start = threading.Barrier(200)

    def buyer(number):
        start.wait()
        try:
            buy(office, LineRequest(office.timed_9, "adult", 1))
            sold.append(number)
        except Problem as problem:
            refused.append(problem.code)
        except Exception as exc:  # anything else is a bug the test must show
            errors.append(repr(exc))

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(sold) == 50 and set(refused) == {"sold_out"} and len(refused) == 150
    assert taken(office, office.timed_9) == 50


def test_a_line_asking_for_more_than_is_left_is_refused_and_nothing_is_held(office):
    buy(office, LineRequest(office.timed_9, "adult", 20))
    buy(office, LineRequest(office.timed_9, "adult", 20))
    with pytest.raises(Problem) as info:
        buy(
            office,
            LineRequest(office.day_ticket, "adult", 1),
            LineRequest(office.timed_9, "adult", 20),
        )
    assert info.value.code == "sold_out"
    assert taken(office, office.day_ticket) == 0 and taken(office, office.timed_9) == 40


def test_unpaid_orders_expire_and_give_their_places_back(office):
    buy(office, LineRequest(office.timed_9, "adult", 10))
    with office.sessions.begin() as session:
        assert expire_orders(session, now() + timedelta(minutes=16)) == 1
    assert taken(office, office.timed_9) == 0


def test_peak_days_use_the_peak_price(office):
    with office.sessions.begin() as session:
        session.add(CalendarDay(site="S1", day=office.day, peak=True))
    _, total, _ = buy(office, LineRequest(office.day_ticket, "adult", 1))
    assert total == 12000


def test_closed_days_cannot_be_sold(office):
    with office.sessions.begin() as session:
        session.add(CalendarDay(site="S1", day=office.day, closed=True))
    with pytest.raises(Problem, match="closed"):
        buy(office, LineRequest(office.day_ticket, "adult", 1))


def test_a_price_type_the_product_does_not_have_is_refused(office):
    with pytest.raises(Problem) as info:
        buy(office, LineRequest(office.day_ticket, "senior", 1))
    assert info.value.status == 422 and info.value.code == "no_price"


def test_real_name_products_need_one_valid_id_per_ticket(office):
    for lines, code in (
        ([LineRequest(office.real_name, "adult", 2, holders=[VALID_ID])], "holders_required"),
        (
            [LineRequest(office.real_name, "adult", 1, holders=["110105194912310021"])],
            "bad_id_number",
        ),
    ):
        with pytest.raises(Problem) as info:
            buy(office, *lines)
        assert info.value.code == code


def test_one_id_cannot_buy_two_real_name_tickets_in_one_order(office):
    with pytest.raises(Problem) as info:
        buy(office, LineRequest(office.real_name, "adult", 2, holders=[VALID_ID, VALID_ID]))
    assert info.value.code == "duplicate_holder"


def test_holders_are_stored_encrypted_with_only_a_reference_in_clear(office):
    order_no, _, _ = buy(
        office, LineRequest(office.real_name, "adult", 2, holders=[VALID_ID, OTHER_ID])
    )
    with office.sessions() as session:
        from cloud.models import OrderItem

        order = session.scalar(select(Order).where(Order.order_no == order_no))
        item = session.scalar(select(OrderItem).where(OrderItem.order_id == order.id))
    stored = str(item.holders)
    assert VALID_ID not in stored and OTHER_ID not in stored
    assert office.pd.open(bytes.fromhex(item.holders[0]["id"])) == VALID_ID


def test_a_second_similar_order_from_the_same_buyer_is_flagged(office):
    first, _, _ = buy(office, LineRequest(office.day_ticket, "adult", 2), contact="13800138000")
    _, _, duplicate = buy(
        office, LineRequest(office.day_ticket, "adult", 2), contact="138 0013 8000"
    )
    assert duplicate == first


def test_the_same_idempotency_key_cannot_make_two_orders(office):
    buy(office, LineRequest(office.day_ticket, "adult", 1), key="k-1")
    with pytest.raises(IntegrityError):  # the unique key stops the second; the API replays it
        buy(office, LineRequest(office.day_ticket, "adult", 1), key="k-1")
    assert taken(office, office.day_ticket) == 1


def test_timed_entry_respects_the_day_total_as_well_as_each_slot(office):
    with office.sessions.begin() as session:
        day_cap = Inventory(product_id=office.products["timed"], day=office.day, capacity=50)
        ten = Inventory(
            product_id=office.products["timed"],
            day=office.day,
            slot_start=600,
            slot_end=660,
            capacity=50,
        )
        session.add_all([day_cap, ten])
        session.flush()
        day_id, ten_id = day_cap.id, ten.id
    buy(office, LineRequest(office.timed_9, "adult", 20))
    buy(office, LineRequest(office.timed_9, "adult", 20))
    with pytest.raises(Problem) as info:
        buy(office, LineRequest(ten_id, "adult", 5), LineRequest(ten_id, "adult", 10))  # 55 > 50
    assert info.value.code == "sold_out"
    assert taken(office, ten_id) == 0 and taken(office, day_id) == 40  # nothing half-taken
    buy(office, LineRequest(ten_id, "adult", 10))
    assert taken(office, day_id) == 50
    with office.sessions.begin() as session:
        expire_orders(session, now() + timedelta(minutes=16))
    assert (
        taken(office, day_id) == 0
        and taken(office, ten_id) == 0
        and taken(office, office.timed_9) == 0
    )
