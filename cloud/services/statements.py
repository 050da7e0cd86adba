"""What the daily statements of channels (services/channel_settlement.py) and of partner
attractions (services/partner_settlement.py) share: the site day they cover, money written in
yuan for finance's files, and the lock that makes a confirmed statement final.

A statement can be made again (its figures recomputed) until finance confirms it; from then on
it changes no more: every change is a conditional UPDATE on "not yet confirmed", its row count
checked, so a remake racing a confirmation cannot overwrite what finance signed off (409
``statement_confirmed``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, update
from sqlalchemy.orm import Mapper, Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import ChannelStatement, PartnerStatement, Site

Statement = ChannelStatement | PartnerStatement  # keyed by their owner and day
Held = TypeVar("Held", ChannelStatement, PartnerStatement)


def site_day(session: Session, site: str, day: date) -> tuple[datetime, datetime]:
    """``day`` in the site's time zone, as [start, end) instants."""
    place = session.get(Site, site)
    assert place is not None
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(place.timezone))
    return start, start + timedelta(days=1)


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, negative amounts signed (refund lines): "-12.05"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def while_unconfirmed(session: Session, held: Statement, **values: object) -> None:
    """Set ``values`` on the statement ``held`` only while finance has not confirmed it (409
    ``statement_confirmed`` if it has), then reload it."""
    model = type(held)
    mapper: Mapper[Statement] = inspect(model)
    same_row = [
        column == getattr(held, mapper.get_property_by_column(column).key)
        for column in mapper.primary_key
    ]
    changed = session.execute(
        update(model)
        .where(*same_row, model.confirmed_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.STATEMENT_CONFIRMED)
    session.refresh(held)


def keep(session: Session, held: Held | None, new: Callable[[], Held], **figures: int) -> Held:
    """The statement with ``figures``: ``new()`` added if there is none yet, else ``held``
    updated while unconfirmed."""
    if held is None:
        held = new()
        session.add(held)
        session.flush()
    else:
        while_unconfirmed(session, held, **figures)
    return held


def confirm_held(session: Session, held: Held | None, *, actor: str, now: datetime) -> Held:
    """Finance confirms a made statement, once (404 if it was never made, 409 if confirmed)."""
    if held is None:
        raise not_found(Thing.SETTLEMENT)
    while_unconfirmed(session, held, confirmed_at=now, confirmed_by=actor[:64])
    return held
