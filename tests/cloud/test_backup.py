"""Backup and restore: a day of sales, entries, refunds and audit backed up (SQLite's online
backup API; pg_dump) and restored into a fresh database holds the same rows, table by table."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from cloud.db import make_engine, session_factory
from cloud.models import Base
from cloud.services.backup import BackupError, backup, restore
from simulators.databases import POSTGRES
from tests.cloud.site_day import make_day

TOOL = str(Path(sys.executable).with_name("scenic-cloud"))


def contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of ours, in primary-key order."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            return {
                table.name: [
                    tuple(row)
                    for row in db.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def fresh_url(db_url, tmp_path):
    """An empty database of the same engine: a new SQLite file, or a new PostgreSQL database
    selecting the source's schema name (pg_restore recreates the schema it dumped)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    name = "restore_" + uuid.uuid4().hex[:10]
    admin = make_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield db_url.replace("/test?", f"/{name}?")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_a_restored_backup_holds_every_row_of_every_table(office, db_url, fresh_url, tmp_path):
    make_day(office)
    before = contents(db_url)
    assert before["gate_events"] and before["refunds"] and before["audit_log"]
    done = backup(db_url, tmp_path / "cloud.backup")
    assert done.size > 0 and (tmp_path / "cloud.backup").stat().st_mode & 0o777 == 0o600
    restore(fresh_url, tmp_path / "cloud.backup")
    assert contents(fresh_url) == before


def test_a_backup_never_overwrites_a_file(office, db_url, tmp_path):
    out = tmp_path / "cloud.backup"
    out.write_text("keep me")
    with pytest.raises(BackupError, match="never overwrites"):
        backup(db_url, out)
    assert out.read_text() == "keep me"


def test_restore_refuses_a_database_that_holds_data(office, db_url, tmp_path):
    backup(db_url, tmp_path / "cloud.backup")
    with pytest.raises(BackupError, match="--replace"):
        restore(db_url, tmp_path / "cloud.backup")


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(BackupError, match="not a"):
        restore(f"sqlite:///{tmp_path / 'new.sqlite'}", junk)


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCENIC_DB_URL": url}
    return subprocess.run([TOOL, *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_backup_and_restore_commands_round_trip_and_fail_in_one_line(office, db_url, tmp_path):
    make_day(office)
    out = tmp_path / "cli.backup"
    made = run("backup", "--out", str(out), url=db_url)
    assert made.returncode == 0, made.stderr
    again = run("backup", "--out", str(out), url=db_url)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1
    assert "备份失败" in again.stderr
    target = f"sqlite:///{tmp_path / 'cli-restored.sqlite'}"
    if db_url.startswith("sqlite"):
        restored = run("restore", str(out), url=target)
        assert restored.returncode == 0, restored.stderr
        assert contents(target) == contents(db_url)
    refused = run("restore", str(out), url=db_url)
    assert refused.returncode == 1 and "--replace" in refused.stderr


def test_restore_with_replace_brings_back_the_backed_up_day(office, db_url, tmp_path):
    make_day(office)
    backup(db_url, tmp_path / "cloud.backup")
    before = contents(db_url)
    make_day_later(office)
    assert contents(db_url) != before
    restore(db_url, tmp_path / "cloud.backup", replace=True)
    assert contents(db_url) == before


def make_day_later(office):
    from cloud.services.orders import LineRequest
    from tests.cloud.conftest import place_order

    place_order(office, LineRequest(office.day_ticket, "adult", 2))
