"""Money and places under concurrency, on SQLite and PostgreSQL: N requests racing for one
order have exactly one effect, and money and places balance afterwards.

Each test lines real threads up on a ``threading.Barrier`` (no sleeps); each thread talks to
the app through its own TestClient, so each request has its own session and connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from cloud.api.app import create_app
from cloud.core.errors import Code, Problem, Thing
from cloud.models import (
    AuditEntry,
    CashierShift,
    Inventory,
    Order,
    Payment,
    Product,
    Refund,
    Ticket,
    User,
)
from cloud.services.payments.sandbox import SandboxProvider
from tests.cloud.conftest import api_context
from tests.stored_passwords import stored_hash


class CountingSandbox(SandboxProvider):
    """The sandbox platform, counting the refunds it is asked for (the I/O edge); it can be told
    to fail the next ``failures`` refund calls, as a platform that is down would."""

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret)
        self.refunds: list[str] = []
        self.failures = 0
        self._lock = threading.Lock()

    def refund(
        self, order_no: str, provider_txn: str, refund_no: str, amount_fen: int, total_fen: int
    ) -> str:
        with self._lock:
            if self.failures:
                self.failures -= 1
                raise Problem(Code.CHANNEL_ERROR, channel=Thing.SANDBOX, action=Thing.REFUND)
            self.refunds.append(refund_no)
        return super().refund(order_no, provider_txn, refund_no, amount_fen, total_fen)


@pytest.fixture
def platform() -> CountingSandbox:
    return CountingSandbox(b"sandbox secret")


@pytest.fixture
def app(office, platform):
    context = api_context(office)
    context.providers["sandbox"] = platform
    with office.sessions.begin() as db:
        for name, role in (("till1", "cashier"), ("till2", "cashier"), ("books", "finance")):
            db.add(User(username=name, password_hash=stored_hash(f"{name}-pw"), role=role))
    return create_app(context)


def client(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def race(app, n: int, request: Callable[[TestClient, int], Any]) -> list[Any]:
    """Run ``request(client, i)`` in ``n`` threads released together; their answers, in order."""
    clients = [client(app) for _ in range(n)]
    barrier = threading.Barrier(n)
    answers: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = request(clients[i], i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        assert answer.status_code < 500, answer.text
    return answers


def statuses(answers: list[Any]) -> list[int]:
    return sorted(a.status_code for a in answers)


def place(app, office, quantity: int = 2, key: str = "race-order-01", **body: Any) -> dict:
    answer = client(app).post(
        "/api/v1/orders",
        headers={"Idempotency-Key": key},
        json={
            "site": "S1",
            "lines": [
                {"inventory_id": office.day_ticket, "price_type": "adult", "quantity": quantity}
            ],
            **body,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def paid(app, office, quantity: int = 2, key: str = "race-order-01") -> dict:
    order = place(app, office, quantity, key)
    answer = client(app).post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token(order))
    assert answer.json()["result"] == "paid", answer.text
    return order


def token(order: dict) -> dict[str, str]:
    return {"X-Order-Token": order["access_token"]}


def signed_in(app, name: str) -> dict[str, str]:
    signed = client(app).post(
        "/api/v1/auth/token", json={"username": name, "password": f"{name}-pw"}
    )
    return {"Authorization": f"Bearer {signed.json()['access_token']}"}


def cashier(app, name: str, float_fen: int = 0) -> dict[str, str]:
    headers = signed_in(app, name)
    assert client(app).post("/api/v1/shifts", json={"float_fen": float_fen}, headers=headers)
    return headers


def ledger(office, order_no: str) -> dict[str, Any]:
    """What the database says about one order's money and places."""
    with office.sessions() as db:
        order = db.scalar(select(Order).where(Order.order_no == order_no))
        assert order is not None
        payments = db.scalars(select(Payment).where(Payment.order_id == order.id)).all()
        refunds = db.scalars(select(Refund).where(Refund.order_id == order.id)).all()
        tickets = db.scalars(select(Ticket).where(Ticket.order_id == order.id)).all()
        return {
            "order": order,
            "payments": payments,
            "refunds": refunds,
            "money_in": sum(p.amount_fen for p in payments),
            "money_out": sum(r.amount_fen for r in refunds),
            "valid": [t for t in tickets if t.status == "valid"],
            "tickets": tickets,
            "taken": db.get(Inventory, office.day_ticket).taken,  # type: ignore[union-attr]
            "tills": {s.id: s.cash_in_fen for s in db.scalars(select(CashierShift))},
        }


