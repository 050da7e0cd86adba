"""The catalogue's writes: a product with its prices, a day's (or slot's) places.

Never: shape a response or check who asks (routes/catalog.py does both), or hold a limit of
its own: the claims' limits are ``services/catalogue_checks.py``'s, from keys/claims.py.
Sites and zones are ``services/sites.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Inventory, Price, Product, Site, Zone
from cloud.services.catalogue_checks import (
    check_inventory_day,
    check_product,
    check_slot_fits_product,
)


def add_product(
    db: Session, fields: Mapping[str, Any], prices: Sequence[Mapping[str, Any]]
) -> Product:
    """A product of ``fields`` (the columns of ``Product``: site, code, names, kind, validity,
    entries, zones...) with one row per price; 404 for an unknown site, 422 ``unknown_zone``,
    409 ``duplicate_code``, and the claim limits of ``check_product``."""
    site = fields["site"]
    if db.get(Site, site) is None:
        raise not_found(Thing.SITE)
    check_product(
        fields["validity_days"],
        fields["entries"],
        fields.get("entries_per_day"),
        fields.get("zones"),
    )
    if fields.get("zones"):
        known = set(db.scalars(select(Zone.zone).where(Zone.site == site)))
        if unknown := sorted(set(fields["zones"]) - known):
            raise Problem(Code.UNKNOWN_ZONE, site=site, zone=unknown[0])
    product = Product(**fields)
    db.add(product)
    try:
        db.flush()
    except IntegrityError:
        raise Problem(Code.DUPLICATE_CODE, product_code=fields["code"]) from None
    for price in prices:
        db.add(Price(product_id=product.id, **price))
    db.flush()
    return product


def add_inventory(
    db: Session,
    product_id: int,
    day: date,
    capacity: int,
    *,
    slot_start: int | None,
    slot_end: int | None,
    warn_percent: int,
    stop_percent: int,
    today: date,
) -> Inventory:
    """Places on ``day`` for a product, from ``slot_start`` to ``slot_end`` (minutes of the
    day) if timed. 404 for an unknown product, 422 ``bad_slot`` unless the slot's ends come
    as a pair with the end after the start, 409 ``duplicate_inventory``, and
    ``check_inventory_day`` as of ``today``."""
    if (slot_start is None) != (slot_end is None) or (
        slot_start is not None and slot_end is not None and slot_start >= slot_end
    ):
        raise Problem(Code.BAD_SLOT)
    product = db.get(Product, product_id)
    if product is None:
        raise not_found(Thing.PRODUCT)
    check_inventory_day(day, product.validity_days, today)
    check_slot_fits_product(product.kind, slot_start is not None)
    row = Inventory(
        product_id=product_id,
        day=day,
        capacity=capacity,
        slot_start=-1 if slot_start is None else slot_start,
        slot_end=-1 if slot_end is None else slot_end,
        warn_percent=warn_percent,
        stop_percent=stop_percent,
    )
    db.add(row)
    try:
        db.flush()
    except IntegrityError:
        raise Problem(Code.DUPLICATE_INVENTORY) from None
    return row
