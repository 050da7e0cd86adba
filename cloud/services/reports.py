"""Reports for managers and finance (报表): the rows behind each figure, streamed, and their sums.

Never: write, or load a whole range into memory. Each report is a generator of plain rows
(one per order item sold, entry at a gate, refund, cash shift, inventory slot or passage),
read with ``yield_per`` (a server-side cursor on PostgreSQL; on SQLite a snapshot read without
the write lock, cloud/db.READ_ONLY), and a summary is the sum of those same rows grouped by one
column, so every figure in a summary equals the sum of the rows it stands for (the tests check
that on both engines). Exports (services/report_export.py) write either the rows or the
summary, streamed too.

Reports and what they count (times and days in the site's time zone, money in fen):

- sales: one row per order item of an order paid in the range; quantity and amount_fen;
  by day, hour, product, price_type, channel (web, window...) or provider (wechat, cash...).
- entries: one row per passage into the park (dir in) at a gate; by day, hour, gate, zone,
  product, price_type, channel (where the ticket was sold).
- refunds: one row per refund or date change made in the range (kind refund|change);
  tickets, amount_fen, fee_fen; by day, kind, provider, status.
- shifts: one row per cashier shift opened in the range; float, cash in and out, expected,
  counted and the difference (长短款); by day, cashier, shift.
- capacity: one row per inventory row (a day or a time slot) in the range; capacity and taken,
  with the warning (预警) and stop (限流) states; by day, product, slot.
- in_park: one row per passage in or out, with the day's running in-park count after it;
  ``in_park_curve`` gives the count at the end of each hour.

An entry's product and price type are those of the ticket its gate's use names (the passage
event names the use, the use names the ticket). Sales are gross: what was paid, counted on
the day it was paid; refunds are their own report, on the day they were made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Result, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.db import READ_ONLY
from cloud.models import (
    CashierShift,
    Device,
    GateEventRecord,
    Inventory,
    Order,
    OrderItem,
    Payment,
    Product,
    Refund,
    Site,
    Ticket,
    User,
)
from cloud.models.base import as_utc
from cloud.services.date_range import check_range, instants

CHUNK = 2000  # rows fetched per round trip (yield_per): memory stays flat over any range
PAID_STATES = ("paid", "refunded", "partially_refunded")

Row = dict[str, Any]


@dataclass(frozen=True)
class Scope:
    """What a report covers: a site and a range of its days, with its time zone."""

    site: str
    start: date
    end: date
    tz: ZoneInfo

    @cached_property
    def begin(self) -> datetime:
        return instants(self.start, self.end, self.tz)[0]

    @cached_property
    def finish(self) -> datetime:
        return instants(self.start, self.end, self.tz)[1]

    def local(self, when: datetime) -> datetime:
        return as_utc(when).astimezone(self.tz)


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[str, ...]  # of every row, in export order
    measures: tuple[str, ...]  # the columns a summary adds up
    by: tuple[str, ...]  # the columns a summary may group by
    rows: Callable[[Session, Scope], Iterator[Row]]


def scope(db: Session, site: str, start: date, end: date) -> Scope:
    """The site's range (404 for an unknown site, 422 ``bad_range``)."""
    check_range(start, end)
    place = db.get(Site, site)
    if place is None:
        raise not_found(Thing.SITE)
    return Scope(site, start, end, ZoneInfo(place.timezone))


def report(name: str, by: str | None = None) -> Report:
    """The report called ``name``; 422 ``bad_report`` if there is none, or it cannot be
    grouped ``by`` that column."""
    found = REPORTS.get(name)
    if found is None or (by is not None and by not in found.by):
        raise Problem(
            Code.BAD_REPORT,
            report=name,
            by=by or "-",
            reports="; ".join(f"{r.name} by {'|'.join(r.by)}" for r in REPORTS.values()),
        )
    return found


def stream(sessions: sessionmaker[Session], name: str, where: Scope) -> Iterator[Row]:
    """Every row of a report, read in chunks in a transaction of its own that only reads (on
    SQLite it takes no write lock: sales go on while a year is exported)."""
    rows = report(name).rows
    with sessions() as db:
        db.connection(execution_options={READ_ONLY: True})
        yield from rows(db, where)


