"""scenic-cloud pass-rule: how an annual-pass product renews (services/pass_rules.py checks
and keeps it; the same rule the managers' ``PUT /products/{id}/pass-rule`` sets).

Never: check a rule here. A rule is set whole: an option left out takes the default.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.cli.common import DbOption, cli_actor, fail, settings_from, transaction, wall_clock
from cloud.models import Product
from cloud.services import pass_rules

app = typer.Typer(help="Annual-pass renewal rules. 年卡续卡规则。", no_args_is_help=True)
ProductCode = Annotated[str, typer.Option("--product", help="The product's code, e.g. ANNUAL")]
DEFAULT = pass_rules.Rule()


def _product_id(session: Session, code: str) -> int:
    found = session.scalar(select(Product.id).where(Product.code == code))
    if found is None:
        fail(f"no product {code!r}", zh=f"没有产品{code}")
    return int(found)


def _discounts(pairs: list[str]) -> dict[str, int]:
    """``gold=10`` pairs as {"gold": 10}; a pair that is not LEVEL=PERCENT fails, one line."""
    found: dict[str, int] = {}
    for pair in pairs:
        level, _, percent = pair.partition("=")
        if not level or not percent.strip().isdigit():
            fail(f"--discount {pair!r} is not LEVEL=PERCENT, e.g. gold=10",
                 zh="--discount 格式应为 等级=百分比，如 gold=10")  # fmt: skip
        found[level.strip()] = int(percent)
    return found


def _show(product: str, rule: pass_rules.Rule, explicit: bool) -> None:
    origin = "set / 已设置" if explicit else "defaults / 默认"
    price = "adult price / 成人价" if rule.price_fen is None else f"{rule.price_fen} fen / 分"
    typer.echo(
        f"{product} ({origin}): renew from {rule.renew_before_days} days before expiry, "
        f"grace {rule.grace_days} days, lapse limit {rule.lapse_limit_days} days, "
        f"price {price}, level discounts {rule.level_discounts or '-'}"
    )


@app.command("set")
def set_rule(
    product: ProductCode,
    renew_before_days: Annotated[
        int, typer.Option(help="The renewal window opens this many days before expiry")
    ] = DEFAULT.renew_before_days,
    grace_days: Annotated[
        int, typer.Option(help="Renewed this late, the new term still runs from the old expiry")
    ] = DEFAULT.grace_days,
    lapse_limit_days: Annotated[
        int, typer.Option(help="Later than this after expiry: buy a new pass")
    ] = DEFAULT.lapse_limit_days,
    price_fen: Annotated[
        int | None, typer.Option(help="Renewal price, fen (default: the adult price)")
    ] = None,
    discount: Annotated[
        list[str] | None, typer.Option(help="LEVEL=PERCENT off for a member level, repeatable")
    ] = None,
    db: DbOption = None,
) -> None:
    """Set a product's renewal rule, whole (audited). 设置年卡续卡规则。"""
    rule = pass_rules.Rule(
        renew_before_days=renew_before_days,
        grace_days=grace_days,
        lapse_limit_days=lapse_limit_days,
        price_fen=price_fen,
        level_discounts=_discounts(discount or []),
    )
    with transaction(settings_from(db)) as session:
        pass_rules.put(
            session,
            _product_id(session, product),
            rule,
            actor=cli_actor(),
            source="cli",
            now=wall_clock().now(),
        )
    _show(product, rule, True)


@app.command("show")
def show_rule(product: ProductCode, db: DbOption = None) -> None:
    """The rule a product renews by. 查看续卡规则。"""
    with transaction(settings_from(db)) as session:
        rule, explicit = pass_rules.read(session, _product_id(session, product))
    _show(product, rule, explicit)
