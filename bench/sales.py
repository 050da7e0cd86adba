"""The ticket office under load: festival batches, and paid orders over HTTP.

- batch: 50,000 tickets for one day with ``issue_batch`` (the ``scenic-cloud issue-batch``
  path): places taken, each ticket signed and stored. Target (issue #7): under 60 s.
- HTTP: a real ``scenic-cloud serve`` process (one uvicorn worker) and 8 concurrent buyers on
  the same 2-core machine; a paid order is POST /orders then the sandbox checkout (signed
  notification, settlement, tickets issued). Reported: paid orders per second and the order
  request's latency p50/p99.
Both on SQLite (WAL) and PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.engines import each_engine
from bench.report import percentiles, report
from bench.site import day_ticket_site
from cloud.api.context import from_settings
from cloud.core.config import Settings
from cloud.services.batch import issue_batch
from cloud.services.cloud_keys import init_keys
from simulators.cloud_server import cloud_server, serve_env

BATCH = 50_000
ORDERS = 600
BUYERS = 8
PASSPHRASE = "benchmark cloud passphrase"


def prepare(state: Path, url: str) -> tuple[Any, int]:
    init_keys(state, PASSPHRASE.encode())
    context = from_settings(Settings(state_dir=state, db_url=url), PASSPHRASE.encode())
    with context.sessions.begin() as db:
        _, inventory_id = day_ticket_site(
            db, datetime.now(UTC).date(), days_ahead=3, capacity=BATCH + 10 * ORDERS
        )
    return context, inventory_id


def http_load(base: str, inventory_id: int) -> dict[str, float]:
    latencies: list[int] = []
    lock = threading.Lock()
    counter = iter(range(ORDERS))

    def buyer() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for number in counter:
                start = time.perf_counter_ns()
                made = client.post(
                    "/api/v1/orders",
                    headers={"Idempotency-Key": f"bench-{number:08d}"},
                    json={
                        "site": "S1",
                        "lines": [
                            {"inventory_id": inventory_id, "price_type": "adult", "quantity": 2}
                        ],
                    },
                )
                elapsed = time.perf_counter_ns() - start
                assert made.status_code == 201, made.text
                order = made.json()
                paid = client.post(
                    f"/api/v1/sandbox/pay/{order['order_no']}",
                    headers={"X-Order-Token": order["access_token"]},
                )
                assert paid.json()["result"] == "paid", paid.text
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=buyer) for _ in range(BUYERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"paid_orders_per_second": round(ORDERS / elapsed, 1), **percentiles(latencies)}


def main() -> None:
    rows = []
    for name, folder, url in each_engine():
        context, inventory_id = prepare(folder / "state", url)
        with cloud_server(serve_env(folder / "state", url, PASSPHRASE)) as base:
            load = http_load(base, inventory_id)
        started = time.perf_counter()
        issue_batch(
            context.sessions,
            context.issuer,
            inventory_id=inventory_id,
            price_type="adult",
            count=BATCH,
            actor="bench",
            now=datetime.now(UTC),
        )
        batch_s = time.perf_counter() - started
        context.engine.dispose()
        rows.append(
            {
                "database": name,
                "figure": f"paid orders over HTTP ({BUYERS} buyers)",
                "value": load["paid_orders_per_second"],
                "unit": "orders/s",
                "p50_ms": load["p50_ms"],
                "p99_ms": load["p99_ms"],
            }
        )
        rows.append(
            {
                "database": name,
                "figure": f"batch of {BATCH:,} tickets",
                "value": round(batch_s, 1),
                "unit": "s",
                "tickets_per_second": round(BATCH / batch_s),
                "target": "< 60 s",
                "met": batch_s < 60,
            }
        )
    report(
        "sales",
        "Ticket office: paid orders over HTTP and festival batches",
        rows,
        "p50/p99 are the order request (hold places); each paid order also pays in the "
        "sandbox and gets its tickets. Server and buyers share the 2 cores.",
    )


if __name__ == "__main__":
    main()
