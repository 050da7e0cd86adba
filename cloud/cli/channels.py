"""scenic-cloud channel: distributor and OTA accounts, their terms, top-ups and daily
settlement statements (services/channels.py, services/channel_settlement.py).

Never: print the API key twice (it is shown once, at ``add``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloud.cli.common import DbOption, cli_actor, fail, settings_from, transaction, wall_clock
from cloud.cli.reconcile import parse_day
from cloud.services import channel_settlement, channels

app = typer.Typer(help="Distributors and OTAs. 分销与OTA渠道。", no_args_is_help=True)

Code = Annotated[str, typer.Option("--code", help="The channel's code, e.g. ctrip")]
Day = Annotated[str, typer.Option(help="Day in the site's time zone, YYYY-MM-DD")]


@app.command("add")
def add(
    code: Code,
    name: Annotated[str, typer.Option(help="Display name")],
    kind: Annotated[str, typer.Option(help="ota | distributor")],
    site: Annotated[str, typer.Option(help="Site code it sells")],
    commission: Annotated[int, typer.Option(help="Commission, percent")] = 0,
    credit_fen: Annotated[int, typer.Option(help="Credit limit in fen")] = 0,
    db: DbOption = None,
) -> None:
    """A channel account and its API key (shown once). 新建渠道账户。"""
    with transaction(settings_from(db)) as session:
        _, key = channels.create_account(
            session,
            code=code,
            name=name,
            kind=kind,
            site=site,
            commission_percent=commission,
            credit_limit_fen=credit_fen,
        )
    typer.echo(f"API key for {code} (channel), shown once / 仅显示一次:")
    typer.echo(key.key)


@app.command("terms")
def terms(
    code: Code,
    product: Annotated[int, typer.Option(help="Product id")],
    net_fen: Annotated[int | None, typer.Option(help="Net price per person, fen")] = None,
    commission: Annotated[int | None, typer.Option(help="Commission, percent")] = None,
    db: DbOption = None,
) -> None:
    """The channel's own terms for one product: a net price or a commission. 渠道结算价。"""
    with transaction(settings_from(db)) as session:
        channels.set_terms(session, code, product, net_fen=net_fen, commission_percent=commission)


@app.command("topup")
def topup(
    code: Code,
    amount_fen: Annotated[int, typer.Option(help="Money received, fen")],
    db: DbOption = None,
) -> None:
    """Add prepaid money received from the channel. 渠道预存款充值。"""
    with transaction(settings_from(db)) as session:
        balance = channels.top_up(
            session, code, amount_fen, actor=cli_actor(), source="cli", now=wall_clock().now()
        )
    typer.echo(f"balance / 余额: {balance / 100:.2f} yuan")


@app.command("statement")
def statement(
    code: Code,
    day: Day,
    out: Annotated[Path | None, typer.Option(help="Write the CSV here")] = None,
    db: DbOption = None,
) -> None:
    """Make the day's settlement statement; print it, or write it as CSV. 渠道日结单。"""
    with transaction(settings_from(db)) as session:
        held = channel_settlement.make_statement(
            session, code, parse_day(day), actor=cli_actor(), source="cli", now=wall_clock().now()
        )
        text = channel_settlement.export_csv(
            session, code, parse_day(day), actor=cli_actor(), source="cli", now=wall_clock().now()
        )
        figures = (held.orders, held.sales_fen, held.refunds_fen, held.commission_fen)
        owed, balance = held.net_fen, held.balance_fen
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {out}: {exc}", 1, zh="无法写入文件")
    orders, sales, refunds, commission = figures
    typer.echo(
        f"{code} {day}: {orders} orders, sales {sales / 100:.2f}, refunds {refunds / 100:.2f}, "
        f"commission {commission / 100:.2f}, net {owed / 100:.2f}, balance {balance / 100:.2f} yuan"
    )


@app.command("confirm")
def confirm(code: Code, day: Day, db: DbOption = None) -> None:
    """Confirm a made statement; it changes no more. 确认结算单。"""
    with transaction(settings_from(db)) as session:
        channel_settlement.confirm(
            session, code, parse_day(day), actor=cli_actor(), source="cli", now=wall_clock().now()
        )
    typer.echo(f"{code} {day} confirmed / 已确认")
