"""scenic-cloud holds: expire unpaid orders' holds once (services/holds.py).

For a timer when several API workers serve; ``serve`` runs the same sweep on its own.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cloud.cli.common import DbOption, database, settings_from, wall_clock
from cloud.db import make_engine, session_factory

app = typer.Typer(help="Unpaid orders' holds. 未支付订单的占座。", no_args_is_help=True)


@app.command("expire")
def holds_expire(
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Expire unpaid orders past their hold once, giving their places back (for a timer when
    several workers serve; serve does it too). 释放超时未支付订单的名额。"""
    from cloud.services.holds import sweep

    settings = settings_from(db)
    wall = wall_clock()
    with database(settings):
        engine = make_engine(settings.db_url)
        try:
            expired = sweep(session_factory(engine), wall.now)
        finally:
            engine.dispose()
    if json_out:
        typer.echo(json.dumps({"expired": expired}))
    else:
        typer.echo(f"expired {expired} unpaid order(s) / 已释放{expired}个超时订单")
