"""The SQLite engine: writers queue at BEGIN, and the database file is private."""

from __future__ import annotations

import sqlite3
import stat

import pytest
from sqlalchemy import text

from cloud.db import make_engine


def test_a_sqlite_transaction_takes_the_write_lock_when_it_begins(tmp_path):
    path = tmp_path / "c.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))  # only a read so far
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        assert other.execute("SELECT 1").fetchone() == (1,)  # readers still read (WAL)
        other.close()
    engine.dispose()


def test_the_database_file_and_its_wal_are_readable_by_the_owner_only(tmp_path):
    path = tmp_path / "new" / "c.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        for name in ("c.sqlite", "c.sqlite-wal", "c.sqlite-shm"):
            mode = stat.S_IMODE((path.parent / name).stat().st_mode)
            assert mode == 0o600, f"{name}: {oct(mode)}"
    engine.dispose()