def summarise(rows: Iterator[Row], found: Report, by: str) -> dict[str, Any]:
    """The rows' measures added up per value of ``by`` (sorted), and in total. For in_park the
    running count is the sum of entries less exits up to the end of each group, per day."""
    groups: dict[Any, dict[str, int]] = {}
    total = dict.fromkeys(found.measures, 0)
    for row in rows:
        group = groups.setdefault(row[by], dict.fromkeys(found.measures, 0))
        for measure in found.measures:
            value = row[measure] or 0
            group[measure] += value
            total[measure] += value
    ordered = sorted(groups.items(), key=lambda item: (item[0] is None, str(item[0])))
    return {
        "report": found.name,
        "by": by,
        "measures": list(found.measures),
        "rows": [{by: key, **values} for key, values in ordered],
        "total": total,
    }


# --- the reports ---------------------------------------------------------------------------


def _sales(connection: Session, where: Scope) -> Iterator[Row]:
    provider = (
        select(Payment.provider)
        .where(Payment.order_id == Order.id, Payment.status != "held")
        .order_by(Payment.id)
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        select(
            Order.order_no,
            Order.paid_at,
            Order.channel,
            provider.label("provider"),
            Product.code,
            OrderItem.price_type,
            OrderItem.quantity,
            OrderItem.unit_fen,
        )
        .join(OrderItem, OrderItem.order_id == Order.id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(
            Order.site == where.site,
            Order.status.in_(PAID_STATES),
            Order.paid_at >= where.begin,
            Order.paid_at < where.finish,
        )
        .order_by(Order.paid_at, Order.id, OrderItem.id)
    )
    for order_no, paid_at, channel, pay, product, price_type, quantity, unit in _read(
        connection, statement
    ):
        local = where.local(paid_at)
        yield {
            "at": local.isoformat(timespec="seconds"),
            "day": local.date().isoformat(),
            "hour": local.hour,
            "order_no": order_no,
            "channel": channel,
            "provider": pay,
            "product": product,
            "price_type": price_type,
            "quantity": quantity,
            "amount_fen": quantity * unit,
        }


def _entries(connection: Session, where: Scope) -> Iterator[Row]:
    """Passages in, each with the product and price type of the ticket its use named. Uses up
    to a day before the range are read too, for a passage just after midnight."""
    tickets = _ticket_index(connection, where)
    zones = {
        node: zone
        for node, zone in connection.execute(
            select(Device.node, Device.zone).where(Device.site == where.site)
        )
    }
    data = GateEventRecord.data
    statement = (
        select(
            GateEventRecord.node,
            GateEventRecord.kind,
            GateEventRecord.at,
            data["use"].as_integer(),
            data["ticket"].as_string(),
            data["dir"].as_string(),
        )
        .where(
            GateEventRecord.site == where.site,
            GateEventRecord.kind.in_(("use", "passage")),
            GateEventRecord.at >= where.begin - timedelta(days=1),
            GateEventRecord.at < where.finish,
        )
        .order_by(GateEventRecord.node, GateEventRecord.seq)
    )  # the JSON fields are read by the database (json_extract, ->>), not decoded here
    node_uses: dict[int, str] = {}
    current = None
    begin = where.begin
    for node, kind, at, use, ticket, direction in _read(connection, statement):
        if node != current:
            current, node_uses = node, {}
        if kind == "use":
            node_uses[use] = ticket or ""
            continue
        if (direction or "in") != "in":
            continue
        at = as_utc(at)
        if at < begin:
            continue
        product, price_type, channel = tickets.get(node_uses.get(use, ""), (None, None, None))
        local = at.astimezone(where.tz)
        yield {
            "at": local.isoformat(timespec="seconds"),
            "day": local.date().isoformat(),
            "hour": local.hour,
            "gate": node,
            "zone": zones.get(node),
            "product": product,
            "price_type": price_type,
            "channel": channel,
            "entries": 1,
        }


def _ticket_index(connection: Session, where: Scope) -> dict[str, tuple[str, str, str]]:
    """Ticket number -> (product code, price type, sales channel) for tickets valid during the
    range: what an entry needs (about 60 bytes a ticket: 3 MB for a 50,000-ticket day)."""
    statement = (
        select(Ticket.ticket_id, Product.code, OrderItem.price_type, Order.channel)
        .join(Product, Product.id == Ticket.product_id)
        .join(OrderItem, OrderItem.id == Ticket.item_id)
        .join(Order, Order.id == Ticket.order_id)
        .where(
            Product.site == where.site,
            Ticket.valid_from <= where.end,
            Ticket.valid_until >= where.start - timedelta(days=1),
        )
    )
    return {
        raw.hex().upper(): (code, price_type, channel)
        for raw, code, price_type, channel in _read(connection, statement)
    }


def _refunds(connection: Session, where: Scope) -> Iterator[Row]:
    statement = (
        select(Refund, Order.order_no, Payment.provider)
        .join(Order, Order.id == Refund.order_id)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Order.site == where.site,
            Refund.created_at >= where.begin,
            Refund.created_at < where.finish,
        )
        .order_by(Refund.created_at, Refund.id)
    )
    for refund, order_no, provider in _read(connection, statement):
        local = where.local(refund.created_at)
        yield {
            "at": local.isoformat(timespec="seconds"),
            "day": local.date().isoformat(),
            "order_no": order_no,
            "kind": refund.reason,  # refund | change
            "provider": provider,
            "status": refund.status,
            "actor": refund.actor,
            "tickets": len(refund.tickets),
            "amount_fen": refund.amount_fen,
            "fee_fen": refund.fee_fen,
        }


