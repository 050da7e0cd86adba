"""Matching a channel's statement to our payments and refunds; listing, resolving and closing.

One statement per channel and day (a second is refused: 409 ``statement_imported``). The day
is the channel's bill day in Beijing time (``BILL_TZ``): WeChat Pay and Alipay cut their bills
at midnight UTC+8 whatever the site's own zone.

What is a mismatch (``Mismatch.kind``), for each payment (keyed by the channel's transaction
id, ``Payment.provider_txn``) and each refund (keyed by our refund number, which the channel
deduplicates on and lists: ``Refund.refund_no``):

- ``duplicate``: the statement lists the same payment or refund twice (the first is matched);
- ``missing_ours``: the statement lists it, our books do not (whenever ours was recorded: a
  payment at 23:59:59 Beijing time that we recorded after midnight still matches);
- ``missing_theirs``: we recorded it on that day (``received_at`` / ``created_at`` in the
  Beijing day), the statement does not list it;
- ``amount_differs``: both list it, for other amounts (fen);
- ``status_differs``: the channel says paid and we hold no such money, or the channel says a
  refund is done and ours is still pending (or the other way round).

Finance resolves each with a note (a conditional UPDATE on ``state = 'open'``, audited), then
closes the day: closing needs every mismatch resolved, and after it nothing of that channel-day
changes (a resolution, an import, a second close: 409 ``day_closed``). Resolution and close
both first UPDATE the day's row in ``recon_days`` (``closed_at IS NULL``), so on PostgreSQL
they queue on its row lock and the later one re-reads it; on SQLite the write lock taken at
BEGIN orders them (cloud/db.py).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Order, Payment, Refund
from cloud.models.reconciliation import Mismatch, ReconDay, Statement, StatementLine
from cloud.services.audit import audit
from cloud.services.reconciliation.statements import Line, parse

BILL_TZ = ZoneInfo("Asia/Shanghai")
RECEIVED = ("succeeded", "refunded", "partially_refunded", "held")  # money we hold or held


@dataclass(frozen=True)
class Imported:
    statement_id: int
    lines: int
    total_fen: int
    mismatches: dict[str, int] = field(default_factory=dict)  # kind -> count


@dataclass(frozen=True)
class Closed:
    channel: str
    day: date
    statement_fen: int  # the channel's payments less refunds
    ours_fen: int  # ours on that day, likewise
    resolved: int  # mismatches resolved with a note


def import_statement(
    session: Session,
    *,
    channel: str,
    day: date,
    fmt: str,
    raw: bytes,
    filename: str,
    actor: str,
    source: str,
    now: datetime,
) -> Imported:
    """Read ``raw`` (``fmt``: statements.FORMATS), store it and its mismatches."""
    lines = parse(fmt, raw)
    _open_day(session, channel, day)
    if session.scalar(
        select(Statement.id).where(Statement.channel == channel, Statement.day == day)
    ):
        raise Problem(Code.STATEMENT_IMPORTED, channel=channel, day=day.isoformat())
    total = sum(  # money that moved: paid payments less refunds done
        line.amount_fen * (1 if line.kind == "payment" else -1)
        for line in lines
        if line.status in ("paid", "refunded")
    )
    statement = Statement(
        channel=channel,
        day=day,
        format=fmt,
        sha256=hashlib.sha256(raw).digest(),
        filename=filename[-200:],
        lines=len(lines),
        total_fen=total,
        imported_at=now,
        actor=actor,
    )
    session.add(statement)
    try:
        session.flush()
    except IntegrityError:  # another import of the same channel-day won the race
        raise Problem(Code.STATEMENT_IMPORTED, channel=channel, day=day.isoformat()) from None
    session.add_all(
        StatementLine(
            statement_id=statement.id,
            kind=line.kind,
            key=line.key[:64],
            order_no=line.order_no[:64],
            amount_fen=line.amount_fen,
            status=line.status[:24],
            at=line.at[:32],
        )
        for line in lines
    )
    found = match(session, channel, day, lines)
    session.add_all(found)
    session.flush()
    counts: dict[str, int] = defaultdict(int)
    for mismatch in found:
        counts[mismatch.kind] += 1
    audit(
        session,
        actor,
        source,
        "reconcile_import",
        f"{channel}:{day.isoformat()}",
        {"lines": len(lines), "total_fen": total, "mismatches": dict(counts), "file": filename},
        at=now,
    )
    return Imported(statement.id, len(lines), total, dict(counts))


def match(session: Session, channel: str, day: date, lines: list[Line]) -> list[Mismatch]:
    """The mismatches between ``lines`` and our books for ``channel`` on ``day`` (unsaved)."""
    found: list[Mismatch] = []

    def add(kind: str, subject: str, key: str, order_no: str, **values: object) -> None:
        found.append(
            Mismatch(
                channel=channel,
                day=day,
                kind=kind,
                subject=subject,
                key=key[:64],
                order_no=order_no[:64],
                state="open",
                **values,
            )
        )

    listed: dict[tuple[str, str], list[Line]] = defaultdict(list)
    for line in lines:
        listed[(line.kind, line.key)].append(line)
    payments = _our_payments(session, channel, [k for s, k in listed if s == "payment"])
    refunds = _our_refunds(session, channel, [k for s, k in listed if s == "refund"])
    for (subject, key), same in listed.items():
        theirs = same[0]
        if len(same) > 1:
            add(
                "duplicate",
                subject,
                key,
                theirs.order_no,
                theirs_fen=theirs.amount_fen,
                theirs_status=f"listed {len(same)}x",
            )
        ours = (payments if subject == "payment" else refunds).get(key)
        if ours is None:
            add(
                "missing_ours",
                subject,
                key,
                theirs.order_no,
                theirs_fen=theirs.amount_fen,
                theirs_status=theirs.status,
            )
            continue
        order_no, ours_fen, ours_status = ours
        differences = (
            ("amount_differs", ours_fen != theirs.amount_fen),
            ("status_differs", not _agree(subject, ours_status, theirs.status)),
        )
        for kind, differs in differences:  # both kept when both differ, amount first
            if differs:
                add(
                    kind,
                    subject,
                    key,
                    order_no,
                    ours_fen=ours_fen,
                    theirs_fen=theirs.amount_fen,
                    ours_status=ours_status,
                    theirs_status=theirs.status,
                )
    start, end = bill_day(day)
    for key, (order_no, ours_fen, ours_status) in _payments_between(
        session, channel, start, end
    ).items():
        if ("payment", key) not in listed:
            add(
                "missing_theirs",
                "payment",
                key,
                order_no,
                ours_fen=ours_fen,
                ours_status=ours_status,
            )
    for key, (order_no, ours_fen, ours_status) in _refunds_between(
        session, channel, start, end
    ).items():
        if ("refund", key) not in listed:
            add(
                "missing_theirs",
                "refund",
                key,
                order_no,
                ours_fen=ours_fen,
                ours_status=ours_status,
            )
    return found


def bill_day(day: date) -> tuple[datetime, datetime]:
    """The instants a channel's bill day spans (Beijing midnight to midnight)."""
    start = datetime.combine(day, time.min, tzinfo=BILL_TZ)
    return start, start + timedelta(days=1)


