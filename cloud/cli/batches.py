"""scenic-cloud issue-batch and batch export: festival batches (批量出票) and their CSV of codes.

Never: overwrite a file, or leave tickets issued without a way to get their codes: the CSV is
created (mode 0600, it holds valid tickets) before any place is taken, and every ticket's text
is stored, so ``batch export`` can write it again.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from sqlalchemy.orm import Session, sessionmaker

from cloud.cli.common import (
    DbOption,
    PassphraseFile,
    database,
    fail,
    passphrase,
    refused,
    settings_from,
)
from cloud.core.errors import Problem
from cloud.db import make_engine, session_factory
from cloud.migrate import upgrade
from keys.cli_exit import EXIT_FAILED
from keys.clock import from_environment
from keys.keystore import KeyStoreError

if TYPE_CHECKING:
    from cloud.core.config import Settings
    from cloud.services.batch import Batch

app = typer.Typer(help="Festival batches. 批量出票。", no_args_is_help=True)


def issue_batch_command(
    inventory_id: Annotated[int, typer.Option(help="Day (and slot) to issue for")],
    count: Annotated[int, typer.Option(help="How many tickets")],
    out: Annotated[
        Path, typer.Option(help="CSV of ticket numbers and QR texts to create (mode 0600)")
    ],
    price_type: Annotated[str, typer.Option(help="Price type")] = "adult",
    actor: Annotated[str, typer.Option(help="Who asked (audit log)")] = "operator",
    db: DbOption = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Issue a festival batch with a progress bar, and write the codes to a CSV. 批量出票。

    The CSV is created before any place is taken (an existing file is never overwritten) and
    holds valid tickets, so it is mode 0600. `scenic-cloud batch export` writes it again."""

    from cloud.services.batch import issue_batch

    settings, context = _issuing_context(db, passphrase_file)
    batch = _issue_into(
        out,
        settings,
        context,
        count,
        0,
        lambda progress: issue_batch(
            context.sessions,
            context.issuer,
            inventory_id=inventory_id,
            price_type=price_type,
            count=count,
            actor=actor,
            now=from_environment().now(),
            progress=progress,
            when_ordered=lambda number: typer.echo(
                f"order {number}: places taken; if this stops, "
                f"scenic-cloud batch resume {number} --out FILE / 订单已建立，中断后可续出"
            ),
        ),
    )
    typer.echo(f"order {batch.order_no}: {batch.issued} tickets -> {out}")


@app.command("resume")
def batch_resume(
    order_no: Annotated[str, typer.Argument(help="The batch's order number")],
    out: Annotated[Path, typer.Option(help="CSV to create (mode 0600, never overwritten)")],
    db: DbOption = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Finish a batch that stopped half way (a crash, a power cut), then write all its codes.
    Safe to run again. 续出中断的批量票。"""
    from cloud.services.batch import find_batch, resume_batch

    settings, context = _issuing_context(db, passphrase_file)
    try:
        with database(settings):
            before = find_batch(context.sessions, order_no)
    except Problem as exc:
        refused(exc, f": {order_no}")
    batch = _issue_into(
        out,
        settings,
        context,
        before.ordered,
        before.issued,
        lambda progress: resume_batch(
            context.sessions,
            context.issuer,
            order_no=order_no,
            now=from_environment().now(),
            progress=progress,
        ),
    )
    typer.echo(
        f"order {order_no}: {batch.issued} tickets ({batch.issued - before.issued} new) -> {out}"
    )


def _issuing_context(db: str | None, passphrase_file: Path | None) -> tuple[Settings, Any]:
    """The settings and the cloud's context (keys decrypted) that issuing needs, or one line."""
    from cloud.api.context import from_settings

    settings = settings_from(db)
    secret = passphrase(passphrase_file)
    try:
        with database(settings):
            return settings, from_settings(settings, secret)
    except KeyStoreError as exc:
        fail(str(exc))
    except Problem as exc:
        refused(exc)


def _issue_into(
    out: Path,
    settings: Settings,
    context: Any,
    total: int,
    done: int,
    work: Callable[[Callable[[int], None]], Batch],
) -> Batch:
    """Create the CSV first, run ``work`` (given a progress callback) under a progress bar,
    then write every code of the batch. If ``work`` fails, the empty CSV goes (a refusal is
    one line; its places were not taken, or stay with the order for ``batch resume``)."""
    from rich.progress import Progress

    handle = create_csv(out)
    try:
        with Progress() as bar, database(settings):
            task = bar.add_task("issuing / 出票", total=total, completed=done)
            batch = work(lambda issued: bar.update(task, completed=issued))
    except Problem as exc:
        handle.close()
        out.unlink()
        refused(exc)
    except BaseException:
        handle.close()
        out.unlink()
        raise
    write_codes(handle, context.sessions, batch.order_no, out)
    return batch


@app.command("export")
def batch_export(
    order_no: Annotated[str, typer.Argument(help="The batch's order number")],
    out: Annotated[Path, typer.Option(help="CSV to create (mode 0600, never overwritten)")],
    db: DbOption = None,
) -> None:
    """Write a batch's codes again from the database (every ticket's text is stored). 重新导出。"""
    from cloud.services.batch import find_batch

    settings = settings_from(db)
    with database(settings):
        engine = make_engine(settings.db_url)
        upgrade(settings.db_url)
        sessions = session_factory(engine)
        try:
            batch = find_batch(sessions, order_no)
        except Problem as exc:
            refused(exc, f": {order_no}")
        write_codes(create_csv(out), sessions, order_no, out)
    engine.dispose()
    typer.echo(f"order {order_no}: {batch.issued} tickets -> {out}")
    if not batch.complete:
        typer.echo(
            f"incomplete batch: {batch.issued} of {batch.ordered} issued; finish it with "
            f"scenic-cloud batch resume {order_no} --out FILE / 批量票未出完，请续出",
            err=True,
        )
        raise typer.Exit(EXIT_FAILED)


def create_csv(path: Path) -> TextIO:
    """Create ``path`` for ticket codes: new (never overwrite), mode 0600, or one line."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(
            f"{path} exists; refusing to overwrite it (export again with a new name: "
            "scenic-cloud batch export ORDER --out FILE)",
            zh="文件已存在，不会覆盖",
        )
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror}", EXIT_FAILED, zh="无法创建文件")
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def write_codes(handle: TextIO, sessions: sessionmaker[Session], order_no: str, out: Path) -> None:
    """Write the batch's ticket numbers and QR texts to ``handle`` and fsync it; a failure
    is one line saying the tickets are issued and how to export them again."""
    from cloud.services.batch import batch_tickets

    try:
        with handle:
            writer = csv.writer(handle)
            writer.writerow(["ticket_no", "qr_text"])
            writer.writerows(batch_tickets(sessions, order_no))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        fail(
            f"cannot write {out}: {exc.strerror}; the tickets are issued: "
            f"scenic-cloud batch export {order_no} --out FILE",
            EXIT_FAILED,
            zh="写入失败，票已出，可重新导出",
        )
