"""Hostile traffic against a real ``scenic-cloud serve``: does money or a place ever go astray?

On SQLite (WAL) and PostgreSQL, a bounded burst of what attackers and clumsy cashiers do, each
wave lined up on a barrier so its requests race: 20 refunds of one order at once, partial
refunds of one order's tickets (each ticket twice), two cashiers taking cash for one order,
cash for an order already paid online, 10 sandbox checkouts of one order, one notification
replayed 6 times and 3 transactions for one order at once, and oversize or malformed orders.

Reported per engine: requests tried, refused (4xx), 5xx (must be 0), and discrepancies (must
be 0), read from the database afterwards:
- money: per order, payments in minus refunds out == paid_fen - refunded_fen, and the order's
  refunded_fen == its ticket refunds; no refund left pending or sent twice (refund_no unique);
- tills: each shift's cash in == the cash payments it took, and no cash payment is marked
  refunded without a refund counted out;
- places: each inventory row's taken == places held by pending orders + valid tickets' people,
  and taken <= capacity.
Each engine runs in well under a minute on the 2-core machine.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.engines import each_engine
from bench.report import report
from bench.site import day_ticket_site
from cloud.api.context import CloudContext, from_settings
from cloud.core.config import Settings
from cloud.core.security import hash_password
from cloud.models import (
    CashierShift,
    Inventory,
    Order,
    OrderItem,
    Payment,
    Refund,
    Ticket,
    User,
)
from cloud.services.cloud_keys import init_keys
from cloud.services.payments.sandbox import SandboxProvider
from simulators.cloud_server import cloud_server, serve_env

PASSPHRASE = "hostile bench cloud passphrase"
ROUNDS = 2  # each wave is repeated on this many fresh orders


class Traffic:
    """Counts every answer by status; fires waves of racing requests."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def call(self, client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
        answer = client.request(method, path, **kw)
        with self.lock:
            self.statuses[answer.status_code] += 1
        return answer

    def one(self, method: str, path: str, **kw: Any) -> httpx.Response:
        with httpx.Client(base_url=self.base, timeout=60) as client:
            return self.call(client, method, path, **kw)

    def wave(self, requests: list[Callable[[httpx.Client], httpx.Response]]) -> list[Any]:
        barrier = threading.Barrier(len(requests))
        answers: list[Any] = [None] * len(requests)

        def run(i: int) -> None:
            with httpx.Client(base_url=self.base, timeout=60) as client:
                barrier.wait()
                answers[i] = requests[i](client)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return answers


def prepare(state: Path, url: str) -> tuple[CloudContext, int, int]:
    """Keys, a site with a refundable day ticket (10% fee), two cashiers; the inventory id and
    the product id."""
    init_keys(state, PASSPHRASE.encode())
    context = from_settings(
        Settings(state_dir=state, db_url=url, sandbox=True), PASSPHRASE.encode()
    )
    with context.sessions.begin() as db:
        product_id, inventory_id = day_ticket_site(
            db,
            datetime.now(UTC).date(),
            days_ahead=5,
            capacity=2000,
            refund_until_hours=0,
            refund_fee_percent=10,
        )
        for name in ("till1", "till2"):
            db.add(User(username=name, password_hash=hash_password(f"{name}-pw"), role="cashier"))
        db.flush()
        return context, inventory_id, product_id


