"""scenic-cloud offer: set up coupons / promo codes and flash sales (services/promotions.py).

Never: decide a limit here; times are ISO 8601 with an offset (``2026-12-12T10:00+08:00``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from cloud.cli.common import DbOption, cli_actor, fail, settings_from, transaction, wall_clock
from cloud.services import promotions

app = typer.Typer(help="Coupons and flash sales. 优惠券与限时抢购。", no_args_is_help=True)

When = Annotated[str, typer.Option(help="ISO 8601 with an offset, e.g. 2026-12-12T10:00+08:00")]


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        fail(f"{text!r} is not an ISO time with an offset", zh="时间格式应为带时区的ISO格式")
    return when


@app.command("coupon")
def coupon(
    code: Annotated[str, typer.Option(help="The code buyers type")],
    starts: When,
    ends: When,
    total: Annotated[int, typer.Option(help="Uses in all")],
    per_member: Annotated[int, typer.Option(help="Uses per member")] = 1,
    amount_fen: Annotated[int | None, typer.Option(help="Fixed amount off, fen")] = None,
    percent: Annotated[int | None, typer.Option(help="Percent off")] = None,
    min_total_fen: Annotated[int, typer.Option(help="Least order total, fen")] = 0,
    product: Annotated[int | None, typer.Option(help="Only for this product id")] = None,
    db: DbOption = None,
) -> None:
    """A coupon or promo code with its limits. 新建优惠券。"""
    with transaction(settings_from(db)) as session:
        promotions.create_coupon(
            session,
            code=code,
            starts_at=_instant(starts),
            ends_at=_instant(ends),
            total_limit=total,
            per_member_limit=per_member,
            amount_fen=amount_fen,
            percent=percent,
            min_total_fen=min_total_fen,
            product_id=product,
            actor=cli_actor(),
            source="cli",
            now=wall_clock().now(),
        )
    typer.echo(f"coupon {code.upper()} ready / 已创建")


@app.command("flash")
def flash(
    inventory: Annotated[int, typer.Option(help="Inventory id (a product's day or slot)")],
    price_fen: Annotated[int, typer.Option(help="Flash price a person, fen")],
    places: Annotated[int, typer.Option(help="Places on offer")],
    starts: When,
    ends: When,
    per_member: Annotated[int, typer.Option(help="Places per member")] = 1,
    price_type: Annotated[str, typer.Option(help="Price type sold")] = "adult",
    db: DbOption = None,
) -> None:
    """A flash sale (限时抢购). 新建限时抢购。"""
    with transaction(settings_from(db)) as session:
        sale = promotions.create_flash_sale(
            session,
            inventory_id=inventory,
            price_type=price_type,
            price_fen=price_fen,
            places=places,
            per_member_limit=per_member,
            starts_at=_instant(starts),
            ends_at=_instant(ends),
            actor=cli_actor(),
            source="cli",
            now=wall_clock().now(),
        )
    typer.echo(f"flash sale #{sale} ready / 已创建")
