"""Database engines: SQLite (WAL) as the embedded default, PostgreSQL in production.

The same models, migrations and tests run on both (DESIGN.md). SQLite gets WAL, a busy timeout
(several ingest workers and the API share one file) and foreign keys on every connection.

SQLite transactions start with ``BEGIN IMMEDIATE`` (SQLAlchemy's recipe for pysqlite,
"Serializable isolation / Savepoints / Transactional DDL"): the write lock is taken at the
start, so two read-then-write transactions queue instead of one failing with "database is
locked" when it upgrades, and what a transaction read stays true until it commits.
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
            connection.isolation_level = None  # pysqlite emits no BEGIN of its own

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