def test_twenty_concurrent_full_refunds_refund_the_order_once(app, office, platform):
    other = paid(app, office, 2, key="bystander-01")  # its places must stay taken
    order = paid(app, office, 2)
    answers = race(
        app,
        20,
        lambda c, i: c.post(
            f"/api/v1/orders/{order['order_no']}/refunds", headers=token(order), json={}
        ),
    )
    assert statuses(answers) == [200] + [409] * 19
    book = ledger(office, order["order_no"])
    assert len(book["refunds"]) == 1 and len(platform.refunds) == 1
    assert book["order"].refunded_fen == book["money_out"] == 2 * 7200
    assert book["order"].status == "refunded" and book["valid"] == []
    assert book["taken"] == 2  # the bystander's two places; released once, not twice
    assert ledger(office, other["order_no"])["order"].status == "paid"


def test_concurrent_partial_refunds_each_count_once(app, office, platform):
    order = paid(app, office, 4)
    numbers = [t.ticket_id.hex().upper() for t in ledger(office, order["order_no"])["tickets"]]
    answers = race(
        app,
        4,
        lambda c, i: c.post(
            f"/api/v1/orders/{order['order_no']}/refunds",
            headers=token(order),
            json={"tickets": [numbers[i]]},
        ),
    )
    assert statuses(answers) == [200] * 4
    book = ledger(office, order["order_no"])
    assert len(book["refunds"]) == 4 and len(platform.refunds) == 4
    assert book["order"].refunded_fen == book["money_out"] == 4 * 7200
    assert book["order"].status == "refunded" and book["taken"] == 0


def test_the_same_ticket_refunded_by_many_at_once_is_refunded_once(app, office, platform):
    order = paid(app, office, 3)
    first = ledger(office, order["order_no"])["tickets"][0].ticket_id.hex().upper()
    answers = race(
        app,
        8,
        lambda c, i: c.post(
            f"/api/v1/orders/{order['order_no']}/refunds",
            headers=token(order),
            json={"tickets": [first]},
        ),
    )
    assert statuses(answers) == [200] + [409] * 7
    book = ledger(office, order["order_no"])
    assert book["order"].refunded_fen == book["money_out"] == 7200 and len(platform.refunds) == 1
    assert book["order"].status == "partially_refunded" and len(book["valid"]) == 2
    assert book["taken"] == 2


def test_two_cashiers_paying_one_order_take_the_cash_once(app, office):
    tills = [cashier(app, "till1"), cashier(app, "till2")]
    order = place(app, office, 2, channel="window")
    answers = race(
        app,
        2,
        lambda c, i: c.post(
            f"/api/v1/orders/{order['order_no']}/cash",
            json={"tendered_fen": 20000},
            headers=tills[i],
        ),
    )
    assert statuses(answers) == [200, 409]
    loser = next(a for a in answers if a.status_code == 409).json()
    assert loser["code"] == "already_paid"
    book = ledger(office, order["order_no"])
    assert sorted(book["tills"].values()) == [0, 16000]
    assert [p.status for p in book["payments"]] == ["succeeded"] and len(book["valid"]) == 2


def test_cash_for_an_order_paid_online_is_refused_and_the_till_is_untouched(app, office):
    till = cashier(app, "till1")
    order = paid(app, office, 2)
    answer = client(app).post(
        f"/api/v1/orders/{order['order_no']}/cash", json={"tendered_fen": 16000}, headers=till
    )
    assert answer.status_code == 409 and answer.json()["code"] == "already_paid"
    assert "do not take" in answer.json()["message_en"].lower()
    book = ledger(office, order["order_no"])
    assert list(book["tills"].values()) == [0] and len(book["payments"]) == 1


def test_ten_concurrent_sandbox_checkouts_pay_once(app, office, platform):
    order = place(app, office, 2)
    answers = race(
        app,
        10,
        lambda c, i: c.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token(order)),
    )
    assert statuses(answers) == [200] + [409] * 9
    book = ledger(office, order["order_no"])
    assert len(book["payments"]) == 1 and len(book["valid"]) == 2 and platform.refunds == []
    assert book["money_in"] == book["order"].paid_fen == 16000