def hostile(traffic: Traffic, sandbox: SandboxProvider, inventory_id: int) -> None:
    numbers = iter(range(1_000_000))

    def order(quantity: int, channel: str = "web") -> dict[str, Any]:
        made = traffic.one(
            "POST",
            "/api/v1/orders",
            headers={"Idempotency-Key": f"hostile-{next(numbers):08d}"},
            json={
                "site": "S1",
                "channel": channel,
                "lines": [
                    {"inventory_id": inventory_id, "price_type": "adult", "quantity": quantity}
                ],
            },
        )
        assert made.status_code == 201, made.text
        return dict(made.json())

    def paid(quantity: int) -> dict[str, Any]:
        made = order(quantity)
        traffic.one("POST", f"/api/v1/sandbox/pay/{made['order_no']}", headers=token(made))
        return made

    tills = []
    for name in ("till1", "till2"):
        signed = traffic.one(
            "POST", "/api/v1/auth/token", json={"username": name, "password": f"{name}-pw"}
        )
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        traffic.one("POST", "/api/v1/shifts", json={"float_fen": 10000}, headers=headers)
        tills.append(headers)

    for _ in range(ROUNDS):
        full = paid(2)
        traffic.wave(
            [_post(traffic, f"/api/v1/orders/{full['order_no']}/refunds", token(full), {})] * 20
        )

        partial = paid(4)
        detail = traffic.one("GET", f"/api/v1/orders/{partial['order_no']}", headers=token(partial))
        tickets = [t["ticket_no"] for t in detail.json()["tickets"]]
        traffic.wave(
            [
                _post(
                    traffic,
                    f"/api/v1/orders/{partial['order_no']}/refunds",
                    token(partial),
                    {"tickets": [number]},
                )
                for number in tickets * 2
            ]
        )

        window = order(2, "window")
        traffic.wave(
            [
                _post(
                    traffic,
                    f"/api/v1/orders/{window['order_no']}/cash",
                    till,
                    {"tendered_fen": 20000},
                )
                for till in tills
            ]
        )
        online = paid(1)
        traffic.one(
            "POST",
            f"/api/v1/orders/{online['order_no']}/cash",
            headers=tills[0],
            json={"tendered_fen": 8000},
        )

        checkout = order(2)
        traffic.wave(
            [_post(traffic, f"/api/v1/sandbox/pay/{checkout['order_no']}", token(checkout), None)]
            * 10
        )

        notified = order(2)
        same = sandbox.simulate_payment(notified["order_no"], notified["total_fen"])
        others = [
            sandbox.simulate_payment(notified["order_no"], notified["total_fen"]) for _ in range(3)
        ]
        traffic.wave([_notify(traffic, *note) for note in [same] * 6 + others])

    oversize: list[dict[str, Any]] = [
        {"inventory_id": inventory_id, "price_type": "adult", "quantity": 10**9},
        {"inventory_id": inventory_id, "price_type": "adult", "quantity": -1},
        {"inventory_id": inventory_id, "price_type": "adult", "quantity": "1e9"},
        {"inventory_id": 10**12, "price_type": "adult", "quantity": 1},
        {"inventory_id": inventory_id, "price_type": "x" * 10_000, "quantity": 1},
    ]
    traffic.wave(
        [
            _post(
                traffic,
                "/api/v1/orders",
                {"Idempotency-Key": f"oversize-{i:04d}"},
                {"site": "S1", "lines": [line] * (1 if i % 2 else 500)},
            )
            for i, line in enumerate(oversize * 2)
        ]
    )


def token(order: dict[str, Any]) -> dict[str, str]:
    return {"X-Order-Token": order["access_token"]}


def _post(
    traffic: Traffic, path: str, headers: dict[str, str], body: Any
) -> Callable[[httpx.Client], httpx.Response]:
    return lambda client: traffic.call(client, "POST", path, headers=headers, json=body)


def _notify(
    traffic: Traffic, headers: dict[str, str], body: bytes
) -> Callable[[httpx.Client], httpx.Response]:
    return lambda client: traffic.call(
        client, "POST", "/api/v1/payments/sandbox/notify", headers=headers, content=body
    )