def _shifts(connection: Session, where: Scope) -> Iterator[Row]:
    """Cashier shifts opened in the range (shifts belong to no site: every till is listed)."""
    statement = (
        select(CashierShift, User.username)
        .join(User, User.id == CashierShift.user_id)
        .where(CashierShift.opened_at >= where.begin, CashierShift.opened_at < where.finish)
        .order_by(CashierShift.opened_at, CashierShift.id)
    )
    for shift, username in _read(connection, statement):
        local = where.local(shift.opened_at)
        closed = shift.closed_at is not None and shift.counted_fen is not None
        yield {
            "shift": shift.id,
            "cashier": username,
            "day": local.date().isoformat(),
            "opened_at": local.isoformat(timespec="seconds"),
            "closed_at": where.local(shift.closed_at).isoformat(timespec="seconds")
            if shift.closed_at
            else None,
            "float_fen": shift.opening_float_fen,
            "cash_in_fen": shift.cash_in_fen,
            "cash_out_fen": shift.cash_out_fen,
            "expected_fen": shift.expected_fen,
            "counted_fen": shift.counted_fen,
            # 长短款: over (+) or short (-) at the counted close; none while open
            "difference_fen": (shift.counted_fen or 0) - shift.expected_fen if closed else None,
        }


def _capacity(connection: Session, where: Scope) -> Iterator[Row]:
    statement = (
        select(Inventory, Product.code)
        .join(Product, Product.id == Inventory.product_id)
        .where(Product.site == where.site, Inventory.day >= where.start, Inventory.day <= where.end)
        .order_by(Inventory.day, Product.code, Inventory.slot_start)
    )
    for stock, code in _read(connection, statement):
        described = stock.describe()
        yield {
            "day": stock.day.isoformat(),
            "product": code,
            "slot": _slot(stock),
            "capacity": stock.capacity,
            "taken": stock.taken,
            "use_percent": round(stock.taken * 100 / stock.capacity, 1) if stock.capacity else 0,
            "warning": described["warning"],  # 预警
            "stopped": described["stopped"],  # 限流
        }


