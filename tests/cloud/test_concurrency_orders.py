"""Orders, holds and places under concurrency and abuse (issue 12), on SQLite and PostgreSQL.

Real threads with their own sessions, lined up by a Barrier; no sleeps. Every instant is fixed
relative to the office's visit day, so the suite passes at any hour.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloud.api.app import create_app
from cloud.core.errors import Problem
from cloud.models import HolderClaim, Inventory, Order, OrderItem, Ticket
from cloud.services import inventory
from cloud.services.holds import Expirer, HoldLimits, expire_orders
from cloud.services.orders import DEFAULT_LIMITS, LineRequest
from cloud.services.payments.settle import apply_payment
from cloud.services.refunds import change_ticket, refund_tickets
from keys.clock import ManualClock
from keys.holder import holder_ref
from simulators.cloud_server import cloud_server
from tests.cloud.conftest import SALT, SITE_TZ, api_context, place_order

ID_A = "11010519491231002X"
ID_B = "110101199003074477"
THREADS = 8
TOOL = str(Path(sys.executable).with_name("scenic-cloud"))


def noon_before(office) -> datetime:
    """Noon, three days before the visit day: orders, payments and refunds are all open."""
    return datetime.combine(office.day - timedelta(days=3), time(12), SITE_TZ).astimezone(UTC)


def buy(office, *lines, at, client=None, limits=DEFAULT_LIMITS) -> tuple[str, int]:
    order = place_order(office, *lines, at=at, client=client, limits=limits)
    return order.order_no, order.total_fen


def pay(office, order_no, amount, at, txn=None):
    headers, body = office.sandbox.simulate_payment(order_no, amount, txn)
    note = office.sandbox.verify_notification(headers, body)
    with office.sessions.begin() as session:
        return apply_payment(session, note, office.issuer, at)


def real_line(office, *ids: str) -> LineRequest:
    """A line of real-name tickets, one per ID number."""
    return LineRequest(office.real_name, "adult", len(ids), holders=list(ids))


def race(count: int, job: Callable[[int], Any]) -> tuple[list[Any], list[str], list[str]]:
    """Run ``job(i)`` in ``count`` threads released together: (results, refusal codes, errors)."""
    results: list[Any] = []
    refused: list[str] = []
    errors: list[str] = []
    start = threading.Barrier(count)

    def run(number: int) -> None:
        start.wait()
        try:
            results.append(job(number))
        except Problem as problem:
            refused.append(problem.code)
        except Exception as exc:  # anything else is a bug the test must show
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, refused, errors


def taken(office, inventory_id) -> int:
    with office.sessions() as session:
        return session.get(Inventory, inventory_id).taken


def places_balance(office, inventory_id) -> tuple[int, int, int]:
    """(taken, held by pending orders, sold as valid tickets) of one inventory row."""
    with office.sessions() as session:
        held = session.scalar(
            select(func.coalesce(func.sum(OrderItem.quantity), 0))
            .join(Order, Order.id == OrderItem.order_id)
            .where(OrderItem.inventory_id == inventory_id, Order.status == "pending")
        )
        sold = session.scalar(
            select(func.coalesce(func.sum(Ticket.people), 0)).where(
                Ticket.inventory_id == inventory_id, Ticket.status == "valid"
            )
        )
        return session.get(Inventory, inventory_id).taken, held, sold


def status(office, order_no) -> str:
    with office.sessions() as session:
        return session.scalar(select(Order.status).where(Order.order_no == order_no))


# One ID, one ticket (防黄牛) -------------------------------------------------------------


def test_the_same_id_on_two_lines_of_one_order_is_refused_as_a_duplicate_holder(office):
    at = noon_before(office)
    with pytest.raises(Problem) as info:
        buy(office, real_line(office, ID_A), real_line(office, ID_A), at=at)
    assert info.value.code == "duplicate_holder"
    assert taken(office, office.real_name) == 0


def test_an_id_held_by_a_pending_order_cannot_be_ordered_again(office):
    at = noon_before(office)
    buy(office, real_line(office, ID_A), at=at)
    with pytest.raises(Problem) as info:
        buy(office, real_line(office, ID_A), at=at + timedelta(minutes=1))
    assert info.value.code == "duplicate_holder"
    assert taken(office, office.real_name) == 1


def test_orders_for_the_same_id_at_once_exactly_one_wins(office):
    at = noon_before(office)
    sold, refused, errors = race(
        THREADS, lambda n: buy(office, real_line(office, ID_A), at=at, client=f"10.0.0.{n}")
    )
    assert errors == []
    assert len(sold) == 1 and refused == ["duplicate_holder"] * (THREADS - 1)
    assert taken(office, office.real_name) == 1
    with office.sessions() as session:
        assert session.scalar(select(func.count()).select_from(HolderClaim)) == 1


def test_paying_every_order_for_one_id_gives_one_ticket(office):
    at = noon_before(office)
    orders = []
    for n in range(3):
        try:
            orders.append(buy(office, real_line(office, ID_A), at=at + timedelta(seconds=n)))
        except Problem as problem:
            assert problem.code == "duplicate_holder"
    for order_no, total in orders:
        pay(office, order_no, total, at + timedelta(minutes=1))
    with office.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_an_id_may_order_again_once_its_hold_expired(office):
    at = noon_before(office)
    buy(office, real_line(office, ID_A), at=at)
    with office.sessions.begin() as session:
        assert expire_orders(session, at + timedelta(minutes=16)) == 1
    buy(office, real_line(office, ID_A), at=at + timedelta(minutes=17))
    assert taken(office, office.real_name) == 1


def test_an_id_may_order_again_once_its_ticket_was_refunded(office):
    at = noon_before(office)
    order_no, total = buy(office, real_line(office, ID_A, ID_B), at=at)
    pay(office, order_no, total, at)
    with office.sessions() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.status == "valid"))
        number = ticket.ticket_id.hex()
    with office.sessions.begin() as session:
        refund_tickets(
            session,
            order_no=order_no,
            ticket_numbers=[number],
            providers=office.providers,
            root=office.root,
            actor="cashier1",
            source="10.0.0.5",
            now=at,
        )
    with pytest.raises(Problem) as info:  # the other ID still holds its ticket
        buy(office, real_line(office, ID_A, ID_B), at=at)
    assert info.value.code == "duplicate_holder"
    freed = ID_A if ticket.holder_ref == holder_ref(SALT, "id_card", ID_A) else ID_B
    buy(office, real_line(office, freed), at=at)


def test_a_late_payment_for_an_id_claimed_by_someone_else_meanwhile_is_refunded(office):
    at = noon_before(office)
    late_no, late_total = buy(office, real_line(office, ID_A), at=at)
    with office.sessions.begin() as session:
        expire_orders(session, at + timedelta(minutes=16))
    buy(office, real_line(office, ID_A), at=at + timedelta(minutes=17))
    result = pay(office, late_no, late_total, at + timedelta(minutes=18))
    assert result.status == "refunded_no_places" and result.tickets == 0
    assert taken(office, office.real_name) == 1


# Holds expire, exactly once -----------------------------------------------------------------


def test_concurrent_expiries_give_the_places_back_exactly_once(office):
    at = noon_before(office)
    buy(office, LineRequest(office.timed_9, "adult", 10), at=at)

    def expire(_: int) -> int:
        with office.sessions.begin() as session:
            return expire_orders(session, at + timedelta(minutes=16))

    counts, refused, errors = race(THREADS, expire)
    assert errors == [] and refused == []
    assert sorted(counts) == [0] * (THREADS - 1) + [1]
    assert taken(office, office.timed_9) == 0


def test_expiries_racing_a_payment_leave_the_order_paid_with_its_places_once(office):
    at = noon_before(office)
    order_no, total = buy(office, LineRequest(office.timed_9, "adult", 10), at=at)
    late = at + timedelta(minutes=16)

    def job(number: int) -> Any:
        if number == 0:
            return pay(office, order_no, total, late).status
        with office.sessions.begin() as session:
            return expire_orders(session, late)

    results, refused, errors = race(THREADS, job)
    assert errors == [] and refused == []
    assert "paid" in results and sum(r for r in results if isinstance(r, int)) <= 1
    assert status(office, order_no) == "paid"
    assert places_balance(office, office.timed_9) == (10, 0, 10)


def test_an_order_within_its_hold_is_not_expired(office):
    at = noon_before(office)
    buy(office, LineRequest(office.timed_9, "adult", 3), at=at)
    with office.sessions.begin() as session:
        assert expire_orders(session, at + timedelta(minutes=14)) == 0
    assert taken(office, office.timed_9) == 3


def test_the_serve_expiry_thread_gives_unpaid_places_back_on_its_clock(office):
    at = noon_before(office)
    buy(office, LineRequest(office.timed_9, "adult", 4), at=at)
    clock = ManualClock(at + timedelta(minutes=16))
    swept: list[int] = []
    both = threading.Event()

    def when_swept(expired: int) -> None:
        swept.append(expired)
        if sum(swept) == 2:
            both.set()

    expirer = Expirer(office.sessions, clock.now, every_s=0.05, when_swept=when_swept)
    expirer.start()  # the first pass runs before start returns
    try:
        assert swept == [1] and taken(office, office.timed_9) == 0
        buy(office, LineRequest(office.timed_9, "adult", 3), at=at)  # over on the clock
        assert both.wait(60)  # a later pass, in the thread
    finally:
        expirer.stop()
    assert taken(office, office.timed_9) == 0


def test_serve_gives_back_holds_that_ended_before_it_answers_its_first_request(
    office, db_url, tmp_path
):
    at = noon_before(office)
    order_no, _ = buy(office, LineRequest(office.timed_9, "adult", 5), at=at)
    env = {
        **os.environ,
        "SCENIC_STATE_DIR": str(tmp_path / "state"),
        "SCENIC_DB_URL": db_url,
        "SCENIC_KEY_PASSPHRASE": "a long cloud passphrase",
        "SCENIC_CLOCK_AT": (at + timedelta(minutes=16)).isoformat(),
    }
    made = subprocess.run([TOOL, "keys", "init"], capture_output=True, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    with cloud_server(env):
        assert status(office, order_no) == "expired"
        assert taken(office, office.timed_9) == 0


def test_holds_expire_runs_from_the_command_line_with_one_line_and_exit_0(office, db_url):
    at = noon_before(office)
    buy(office, LineRequest(office.timed_9, "adult", 2), at=at)
    env = {
        **os.environ,
        "SCENIC_DB_URL": db_url,
        "SCENIC_CLOCK_AT": (at + timedelta(minutes=16)).isoformat(),
    }
    done = subprocess.run(
        [TOOL, "holds", "expire", "--json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"expired": 1}'
    assert taken(office, office.timed_9) == 0
    bad = subprocess.run(
        [TOOL, "holds", "expire"],
        capture_output=True,
        text=True,
        env={**env, "SCENIC_CLOCK_AT": "yesterday"},
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


# Caps ---------------------------------------------------------------------------------------


def test_max_per_order_counts_every_line_of_the_order(office):
    at = noon_before(office)
    lines = [LineRequest(office.day_ticket, "adult", 20)] * 50
    with pytest.raises(Problem) as info:
        buy(office, *lines, at=at, limits=HoldLimits(max_lines=100))
    assert info.value.code == "bad_quantity"
    with pytest.raises(Problem) as info:
        buy(office, *[LineRequest(office.day_ticket, "adult", 11)] * 2, at=at)
    assert info.value.code == "bad_quantity"
    assert taken(office, office.day_ticket) == 0


def test_an_order_of_more_lines_than_allowed_is_refused(office):
    at = noon_before(office)
    lines = [LineRequest(office.day_ticket, "adult", 1)] * 11
    with pytest.raises(Problem) as info:
        buy(office, *lines, at=at)
    assert info.value.code == "too_many_lines"
    assert taken(office, office.day_ticket) == 0


def test_one_client_at_once_holds_no_more_than_its_limit(office):
    at = noon_before(office)
    held, refused, errors = race(
        THREADS,
        lambda n: buy(office, LineRequest(office.day_ticket, "adult", 20), at=at, client="x"),
    )
    assert errors == []
    assert len(held) == 2 and refused == ["client_hold_limit"] * (THREADS - 2)
    assert taken(office, office.day_ticket) == 40


def test_a_clients_expired_and_paid_orders_no_longer_count_against_its_limit(office):
    at = noon_before(office)
    paid_no, total = buy(office, LineRequest(office.day_ticket, "adult", 20), at=at, client="x")
    buy(office, LineRequest(office.day_ticket, "adult", 20), at=at, client="x")
    pay(office, paid_no, total, at)
    buy(office, LineRequest(office.day_ticket, "adult", 20), at=at, client="x")
    later = at + timedelta(minutes=16)  # the unpaid ones are past their hold
    buy(office, LineRequest(office.day_ticket, "adult", 20), at=later, client="x")
    buy(office, LineRequest(office.day_ticket, "adult", 20), at=later, client="x")
    with pytest.raises(Problem) as info:
        buy(office, LineRequest(office.day_ticket, "adult", 1), at=later, client="x")
    assert info.value.code == "client_hold_limit" and info.value.status == 429


@pytest.fixture
def api(office) -> TestClient:
    return TestClient(create_app(api_context(office)), raise_server_exceptions=False)


def order_from(api, office, key: str, address: str, quantity: int = 20, **headers: str):
    """An order from a buyer connecting from ``address`` (no proxy in front: the address is
    the connection's own, which is what the per-client cap counts)."""
    from fastapi.testclient import TestClient

    client = TestClient(api.app, raise_server_exceptions=False, client=(address, 50000))
    return client.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": key, **headers},
        json={
            "site": "S1",
            "lines": [
                {"inventory_id": office.day_ticket, "price_type": "adult", "quantity": quantity}
            ],
        },
    )


