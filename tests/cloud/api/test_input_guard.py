"""Input that used to reach the database and break there is refused at the door, on both
engines alike: NUL characters (PostgreSQL text cannot hold them: a 500 there, stored as-is on
SQLite), oversize bodies, a price type listed twice, thresholds the wrong way round, a slot on
a day product; and a till never pays out cash it does not hold."""

from __future__ import annotations

from sqlalchemy import select

from cloud.models import CashierShift, Order, User
from tests.cloud.http_calls import bearer, place_order, problem
from tests.stored_passwords import stored_hash


def test_a_nul_in_a_path_or_query_is_a_422_not_a_database_error(api, office):
    problem(api.get("/api/v1/sites/S%001/products"), 422, "invalid_request")
    problem(api.get("/api/v1/orders/1%002"), 422, "invalid_request")
    day = office.day.isoformat()
    answer = api.get(f"/api/v1/products/{office.products['day']}/availability?day={day}%00")
    problem(answer, 422, "invalid_request")


def test_a_nul_anywhere_in_a_body_is_a_422_even_before_sign_in(api):
    answer = api.post("/api/v1/auth/token", json={"username": "bo\u0000ss", "password": "x"})
    problem(answer, 422, "invalid_request")
    raw = api.post(
        "/api/v1/auth/token",
        content=b'{"username": "boss\x00", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    problem(raw, 422, "invalid_request")


def test_a_body_over_the_limit_is_refused_before_it_is_parsed(api):
    huge = b'{"site": "S1", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    answer = api.post(
        "/api/v1/orders",
        content=huge,
        headers={"Content-Type": "application/json", "Idempotency-Key": "huge-0001"},
    )
    body = problem(answer, 413, "payload_too_large")
    assert "bytes" in body["message_en"]
    assert answer.headers["x-content-type-options"] == "nosniff"  # refusals keep the headers


def test_an_ordinary_request_passes_the_guard_unchanged(api, office):
    order = place_order(api, office, key="guard-ok-0001", quantity=1)
    assert order["order_no"] and order["access_token"]


def _product(**extra):
    return {
        "site": "S1",
        "code": "TWICE",
        "name_zh": "票",
        "name_en": "Ticket",
        "kind": "day",
        "prices": [{"price_type": "adult", "amount_fen": 100}],
        **extra,
    }


def test_a_price_type_listed_twice_is_a_422_not_a_constraint_error(api):
    boss = bearer(api, "boss")
    twice = _product(
        prices=[
            {"price_type": "adult", "amount_fen": 100},
            {"price_type": "adult", "amount_fen": 200},
        ]
    )
    answer = api.post("/api/v1/products", json=twice, headers={**boss, "Idempotency-Key": "p2"})
    body = problem(answer, 422, "invalid_request")
    assert "once" in body["message_en"] or "once" in str(body.get("errors"))


def test_inventory_thresholds_and_slots_must_make_sense(api, office):
    boss = bearer(api, "boss")
    day = office.day.isoformat()
    cases = {
        "warn-after-stop": {"warn_percent": 100, "stop_percent": 1},
        "half-a-slot": {"slot_start": 540},
        "slot-ends-first": {"slot_start": 600, "slot_end": 540},
    }
    for key, extra in cases.items():
        answer = api.post(
            "/api/v1/inventory",
            json={"product_id": office.products["day"], "day": day, "capacity": 10, **extra},
            headers={**boss, "Idempotency-Key": key},
        )
        problem(answer, 422, "invalid_request")
    slotted_day = api.post(
        "/api/v1/inventory",
        json={
            "product_id": office.products["day"],
            "day": day,
            "capacity": 10,
            "slot_start": 540,
            "slot_end": 600,
        },
        headers={**boss, "Idempotency-Key": "slot-on-day"},
    )
    problem(slotted_day, 422, "slot_mismatch")


def test_a_till_never_pays_out_cash_it_does_not_hold(api, office):
    with office.sessions.begin() as db:
        db.add(User(username="till9", password_hash=stored_hash("till9-password"), role="cashier"))
    seller, other = bearer(api, "till1"), bearer(api, "till9")
    api.post("/api/v1/shifts", json={"float_fen": 10000}, headers=seller)
    api.post("/api/v1/shifts", json={"float_fen": 1000}, headers=other)
    order = place_order(api, office, key="till-short-01", channel="window", quantity=2)
    paid = api.post(
        f"/api/v1/orders/{order['order_no']}/cash", json={"tendered_fen": 16000}, headers=seller
    )
    assert paid.status_code == 200, paid.text
    short = api.post(f"/api/v1/orders/{order['order_no']}/refunds", headers=other, json={})
    problem(short, 409, "till_short")
    with office.sessions() as db:
        status = db.scalar(select(Order.status).where(Order.order_no == order["order_no"]))
        tills = {s.opening_float_fen: s.cash_out_fen for s in db.scalars(select(CashierShift))}
    assert status == "paid"  # nothing refunded, nothing revoked
    assert tills == {10000: 0, 1000: 0}
    refunded = api.post(f"/api/v1/orders/{order['order_no']}/refunds", headers=seller, json={})
    assert refunded.status_code == 200, refunded.text
