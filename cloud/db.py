"""Database engines: SQLite (WAL) as the embedded default, PostgreSQL in production.

The same models, migrations and tests run on both (DESIGN.md). SQLite gets WAL, a busy timeout
(several ingest workers and the API share one file) and foreign keys on every connection.

On SQLite every transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock at its
start, so two requests that read an order and then change it run one after the other instead
of both reading the old state (``SELECT ... FOR UPDATE`` does nothing there). This is the
pysqlite recipe in SQLAlchemy's SQLite dialect docs ("Serializable isolation / Savepoints /
Transactional DDL"): the driver's own BEGIN is switched off on connect and ours is emitted on
SQLAlchemy's "begin" event. Judgement call: read-only transactions take the lock too; they are
short, a process holds only two connections, and one rule is easier to trust than a list of
which transactions may write. The exception is a connection opened with the ``READ_ONLY``
execution option (reports, exports): it reads for seconds, which under the write lock would
stall every sale, and it never writes.

The database file holds ticket texts and hashed secrets, so it is made 0600 when it is created;
SQLite gives its -wal and -shm files the database file's mode.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "scenic_read_only"  # execution option: a connection that only reads (no write lock)


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            _create_private(Path(path))
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
        def _take_write_lock(connection: Any) -> None:
            # A long read (a report, a backup's count) says ``read_only``: a deferred BEGIN
            # reads a snapshot in WAL without holding the write lock the sales need.
            if connection.get_execution_options().get(READ_ONLY):
                connection.exec_driver_sql("BEGIN")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def _create_private(path: Path) -> None:
    """Make the (empty) database file readable by its owner only, if it does not exist yet;
    SQLite treats an empty file as an empty database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