def _agree(subject: str, ours: str, theirs: str) -> bool:
    if subject == "payment":
        return (ours in RECEIVED) == (theirs == "paid")
    return (ours == "succeeded") == (theirs == "refunded")


Ours = dict[str, tuple[str, int, str]]  # key -> (order no, fen, our status)


def _our_payments(session: Session, channel: str, keys: list[str]) -> Ours:
    return _payments(session, channel, Payment.provider_txn.in_(keys)) if keys else {}


def _our_refunds(session: Session, channel: str, keys: list[str]) -> Ours:
    return _refunds(session, channel, Refund.refund_no.in_(keys)) if keys else {}


def _payments_between(session: Session, channel: str, start: datetime, end: datetime) -> Ours:
    return _payments(session, channel, Payment.received_at >= start, Payment.received_at < end)


def _refunds_between(session: Session, channel: str, start: datetime, end: datetime) -> Ours:
    return _refunds(session, channel, Refund.created_at >= start, Refund.created_at < end)


def _payments(session: Session, channel: str, *where: ColumnElement[bool]) -> Ours:
    rows = session.execute(
        select(Payment.provider_txn, Order.order_no, Payment.amount_fen, Payment.status)
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.provider == channel, *where)
    )
    return {txn: (order_no, fen, status) for txn, order_no, fen, status in rows}


def _refunds(session: Session, channel: str, *where: ColumnElement[bool]) -> Ours:
    """Keyed by refund number (``RF<id>`` for a row from before refunds had numbers)."""
    rows = session.execute(
        select(Refund.refund_no, Refund.id, Order.order_no, Refund.amount_fen, Refund.status)
        .join(Payment, Payment.id == Refund.payment_id)
        .join(Order, Order.id == Refund.order_id)
        .where(Payment.provider == channel, *where)
    )
    return {
        str(no or f"RF{refund_id}"): (order_no, fen, status)
        for no, refund_id, order_no, fen, status in rows
    }