def discrepancies(db: Session) -> dict[str, int]:
    """Money, till and place mismatches found in the database (each should be 0)."""
    found = Counter[str]()
    for order in db.scalars(select(Order)):
        payments = db.scalars(select(Payment).where(Payment.order_id == order.id)).all()
        refunds = db.scalars(select(Refund).where(Refund.order_id == order.id)).all()
        if order.flag_reason:
            found["flagged orders"] += 1
            continue
        money_in = sum(p.amount_fen for p in payments)
        money_out = sum(r.amount_fen for r in refunds)
        if money_in - money_out != order.paid_fen - order.refunded_fen:
            found["money"] += 1
        if order.refunded_fen != sum(r.amount_fen for r in refunds if r.tickets):
            found["money"] += 1
        if order.status in ("pending", "expired") and payments:
            found["money"] += 1
    refund_nos = db.scalars(select(Refund.refund_no)).all()
    found["money"] += len(refund_nos) - len(set(refund_nos))
    found["refunds not paid out"] += (
        db.scalar(select(func.count()).select_from(Refund).where(Refund.status != "succeeded")) or 0
    )
    for shift in db.scalars(select(CashierShift)):
        taken = db.scalar(
            select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
                Payment.shift_id == shift.id
            )
        )
        if shift.cash_in_fen != taken:
            found["tills"] += 1
        # Cash marked refunded must have been counted out of a till (a refund row).
        found["tills"] += len(
            db.scalars(
                select(Payment.id).where(
                    Payment.shift_id == shift.id,
                    Payment.status == "refunded",
                    ~select(Refund.id).where(Refund.payment_id == Payment.id).exists(),
                )
            ).all()
        )
    for stock in db.scalars(select(Inventory)):
        held = (
            db.scalar(
                select(func.coalesce(func.sum(OrderItem.quantity), 0))
                .join(Order, Order.id == OrderItem.order_id)
                .where(OrderItem.inventory_id == stock.id, Order.status == "pending")
            )
            or 0
        )
        sold = (
            db.scalar(
                select(func.coalesce(func.sum(Ticket.people), 0)).where(
                    Ticket.inventory_id == stock.id, Ticket.status == "valid"
                )
            )
            or 0
        )
        if stock.taken != held + sold or stock.taken > stock.capacity:
            found["places"] += 1
    return dict(found)


def main() -> None:
    rows = []
    for name, folder, url in each_engine():
        context, inventory_id, _ = prepare(folder / "state", url)
        env = serve_env(folder / "state", url, PASSPHRASE)
        started = time.perf_counter()
        with cloud_server(env) as base:
            traffic = Traffic(base)
            sandbox = context.providers["sandbox"]
            assert isinstance(sandbox, SandboxProvider)
            hostile(traffic, sandbox, inventory_id)
        seconds = time.perf_counter() - started
        with context.sessions() as db:
            found = discrepancies(db)
        context.engine.dispose()
        statuses = traffic.statuses
        errors = sum(n for code, n in statuses.items() if code >= 500)
        wrong = found.get("money", 0) + found.get("tills", 0) + found.get("places", 0)
        rows.append(
            {
                "database": name,
                "requests": sum(statuses.values()),
                "refused_4xx": sum(n for code, n in statuses.items() if 400 <= code < 500),
                "5xx": errors,
                "money": found.get("money", 0),
                "tills": found.get("tills", 0),
                "places": found.get("places", 0),
                "flagged": found.get("flagged orders", 0),
                "refunds_pending": found.get("refunds not paid out", 0),
                "seconds": round(seconds, 1),
                "statuses": " ".join(f"{c}:{n}" for c, n in sorted(statuses.items())),
                "target": "5xx 0, discrepancies 0",
                "met": errors == 0 and wrong == 0,
            }
        )
    report(
        "hostile",
        "Hostile traffic: racing refunds, cash, checkouts, notifications, oversize orders",
        rows,
        "A real scenic-cloud serve (sandbox on) on 127.0.0.1; each wave's requests race on a "
        "barrier. Discrepancies are read from the database afterwards (bench/hostile.py).",
    )


if __name__ == "__main__":
    main()
