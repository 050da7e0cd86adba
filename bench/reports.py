"""Report generation for a 50,000-entry day (issue 19's target: a few seconds), on both engines,
before and after the report indexes (migration 0017) and the streaming XLSX writer, in one run.

The day is seeded with bulk inserts of the rows the services would have written (20,000 paid
orders with 50,000 tickets, a use and a passage per ticket at 8 gates, spread over 08:00-17:00
site time), after ``HISTORY_DAYS`` earlier days alike, so the queries pick the day out of a
table holding more than it, as a site's database does: making them through the services and
the ingest would take minutes and measure those, not the reports. Then each report is made as
the API makes it (services/reports.py, services/report_export.py): summaries by hour, gate
and product, the in-park curve, the dashboard's snapshot, and the whole entries table
exported as CSV and XLSX (50,000 rows each).

"before": the 0019 indexes dropped and the XLSX written by openpyxl's write-only mode (what
the export used before); "after": the indexes in place and the streaming writer. Both after
ANALYZE, on the same data, minutes apart, with the load average printed beside them (the
machine is shared). Then the XLSX writer at compression levels 1, 3 and 6, and the Python
heap's peak while each export runs (tracemalloc, untimed), to show memory stays flat.
"""

from __future__ import annotations

import io
import os
import random
import resource
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import Engine, insert, text

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
from cloud.services import report_export, reports, xlsx_stream
from cloud.services.dashboard_figures import snapshot

ENTRIES = 50_000
ORDERS = 20_000
GATES = 8
HISTORY_DAYS = 2  # earlier days of the same size, before DAY
DAY = date(2026, 12, 24)
TZ = ZoneInfo("Asia/Shanghai")
TARGET_S = 5.0  # "a few seconds"
NEW_INDEXES = (  # migration 0019_report_indexes
    "ix_gate_events_site_kind_at",
    "ix_tickets_inventory_id",
    "ix_tickets_valid_until",
    "ix_orders_site_paid_at",
)
LEVELS = (1, 3, 6)  # zip compression levels tried for the XLSX writer


def seed(url: str) -> None:
    """The catalogue and gates, then ``HISTORY_DAYS`` days and DAY, each of ENTRIES entries."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    days = [DAY - timedelta(days=n) for n in range(HISTORY_DAYS, -1, -1)]
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
            ]
        )
        for n, day in enumerate(days):
            db.add(Inventory(id=2 * n + 1, product_id=1, day=day, capacity=60_000, taken=ENTRIES))
            db.add(Inventory(id=2 * n + 2, product_id=2, day=day, capacity=10_000, taken=0))
        db.add_all(
            Device(site="S1", node=f"G{g}", zone=1 + g % 3, public_key=bytes(32))
            for g in range(GATES)
        )
    per_node = [0] * GATES
    for n, day in enumerate(days):
        _seed_day(sessions, day, n, per_node)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def _seed_day(sessions: Any, day: date, n: int, per_node: list[int]) -> None:
    """One day's orders, tickets and gate events; ``per_node`` carries each gate's sequence."""
    rng = random.Random(19 + n)
    opening = datetime(day.year, day.month, day.day, 8, 0, tzinfo=TZ).astimezone(UTC)
    first_order, first_ticket, inventory = n * ORDERS, n * ENTRIES, 2 * n + 1
    orders, items, tickets, events = [], [], [], []
    ticket_no = first_ticket
    for k in range(ORDERS):
        order_id = first_order + k + 1
        paid = opening - timedelta(minutes=rng.randint(1, 479))  # bought that morning, online
        size = ENTRIES // ORDERS + (1 if k < ENTRIES % ORDERS else 0)
        price_type = "adult" if k % 3 else "child"
        unit = 8000 if price_type == "adult" else 4000
        orders.append({"id": order_id, "order_no": f"{day:%Y%m%d}{k:010d}", "site": "S1",
                       "status": "paid", "channel": "web" if k % 4 else "window",
                       "total_fen": unit * size, "paid_fen": unit * size, "created_at": paid,
                       "expires_at": paid, "paid_at": paid})  # fmt: skip
        items.append({"id": order_id, "order_id": order_id, "product_id": 1,
                      "inventory_id": inventory, "price_type": price_type, "quantity": size,
                      "unit_fen": unit})  # fmt: skip
        for _ in range(size):
            ticket_no += 1
            raw = ticket_no.to_bytes(8, "big")
            tickets.append({"ticket_id": raw, "order_id": order_id, "item_id": order_id,
                            "product_id": 1, "inventory_id": inventory, "unit_fen": unit,
                            "valid_from": day, "valid_until": day, "kid": "I1", "text": "-",
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


def openpyxl_xlsx(title: str, columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    """The XLSX export as it was before the streaming writer: openpyxl's write-only mode."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append(
            [ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v
             for v in (row.get(c) for c in columns)]
        )  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def set_indexes(engine: Engine, present: bool) -> None:
    """Create or drop the 0019 indexes (as the models declare them), then ANALYZE."""
    wanted = [
        index
        for table in (GateEventRecord, Ticket, Order)
        for index in table.__table__.indexes  # type: ignore[attr-defined]
        if index.name in NEW_INDEXES
    ]
    with engine.begin() as connection:
        for index in wanted:
            if present:
                index.create(connection, checkfirst=True)
            else:
                index.drop(connection, checkfirst=True)
        connection.execute(text("ANALYZE"))


