"""0020 keeps batches' signed bytes once; an event stored before it keeps its own; going back
down gives every batched event its batch's bytes (still a proof). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from cloud.db import make_engine
from cloud.migrate import alembic_config, upgrade
from simulators.databases import postgres_schema, sqlite_database

AT = datetime(2026, 12, 1, 4, tzinfo=UTC)
INSERT = (
    "INSERT INTO gate_events (site, node, seq, kind, at, data, raw, received_at{extra})"
    " VALUES ('S1', 'G1', :seq, 'passage', :at, '{{}}', :raw, :at{values})"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0019(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path, "0019_report_indexes")
        return
    with postgres_schema("0019_report_indexes") as url:
        yield url


def test_up_keeps_old_events_and_down_gives_batched_ones_their_batch(url_at_0019):
    engine = make_engine(url_at_0019)
    try:
        with engine.begin() as db:
            db.execute(
                text(INSERT.format(extra="", values="")), {"seq": 1, "at": AT, "raw": b"one"}
            )
        upgrade(url_at_0019)
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO gate_event_batches (digest, site, node, raw, received_at)"
                    " VALUES (:digest, 'S1', 'G1', :raw, :at)"
                ),
                {"digest": b"d" * 32, "raw": b"batch", "at": AT},
            )
            for seq in (2, 3):
                db.execute(
                    text(INSERT.format(extra=", batch", values=", :batch")),
                    {"seq": seq, "at": AT, "raw": None, "batch": b"d" * 32},
                )
            rows = db.execute(text("SELECT seq, raw, batch FROM gate_events ORDER BY seq"))
            assert [(s, r and bytes(r), b and bytes(b)) for s, r, b in rows] == [
                (1, b"one", None),
                (2, None, b"d" * 32),
                (3, None, b"d" * 32),
            ]
        engine.dispose()
        command.downgrade(alembic_config(url_at_0019), "0019_report_indexes")
        with engine.begin() as db:
            rows = db.execute(text("SELECT seq, raw FROM gate_events ORDER BY seq"))
            assert [(s, bytes(r)) for s, r in rows] == [(1, b"one"), (2, b"batch"), (3, b"batch")]
    finally:
        engine.dispose()
