"""What every scenic-cloud command shares: its options, its exit codes, and the one-line
failures for settings, the passphrase, the database and the services' refusals.

Never: hold a command, or print a traceback. Failures are ``fail``: one line on stderr
(English / 中文, keys/cli_exit.py) and an exit code from ``EXIT_CODES``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session

from cloud.core.config import ConfigError, Settings
from cloud.core.errors import Problem
from cloud.db import make_engine, session_factory
from cloud.migrate import upgrade
from cloud.services.cloud_keys import ROOT_KEY, key_folder
from keys import clock, keystore
from keys.cli_exit import EXIT_FAILED, EXIT_USAGE
from keys.cli_exit import fail as fail_with
from keys.cli_options import passphrase_file_option
from keys.keystore import KeyStoreError

EXIT_NO_LISTEN = 3
EXIT_CODES = (
    "Exit codes / 退出码: 0 done; 1 failed at run time (database or broker unreachable, an "
    "output file cannot be written, an unexpected error); 2 usage or configuration error "
    "(arguments, database URL, keys, passphrase, issuers.json, a refusal such as sold out); "
    "3 serve cannot listen on its address (port in use or not permitted)."
)

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (else $SCENIC_DB_URL)")]
PassphraseFile = Annotated[Path | None, passphrase_file_option("the cloud passphrase")]


def fail(message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    fail_with("scenic-cloud", message, code, zh)


def refused(problem: Problem, subject: str = "") -> NoReturn:
    """A service's refusal (sold out, a duplicate, a bad code) as one line and exit 2."""
    fail(f"{problem.en}{subject} / {problem.zh}")


def settings_from(db: str | None, sandbox: bool | None = None) -> Settings:
    """The environment's settings, with the command line's ``--db`` and ``--sandbox`` over
    them (refused like the environment's own: one line, exit 2)."""
    try:
        settings = Settings.from_env()
        if db:
            settings = replace(settings, db_url=db)
        if sandbox is not None:
            settings = replace(settings, sandbox=sandbox)
    except ConfigError as exc:
        fail(str(exc), zh="配置有误")
    return settings


def where(db_url: str) -> str:
    """A database URL without its credentials, for messages."""
    return re.sub(r"//[^@/]*@", "//", db_url)


@contextmanager
def database(settings: Settings) -> Iterator[None]:
    """Database trouble as one line: an unusable URL, a missing driver, a file that is no
    database or cannot be made is a usage error (2); an unreachable or failing server a
    run-time one (1)."""
    url = where(settings.db_url)
    if settings.db_url.startswith("sqlite") and sqlite_path(settings.db_url) in ("", ":memory:"):
        fail(
            f"database URL {url!r} is an in-memory SQLite database, lost when the command "
            "ends; give a file, e.g. sqlite:///cloud.sqlite",
            zh="内存数据库无法保存数据，请指定文件",
        )
    try:
        yield
    except ArgumentError as exc:  # includes NoSuchModuleError: foo:// is no dialect
        fail(
            f"database URL {url!r} is not usable ({exc}); "
            "e.g. sqlite:///cloud.sqlite or postgresql+psycopg://user@host/db",
            zh="数据库地址无效",
        )
    except ImportError as exc:
        fail(
            f"database URL {url!r} needs a driver that is not installed ({exc.name}); "
            "supported: sqlite:/// and postgresql+psycopg://",
            zh="数据库驱动未安装",
        )
    except OperationalError as exc:
        fail(f"database unreachable: {exc.orig}", EXIT_FAILED, zh="数据库无法连接")
    except DatabaseError as exc:
        fail(f"database {url!r} cannot be used: {exc.orig}", zh="数据库文件无效")
    except OSError as exc:
        fail(f"database file for {url!r} cannot be made: {exc}", zh="无法创建数据库文件")


def sqlite_path(db_url: str) -> str:
    """The file part of a sqlite URL ('' or ':memory:' for an in-memory database)."""
    return db_url.split("://", 1)[-1].lstrip("/").split("?", 1)[0] if "///" in db_url else ""


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on the configured database, migrated first; the engine is closed after.
    An unreachable database is one line and exit 1; a refusal from the services, exit 2."""
    with database(settings):
        engine = make_engine(settings.db_url)
        try:
            upgrade(settings.db_url)
            with session_factory(engine).begin() as session:
                yield session
        except Problem as exc:
            refused(exc)
        finally:
            engine.dispose()


def passphrase(passphrase_file: Path | None, *, creating: bool = False) -> bytes:
    try:
        return keystore.passphrase_from(passphrase_file, creating=creating)
    except KeyStoreError as exc:
        fail(str(exc))


def root_key_path(settings: Settings) -> Path:
    return key_folder(settings.state_dir) / ROOT_KEY


def keys_missing_hint(settings: Settings) -> str:
    """What to run when the cloud's keys were never made, else nothing."""
    return "" if root_key_path(settings).exists() else " (run: scenic-cloud keys init)"


def load_root_key(
    path: Path | None, settings: Settings, passphrase_file: Path | None
) -> keystore.SigningKey:
    """The root key from ``path`` (else the state folder's), decrypted, or one line."""
    key_path = path or root_key_path(settings)
    try:
        return keystore.load(key_path, passphrase(passphrase_file))
    except KeyStoreError as exc:
        fail(f"{exc}" + (keys_missing_hint(settings) if path is None else ""))


def cli_actor(named: str | None = None) -> str:
    """Who the audit names for a command: ``named`` if given, else the shell's user."""
    return named or os.environ.get("USER") or "cli"


def wall_clock() -> clock.Clock:
    """The machine's clock, or ``$SCENIC_CLOCK_AT`` (keys/clock.py) for a demo at a set hour."""
    try:
        return clock.from_environment()
    except ValueError as exc:
        fail(str(exc))
