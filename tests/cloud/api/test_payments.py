"""Paying over HTTP (routes/payments.py): channel notifications, cash at the window through a
shift."""

from __future__ import annotations

from tests.cloud.http_calls import bearer, place_order, problem


def test_a_forged_notification_is_refused_and_a_valid_one_settles_once(api, office):
    order = place_order(api, office)
    headers, body = office.sandbox.simulate_payment(order["order_no"], order["total_fen"], "T-9")
    problem(
        api.post(
            "/api/v1/payments/sandbox/notify", content=body.replace(b"T-9", b"T-8"), headers=headers
        ),
        400,
        "bad_notification_signature",
    )
    for expected in ("paid", "already_applied"):
        answer = api.post("/api/v1/payments/sandbox/notify", content=body, headers=headers)
        assert answer.json()["result"] == expected
    wrong_headers, wrong = office.sandbox.simulate_payment(order["order_no"], 1, "T-7")
    held = api.post("/api/v1/payments/sandbox/notify", content=wrong, headers=wrong_headers)
    assert held.status_code == 200 and held.json()["result"] == "flagged"  # captured: kept


def test_cash_at_the_window_through_a_shift(api, office):
    till = bearer(api, "till1")
    problem(
        api.post("/api/v1/orders/x/cash", json={"tendered_fen": 1}, headers=till), 404, "not_found"
    )
    assert api.post("/api/v1/shifts", json={"float_fen": 20000}, headers=till).status_code == 201
    order = place_order(api, office, channel="window")
    problem(
        api.post(
            f"/api/v1/orders/{order['order_no']}/cash", json={"tendered_fen": 100}, headers=till
        ),
        422,
        "not_enough_cash",
    )
    paid = api.post(
        f"/api/v1/orders/{order['order_no']}/cash", json={"tendered_fen": 20000}, headers=till
    )
    assert paid.json()["status"] == "paid" and len(paid.json()["tickets"]) == 2
    assert (paid.json()["tendered_fen"], paid.json()["change_fen"]) == (20000, 4000)  # 找零
    closed = api.post("/api/v1/shifts/close", json={"counted_fen": 36000}, headers=till).json()
    assert closed["expected_fen"] == 36000 and closed["difference_fen"] == 0


def test_cash_taken_twice_for_one_order_by_the_same_cashier_is_refused(api, office):
    till = bearer(api, "till1")
    assert api.post("/api/v1/shifts", json={"float_fen": 20000}, headers=till).status_code == 201
    order = place_order(api, office, channel="window")
    url = f"/api/v1/orders/{order['order_no']}/cash"
    first = api.post(
        url, json={"tendered_fen": 16000}, headers={**till, "Idempotency-Key": "cash-order-0001"}
    )
    assert first.status_code == 200 and first.json()["change_fen"] == 0
    replay = api.post(
        url, json={"tendered_fen": 16000}, headers={**till, "Idempotency-Key": "cash-order-0001"}
    )
    assert replay.json() == first.json()  # the same request again: the same answer
    again = api.post(
        url, json={"tendered_fen": 16000}, headers={**till, "Idempotency-Key": "cash-order-0002"}
    )
    problem(again, 409, "already_paid")  # a second sale of the same order: money not taken
    closed = api.post("/api/v1/shifts/close", json={"counted_fen": 36000}, headers=till).json()
    assert closed["expected_fen"] == 36000 and closed["difference_fen"] == 0
