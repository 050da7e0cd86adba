"""The catalogue: products and availability for buyers; products and places for managers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.deps import DB, Context, IdempotencyKey, Source, Staff, idempotent, role
from cloud.api.schemas import InventoryIn, ProductIn, SiteIn
from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Inventory, Price, Product, Site, Zone
from cloud.services.audit import audit
from cloud.services.catalogue_checks import (
    check_inventory_day,
    check_product,
    check_slot_fits_product,
)
from cloud.services.sites import add_site, add_zone

router = APIRouter(prefix="/api/v1", tags=["catalogue"])
Manager = Annotated[Staff, Depends(role("manager"))]
PathId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.post("/sites", status_code=201)
def create_site(
    body: SiteIn, ctx: Context, who: Manager, where: Source, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    def produce(db: Session) -> dict[str, Any]:
        site = add_site(db, body.code, body.name_zh, body.name_en, body.timezone)
        for zone in body.zones:
            add_zone(db, body.code, zone.zone, zone.name_zh, zone.name_en)
        audit(db, who.username, where, "create_site", body.code, at=ctx.clock.now())
        return {
            "code": site.code,
            "name_zh": site.name_zh,
            "name_en": site.name_en,
            "timezone": site.timezone,
            "zones": [z.model_dump() for z in body.zones],
        }

    payload = body.model_dump(mode="json")
    return idempotent(ctx, idempotency_key, "create_site", payload, produce, caller=who.scope)[0]


@router.get("/sites/{site}/products")
def products(site: str, db: DB) -> list[dict[str, Any]]:
    if db.get(Site, site) is None:
        raise not_found(Thing.SITE)
    rows = db.scalars(select(Product).where(Product.site == site, Product.active.is_(True)))
    return [_product(db, product) for product in rows]


@router.get("/products/{product_id}/availability")
def availability(product_id: PathId, day: date, db: DB) -> list[dict[str, Any]]:
    if db.get(Product, product_id) is None:
        raise not_found(Thing.PRODUCT)
    rows = db.scalars(
        select(Inventory)
        .where(Inventory.product_id == product_id, Inventory.day == day)
        .order_by(Inventory.slot_start)
    )
    return [row.describe() for row in rows]


@router.post("/products", status_code=201)
def create_product(
    body: ProductIn,
    ctx: Context,
    who: Manager,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    def produce(db: Session) -> dict[str, Any]:
        if db.get(Site, body.site) is None:
            raise not_found(Thing.SITE)
        check_product(body.validity_days, body.entries, body.entries_per_day, body.zones)
        if body.zones:
            known = set(db.scalars(select(Zone.zone).where(Zone.site == body.site)))
            if unknown := sorted(set(body.zones) - known):
                raise Problem(Code.UNKNOWN_ZONE, site=body.site, zone=unknown[0])
        fields = body.model_dump(exclude={"prices"})
        product = Product(**fields)
        db.add(product)
        try:
            db.flush()
        except IntegrityError:
            raise Problem(Code.DUPLICATE_CODE, product_code=body.code) from None
        for price in body.prices:
            db.add(Price(product_id=product.id, **price.model_dump()))
        audit(db, who.username, where, "create_product", body.code, at=ctx.clock.now())
        db.flush()
        return _product(db, product)

    payload = body.model_dump(mode="json")
    return idempotent(ctx, idempotency_key, "create_product", payload, produce, caller=who.scope)[0]


@router.post("/inventory", status_code=201)
def add_inventory(
    body: InventoryIn,
    ctx: Context,
    who: Manager,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    if (body.slot_start is None) != (body.slot_end is None) or (
        body.slot_start is not None
        and body.slot_end is not None
        and body.slot_start >= body.slot_end
    ):
        raise Problem(Code.BAD_SLOT)

    def produce(db: Session) -> dict[str, Any]:
        product = db.get(Product, body.product_id)
        if product is None:
            raise not_found(Thing.PRODUCT)
        check_inventory_day(body.day, product.validity_days, ctx.clock.now().date())
        check_slot_fits_product(product.kind, body.slot_start is not None)
        row = Inventory(
            product_id=body.product_id,
            day=body.day,
            capacity=body.capacity,
            slot_start=-1 if body.slot_start is None else body.slot_start,
            slot_end=-1 if body.slot_end is None else body.slot_end,
            warn_percent=body.warn_percent,
            stop_percent=body.stop_percent,
        )
        db.add(row)
        try:
            db.flush()
        except IntegrityError:
            raise Problem(Code.DUPLICATE_INVENTORY) from None
        audit(
            db,
            who.username,
            where,
            "add_inventory",
            f"product:{body.product_id}",
            {"day": body.day.isoformat(), "capacity": body.capacity},
            at=ctx.clock.now(),
        )
        return row.describe()

    payload = body.model_dump(mode="json")
    return idempotent(ctx, idempotency_key, "add_inventory", payload, produce, caller=who.scope)[0]


def _product(db: Any, product: Product) -> dict[str, Any]:
    prices = db.scalars(select(Price).where(Price.product_id == product.id))
    return {
        "id": product.id,
        "code": product.code,
        "site": product.site,
        "name_zh": product.name_zh,
        "name_en": product.name_en,
        "kind": product.kind,
        "validity_days": product.validity_days,
        "entries": product.entries,
        "real_name": product.real_name,
        "refund_until_hours": product.refund_until_hours,
        "refund_fee_percent": product.refund_fee_percent,
        "changeable": product.changeable,
        "prices": [
            {
                "price_type": p.price_type,
                "amount_fen": p.amount_fen,
                "peak_amount_fen": p.peak_amount_fen,
            }
            for p in prices
        ],
    }
