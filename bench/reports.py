"""Report generation for a 50,000-entry day (issue 19's target: a few seconds), on both engines.

The day is seeded with bulk inserts of the rows the services would have written (20,000 paid
orders with 50,000 tickets, a use and a passage per ticket at 8 gates, spread over 08:00-17:00
site time): making them through the services and the ingest would take minutes and measure
those, not the reports. Then each report is made as the API makes it (services/reports.py,
services/report_export.py): summaries by hour, gate and product, the in-park curve, and the
whole entries table exported as CSV and XLSX (50,000 rows each).
"""

from __future__ import annotations

import io
import os
import random
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bench.engines import each_engine
from bench.report import report
from cloud.db import make_engine, session_factory
from cloud.models import (
    Device,
    GateEventRecord,
    Inventory,
    Order,
    OrderItem,
    Price,
    Product,
    Site,
    Ticket,
)
from cloud.services import report_export, reports

ENTRIES = 50_000
ORDERS = 20_000
GATES = 8
DAY = date(2026, 12, 24)
TZ = ZoneInfo("Asia/Shanghai")
TARGET_S = 5.0  # "a few seconds"


def seed(url: str) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    rng = random.Random(19)
    opening = datetime(2026, 12, 24, 8, 0, tzinfo=TZ).astimezone(UTC)
    with sessions.begin() as db:
        db.add(Site(code="S1", name_zh="景区", name_en="Scenic area"))
        db.flush()
        for code in ("DAY", "FAMILY"):
            db.add(Product(site="S1", code=code, name_zh=code, name_en=code, kind="day"))
        db.flush()
        db.add_all(
            [
                Price(product_id=1, price_type="adult", amount_fen=8000),
                Price(product_id=1, price_type="child", amount_fen=4000),
                Price(product_id=2, price_type="adult", amount_fen=20000),
                Inventory(product_id=1, day=DAY, capacity=60_000, taken=ENTRIES),
                Inventory(product_id=2, day=DAY, capacity=10_000, taken=0),
            ]
        )
        db.add_all(
            Device(site="S1", node=f"G{g}", zone=1 + g % 3, public_key=bytes(32))
            for g in range(GATES)
        )
    orders, items, tickets, events = [], [], [], []
    per_node = [0] * GATES
    ticket_no = 0
    for n in range(ORDERS):
        paid = opening - timedelta(minutes=rng.randint(1, 479))  # bought that morning, online
        size = ENTRIES // ORDERS + (1 if n < ENTRIES % ORDERS else 0)
        price_type = "adult" if n % 3 else "child"
        unit = 8000 if price_type == "adult" else 4000
        orders.append({"id": n + 1, "order_no": f"20261224{n:010d}", "site": "S1",
                       "status": "paid", "channel": "web" if n % 4 else "window",
                       "total_fen": unit * size, "paid_fen": unit * size, "created_at": paid,
                       "expires_at": paid, "paid_at": paid})  # fmt: skip
        items.append({"id": n + 1, "order_id": n + 1, "product_id": 1, "inventory_id": 1,
                      "price_type": price_type, "quantity": size, "unit_fen": unit})  # fmt: skip
        for _ in range(size):
            ticket_no += 1
            raw = ticket_no.to_bytes(8, "big")
            tickets.append({"ticket_id": raw, "order_id": n + 1, "item_id": n + 1,
                            "product_id": 1, "inventory_id": 1, "unit_fen": unit,
                            "valid_from": DAY, "valid_until": DAY, "kid": "I1", "text": "-",
                            "issued_at": paid})  # fmt: skip
            gate = rng.randrange(GATES)
            at = opening + timedelta(seconds=rng.randint(0, 9 * 3600))
            per_node[gate] += 1
            use = per_node[gate]
            per_node[gate] += 1
            for seq, kind, data in (
                (use, "use", {"use": use, "ticket": raw.hex().upper(), "dir": "in",
                              "granted": 1, "allowed": 1}),
                (use + 1, "passage", {"use": use, "dir": "in"}),
            ):  # fmt: skip
                events.append({"site": "S1", "node": f"G{gate}", "seq": seq, "kind": kind,
                               "at": at, "data": data, "raw": b"", "received_at": at})  # fmt: skip
    with sessions.begin() as db:
        for model, rows in ((Order, orders), (OrderItem, items), (Ticket, tickets),
                            (GateEventRecord, events)):  # fmt: skip
            for start in range(0, len(rows), 5000):
                db.execute(insert(model), rows[start : start + 5000])
    engine.dispose()


def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def measure(name: str, url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as db:
        scope = reports.scope(db, "S1", DAY, DAY)
    rows: list[dict[str, Any]] = []

    def add(what: str, seconds: float, count: int) -> None:
        rows.append({"engine": name, "report": what, "rows": f"{count:,}",
                     "seconds": round(seconds, 2), "target_s": TARGET_S,
                     "met": seconds <= TARGET_S})  # fmt: skip

    for report_name, by in (("entries", "hour"), ("entries", "gate"), ("entries", "product"),
                            ("sales", "product"), ("capacity", "slot")):  # fmt: skip
        seconds, summary = timed(
            lambda n=report_name, b=by: reports.summarise(
                reports.stream(sessions, n, scope), reports.report(n), b
            )
        )
        first = summary["measures"][0]  # entries, quantity (tickets sold) or capacity
        add(f"{report_name} by {by} ({first})", seconds, summary["total"][first])
    seconds, curve = timed(
        lambda: reports.in_park_curve(reports.stream(sessions, "in_park", scope))
    )
    add("in-park curve by hour", seconds, sum(p["entries"] for p in curve))
    columns = reports.REPORTS["entries"].columns
    sink = io.BytesIO()
    seconds, _ = timed(
        lambda: [
            sink.write(chunk)
            for chunk in report_export.csv_chunks(
                columns, reports.stream(sessions, "entries", scope)
            )
        ]
    )
    add(f"entries CSV, every row ({len(sink.getvalue()) // 1024} KiB)", seconds, ENTRIES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "entries.xlsx"
        seconds, count = timed(
            lambda: report_export.write_xlsx(
                path, "entries", columns, reports.stream(sessions, "entries", scope)
            )
        )
        add(f"entries XLSX, every row ({path.stat().st_size // 1024} KiB)", seconds, count)
    engine.dispose()
    return rows


def main() -> None:
    rows: list[dict[str, Any]] = []
    for name, _, url in each_engine():
        started = time.perf_counter()
        seed(url)
        print(f"{name}: seeded {ENTRIES:,} entries in {time.perf_counter() - started:.1f} s")
        rows += measure(name, url)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    report(
        "reports",
        f"Reports for a {ENTRIES:,}-entry day ({os.cpu_count()} cores)",
        rows,
        notes=f"{ORDERS:,} orders, {ENTRIES:,} tickets, a use and a passage per ticket at "
        f"{GATES} gates; the process's peak RSS over both engines, seeding included: "
        f"{peak_mib} MiB.",
    )


if __name__ == "__main__":
    main()