def test_anonymous_requests_cannot_hold_every_place_and_the_next_buyer_finds_some(api, office):
    answers = [order_from(api, office, f"hoard-{n:04d}", "198.51.100.9") for n in range(5)]
    assert [a.status_code for a in answers] == [201, 201, 429, 429, 429]
    body = answers[2].json()
    assert body["code"] == "client_hold_limit"
    assert body["message_zh"] and body["message_en"]
    buyer = order_from(api, office, "buyer-00001", "203.0.113.5", quantity=2)
    assert buyer.status_code == 201, buyer.text


def test_signed_in_staff_at_the_window_are_not_counted_per_address(api, office):
    from cloud.models import User
    from tests.stored_passwords import stored_hash

    with office.sessions.begin() as db:
        db.add(User(username="till1", password_hash=stored_hash("till-pw"), role="cashier"))
    login = api.post("/api/v1/auth/token", json={"username": "till1", "password": "till-pw"})
    bearer = {"Authorization": "Bearer " + login.json()["access_token"]}
    answers = [order_from(api, office, f"window-{n:04d}", "10.0.0.2", **bearer) for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    forged = order_from(api, office, "window-9999", "10.0.0.2", Authorization="Bearer nonsense")
    assert forged.status_code == 401


# Places balance ------------------------------------------------------------------------------


def test_places_balance_after_buyers_payers_and_expirers_race(office):
    at, late = noon_before(office), noon_before(office) + timedelta(minutes=16)
    made, refused, errors = race(
        THREADS * 2,
        lambda n: buy(office, LineRequest(office.timed_9, "adult", 5), at=at, client=f"c{n}"),
    )
    assert errors == [] and set(refused) <= {"sold_out"} and len(made) == 10  # 50 places

    def settle_or_expire(number: int) -> Any:
        if number < len(made) // 2:
            order_no, total = made[number]
            return pay(office, order_no, total, late).status
        with office.sessions.begin() as session:
            return expire_orders(session, late)

    _, refused, errors = race(THREADS, settle_or_expire)
    assert errors == [] and refused == []
    taken_now, held, sold = places_balance(office, office.timed_9)
    assert held == 0 and taken_now == sold == 5 * (len(made) // 2)
    with office.sessions() as session:
        capacity = session.get(Inventory, office.timed_9).capacity
    assert taken_now <= capacity


# Inventory exactness --------------------------------------------------------------------------


def test_releasing_places_that_are_not_taken_is_refused_and_changes_nothing(office):
    at = noon_before(office)
    buy(office, LineRequest(office.timed_9, "adult", 2), at=at)
    with pytest.raises(Problem) as info, office.sessions.begin() as session:
        inventory.release(session, office.timed_9, 3)
    assert info.value.code == "inventory_mismatch"
    assert taken(office, office.timed_9) == 2


# Date change -----------------------------------------------------------------------------------


def another_day(office, product: str, days: int) -> int:
    """An inventory row of ``product`` ``days`` after (negative: before) the visit day."""
    with office.sessions.begin() as session:
        stock = Inventory(
            product_id=office.products[product], day=office.day + timedelta(days=days), capacity=10
        )
        session.add(stock)
        session.flush()
        return stock.id


def change(office, number: str, to: int, at: datetime) -> None:
    with office.sessions.begin() as session:
        change_ticket(
            session,
            ticket_number=number,
            inventory_id=to,
            issuer=office.issuer,
            root=office.root,
            actor="cashier1",
            source="10.0.0.5",
            now=at,
        )


def first_ticket_number(office) -> str:
    with office.sessions() as session:
        return session.scalar(select(Ticket.ticket_id).order_by(Ticket.id)).hex()


def test_a_date_change_to_a_day_already_over_is_refused(office):
    at = noon_before(office)
    order_no, total = buy(office, LineRequest(office.day_ticket, "adult", 1), at=at)
    pay(office, order_no, total, at)
    over_id = another_day(office, "day", -4)
    with pytest.raises(Problem) as info:
        change(office, first_ticket_number(office), over_id, at)
    assert info.value.code == "day_past" and info.value.zh
    assert taken(office, over_id) == 0 and taken(office, office.day_ticket) == 1


def test_a_date_change_moves_the_ids_claim_and_refuses_a_day_it_already_holds(office):
    at = noon_before(office)
    later_id = another_day(office, "real", 1)
    order_no, total = buy(office, real_line(office, ID_A), at=at)
    pay(office, order_no, total, at)
    buy(office, LineRequest(later_id, "adult", 1, holders=[ID_A]), at=at)
    number = first_ticket_number(office)
    with pytest.raises(Problem) as info:
        change(office, number, later_id, at)
    assert info.value.code == "duplicate_holder"
    free_id = another_day(office, "real", 2)
    change(office, number, free_id, at)
    buy(office, real_line(office, ID_A), at=at)  # its first day is free again
    with pytest.raises(Problem) as info:
        buy(office, LineRequest(free_id, "adult", 1, holders=[ID_A]), at=at)
    assert info.value.code == "duplicate_holder"
