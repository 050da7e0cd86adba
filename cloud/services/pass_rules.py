"""How an annual-pass product renews, as a manager (API) or an operator (CLI) sets it: the
window before expiry, the grace after it, the lapse beyond which a new pass must be bought,
the price and the member levels' discounts (services/annual_passes.py applies them).

The checks live here once, for both doors: a rule a renewal could not apply sensibly (a
negative price, a discount over 100 %, a level members cannot reach, a grace longer than the
lapse limit, a product that is not an annual pass) is refused with 422 ``bad_pass_rule``
naming the field and what it allows, before anything is written. A rule replaces the last
one whole (what is left out takes the default, never the old value: what was sent is what
applies), and each change is audited with the rule before and after.

Two managers setting a new product's first rule at once: the product row is locked first
(``FOR UPDATE`` on PostgreSQL; on SQLite the transaction holds the write lock from its
start), so the second reads the first's row and replaces it instead of failing on the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import PassRule, Product
from cloud.services.audit import audit
from cloud.services.members import LEVELS

MAX_DAYS = 3660  # ten years: beyond it a number of days is a typing mistake
MAX_PRICE_FEN = 10_000_000  # as every price the catalogue takes
LEVEL_NAMES = tuple(name for name, _ in LEVELS)


@dataclass(frozen=True)
class Rule:
    """A product's renewal rule; the defaults are what a product without one renews by."""

    renew_before_days: int = 30
    grace_days: int = 30
    lapse_limit_days: int = 365
    price_fen: int | None = None  # None: the product's adult price
    level_discounts: dict[str, int] = field(default_factory=dict)  # {"gold": 10}: percent


def check(rule: Rule) -> None:
    """422 ``bad_pass_rule`` for the first field a renewal could not apply."""
    for name in ("renew_before_days", "grace_days", "lapse_limit_days"):
        if not 0 <= getattr(rule, name) <= MAX_DAYS:
            raise Problem(Code.BAD_PASS_RULE, field=name, allowed=f"0-{MAX_DAYS}")
    if rule.grace_days > rule.lapse_limit_days:
        raise Problem(
            Code.BAD_PASS_RULE,
            field="grace_days",
            allowed=f"0-{rule.lapse_limit_days}",  # at most lapse_limit_days
        )
    if rule.price_fen is not None and not 0 <= rule.price_fen <= MAX_PRICE_FEN:
        raise Problem(Code.BAD_PASS_RULE, field="price_fen", allowed=f"0-{MAX_PRICE_FEN}")
    for level, percent in rule.level_discounts.items():
        if level not in LEVEL_NAMES:
            raise Problem(
                Code.BAD_PASS_RULE, field="level_discounts", allowed=",".join(LEVEL_NAMES)
            )
        if not 0 <= percent <= 100:
            raise Problem(Code.BAD_PASS_RULE, field=f"level_discounts.{level}", allowed="0-100")


def read(session: Session, product_id: int) -> tuple[Rule, bool]:
    """The rule ``product_id`` renews by, and whether it was set (False: the defaults)."""
    _annual(session, product_id)
    held = session.get(PassRule, product_id)
    return _rule(held), held is not None


def of_product(session: Session, product_id: int) -> Rule:
    """The rule a pass of ``product_id`` renews by now (the defaults if none was set)."""
    return _rule(session.get(PassRule, product_id))


def put(
    session: Session, product_id: int, rule: Rule, *, actor: str, source: str, now: datetime
) -> Rule:
    """Replace ``product_id``'s rule with ``rule`` (checked first), audited."""
    check(rule)
    session.execute(select(Product.id).where(Product.id == product_id).with_for_update())
    _annual(session, product_id)
    held = session.get(PassRule, product_id)
    before = asdict(_rule(held)) if held is not None else None
    if held is None:
        held = PassRule(product_id=product_id)
        session.add(held)
    held.renew_before_days = rule.renew_before_days
    held.grace_days = rule.grace_days
    held.lapse_limit_days = rule.lapse_limit_days
    held.price_fen = rule.price_fen
    held.level_discounts = dict(rule.level_discounts) or None
    session.flush()
    audit(session, actor, source, "set_pass_rule", f"product:{product_id}",
          {"before": before, "after": asdict(rule)}, at=now)  # fmt: skip
    return rule


def _annual(session: Session, product_id: int) -> None:
    product = session.get(Product, product_id)
    if product is None:
        raise not_found(Thing.PRODUCT)
    if product.kind != "annual":
        raise Problem(Code.BAD_PASS_RULE, field="product_id", allowed="kind=annual")


def _rule(held: PassRule | None) -> Rule:
    if held is None:
        return Rule()
    return Rule(
        renew_before_days=held.renew_before_days,
        grace_days=held.grace_days,
        lapse_limit_days=held.lapse_limit_days,
        price_fen=held.price_fen,
        level_discounts=dict(held.level_discounts or {}),
    )
