"""Throwaway databases for tests, benchmarks and the demo: a SQLite file, or a fresh schema in
the PostgreSQL test database (127.0.0.1:5432, trust auth), both migrated to head."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from cloud.db import make_engine
from cloud.migrate import upgrade

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def sqlite_database(folder: Path, revision: str = "head") -> str:
    url = f"sqlite:///{folder / 'cloud.sqlite'}"
    upgrade(url, revision)
    return url


@contextmanager
def postgres_schema(revision: str = "head") -> Iterator[str]:
    """A new schema, migrated (to ``revision``); its URL selects it by search_path; dropped
    afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url, revision)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
