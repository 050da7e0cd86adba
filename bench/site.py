"""The benches' ticket office: site S1 selling one day ticket, made through the services.

As a manager's requests make it (services/sites.py, services/catalogue.py), never by writing
tables, so a bench measures the catalogue the API would have made.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cloud.services.catalogue import add_inventory, add_product
from cloud.services.sites import add_site

PRICE_FEN = 8000  # one adult day ticket


def day_ticket_site(
    db: Session, today: date, *, days_ahead: int, capacity: int, **rules: Any
) -> tuple[int, int]:
    """Site S1 with a day ticket ``DAY`` (adult, ``PRICE_FEN``; ``rules`` such as
    ``refund_fee_percent`` go to the product) and ``capacity`` places ``days_ahead`` days after
    ``today``; the product id and the inventory id."""
    add_site(db, "S1", "测试景区", "Bench site", "Asia/Shanghai")
    fields = {"site": "S1", "code": "DAY", "name_zh": "日票", "name_en": "Day", "kind": "day"}
    product = add_product(
        db,
        {**fields, "validity_days": 1, "entries": 1, **rules},
        [{"price_type": "adult", "amount_fen": PRICE_FEN}],
    )
    stock = add_inventory(
        db,
        product.id,
        today + timedelta(days=days_ahead),
        capacity,
        slot_start=None,
        slot_end=None,
        warn_percent=80,
        stop_percent=100,
        today=today,
    )
    return product.id, stock.id
