"""The upgrade to holder claims claims what was sold before it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from cloud.db import make_engine
from cloud.migrate import upgrade
from simulators.databases import postgres_schema, sqlite_database

DAY = date(2026, 12, 9)
AT = datetime(2026, 12, 1, 4, tzinfo=UTC)
SOLD_TWICE, PENDING = b"\xaa" * 8, b"\xbb" * 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0003(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path, "0003")
        return
    with postgres_schema("0003") as url:
        yield url


def sell_the_old_way(url: str) -> None:
    """Two paid orders whose tickets carry the same ID (the old bug), one pending order."""
    engine = make_engine(url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO sites VALUES ('S1', 'x', 'x', 'Asia/Shanghai')"))
        db.execute(
            text(
                "INSERT INTO products (id, site, code, name_zh, name_en, kind, validity_days,"
                " entries, real_name, refund_until_hours, refund_fee_percent, changeable,"
                " max_per_order, active) VALUES (1, 'S1', 'P', 'x', 'x', 'day', 1, 1, true, 24,"
                " 0, true, 20, true)"
            )
        )
        db.execute(
            text(
                "INSERT INTO inventory (id, product_id, day, slot_start, slot_end, capacity,"
                " taken, warn_percent, stop_percent) VALUES (1, 1, :day, -1, -1, 10, 3, 80, 100)"
            ),
            {"day": DAY},
        )
        orders = ((1, "paid", SOLD_TWICE), (2, "paid", SOLD_TWICE), (3, "pending", PENDING))
        for order_id, status, ref in orders:
            db.execute(
                text(
                    "INSERT INTO orders (id, order_no, site, status, channel, total_fen, paid_fen,"
                    " refunded_fen, created_at, expires_at) VALUES (:id, :no, 'S1', :status,"
                    " 'web', 0, 0, 0, :at, :at)"
                ),
                {"id": order_id, "no": f"N{order_id}", "status": status, "at": AT},
            )
            db.execute(
                text(
                    "INSERT INTO order_items (id, order_id, product_id, inventory_id, price_type,"
                    " quantity, unit_fen, group_ticket, holders) VALUES (:id, :id, 1, 1, 'adult',"
                    " 1, 0, false, :holders)"
                ),
                {"id": order_id, "holders": f'[{{"ref": "{ref.hex()}", "id": "00"}}]'},
            )
            if status == "paid":
                db.execute(
                    text(
                        "INSERT INTO tickets (id, ticket_id, order_id, item_id, product_id,"
                        " inventory_id, status, people, unit_fen, valid_from, valid_until,"
                        " holder_ref, kid, text, issued_at) VALUES (:id, :number, :id, :id, 1, 1,"
                        " 'valid', 1, 0, :day, :day, :ref, 'I1', 'x', :at)"
                    ),
                    {
                        "id": order_id,
                        "number": bytes([order_id]) * 8,
                        "day": DAY,
                        "ref": ref,
                        "at": AT,
                    },
                )
    engine.dispose()


def test_the_upgrade_claims_ids_sold_or_pending_and_the_earliest_order_keeps_a_double(
    url_at_0003,
):
    sell_the_old_way(url_at_0003)
    upgrade(url_at_0003)
    engine = make_engine(url_at_0003)
    with engine.connect() as db:
        claims = db.execute(
            text("SELECT holder_ref, order_id FROM holder_claims ORDER BY order_id")
        ).all()
    engine.dispose()
    assert [(bytes(ref), order_id) for ref, order_id in claims] == [(SOLD_TWICE, 1), (PENDING, 3)]
