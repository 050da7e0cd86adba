"""Reserving places without ever overselling, on SQLite and PostgreSQL alike.

One conditional UPDATE takes places only if they are there::

    UPDATE inventory SET taken = taken + :n
     WHERE id = :id AND taken + :n <= capacity * stop_percent / 100

The database applies it atomically (a row lock on PostgreSQL, the single writer on SQLite),
so 200 buyers racing for the last 50 places get exactly 50: no read-then-write window.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud.core.errors import Problem
from cloud.models import Inventory


def reserve(session: Session, inventory_id: int, places: int) -> None:
    """Take ``places`` or raise ``sold_out`` (409); nothing changes on refusal."""
    if places < 1:
        raise Problem(422, "bad_quantity", "Quantity must be at least 1", "数量至少为1")
    result = session.execute(
        update(Inventory)
        .where(
            Inventory.id == inventory_id,
            Inventory.taken + places <= Inventory.capacity * Inventory.stop_percent / 100,
        )
        .values(taken=Inventory.taken + places)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(
            409,
            "sold_out",
            "Not enough places left for this day or time slot",
            "该日期或时段余票不足",
            inventory_id=inventory_id,
        )


def release(session: Session, inventory_id: int, places: int) -> None:
    """Give places back (unpaid order expired, refund, date change)."""
    session.execute(
        update(Inventory)
        .where(Inventory.id == inventory_id, Inventory.taken >= places)
        .values(taken=Inventory.taken - places)
        .execution_options(synchronize_session=False)
    )
