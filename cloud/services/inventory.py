"""Reserving places without ever overselling, on SQLite and PostgreSQL alike.

One conditional UPDATE takes places only if they are there::

    UPDATE inventory SET taken = taken + :n
     WHERE id = :id AND taken + :n <= capacity * stop_percent / 100

The database applies it atomically (a row lock on PostgreSQL, the single writer on SQLite),
so 200 buyers racing for the last 50 places get exactly 50: no read-then-write window.

Timed entry (分时票) has a capacity per slot *and* may have one per day: when the product has
a whole-day row for that day, a place in a slot is taken from both, or from neither.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from cloud.core.errors import Code, Problem
from cloud.models import Inventory

log = logging.getLogger(__name__)


def reserve(session: Session, inventory_id: int, places: int) -> None:
    """Take ``places`` (and the day's, for a slot) or raise ``sold_out`` (409) having changed
    nothing."""
    if places < 1:
        raise Problem(Code.BAD_QUANTITY, least=1, most=places)
    _take(session, inventory_id, places)
    day_row = _day_row_of(session, inventory_id)
    if day_row is not None:
        try:
            _take(session, day_row, places)
        except Problem:
            _give(session, inventory_id, places)
            raise


def release(session: Session, inventory_id: int, places: int) -> None:
    """Give places back (unpaid order expired, refund, date change), to the day's total too."""
    _give(session, inventory_id, places)
    day_row = _day_row_of(session, inventory_id)
    if day_row is not None:
        _give(session, day_row, places)


def _take(session: Session, inventory_id: int, places: int) -> None:
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
        raise Problem(Code.SOLD_OUT, inventory_id=inventory_id)


def _give(session: Session, inventory_id: int, places: int) -> None:
    """Give places back, never below zero. Callers release only after winning the conditional
    update of the order or ticket that held them, so a release that finds too few places taken
    means places were given back twice: the transaction is refused (409 ``inventory_mismatch``)
    rather than the count made up."""
    result = session.execute(
        update(Inventory)
        .where(Inventory.id == inventory_id, Inventory.taken >= places)
        .values(taken=Inventory.taken - places)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.error("releasing %d places of inventory %d: fewer are taken", places, inventory_id)
        raise Problem(Code.INVENTORY_MISMATCH, inventory_id=inventory_id)


def _day_row_of(session: Session, inventory_id: int) -> int | None:
    """The whole-day row of the same product and day, if ``inventory_id`` is a time slot."""
    slot, day = Inventory, aliased(Inventory)
    return session.scalar(
        select(day.id)
        .join(slot, (slot.product_id == day.product_id) & (slot.day == day.day))
        .where(slot.id == inventory_id, slot.slot_start >= 0, day.slot_start == -1)
    )
