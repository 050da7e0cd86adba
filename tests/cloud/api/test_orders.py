"""Orders over HTTP (routes/orders.py): buying with an Idempotency-Key, the order's access token,
bad input and sold-out places as problems."""

from __future__ import annotations

from sqlalchemy import select

from cloud.models import Inventory
from tests.cloud.http_calls import place_order, problem


def test_buy_pay_and_get_the_tickets(api, office):
    order = place_order(api, office)
    token = {"X-Order-Token": order["access_token"]}
    assert order["status"] == "pending" and order["total_fen"] == 16000
    paid = api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    assert paid.json()["result"] == "paid"
    read = api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()
    assert read["status"] == "paid" and len(read["tickets"]) == 2
    assert read["access_token"] is None  # shown once, at creation
    png = api.get(f"/api/v1/tickets/{read['tickets'][0]['ticket_no']}/qr.png", headers=token)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"


def test_an_order_needs_an_idempotency_key_and_a_retry_buys_nothing_twice(api, office):
    problem(
        api.post(
            "/api/v1/orders",
            json={
                "site": "S1",
                "lines": [
                    {"inventory_id": office.day_ticket, "price_type": "adult", "quantity": 1}
                ],
            },
        ),
        428,
        "idempotency_key_required",
    )
    first = place_order(api, office, key="retry-key-0001")
    again = place_order(api, office, key="retry-key-0001")
    assert again["order_no"] == first["order_no"]
    avail = api.get(
        f"/api/v1/products/{office.products['day']}/availability",
        params={"day": office.day.isoformat()},
    ).json()
    assert avail[0]["taken"] == 2  # held once
    other = api.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "retry-key-0001"},
        json={
            "site": "S1",
            "lines": [{"inventory_id": office.day_ticket, "price_type": "adult", "quantity": 5}],
        },
    )
    problem(other, 409, "idempotency_key_reused")


def test_someone_without_the_order_token_learns_nothing(api, office):
    order = place_order(api, office)
    problem(api.get(f"/api/v1/orders/{order['order_no']}"), 404, "not_found")
    problem(
        api.get(f"/api/v1/orders/{order['order_no']}", headers={"X-Order-Token": "guess"}),
        404,
        "not_found",
    )


def test_bad_requests_are_problems_with_the_field_named(api, office):
    body = problem(
        api.post(
            "/api/v1/orders",
            headers={"Idempotency-Key": "bad-request-01"},
            json={
                "site": "S1",
                "lines": [
                    {"inventory_id": office.day_ticket, "price_type": "adult", "quantity": 0}
                ],
            },
        ),
        422,
        "invalid_request",
    )
    assert "quantity" in body["message_en"]
    problem(
        api.post(
            "/api/v1/orders",
            headers={"Idempotency-Key": "bad-request-02"},
            json={"site": "S1", "lines": [], "colour": "red"},
        ),
        422,
        "invalid_request",
    )
    problem(api.get("/api/v1/nowhere"), 404, "not_found")


def test_sold_out_is_a_409_problem(api, office):
    with office.sessions.begin() as session:
        session.get(Inventory, office.timed_9).taken = 45  # of 50
    answer = api.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "sold-out-0001"},
        json={
            "site": "S1",
            "lines": [{"inventory_id": office.timed_9, "price_type": "adult", "quantity": 6}],
        },
    )
    problem(answer, 409, "sold_out")


def test_the_order_token_is_never_stored_nor_given_to_a_retry(api, office):
    first = place_order(api, office, key="token-retry-01")
    again = place_order(api, office, key="token-retry-01")
    assert again["order_no"] == first["order_no"] and again["access_token"] is None
    with office.sessions() as db:
        from cloud.models import IdempotencyRecord

        stored = db.scalars(select(IdempotencyRecord)).all()
    assert len(stored) == 1 and first["access_token"] not in str(stored[0].response)
