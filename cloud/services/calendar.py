"""The site calendar (日历): blackout days (闭园, no sales) and peak days (高峰日, peak prices),
and a product's normal and peak prices.

Never: decide a price elsewhere. What a day costs is ``price_on``; orders (services/orders.py)
and changes (services/refunds.py) apply the same rule: on a peak day the price type's
``peak_amount_fen`` if it has one, else its normal amount. Blackout days refuse orders
(409 ``day_closed``, services/orders.check_bookable).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import CalendarDay, Price, Product, Site
from cloud.models.catalog import PRICE_TYPES
from cloud.services.date_range import MAX_DAYS, check_range


def set_day(session: Session, site: str, day: date, *, closed: bool, peak: bool) -> CalendarDay:
    """Mark a day closed and/or peak; both false removes the mark (an ordinary day)."""
    if session.get(Site, site) is None:
        raise not_found(Thing.SITE)
    session.execute(delete(CalendarDay).where(CalendarDay.site == site, CalendarDay.day == day))
    row = CalendarDay(site=site, day=day, closed=closed, peak=peak)
    if closed or peak:
        session.add(row)
    session.flush()
    return row


def days(session: Session, site: str, start: date, end: date) -> list[dict[str, Any]]:
    """The marked days from ``start`` to ``end`` inclusive, each with every active product's
    price per type on that day."""
    check_range(start, end, MAX_DAYS)
    if session.get(Site, site) is None:
        raise not_found(Thing.SITE)
    marked = session.scalars(
        select(CalendarDay)
        .where(CalendarDay.site == site, CalendarDay.day >= start, CalendarDay.day <= end)
        .order_by(CalendarDay.day)
    )
    prices = session.execute(
        select(Product.code, Price)
        .join(Price, Price.product_id == Product.id)
        .where(Product.site == site, Product.active.is_(True))
        .order_by(Product.code, Price.price_type)
    ).all()
    return [
        {
            "day": row.day.isoformat(),
            "closed": row.closed,
            "peak": row.peak,
            "prices": [
                {
                    "product": code,
                    "price_type": price.price_type,
                    "amount_fen": price_on(price, row),
                }
                for code, price in prices
            ]
            if not row.closed
            else [],
        }
        for row in marked
    ]


def price_on(price: Price, day: CalendarDay | None) -> int:
    """What one place of this price type costs on that day (the peak price on peak days)."""
    if day is not None and day.peak and price.peak_amount_fen:
        return price.peak_amount_fen
    return price.amount_fen


def set_price(
    session: Session, product_id: int, price_type: str, amount_fen: int, peak_amount_fen: int | None
) -> Price:
    """A product's price for one type, normal and peak (a new type is added; 422
    ``no_price`` for a type outside ``PRICE_TYPES``)."""
    if price_type not in PRICE_TYPES:
        raise Problem(Code.NO_PRICE, price_type=price_type)
    if session.get(Product, product_id) is None:
        raise not_found(Thing.PRODUCT)
    result = session.execute(
        update(Price)
        .where(Price.product_id == product_id, Price.price_type == price_type)
        .values(amount_fen=amount_fen, peak_amount_fen=peak_amount_fen)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(
            Price(
                product_id=product_id,
                price_type=price_type,
                amount_fen=amount_fen,
                peak_amount_fen=peak_amount_fen,
            )
        )
    session.flush()
    price = session.get(Price, (product_id, price_type))
    if price is None:  # pragma: no cover - just written
        raise Problem(Code.INTERNAL_ERROR)
    session.refresh(price)
    return price