def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def drain(chunks: Iterator[bytes]) -> int:
    """Bytes in ``chunks``, consumed as a response would send them."""
    return sum(len(chunk) for chunk in chunks)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def measure(name: str, url: str, phase: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    sessions = session_factory(engine)
    set_indexes(engine, present=phase == "after")
    with sessions() as db:
        scope = reports.scope(db, "S1", DAY, DAY)
    rows: list[dict[str, Any]] = []
    loadavg = load()

    def add(what: str, seconds: float, count: int | str) -> None:
        rows.append({"engine": name, "phase": phase, "report": what,
                     "rows": f"{count:,}" if isinstance(count, int) else count,
                     "seconds": round(seconds, 2), "target_s": TARGET_S,
                     "met": seconds <= TARGET_S, "load_1_5_15": loadavg})  # fmt: skip

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
    noon = datetime(2026, 12, 24, 12, 0, tzinfo=TZ).astimezone(UTC)
    with sessions() as db:
        seconds, snap = timed(lambda: snapshot(db, "S1", noon))
    add("dashboard snapshot at noon (entries so far)", seconds, snap.entries)
    columns = reports.REPORTS["entries"].columns
    entries = lambda: reports.stream(sessions, "entries", scope)  # noqa: E731
    seconds, size = timed(lambda: drain(report_export.csv_chunks(columns, entries())))
    add(f"entries CSV, every row ({size // 1024} KiB)", seconds, ENTRIES)
    if phase == "before":
        seconds, data = timed(lambda: openpyxl_xlsx("entries", columns, entries()))
        add(f"entries XLSX by openpyxl, every row ({len(data) // 1024} KiB)", seconds, ENTRIES)
    else:
        for level in LEVELS:
            seconds, size = timed(
                lambda lv=level: drain(xlsx_stream.xlsx_chunks("entries", columns, entries(), lv))
            )
            mark = " (default)" if level == xlsx_stream.COMPRESSLEVEL else ""
            add(f"entries XLSX streamed, level {level}{mark}, every row ({size // 1024} KiB)",
                seconds, ENTRIES)  # fmt: skip
        in_memory = list(entries())  # the writers alone, over the same rows
        seconds, data = timed(lambda: openpyxl_xlsx("entries", columns, in_memory))
        add("XLSX writer alone: openpyxl write-only, 50,000 rows in memory", seconds, ENTRIES)
        seconds, size = timed(lambda: drain(xlsx_stream.xlsx_chunks("entries", columns, in_memory)))
        add("XLSX writer alone: streaming writer, 50,000 rows in memory", seconds, ENTRIES)
        del in_memory, data
        rows.extend(heap_peaks(name, phase, entries, columns))
    engine.dispose()
    return rows


def heap_peaks(
    name: str, phase: str, entries: Any, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The Python heap's peak over each export (untimed: tracemalloc slows everything)."""
    found = []
    for what, make in (
        ("CSV", lambda: report_export.csv_chunks(columns, entries())),
        ("XLSX", lambda: report_export.xlsx_chunks("entries", columns, entries())),
    ):
        tracemalloc.start()
        drain(make())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        found.append({"engine": name, "phase": phase,
                      "report": f"entries {what}, every row: Python heap peak (tracemalloc)",
                      "rows": f"{peak / 2**20:.1f} MiB"})  # fmt: skip
    return found


def main() -> None:
    rows: list[dict[str, Any]] = []
    for name, _, url in each_engine():
        started = time.perf_counter()
        seed(url)
        days = HISTORY_DAYS + 1
        print(f"{name}: seeded {days} days of {ENTRIES:,} entries in "
              f"{time.perf_counter() - started:.1f} s (load {load()})")  # fmt: skip
        rows += measure(name, url, "before")
        rows += measure(name, url, "after")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    report(
        "reports",
        f"Reports for a {ENTRIES:,}-entry day, before and after ({os.cpu_count()} cores)",
        rows,
        notes=f"{ORDERS:,} orders, {ENTRIES:,} tickets, a use and a passage per ticket at "
        f"{GATES} gates, per day; {HISTORY_DAYS} earlier days alike in the tables. before: "
        f"without the 0019 indexes, XLSX by openpyxl; after: with them, the streaming XLSX "
        f"writer. load_1_5_15: the load average as each phase began. The process's peak RSS "
        f"over both engines, seeding included: {peak_mib} MiB.",
    )


if __name__ == "__main__":
    main()
