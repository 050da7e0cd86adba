"""Refunds over HTTP (routes/refunds.py): the buyer's and the window's, retried once, revoked at
the gates."""

from __future__ import annotations

import pytest

from cloud.core.security import new_token, token_hash
from cloud.models import ApiKey
from keys.revocation import RevocationList
from keys.signed_document import verify_document
from tests.cloud.http_calls import bearer, place_order, problem


@pytest.fixture
def partner_key(office) -> str:
    key = new_token()
    with office.sessions.begin() as db:
        db.add(ApiKey(partner="parking", key_hash=token_hash(key), scopes=["verify"]))
    return key


def test_a_buyer_refund_revokes_the_tickets_for_the_gates(api, office, published, partner_key):
    order = place_order(api, office)
    token = {"X-Order-Token": order["access_token"]}
    api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    tickets = api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()["tickets"]
    refunded = api.post(
        f"/api/v1/orders/{order['order_no']}/refunds",
        headers=token,
        json={"tickets": [tickets[0]["ticket_no"]]},
    )
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["refund_fen"] == 7200
    ((site, kind, raw),) = published
    gate = RevocationList()
    gate.apply(verify_document(raw, office.root.public_key, doc_type=kind, site=site))
    assert gate.is_revoked(bytes.fromhex(tickets[0]["ticket_no"]))
    checked = api.post(
        "/api/v1/verify", headers={"X-Api-Key": partner_key}, json={"code": tickets[0]["text"]}
    ).json()
    assert checked["reason"] == "revoked" and not checked["valid"]
    still = api.post(
        "/api/v1/verify", headers={"X-Api-Key": partner_key}, json={"code": tickets[1]["text"]}
    ).json()
    assert still["reason"] == "not_yet_valid"  # a week ahead: valid, but not today


def test_cash_orders_are_refunded_at_the_window_out_of_the_till(api, office):
    till = bearer(api, "till1")
    api.post("/api/v1/shifts", json={"float_fen": 10000}, headers=till)
    order = place_order(api, office, key="cash-refund-01", channel="window", quantity=1)
    api.post(f"/api/v1/orders/{order['order_no']}/cash", json={"tendered_fen": 8000}, headers=till)
    self_service = api.post(
        f"/api/v1/orders/{order['order_no']}/refunds",
        headers={"X-Order-Token": order["access_token"]},
        json={},
    )
    problem(self_service, 409, "refund_at_window")
    at_window = api.post(f"/api/v1/orders/{order['order_no']}/refunds", headers=till, json={})
    assert at_window.status_code == 200 and at_window.json()["refund_fen"] == 7200
    closed = api.post("/api/v1/shifts/close", json={"counted_fen": 10800}, headers=till).json()
    assert closed["expected_fen"] == 10000 + 8000 - 7200 and closed["difference_fen"] == 0


def test_a_retried_refund_gets_the_first_answer_and_refunds_once(api, office, published):
    order = place_order(api, office, key="retry-refund-01")
    token = {"X-Order-Token": order["access_token"]}
    api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    retry = {**token, "Idempotency-Key": "refund-attempt-1"}
    first = api.post(f"/api/v1/orders/{order['order_no']}/refunds", headers=retry, json={})
    again = api.post(f"/api/v1/orders/{order['order_no']}/refunds", headers=retry, json={})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["refund_fen"] == 14400
    assert len(published) == 1  # the revocation went out once
    without_key = api.post(f"/api/v1/orders/{order['order_no']}/refunds", headers=token, json={})
    problem(without_key, 409, "nothing_to_refund")  # a new request, not a retry
