"""The catalogue: products and availability for buyers; products and places for managers.

Thin: the writes and their refusals are services/catalogue.py and services/sites.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import DB, Context, IdempotencyKey, Source, Staff, idempotent_answer, role
from cloud.api.schemas import (
    InventoryIn,
    InventoryOut,
    PathId,
    PriceOut,
    ProductIn,
    ProductOut,
    SiteIn,
    SiteOut,
    ZoneOut,
)
from cloud.core.errors import Thing, not_found
from cloud.models import Inventory, Price, Product, Site
from cloud.services.audit import audit
from cloud.services.catalogue import add_inventory as new_inventory
from cloud.services.catalogue import add_product
from cloud.services.sites import add_site, add_zone

router = APIRouter(prefix="/api/v1", tags=["catalogue"])
Manager = Annotated[Staff, Depends(role("manager"))]


@router.post("/sites", status_code=201, response_model=SiteOut)
def create_site(
    body: SiteIn, ctx: Context, who: Manager, where: Source, idempotency_key: IdempotencyKey = None
) -> SiteOut:
    def produce(db: Session) -> SiteOut:
        site = add_site(db, body.code, body.name_zh, body.name_en, body.timezone)
        for zone in body.zones:
            add_zone(db, body.code, zone.zone, zone.name_zh, zone.name_en)
        audit(db, who.username, where, "create_site", body.code, at=ctx.clock.now())
        return SiteOut(
            code=site.code,
            name_zh=site.name_zh,
            name_en=site.name_en,
            timezone=site.timezone,
            zones=[ZoneOut(**z.model_dump()) for z in body.zones],
        )

    payload = body.model_dump(mode="json")
    return idempotent_answer(
        SiteOut, ctx, idempotency_key, "create_site", payload, produce, caller=who.scope
    )[0]


@router.get("/sites/{site}/products", response_model=list[ProductOut])
def products(site: str, db: DB) -> list[ProductOut]:
    if db.get(Site, site) is None:
        raise not_found(Thing.SITE)
    rows = db.scalars(select(Product).where(Product.site == site, Product.active.is_(True)))
    return [_product(db, product) for product in rows]


@router.get("/products/{product_id}/availability", response_model=list[InventoryOut])
def availability(product_id: PathId, day: date, db: DB) -> list[InventoryOut]:
    if db.get(Product, product_id) is None:
        raise not_found(Thing.PRODUCT)
    rows = db.scalars(
        select(Inventory)
        .where(Inventory.product_id == product_id, Inventory.day == day)
        .order_by(Inventory.slot_start)
    )
    return [InventoryOut(**row.describe()) for row in rows]


@router.post("/products", status_code=201, response_model=ProductOut)
def create_product(
    body: ProductIn,
    ctx: Context,
    who: Manager,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> ProductOut:
    def produce(db: Session) -> ProductOut:
        product = add_product(
            db, body.model_dump(exclude={"prices"}), [p.model_dump() for p in body.prices]
        )
        audit(db, who.username, where, "create_product", body.code, at=ctx.clock.now())
        return _product(db, product)

    payload = body.model_dump(mode="json")
    return idempotent_answer(
        ProductOut, ctx, idempotency_key, "create_product", payload, produce, caller=who.scope
    )[0]


@router.post("/inventory", status_code=201, response_model=InventoryOut)
def add_inventory(
    body: InventoryIn,
    ctx: Context,
    who: Manager,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> InventoryOut:
    def produce(db: Session) -> InventoryOut:
        row = new_inventory(
            db,
            body.product_id,
            body.day,
            body.capacity,
            slot_start=body.slot_start,
            slot_end=body.slot_end,
            warn_percent=body.warn_percent,
            stop_percent=body.stop_percent,
            today=ctx.clock.now().date(),
        )
        audit(
            db,
            who.username,
            where,
            "add_inventory",
            f"product:{body.product_id}",
            {"day": body.day.isoformat(), "capacity": body.capacity},
            at=ctx.clock.now(),
        )
        return InventoryOut(**row.describe())

    payload = body.model_dump(mode="json")
    return idempotent_answer(
        InventoryOut, ctx, idempotency_key, "add_inventory", payload, produce, caller=who.scope
    )[0]


def _product(db: Session, product: Product) -> ProductOut:
    prices = db.scalars(select(Price).where(Price.product_id == product.id))
    return ProductOut(
        id=product.id,
        code=product.code,
        site=product.site,
        name_zh=product.name_zh,
        name_en=product.name_en,
        kind=product.kind,
        validity_days=product.validity_days,
        entries=product.entries,
        real_name=product.real_name,
        refund_until_hours=product.refund_until_hours,
        refund_fee_percent=product.refund_fee_percent,
        changeable=product.changeable,
        prices=[
            PriceOut(
                price_type=p.price_type,
                amount_fen=p.amount_fen,
                peak_amount_fen=p.peak_amount_fen,
            )
            for p in prices
        ],
    )