def test_one_notification_delivered_many_times_at_once_pays_once(app, office, platform):
    order = place(app, office, 2)
    headers, body = platform.simulate_payment(order["order_no"], order["total_fen"], "TXN-SAME")
    answers = race(
        app,
        10,
        lambda c, i: c.post("/api/v1/payments/sandbox/notify", content=body, headers=headers),
    )
    assert statuses(answers) == [200] * 10
    results = sorted(a.json()["result"] for a in answers)
    assert results == ["already_applied"] * 9 + ["paid"]
    book = ledger(office, order["order_no"])
    assert len(book["payments"]) == 1 and len(book["valid"]) == 2 and platform.refunds == []


def test_different_transactions_for_one_order_at_once_pay_once_and_refund_the_rest(
    app, office, platform
):
    order = place(app, office, 2)
    notes = [
        platform.simulate_payment(order["order_no"], order["total_fen"], f"TXN-{i}")
        for i in range(6)
    ]
    answers = race(
        app,
        6,
        lambda c, i: c.post(
            "/api/v1/payments/sandbox/notify", content=notes[i][1], headers=notes[i][0]
        ),
    )
    assert statuses(answers) == [200] * 6
    results = sorted(a.json()["result"] for a in answers)
    assert results == ["paid"] + ["refunded_duplicate"] * 5
    book = ledger(office, order["order_no"])
    assert len(book["payments"]) == 6 and len(platform.refunds) == 5
    assert book["money_in"] - book["money_out"] == book["order"].paid_fen == 16000
    assert len(book["valid"]) == 2 and book["taken"] == 2


def test_captured_money_that_cannot_be_settled_is_recorded_and_the_order_flagged(
    app, office, platform
):
    order = place(app, office, 1)
    with office.sessions.begin() as db:  # a catalogue problem that only shows when issuing
        db.execute(update(Product).where(Product.code == "DAY").values(zones=[-1, 10**11]))
    headers, body = platform.simulate_payment(order["order_no"], order["total_fen"], "TXN-X")
    for expected in ("flagged", "already_applied"):
        answer = client(app).post("/api/v1/payments/sandbox/notify", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["result"] == expected, answer.text
    book = ledger(office, order["order_no"])
    assert [p.status for p in book["payments"]] == ["held"] and book["tickets"] == []
    assert book["order"].flag_reason
    with office.sessions() as db:
        assert db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "flagged")
        )


def test_a_refund_the_platform_fails_stays_pending_and_a_retry_completes_it_once(
    app, office, platform
):
    order = paid(app, office, 2)
    platform.failures = 1
    retry = {**token(order), "Idempotency-Key": "refund-retry-0001"}
    first = client(app).post(f"/api/v1/orders/{order['order_no']}/refunds", headers=retry, json={})
    assert first.status_code == 200 and first.json()["refund_status"] == "pending"
    book = ledger(office, order["order_no"])
    assert [r.status for r in book["refunds"]] == ["pending"] and platform.refunds == []
    assert book["valid"] == [] and book["taken"] == 0  # the claim stands: tickets revoked
    again = client(app).post(f"/api/v1/orders/{order['order_no']}/refunds", headers=retry, json={})
    assert again.status_code == 200 and again.json()["refund_status"] == "succeeded"
    third = client(app).post(f"/api/v1/orders/{order['order_no']}/refunds", headers=retry, json={})
    assert third.json()["refund_status"] == "succeeded"
    book = ledger(office, order["order_no"])
    assert [r.status for r in book["refunds"]] == ["succeeded"] and len(platform.refunds) == 1
    assert book["order"].refunded_fen == book["money_out"] == 14400


def test_a_duplicate_payment_refund_the_platform_failed_is_paid_by_the_retry(app, office, platform):
    order = paid(app, office, 1)
    platform.failures = 1
    headers, body = platform.simulate_payment(order["order_no"], order["total_fen"], "TXN-TWICE")
    answer = client(app).post("/api/v1/payments/sandbox/notify", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["result"] == "refunded_duplicate"
    assert [r.status for r in ledger(office, order["order_no"])["refunds"]] == ["pending"]
    retried = client(app).post("/api/v1/refunds/retry", headers=signed_in(app, "books"))
    assert retried.status_code == 200 and retried.json() == {"succeeded": 1}
    book = ledger(office, order["order_no"])
    assert [r.status for r in book["refunds"]] == ["succeeded"] and len(platform.refunds) == 1
    assert book["money_in"] - book["money_out"] == book["order"].paid_fen
    assert client(app).post("/api/v1/refunds/retry", headers=signed_in(app, "books")).json() == {}
