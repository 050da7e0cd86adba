"""scenic-cloud backup / restore: the cloud database to a file and back (services/backup.py).

Never: overwrite a backup file, or restore over a database holding data without --replace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloud.cli.common import DbOption, fail, settings_from, where
from cloud.migrate import upgrade
from cloud.services.backup import BackupError
from cloud.services.backup import backup as make_backup
from cloud.services.backup import restore as restore_backup
from keys.cli_exit import EXIT_FAILED


def backup(
    out: Annotated[Path, typer.Option("--out", help="Backup file to create (never overwritten)")],
    db: DbOption = None,
) -> None:
    """Back the cloud database up to a file (SQLite: online backup; PostgreSQL: pg_dump)."""
    settings = settings_from(db)
    try:
        done = make_backup(settings.db_url, out)
    except BackupError as exc:
        fail(str(exc), EXIT_FAILED, zh="备份失败")
    typer.echo(f"{done.engine} database {where(settings.db_url)} backed up to {out} "
               f"({done.size} bytes)")  # fmt: skip


def restore(
    source: Annotated[Path, typer.Argument(help="A file made by scenic-cloud backup")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a database that holds data")
    ] = False,
    db: DbOption = None,
) -> None:
    """Restore a backup into the cloud database (a fresh one, or --replace), then bring it to
    this version's migrations."""
    settings = settings_from(db)
    try:
        restore_backup(settings.db_url, source, replace=replace)
    except BackupError as exc:
        fail(str(exc), EXIT_FAILED, zh="恢复失败")
    upgrade(settings.db_url)
    typer.echo(f"{source} restored into {where(settings.db_url)}")
