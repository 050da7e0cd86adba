"""Both database engines for a benchmark: a fresh SQLite file and a fresh PostgreSQL schema,
each migrated, in a temporary folder of its own."""

from __future__ import annotations

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