def list_mismatches(
    session: Session,
    *,
    channel: str | None = None,
    day: date | None = None,
    state: str | None = None,
    seen_by: tuple[str, str, datetime] | None = None,
) -> list[Mismatch]:
    """Mismatches, oldest day first; ``seen_by`` (actor, source, now) audits the look."""
    query = select(Mismatch).order_by(Mismatch.day, Mismatch.channel, Mismatch.id)
    if channel:
        query = query.where(Mismatch.channel == channel)
    if day:
        query = query.where(Mismatch.day == day)
    if state:
        query = query.where(Mismatch.state == state)
    found = list(session.scalars(query))
    if seen_by is not None:
        actor, source, now = seen_by
        target = f"{channel or '*'}:{day.isoformat() if day else '*'}"
        audit(session, actor, source, "reconcile_view", target, {"rows": len(found)}, at=now)
    return found


def resolve(
    session: Session, mismatch_id: int, note: str, *, actor: str, source: str, now: datetime
) -> Mismatch:
    """Mark one open mismatch resolved with finance's ``note`` (what was done about it)."""
    note = note.strip()
    if not note:
        raise Problem(Code.NOTE_REQUIRED)
    found = session.get(Mismatch, mismatch_id)
    if found is None:
        raise not_found(Thing.MISMATCH, id=mismatch_id)
    _lock_open_day(session, found.channel, found.day, bump=True)
    done = session.execute(
        update(Mismatch)
        .where(Mismatch.id == mismatch_id, Mismatch.state == "open")
        .values(state="resolved", note=note[:2000], resolved_by=actor[:64], resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.ALREADY_RESOLVED)
    session.refresh(found)
    audit(
        session,
        actor,
        source,
        "reconcile_resolve",
        f"{found.channel}:{found.day.isoformat()}:{found.id}",
        {"kind": found.kind, "key": found.key, "note": note[:200]},
        at=now,
    )
    return found


def close_day(
    session: Session, channel: str, day: date, *, actor: str, source: str, now: datetime
) -> Closed:
    """Lock ``channel``'s ``day``: every mismatch must be resolved; closes once."""
    if session.get(ReconDay, (channel, day)) is None:
        raise Problem(Code.NO_STATEMENT, channel=channel, day=day.isoformat())
    closed = session.execute(
        update(ReconDay)
        .where(ReconDay.channel == channel, ReconDay.day == day, ReconDay.closed_at.is_(None))
        .values(closed_at=now, closed_by=actor[:64])
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.BOOKS_CLOSED, channel=channel, day=day.isoformat())
    counts = dict(
        session.execute(
            select(Mismatch.state, func.count())
            .where(Mismatch.channel == channel, Mismatch.day == day)
            .group_by(Mismatch.state)
        ).all()
    )
    if counts.get("open", 0):
        raise Problem(
            Code.OPEN_MISMATCHES, count=counts["open"], channel=channel, day=day.isoformat()
        )
    statement_fen = session.scalar(
        select(Statement.total_fen).where(Statement.channel == channel, Statement.day == day)
    )
    start, end = bill_day(day)
    paid = sum(fen for _, fen, _ in _payments_between(session, channel, start, end).values())
    refunded = sum(fen for _, fen, _ in _refunds_between(session, channel, start, end).values())
    audit(
        session,
        actor,
        source,
        "reconcile_close",
        f"{channel}:{day.isoformat()}",
        {"statement_fen": statement_fen, "ours_fen": paid - refunded},
        at=now,
    )
    return Closed(channel, day, statement_fen or 0, paid - refunded, counts.get("resolved", 0))


def _open_day(session: Session, channel: str, day: date) -> None:
    """The channel-day's row, made on its first import; 409 if the day is closed."""
    if session.get(ReconDay, (channel, day)) is None:
        session.add(ReconDay(channel=channel, day=day, resolutions=0))
        try:
            session.flush()
        except IntegrityError:  # a concurrent import made it: its statement wins below
            raise Problem(Code.STATEMENT_IMPORTED, channel=channel, day=day.isoformat()) from None
    _lock_open_day(session, channel, day, bump=False)


def _lock_open_day(session: Session, channel: str, day: date, *, bump: bool) -> None:
    locked = session.execute(
        update(ReconDay)
        .where(ReconDay.channel == channel, ReconDay.day == day, ReconDay.closed_at.is_(None))
        .values(resolutions=ReconDay.resolutions + (1 if bump else 0))
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.BOOKS_CLOSED, channel=channel, day=day.isoformat())


def mismatch_view(found: Mismatch) -> dict[str, object]:
    """A mismatch as the API and the CLI show it."""
    return {
        "id": found.id,
        "channel": found.channel,
        "day": found.day.isoformat(),
        "kind": found.kind,
        "subject": found.subject,
        "key": found.key,
        "order_no": found.order_no,
        "ours_fen": found.ours_fen,
        "theirs_fen": found.theirs_fen,
        "ours_status": found.ours_status,
        "theirs_status": found.theirs_status,
        "state": found.state,
        "note": found.note,
        "resolved_by": found.resolved_by,
    }
