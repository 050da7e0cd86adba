"""Backup and restore of the cloud database (备份与恢复): SQLite with its online backup API,
PostgreSQL with ``pg_dump`` / ``pg_restore`` (custom format).

Never: overwrite a backup file, restore over a database that holds data unless told to
(``replace``), or put a password on a command line (``PGPASSWORD`` in the child's environment).

- SQLite: ``sqlite3.Connection.backup`` copies a consistent snapshot while ``serve`` and the
  ingest workers keep writing (WAL); restore copies the file's pages into the target the same
  way, after checking the file is a SQLite database of ours (``PRAGMA integrity_check`` and an
  ``alembic_version`` table).
- PostgreSQL: ``pg_dump --format=custom`` of the schema the URL uses (its ``search_path``
  option, else ``public``), and ``pg_restore`` into the target database, which gets that same
  schema. pg_dump must be of the server's major version or newer (Debian's
  ``postgresql-client``; ``make test`` installs it).

The backup file is created 0600 before anything is written to it: it holds ticket codes,
hashed credentials and encrypted personal data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from cloud.db import make_engine


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Done:
    path: Path
    engine: str  # sqlite | postgresql
    size: int


def backup(db_url: str, out: Path) -> Done:
    """Write a backup of ``db_url`` to ``out`` (which must not exist)."""
    url = make_url(db_url)
    with _new_file(out) as handle:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_path(url), out)
        elif url.get_backend_name() == "postgresql":
            _run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                 f"--schema={_schema(url)}", f"--dbname={_libpq(url)}"],
                url, stdout=handle,
            )  # fmt: skip
        else:
            raise BackupError(f"no backup for {url.get_backend_name()} databases")
    return Done(out, url.get_backend_name(), out.stat().st_size)


def restore(db_url: str, source: Path, *, replace: bool = False) -> Done:
    """Restore ``source`` (a backup made by ``backup``) into ``db_url``; refuses a database
    that already holds our tables unless ``replace``."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    url = make_url(db_url)
    if not replace and _has_tables(db_url):
        raise BackupError(
            "the target database already holds data; restore into a fresh one, or pass "
            "--replace to overwrite it"
        )
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(source)
        _sqlite_backup(source, _sqlite_path(url))
    elif url.get_backend_name() == "postgresql":
        command = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                   f"--dbname={_libpq(url, search_path=False)}"]  # fmt: skip
        if replace:
            command += ["--clean", "--if-exists"]
        _run([*command, str(source)], url)
    else:
        raise BackupError(f"no restore for {url.get_backend_name()} databases")
    return Done(source, url.get_backend_name(), source.stat().st_size)


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _sqlite_backup(source: Path, target: Path) -> None:
    """Copy every page of ``source`` into ``target`` with SQLite's online backup API."""
    if not source.exists():
        raise BackupError(f"{source}: no such database")
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writing = sqlite3.connect(target)
    try:
        reading.backup(writing)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup failed: {exc}") from None
    finally:
        writing.close()
        reading.close()


def _check_sqlite_backup(source: Path) -> None:
    try:
        check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            (verdict,) = check.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master")}
        finally:
            check.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite backup ({exc})") from None
    if verdict != "ok" or "alembic_version" not in tables:
        raise BackupError(f"{source} is not a backup of a scenic cloud database ({verdict})")


# --- PostgreSQL -----------------------------------------------------------------------------


def _schema(url: URL) -> str:
    """The schema the URL's ``options=-csearch_path=...`` selects, else public."""
    options = url.query.get("options", "")
    text = options if isinstance(options, str) else " ".join(options)
    for part in text.split():
        if part.startswith("-csearch_path="):
            return part.split("=", 1)[1].split(",")[0]
    return "public"


def _libpq(url: URL, *, search_path: bool = True) -> str:
    """The URL as libpq reads it: no SQLAlchemy driver name, no password (PGPASSWORD)."""
    plain = url.set(drivername="postgresql", password=None)
    if not search_path:
        plain = plain.difference_update_query(["options"])
    return plain.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install Debian's postgresql-client of the server's major version"
        )
    return found


def _run(command: list[str], url: URL, stdout: int | None = None) -> None:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run(
        command, stdout=stdout, stderr=subprocess.PIPE, env=env, check=False, text=True
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupError(f"{Path(command[0]).name} failed: {last}")


# --- both -----------------------------------------------------------------------------------


def _has_tables(db_url: str) -> bool:
    engine = make_engine(db_url)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@contextmanager
def _new_file(path: Path) -> Iterator[int]:
    """``path`` created 0600 (never over an existing file), removed again on failure."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists: a backup never overwrites a file") from None
    except OSError as exc:
        raise BackupError(f"cannot write {path}: {exc.strerror}") from None
    try:
        yield handle
    except BaseException:
        os.close(handle)
        path.unlink(missing_ok=True)
        raise
    os.close(handle)
