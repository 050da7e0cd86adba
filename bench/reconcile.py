"""Reconciliation speed: importing one day's WeChat Pay trade bill of N payments and matching it
to N paid orders (one amount in 97 differs, one line is not ours, one is listed twice), on
SQLite and PostgreSQL. The orders are made and paid through the real services first (not timed); the
figure is the import: reading the file, storing its lines and finding the mismatches, in one
transaction, as ``scenic-cloud reconcile import`` does it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bench.engines import each_engine
from bench.report import report
from cloud.db import make_engine, session_factory
from cloud.models import Inventory, Price, Product
from cloud.services.issuing import Issuer
from cloud.services.orders import LineRequest, create_order
from cloud.services.payments.provider import Notification
from cloud.services.payments.settle import apply_payment
from cloud.services.personal_data import PersonalData
from cloud.services.reconciliation.matching import import_statement
from cloud.services.sites import add_site
from keys import keystore
from simulators.statement_files import Row, wechat_bill

PAYMENTS = 2000
AT = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # noon in Beijing: the bill day is 2026-12-01


def seed(url: str) -> tuple[list[Row], int]:
    """PAYMENTS paid WeChat orders; the bill lines the channel would list for them."""
    sessions = session_factory(make_engine(url))
    issuer = Issuer(keystore.generate("issuer", "I1"), bytes(16))
    pd = PersonalData(bytes(32))
    with sessions.begin() as db:
        add_site(db, "S1", "测试景区", "Bench site", "Asia/Shanghai")
        product = Product(site="S1", code="DAY", name_zh="日票", name_en="Day", kind="day")
        db.add(product)
        db.flush()
        db.add(Price(product_id=product.id, price_type="adult", amount_fen=8000))
        stock = Inventory(product_id=product.id, day=AT.date() + timedelta(days=7), capacity=10**6)
        db.add(stock)
        db.flush()
        stock_id = stock.id
    rows = []
    for n in range(PAYMENTS):
        with sessions.begin() as db:
            order = create_order(
                db,
                site="S1",
                lines=[LineRequest(stock_id, "adult", 1)],
                channel="web",
                contact=None,
                pd=pd,
                holder_salt=bytes(16),
                now=AT,
            )
            txn = f"42000{n:010d}"
            note = Notification("wechat", order.order_no, txn, order.total_fen, True, {})
            apply_payment(db, note, issuer, AT)
            rows.append(Row("payment", txn, order.order_no, 8000 if n % 97 else 7900))
    rows.append(Row("payment", "NOT-OURS", "X1", 100))
    rows.append(rows[5])
    sessions.kw["bind"].dispose()
    return rows, len(rows)


def main() -> None:
    results = []
    for engine, _folder, url in each_engine():
        started = time.perf_counter()
        rows, lines = seed(url)
        seeded = time.perf_counter() - started
        raw = wechat_bill(rows)
        sessions = session_factory(make_engine(url))
        started = time.perf_counter()
        with sessions.begin() as db:
            done = import_statement(
                db,
                channel="wechat",
                day=AT.date(),
                fmt="wechat",
                raw=raw,
                filename="bench.csv",
                actor="bench",
                source="bench",
                now=AT,
            )
        took = time.perf_counter() - started
        sessions.kw["bind"].dispose()
        results.append(
            {
                "engine": engine,
                "bill lines": lines,
                "bill kB": round(len(raw) / 1024),
                "import + match s": round(took, 3),
                "lines/s": round(lines / took),
                "mismatches": sum(done.mismatches.values()),
                "seeding s (not the figure)": round(seeded, 1),
            }
        )
    report(
        "reconcile",
        f"Reconciliation: one day's WeChat Pay bill of {PAYMENTS} payments, imported and matched",
        results,
        notes="Mismatches: one amount in 97 differs, one line not ours, one listed twice.",
    )


if __name__ == "__main__":
    main()
