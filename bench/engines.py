"""Both database engines for a benchmark: a fresh SQLite file and a fresh PostgreSQL schema,
each migrated, in a temporary folder, and the environment a ``scenic-cloud serve`` needs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from simulators.databases import postgres_schema, sqlite_database

ENGINES = ("SQLite (WAL)", "PostgreSQL")


def each_engine() -> Iterator[tuple[str, Path, str]]:
    """(name, a folder of its own, database URL) for SQLite, then PostgreSQL."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ENGINES:
            folder = Path(tmp) / name.split()[0]
            folder.mkdir()
            if name.startswith("SQLite"):
                yield name, folder, sqlite_database(folder)
            else:
                with postgres_schema() as url:
                    yield name, folder, url


def serve_env(state: Path, url: str, passphrase: str) -> dict[str, str]:
    """The environment for ``scenic-cloud serve`` on this state folder and database."""
    return {
        **os.environ,
        "SCENIC_STATE_DIR": str(state),
        "SCENIC_DB_URL": url,
        "SCENIC_KEY_PASSPHRASE": passphrase,
    }
