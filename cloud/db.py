"""Database engines: SQLite (WAL) as the embedded default, PostgreSQL in production.

The same models, migrations and tests run on both (DESIGN.md). SQLite gets WAL, a busy timeout
(several ingest workers and the API share one file) and foreign keys on every connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Two connections per process: SQLite has one writer anyway, and threads that queue
        # for a pooled connection wait in order instead of colliding in SQLite's busy handler,
        # whose growing back-off sleeps made the slowest order requests take over half a
        # second with the default pool (bench/sales.py: p99 546-644 ms -> 171 ms, at 78 rather
        # than 82-98 paid orders/s). No request holds two sessions at once (api/deps.staff),
        # so a small pool cannot deadlock.
        options.setdefault("pool_size", 2)
        options.setdefault("max_overflow", 0)
        options.setdefault("pool_timeout", 60)
        engine = create_engine(url, connect_args={"timeout": 30}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
