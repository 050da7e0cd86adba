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
    closed = api.post("/api/v1/shifts/close", json={"counted_fen": 36000}, headers=till).json()
    assert closed["expected_fen"] == 36000 and closed["difference_fen"] == 0
