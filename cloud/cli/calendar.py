"""scenic-cloud calendar: blackout and peak days and prices (services/calendar.py)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

import typer

from cloud.cli.common import DbOption, fail, settings_from, transaction, wall_clock
from cloud.services import calendar
from cloud.services.audit import audit

app = typer.Typer(
    help="Peak and blackout days, prices. 高峰日、闭园日与票价。", no_args_is_help=True
)
Site = Annotated[str, typer.Option("--site", help="Site code")]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not a date (YYYY-MM-DD)", zh="日期格式应为 YYYY-MM-DD")


@app.command("set")
def set_day(
    site: Site,
    day: Annotated[str, typer.Option("--day", help="YYYY-MM-DD (site time)")],
    closed: Annotated[bool, typer.Option("--closed", help="Blackout: no sales")] = False,
    peak: Annotated[bool, typer.Option("--peak", help="Peak prices that day")] = False,
    db: DbOption = None,
) -> None:
    """Mark a day closed and/or peak; neither flag makes it an ordinary day again."""
    when = _day(day)
    with transaction(settings_from(db)) as session:
        calendar.set_day(session, site, when, closed=closed, peak=peak)
        audit(session, "cli", "cli", "set_calendar_day", f"calendar:{site}:{day}",
              {"closed": closed, "peak": peak}, at=_now())  # fmt: skip
    state = "closed" if closed else "peak" if peak else "ordinary"
    typer.echo(f"{site} {day}: {state}{' and peak' if closed and peak else ''}")


@app.command("show")
def show(
    site: Site,
    start: Annotated[str, typer.Option("--from", help="YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
    db: DbOption = None,
) -> None:
    """The marked days in a range with each product's price on them."""
    with transaction(settings_from(db)) as session:
        days = calendar.days(session, site, _day(start), _day(end))
    if as_json:
        typer.echo(json.dumps(days, ensure_ascii=False))
        return
    for row in days:
        state = "closed / 闭园" if row["closed"] else "peak / 高峰"
        prices = ", ".join(
            f"{p['product']} {p['price_type']} {p['amount_fen'] / 100:.2f}" for p in row["prices"]
        )
        typer.echo(f"{row['day']}  {state}  {prices}")


@app.command("price")
def price(
    product_id: Annotated[int, typer.Option("--product-id")],
    price_type: Annotated[str, typer.Option("--price-type", help="adult, child, ...")],
    amount_fen: Annotated[int, typer.Option("--amount-fen", min=0)],
    peak_amount_fen: Annotated[int | None, typer.Option("--peak-amount-fen", min=0)] = None,
    db: DbOption = None,
) -> None:
    """Set a product's normal and peak price (fen) for one price type."""
    with transaction(settings_from(db)) as session:
        calendar.set_price(session, product_id, price_type, amount_fen, peak_amount_fen)
        audit(session, "cli", "cli", "set_price", f"product:{product_id}",
              {"price_type": price_type, "amount_fen": amount_fen,
               "peak_amount_fen": peak_amount_fen}, at=_now())  # fmt: skip
    typer.echo(f"product {product_id} {price_type}: {amount_fen} fen, peak {peak_amount_fen}")


def _now() -> datetime:
    return wall_clock().now()
