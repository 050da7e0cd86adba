"""The renewal-rule form of the dashboard's /dashboard/passes page: what it shows for each
annual product, and how a submitted form becomes a ``pass_rules.Rule``.

Money is typed in yuan (what a manager reads on a price list) and kept in integer fen; a form
field that is not a whole number (or an amount with more than two decimals) is refused here,
naming the field, before the service checks the ranges (422 ``bad_pass_rule``, its own
message). Nothing is kept from a refused form but what the manager typed, shown again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import Price, Product
from cloud.services.pass_rules import LEVEL_NAMES, Rule, read

DAYS = ("renew_before_days", "grace_days", "lapse_limit_days")


@dataclass
class ProductRow:
    id: int
    site: str
    code: str
    name_zh: str
    name_en: str
    set: bool  # a rule was set (False: the defaults apply)
    adult_fen: int | None
    form: dict[str, str]  # each field as the form shows it
    error: str | None = None


class FormError(Exception):
    """A field the form could not read: its name and the words key saying why."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name}: {why}")
        self.field, self.why = name, why


def rows(db: Session) -> list[ProductRow]:
    """Every annual product, its rule (or the defaults) as form values."""
    products = db.scalars(select(Product).where(Product.kind == "annual").order_by(Product.id))
    out = []
    for product in products:
        rule, explicit = read(db, product.id)
        adult = db.get(Price, (product.id, "adult"))
        out.append(
            ProductRow(
                product.id,
                product.site,
                product.code,
                product.name_zh,
                product.name_en,
                explicit,
                adult.amount_fen if adult else None,
                as_form(rule),
            )
        )
    return out


def as_form(rule: Rule) -> dict[str, str]:
    form = {name: str(getattr(rule, name)) for name in DAYS}
    form["price_yuan"] = "" if rule.price_fen is None else _yuan(rule.price_fen)
    for level in LEVEL_NAMES:
        percent = rule.level_discounts.get(level)
        form[f"level_{level}"] = "" if percent is None else str(percent)
    return form


def parse(form: Mapping[str, str]) -> Rule:
    """The rule a submitted form asks for, or ``FormError`` for the first unreadable field.
    Blank: the price is the product's adult price, a level has no discount."""
    days = {name: _whole(name, form.get(name, "")) for name in DAYS}
    price = form.get("price_yuan", "").strip()
    discounts = {}
    for level in LEVEL_NAMES:
        text = form.get(f"level_{level}", "").strip()
        if text:
            discounts[level] = _whole(f"level_discounts.{level}", text)
    return Rule(**days, price_fen=_fen(price) if price else None, level_discounts=discounts)


def _whole(name: str, text: str) -> int:
    text = text.strip()
    if not text.lstrip("-").isdigit() or len(text) > 9:
        raise FormError(name, "not_whole")
    return int(text)


def _fen(text: str) -> int:
    cleaned = text.replace(",", "").replace("¥", "").strip()
    try:
        amount = Decimal(cleaned) if len(cleaned) <= 15 else Decimal("NaN")
    except InvalidOperation:
        raise FormError("price_fen", "not_money") from None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int) or exponent < -2:
        raise FormError("price_fen", "not_money")
    return int(amount * 100)  # the service refuses one out of range, saying the range


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}" if fen % 100 else str(fen // 100)
