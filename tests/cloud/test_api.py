"""The HTTP API as buyers, cashiers, managers and partners use it; every refusal is problem JSON."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.core.security import new_token, token_hash
from cloud.models import ApiKey, AuditEntry, Inventory
from keys.revocation import RevocationList
from keys.signed_document import verify_document


@pytest.fixture
def partner_key(office) -> str:
    key = new_token()
    with office.sessions.begin() as db:
        db.add(ApiKey(partner="parking", key_hash=token_hash(key), scopes=["verify"]))
    return key


def bearer(api: TestClient, name: str) -> dict[str, str]:
    answer = api.post("/api/v1/auth/token", json={"username": name, "password": f"{name}-password"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def place_order(
    api: TestClient,
    office,
    key: str = "order-key-0001",
    quantity: int = 2,
    channel: str = "web",
    **line: Any,
) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": key},
        json={
            "site": "S1",
            "channel": channel,
            "lines": [
                {
                    "inventory_id": office.day_ticket,
                    "price_type": "adult",
                    "quantity": quantity,
                    **line,
                }
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def problem(answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == code and body["message_zh"] and body["message_en"]
    return body


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


def test_partners_need_a_key_with_the_verify_scope(api, office):
    problem(api.post("/api/v1/verify", json={"code": "J1"}), 401, "unauthenticated")
    problem(
        api.post("/api/v1/verify", headers={"X-Api-Key": "nope"}, json={"code": "J1"}),
        401,
        "unauthenticated",
    )


def test_roles_decide_who_does_what(api, office):
    product = {
        "site": "S1",
        "code": "NEW",
        "name_zh": "新票",
        "name_en": "New",
        "kind": "day",
        "prices": [{"price_type": "adult", "amount_fen": 5000}],
    }
    problem(api.post("/api/v1/products", json=product), 401, "unauthenticated")
    problem(
        api.post("/api/v1/products", json=product, headers=bearer(api, "till1")), 403, "forbidden"
    )
    made = api.post("/api/v1/products", json=product, headers=bearer(api, "boss"))
    assert made.status_code == 201 and made.json()["prices"][0]["amount_fen"] == 5000
    problem(
        api.post("/api/v1/products", json=product, headers=bearer(api, "boss")),
        409,
        "duplicate_code",
    )


def test_failed_sign_ins_are_audited_with_the_connecting_address(api, office):
    problem(
        api.post(
            "/api/v1/auth/token",
            json={"username": "boss", "password": "wrong"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        ),
        401,
        "bad_credentials",
    )
    with office.sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    # No proxy is trusted by default, so what the client wrote in X-Forwarded-For is ignored.
    assert entry.actor == "boss" and entry.source == "testclient"


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


def test_a_manager_adds_a_site_with_zones_and_it_lists_its_products(api, office):
    boss = bearer(api, "boss")
    made = api.post(
        "/api/v1/sites",
        headers=boss,
        json={
            "code": "S2",
            "name_zh": "西湖",
            "name_en": "West Lake",
            "zones": [{"zone": 1, "name_zh": "苏堤", "name_en": "Su Causeway"}],
        },
    )
    assert made.status_code == 201, made.text
    problem(
        api.post(
            "/api/v1/sites",
            headers=boss,
            json={"code": "S2", "name_zh": "西湖", "name_en": "West Lake"},
        ),
        409,
        "duplicate_site",
    )
    problem(
        api.post(
            "/api/v1/sites",
            headers=boss,
            json={"code": "S3", "name_zh": "x", "name_en": "x", "timezone": "Mars/Base"},
        ),
        422,
        "bad_timezone",
    )
    assert api.get("/api/v1/sites/S2/products").json() == []


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


def test_the_order_prints_as_a_page_with_each_ticket_and_its_code(api, office):
    order = place_order(api, office, key="print-key-0001")
    token = {"X-Order-Token": order["access_token"]}
    api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    page = api.get(f"/api/v1/orders/{order['order_no']}/print", headers=token)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('class="ticket"') == 2 and page.text.count("<svg") == 2
    assert "测试景区" in page.text and "Day ticket" in page.text
    problem(api.get(f"/api/v1/orders/{order['order_no']}/print"), 404, "not_found")


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


def test_the_order_token_is_never_stored_nor_given_to_a_retry(api, office):
    first = place_order(api, office, key="token-retry-01")
    again = place_order(api, office, key="token-retry-01")
    assert again["order_no"] == first["order_no"] and again["access_token"] is None
    with office.sessions() as db:
        from cloud.models import IdempotencyRecord

        stored = db.scalars(select(IdempotencyRecord)).all()
    assert len(stored) == 1 and first["access_token"] not in str(stored[0].response)


def test_availability_warns_before_the_slot_is_full(api, office):
    for number in range(2):
        api.post(
            "/api/v1/orders",
            headers={"Idempotency-Key": f"warn-order-{number:04d}"},
            json={
                "site": "S1",
                "lines": [{"inventory_id": office.timed_9, "price_type": "adult", "quantity": 20}],
            },
        )
    (slot,) = api.get(
        f"/api/v1/products/{office.products['timed']}/availability",
        params={"day": office.day.isoformat()},
    ).json()
    assert slot["taken"] == 40 and slot["warning"] and not slot["stopped"]
