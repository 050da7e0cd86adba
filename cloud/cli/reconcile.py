"""scenic-cloud reconcile: import a payment channel's statement, list the mismatches, resolve
one with a note, close a day (services/reconciliation/).

Never: decide a match here. ``--actor`` names who does it in the audit log (default: the
system user's name from $USER, else "cli").
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cloud.cli.common import (
    DbOption,
    PassphraseFile,
    cli_actor,
    fail,
    passphrase,
    refused,
    settings_from,
    transaction,
    wall_clock,
)
from cloud.core.config import ConfigError
from cloud.core.errors import Problem
from cloud.services.reconciliation import matching
from cloud.services.reconciliation.statements import FORMATS

app = typer.Typer(help="Reconciliation with the payment channels. 自动对账。", no_args_is_help=True)

Actor = Annotated[str | None, typer.Option(help="Who does it, for the audit log")]
Channel = Annotated[str, typer.Option(help="Payment channel: wechat | alipay | unionpay | ...")]
Day = Annotated[str, typer.Option(help="Bill day (Beijing time), YYYY-MM-DD")]


def parse_day(text: str) -> date:
    """A --day option as a date, or one line and exit 2."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--day {text!r} is not a date YYYY-MM-DD", zh="日期格式应为 YYYY-MM-DD")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="The statement file")],
    channel: Channel,
    day: Day,
    format: Annotated[
        str, typer.Option(help="wechat (交易账单) | alipay (业务明细, GBK) | generic (CSV)")
    ] = "",
    actor: Actor = None,
    db: DbOption = None,
) -> None:
    """Import one channel's statement for one day and list what does not match. 导入对账单。"""
    fmt = format or channel
    if fmt not in FORMATS:
        fail(
            f"--format is one of {', '.join(FORMATS)}", zh="文件格式应为 wechat、alipay 或 generic"
        )
    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc}", zh="无法读取文件")
    with transaction(settings_from(db)) as session:
        done = matching.import_statement(
            session,
            channel=channel,
            day=parse_day(day),
            fmt=fmt,
            raw=raw,
            filename=file.name,
            actor=cli_actor(actor),
            source="cli",
            now=wall_clock().now(),
        )
    found = ", ".join(f"{k} {n}" for k, n in sorted(done.mismatches.items())) or "none / 无"
    typer.echo(f"{done.lines} lines, {done.total_fen / 100:.2f} yuan; mismatches / 差异: {found}")


@app.command("list")
def list_command(
    channel: Annotated[str | None, typer.Option(help="Only this channel")] = None,
    day: Annotated[str | None, typer.Option(help="Only this day, YYYY-MM-DD")] = None,
    state: Annotated[str | None, typer.Option(help="open | resolved")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines for scripts")] = False,
    db: DbOption = None,
) -> None:
    """List mismatches. 列出对账差异。"""
    with transaction(settings_from(db)) as session:
        found = matching.list_mismatches(
            session, channel=channel, day=parse_day(day) if day else None, state=state
        )
        rows = [matching.mismatch_view(m) for m in found]
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            note = f" - {row['note']}" if row["note"] else ""
            typer.echo(
                f"#{row['id']} {row['channel']} {row['day']} {row['kind']} {row['subject']} "
                f"{row['key']} order {row['order_no']} ours {row['ours_fen']} theirs "
                f"{row['theirs_fen']} ({row['ours_status']}/{row['theirs_status']}) "
                f"{row['state']}{note}"
            )


@app.command("resolve")
def resolve_command(
    mismatch: Annotated[int, typer.Argument(help="The mismatch's number (#N in list)")],
    note: Annotated[str, typer.Option(help="What was done about it")],
    actor: Actor = None,
    db: DbOption = None,
) -> None:
    """Resolve one mismatch with a note. 处理差异。"""
    with transaction(settings_from(db)) as session:
        matching.resolve(
            session, mismatch, note, actor=cli_actor(actor), source="cli", now=wall_clock().now()
        )
    typer.echo(f"#{mismatch} resolved / 已处理")


@app.command("close")
def close_command(channel: Channel, day: Day, actor: Actor = None, db: DbOption = None) -> None:
    """Close a channel's day once every mismatch is resolved; it then changes no more. 关账。"""
    with transaction(settings_from(db)) as session:
        closed = matching.close_day(
            session,
            channel,
            parse_day(day),
            actor=cli_actor(actor),
            source="cli",
            now=wall_clock().now(),
        )
    typer.echo(
        f"{channel} {day} closed / 已关账: statement {closed.statement_fen / 100:.2f} yuan, "
        f"ours {closed.ours_fen / 100:.2f} yuan, {closed.resolved} resolved"
    )


@app.command("download")
def download_command(
    channel: Annotated[str, typer.Option(help="wechat | alipay (configured in channels.json)")],
    day: Day,
    out: Annotated[Path, typer.Option(help="Where to write the statement file")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Fetch a day's statement through the channel's SDK, for ``import``. 下载对账单。"""
    from cloud.api.context import channels

    settings = settings_from(None)
    try:
        found = channels(settings.state_dir, passphrase(passphrase_file), wall_clock())
    except ConfigError as exc:
        fail(str(exc), zh="支付渠道配置有误")
    provider = found.get(channel)
    fetch = getattr(provider, "statement", None)
    if fetch is None:
        fail(
            f"channel {channel!r} is not configured in channels.json or has no statement download",
            zh="该支付渠道未配置或不支持下载对账单",
        )
    try:
        raw = fetch(parse_day(day))
    except Problem as exc:
        refused(exc)
    except OSError as exc:
        fail(f"download failed: {exc}", 1, zh="下载失败")
    try:
        out.write_bytes(raw)
    except OSError as exc:
        fail(f"cannot write {out}: {exc}", 1, zh="无法写入文件")
    typer.echo(
        f"{len(raw)} bytes -> {out}; next: scenic-cloud reconcile import {out} "
        f"--channel {channel} --day {day}"
    )