def _in_park(connection: Session, where: Scope) -> Iterator[Row]:
    """Every passage in time order with the running in-park count of its day after it."""
    statement = (
        select(GateEventRecord.node, GateEventRecord.at, GateEventRecord.data["dir"].as_string())
        .where(
            GateEventRecord.site == where.site,
            GateEventRecord.kind == "passage",
            GateEventRecord.at >= where.begin,
            GateEventRecord.at < where.finish,
        )
        .order_by(GateEventRecord.at, GateEventRecord.id)
    )
    day, running = "", 0
    for node, at, direction in _read(connection, statement):
        local = where.local(at)
        if local.date().isoformat() != day:
            day, running = local.date().isoformat(), 0
        entering = (direction or "in") == "in"
        running += 1 if entering else -1
        yield {
            "at": local.isoformat(timespec="seconds"),
            "day": day,
            "hour": local.hour,
            "gate": node,
            "entries": int(entering),
            "exits": int(not entering),
            "in_park": running,
        }


def in_park_curve(rows: Iterator[Row]) -> list[Row]:
    """The in-park count at the end of each hour that had passages, per day: the running
    count of the hour's last passage (a summary's ``in_park`` would add the counts up)."""
    curve: dict[tuple[str, int], Row] = {}
    for row in rows:
        point = curve.setdefault(
            (row["day"], row["hour"]),
            {"day": row["day"], "hour": row["hour"], "entries": 0, "exits": 0},
        )
        point["entries"] += row["entries"]
        point["exits"] += row["exits"]
        point["in_park"] = row["in_park"]
    return list(curve.values())


def _slot(stock: Inventory) -> str:
    if not stock.has_slot:
        return "day"
    return f"{stock.slot_start // 60:02d}:{stock.slot_start % 60:02d}-" + (
        f"{stock.slot_end // 60:02d}:{stock.slot_end % 60:02d}"
    )


def _read(connection: Session, statement: Any) -> Iterator[Any]:
    """Rows in chunks (a server-side cursor on PostgreSQL), never the whole result at once.
    A statement of plain columns runs on the session's connection, past the ORM's row
    handling, which took about a third of the entries report (profiled, 50,000 entries)."""
    plain = not any(isinstance(d["type"], type) for d in statement.column_descriptions)
    result: Result[Any]
    if plain:
        result = connection.connection().execute(statement, execution_options={"yield_per": CHUNK})
    else:
        result = connection.execute(statement.execution_options(yield_per=CHUNK))
    for partition in result.partitions():
        yield from partition


REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "sales",
            (
                "at", "day", "hour", "order_no", "channel", "provider", "product",
                "price_type", "quantity", "amount_fen",
            ),
            ("quantity", "amount_fen"),
            ("day", "hour", "product", "price_type", "channel", "provider"),
            _sales,
        ),
        Report(
            "entries",
            ("at", "day", "hour", "gate", "zone", "product", "price_type", "channel", "entries"),
            ("entries",),
            ("day", "hour", "gate", "zone", "product", "price_type", "channel"),
            _entries,
        ),
        Report(
            "refunds",
            (
                "at", "day", "order_no", "kind", "provider", "status", "actor", "tickets",
                "amount_fen", "fee_fen",
            ),
            ("tickets", "amount_fen", "fee_fen"),
            ("day", "kind", "provider", "status"),
            _refunds,
        ),
        Report(
            "shifts",
            (
                "shift", "cashier", "day", "opened_at", "closed_at", "float_fen", "cash_in_fen",
                "cash_out_fen", "expected_fen", "counted_fen", "difference_fen",
            ),
            (
                "float_fen", "cash_in_fen", "cash_out_fen", "expected_fen", "counted_fen",
                "difference_fen",
            ),
            ("day", "cashier", "shift"),
            _shifts,
        ),
        Report(
            "capacity",
            ("day", "product", "slot", "capacity", "taken", "use_percent", "warning", "stopped"),
            ("capacity", "taken"),
            ("day", "product", "slot"),
            _capacity,
        ),
        Report(
            "in_park",
            ("at", "day", "hour", "gate", "entries", "exits", "in_park"),
            ("entries", "exits"),
            ("hour", "day", "gate"),
            _in_park,
        ),
    )
}  # fmt: skip
