"""The dashboard's figures for one site and one instant: what needs attention, who is in the
park, gates, sales, slots, and the day's curves. Read-only; one transaction gives one snapshot.

Never: keep a running total of its own. Every figure is counted from the rows it sums (gate
events, orders, refunds, inventory, tickets, alarms) in the same transaction, so a figure
always equals the sum of its parts (tests/cloud/test_dashboard_figures.py checks it on both
engines) and nothing drifts when an event is replayed or a worker restarts.

Definitions (what a manager reads on the page):
- *in the park* (在园人数): today's entry passages minus exit passages at every gate of the site
  (never below 0); per zone, the same over the gates of that zone;
- *entries per minute* per gate: entry passages in the last ``RATE_WINDOW`` minutes ÷ 5;
- *sales today*: order lines of orders paid today (site day), by sales channel and product, at
  what they were sold for; *refunds today*: refunds recorded today, whatever their state;
- *slot*: today's inventory rows; *booked*: people on valid tickets of that row; *arrived*: the
  people of those tickets who went in through a gate today: per ticket, its entry passages
  today (each passage names its gate's use, the use names the ticket), at most the ticket's
  people. A use alone is no arrival: nobody may have pushed the arm (the gate rolls it back),
  or only part of a group went through;
- a gate is *missing* when nothing (event or heartbeat) has arrived from it for
  ``MISSING_AFTER`` (45 s: gates send a heartbeat every 20 s, so two lost heartbeats and some
  margin; it shows within the 60 s a manager was promised), *offline* when the broker delivered
  its will after its last event;
- times are the site's (``sites.timezone``); curves in ``BUCKET`` (15 min) steps: every time
  zone's offset is a multiple of 15 minutes, so buckets counted in UTC fall on local quarters.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cloud.models import (
    Alarm,
    CashierShift,
    Device,
    GateEventRecord,
    Inventory,
    NodeLink,
    Order,
    OrderItem,
    Payment,
    Product,
    Refund,
    Site,
    Ticket,
    Zone,
)
from cloud.models.base import as_utc
from cloud.services.dashboard_forecast import Forecast, SlotOutlook, forecast
from keys.rules import SlotGrace

MISSING_AFTER = timedelta(seconds=45)
RATE_WINDOW = 5  # minutes
BUCKET = 900  # seconds: 15 minutes
ALARMS_SHOWN = 20
HEARTBEAT_WINDOW = 2000  # events: 20 s of heartbeat at 100 events a second


@dataclass(frozen=True)
class GateFigure:
    node: str
    kind: str
    zone: int
    state: str  # online | missing | offline | never
    last_kind: str | None
    last_at: datetime | None  # when the gate says it happened (UTC)
    last_received: datetime | None  # when the cloud got it (UTC): what liveness is judged on
    outbox: int | None  # events waiting at the gate, from its last heartbeat
    software: str | None
    entries_per_min: float


@dataclass(frozen=True)
class SlotFigure:
    inventory_id: int
    product_zh: str
    product_en: str
    slot_start: int | None  # minutes of the site day; None: a whole-day product
    slot_end: int | None
    capacity: int
    taken: int
    booked: int
    arrived: int
    warn_percent: int
    warning: bool  # 预警
    stopped: bool  # 限流


@dataclass(frozen=True)
class AlarmFigure:
    id: int
    node: str
    alarm: str
    at: datetime
    status: str
    acked_by: str | None
    acked_at: datetime | None
    note: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Attention:
    open_alarms: int
    gates_missing: int
    slots_warning: int
    slots_stopped: int
    payments_flagged: int
    cash_differences: int
    cash_difference_fen: int
    refunds_waiting: int

    @property
    def total(self) -> int:
        return (
            self.open_alarms
            + self.gates_missing
            + self.slots_warning
            + self.payments_flagged
            + self.cash_differences
            + self.refunds_waiting
        )


@dataclass
class Snapshot:
    site: str
    name_zh: str
    name_en: str
    timezone: ZoneInfo
    now: datetime  # UTC
    day: date
    attention: Attention
    entries: int
    exits: int
    zones: list[tuple[int, str, str, int]]  # zone, zh, en, in park
    gates: list[GateFigure]
    sales_fen: int
    tickets_sold: int
    sales_by_channel: dict[str, int]  # fen
    sales_by_product: list[tuple[str, str, int, int]]  # zh, en, quantity, fen
    refunds_count: int
    refunds_fen: int
    slots: list[SlotFigure]
    alarms: list[AlarmFigure]
    entries_by_bucket: list[int]  # per 15 minutes of the site day (96)
    exits_by_bucket: list[int]
    outlook: Forecast
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def in_park(self) -> int:
        return max(0, self.entries - self.exits)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.timezone)

    def in_park_curve(self) -> list[int]:
        """In the park at the end of each 15-minute bucket so far."""
        level, curve = 0, []
        last = self.minute_now // 15
        for i in range(min(last + 1, 96)):
            level = max(0, level + self.entries_by_bucket[i] - self.exits_by_bucket[i])
            curve.append(level)
        return curve

    @property
    def minute_now(self) -> int:
        local = self.local_now
        return local.hour * 60 + local.minute

    def peak_arrival(self) -> tuple[int, int] | None:
        """The 15 minutes with the most entries today: (minute of day, entries)."""
        best = max(range(96), key=lambda i: (self.entries_by_bucket[i], -i))
        count = self.entries_by_bucket[best]
        return (best * 15, count) if count else None

    def entries_by_hour(self) -> list[int]:
        return [sum(self.entries_by_bucket[h * 4 : h * 4 + 4]) for h in range(24)]


def site_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Site.code).order_by(Site.code)))


def snapshot(session: Session, site: str, now: datetime) -> Snapshot:
    """Every figure of the dashboard for ``site`` as of ``now`` (UTC), read in ``session``."""
    row = session.get(Site, site)
    zone = ZoneInfo(row.timezone if row else "Asia/Shanghai")
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(), zone).astimezone(now.tzinfo)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(now.tzinfo)
    devices = list(
        session.scalars(
            select(Device)
            .where(Device.site == site, Device.status == "active")
            .order_by(Device.node)
        )
    )
    passages = _passages(session, site, start, end)
    entries_b, exits_b = [0] * 96, [0] * 96
    per_node: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for bucket_start, node, direction, count in passages:
        # the quarter of the site's wall clock, as minute_now reads it (on a day a clock is
        # put back, two real quarters share one; put forward, one stays empty)
        local = bucket_start.astimezone(zone)
        index = min(95, (local.hour * 60 + local.minute) // 15)
        if direction == "out":
            exits_b[index] += count
            per_node[node][1] += count
        else:
            entries_b[index] += count
            per_node[node][0] += count
    gates = _gates(session, site, devices, now)
    slots = _slots(session, site, day, start, end)
    sales = _sales(session, site, start, end)
    refunds_count, refunds_fen = _refunds_today(session, site, start, end)
    attention = _attention(session, site, gates, slots, start, end)
    local_now = now.astimezone(zone)
    snap = Snapshot(
        site=site,
        name_zh=row.name_zh if row else site,
        name_en=row.name_en if row else site,
        timezone=zone,
        now=now,
        day=day,
        attention=attention,
        entries=sum(entries_b),
        exits=sum(exits_b),
        zones=_zones(session, site, devices, per_node),
        gates=gates,
        sales_fen=sum(fen for _, _, _, fen in sales[1]),
        tickets_sold=sum(q for _, _, q, _ in sales[1]),
        sales_by_channel=sales[0],
        sales_by_product=sales[1],
        refunds_count=refunds_count,
        refunds_fen=refunds_fen,
        slots=slots,
        alarms=_alarms(session, site),
        entries_by_bucket=entries_b,
        exits_by_bucket=exits_b,
        outlook=Forecast.empty(),
    )
    snap.outlook = forecast(
        minute_now=local_now.hour * 60 + local_now.minute,
        curve=snap.in_park_curve(),
        entries=snap.entries,
        exits=snap.exits,
        slots=[
            SlotOutlook(s.slot_start, s.slot_end, s.booked, s.arrived) for s in slots if s.booked
        ],
        grace=SlotGrace(),
    )
    return snap


def _bucket(session: Session, column: Any) -> ColumnElement[int]:
    """The ``BUCKET`` a stored UTC time falls in, counted from 1970: whole seconds since then,
    floored, divided by ``BUCKET`` as integers. (It was the epoch cast to an integer and then
    divided: SQLAlchemy 2's ``/`` is true division, so every distinct second was its own group,
    and PostgreSQL's cast rounds, so a passage at 10:14:59.6 counted in the 10:15 quarter.)"""
    if session.get_bind().dialect.name == "sqlite":  # the time is text; %s truncates
        return cast(func.strftime("%s", column), Integer).op("/")(BUCKET)
    return cast(func.floor(func.extract("epoch", column) / BUCKET), BigInteger)


def _ticket_hex(session: Session, column: Any) -> ColumnElement[str]:
    """A ticket id as the upper-case hex that gate events carry (cloud/services/ingest.py)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.hex(column)
    return func.upper(func.encode(column, "hex"))


def _passages(
    session: Session, site: str, start: datetime, end: datetime
) -> list[tuple[datetime, str, str, int]]:
    """(bucket start, node, direction, passages) for the day, counted in the database."""
    bucket = _bucket(session, GateEventRecord.at).label("bucket")
    direction = func.coalesce(GateEventRecord.data["dir"].as_string(), "in").label("dir")
    rows = session.execute(
        select(bucket, GateEventRecord.node, direction, func.count())
        .where(
            GateEventRecord.site == site,
            GateEventRecord.kind == "passage",
            GateEventRecord.at >= start,
            GateEventRecord.at < end,
        )
        .group_by(bucket, GateEventRecord.node, direction)
    )
    epoch0 = datetime.fromtimestamp(0, start.tzinfo)
    return [
        (epoch0 + timedelta(seconds=int(b) * BUCKET), node, d, int(n)) for b, node, d, n in rows
    ]


def _gates(session: Session, site: str, devices: list[Device], now: datetime) -> list[GateFigure]:
    since = now - timedelta(minutes=RATE_WINDOW)
    recent = dict(
        session.execute(
            select(GateEventRecord.node, func.count())
            .where(
                GateEventRecord.site == site,
                GateEventRecord.kind == "passage",
                GateEventRecord.at >= since,
                GateEventRecord.at <= now,
                func.coalesce(GateEventRecord.data["dir"].as_string(), "in") == "in",
            )
            .group_by(GateEventRecord.node)
        ).all()
    )
    links = {
        link.node: link for link in session.scalars(select(NodeLink).where(NodeLink.site == site))
    }
    figures = []
    for device in devices:
        last = session.scalar(
            select(GateEventRecord)
            .where(GateEventRecord.site == site, GateEventRecord.node == device.node)
            .order_by(GateEventRecord.seq.desc())
            .limit(1)
        )
        # The latest heartbeat among the node's last HEARTBEAT_WINDOW events: a bounded walk
        # down the (site, node, seq) index rather than every heartbeat the node ever sent.
        beat = session.scalar(
            select(GateEventRecord)
            .where(
                GateEventRecord.site == site,
                GateEventRecord.node == device.node,
                GateEventRecord.seq > (last.seq if last else 0) - HEARTBEAT_WINDOW,
                GateEventRecord.kind == "heartbeat",
            )
            .order_by(GateEventRecord.seq.desc())
            .limit(1)
        )
        received = as_utc(last.received_at) if last else None
        link = links.get(device.node)
        if received is None:
            state = "never"
        elif link is not None and link.state == "offline" and as_utc(link.changed_at) >= received:
            state = "offline"
        elif now - received > MISSING_AFTER:
            state = "missing"
        else:
            state = "online"
        data = beat.data if beat else {}
        outbox = data.get("outbox")
        software = data.get("software")
        figures.append(
            GateFigure(
                node=device.node,
                kind=device.kind,
                zone=device.zone,
                state=state,
                last_kind=last.kind if last else None,
                last_at=as_utc(last.at) if last else None,
                last_received=received,
                outbox=outbox if isinstance(outbox, int) else None,
                software=str(software)[:32] if software is not None else None,
                entries_per_min=int(recent.get(device.node, 0)) / RATE_WINDOW,
            )
        )
    return figures


def _zones(
    session: Session, site: str, devices: list[Device], per_node: dict[str, list[int]]
) -> list[tuple[int, str, str, int]]:
    names = {
        z.zone: (z.name_zh, z.name_en)
        for z in session.scalars(select(Zone).where(Zone.site == site))
    }
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for device in devices:
        entries, exits = per_node.get(device.node, [0, 0])
        totals[device.zone][0] += entries
        totals[device.zone][1] += exits
    return [
        (zone, *names.get(zone, (f"{zone}区", f"Zone {zone}")), max(0, e - x))
        for zone, (e, x) in sorted(totals.items())
    ]


def _slots(
    session: Session, site: str, day: date, start: datetime, end: datetime
) -> list[SlotFigure]:
    rows = session.execute(
        select(Inventory, Product)
        .join(Product, Product.id == Inventory.product_id)
        .where(Product.site == site, Inventory.day == day)
        .order_by(Inventory.slot_start, Product.code)
    ).all()
    ids = [inventory.id for inventory, _ in rows]
    booked: dict[int, int] = {}
    arrived: dict[int, int] = {}
    if ids:
        booked = {
            int(i): int(n)
            for i, n in session.execute(
                select(Ticket.inventory_id, func.sum(Ticket.people))
                .where(Ticket.inventory_id.in_(ids), Ticket.status == "valid")
                .group_by(Ticket.inventory_id)
            )
        }
        passed = _passed_by_ticket(session, site, start, end)
        arrived = {
            int(i): int(n)
            for i, n in session.execute(
                select(
                    Ticket.inventory_id,
                    func.sum(
                        case(
                            (Ticket.people < passed.c.passages, Ticket.people),
                            else_=passed.c.passages,
                        )
                    ),
                )
                .join(passed, passed.c.ticket == _ticket_hex(session, Ticket.ticket_id))
                .where(Ticket.inventory_id.in_(ids), Ticket.status == "valid")
                .group_by(Ticket.inventory_id)
            )
        }
    figures = []
    for inventory, product in rows:
        described = inventory.describe()
        figures.append(
            SlotFigure(
                inventory_id=inventory.id,
                product_zh=product.name_zh,
                product_en=product.name_en,
                slot_start=inventory.slot_start if inventory.has_slot else None,
                slot_end=inventory.slot_end if inventory.has_slot else None,
                capacity=inventory.capacity,
                taken=inventory.taken,
                booked=booked.get(inventory.id, 0),
                arrived=arrived.get(inventory.id, 0),
                warn_percent=inventory.warn_percent,
                warning=bool(described["warning"]),
                stopped=bool(described["stopped"]),
            )
        )
    return figures


def _passed_by_ticket(session: Session, site: str, start: datetime, end: datetime) -> Any:
    """(ticket hex, passages in today) for each ticket whose use let someone in today: a
    passage names its gate's use by number (``data.use``), the use names the ticket. Uses up to
    a day back count, for a passage just after midnight. Both sides are grouped subqueries:
    SQLite then materialises them and joins through an automatic index (flattened into one
    join, it walked every use of the day again for each passage: minutes for 50,000)."""
    data = GateEventRecord.data
    uses = (
        select(
            GateEventRecord.node,
            data["use"].as_integer().label("use"),
            data["ticket"].as_string().label("ticket"),
        )
        .where(
            GateEventRecord.site == site,
            GateEventRecord.kind == "use",
            GateEventRecord.at >= start - timedelta(days=1),
            GateEventRecord.at < end,
        )
        .group_by(GateEventRecord.node, "use", "ticket")
        .subquery()
    )
    passages = (
        select(
            GateEventRecord.node,
            data["use"].as_integer().label("use"),
            func.count().label("passages"),
        )
        .where(
            GateEventRecord.site == site,
            GateEventRecord.kind == "passage",
            GateEventRecord.at >= start,
            GateEventRecord.at < end,
            func.coalesce(data["dir"].as_string(), "in") == "in",
        )
        .group_by(GateEventRecord.node, "use")
        .subquery()
    )
    return (
        select(uses.c.ticket, func.sum(passages.c.passages).label("passages"))
        .select_from(passages)
        .join(uses, and_(uses.c.node == passages.c.node, uses.c.use == passages.c.use))
        .group_by(uses.c.ticket)
        .subquery()
    )


def _sales(
    session: Session, site: str, start: datetime, end: datetime
) -> tuple[dict[str, int], list[tuple[str, str, int, int]]]:
    rows = session.execute(
        select(
            Order.channel,
            Product.code,
            Product.name_zh,
            Product.name_en,
            func.sum(OrderItem.quantity),
            func.sum(OrderItem.quantity * OrderItem.unit_fen),
        )
        .join(OrderItem, OrderItem.order_id == Order.id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(Order.site == site, Order.paid_at >= start, Order.paid_at < end)
        .group_by(Order.channel, Product.code, Product.name_zh, Product.name_en)
    ).all()
    by_channel: dict[str, int] = defaultdict(int)
    by_product: dict[str, list[Any]] = {}
    for channel, code, zh, en, quantity, fen in rows:
        by_channel[channel] += int(fen)
        entry = by_product.setdefault(code, [zh, en, 0, 0])
        entry[2] += int(quantity)
        entry[3] += int(fen)
    products = sorted(
        ((zh, en, q, fen) for zh, en, q, fen in by_product.values()), key=lambda p: -p[3]
    )
    return dict(sorted(by_channel.items(), key=lambda c: -c[1])), products


def _refunds_today(session: Session, site: str, start: datetime, end: datetime) -> tuple[int, int]:
    count, fen = session.execute(
        select(func.count(Refund.id), func.coalesce(func.sum(Refund.amount_fen), 0))
        .join(Order, Order.id == Refund.order_id)
        .where(Order.site == site, Refund.created_at >= start, Refund.created_at < end)
    ).one()
    return int(count), int(fen)


def _attention(
    session: Session,
    site: str,
    gates: list[GateFigure],
    slots: list[SlotFigure],
    start: datetime,
    end: datetime,
) -> Attention:
    open_alarms = session.scalar(
        select(func.count()).select_from(Alarm).where(Alarm.site == site, Alarm.status == "open")
    )
    flagged = session.scalar(
        select(func.count())
        .select_from(Payment)
        .join(Order, Order.id == Payment.order_id)
        .where(Order.site == site, Payment.status == "held")
    )
    waiting = session.scalar(
        select(func.count())
        .select_from(Refund)
        .join(Order, Order.id == Refund.order_id)
        .where(Order.site == site, Refund.status.in_(("pending", "sending")))
    )
    # Shifts have no site: a till belongs to the office, and an office runs one site.
    differences = [
        shift.counted_fen - shift.expected_fen
        for shift in session.scalars(
            select(CashierShift).where(
                and_(CashierShift.closed_at >= start, CashierShift.closed_at < end),
                CashierShift.counted_fen.is_not(None),
            )
        )
        if shift.counted_fen is not None and shift.counted_fen != shift.expected_fen
    ]
    return Attention(
        open_alarms=int(open_alarms or 0),
        gates_missing=sum(1 for g in gates if g.state in ("missing", "offline")),
        slots_warning=sum(1 for s in slots if s.warning and not s.stopped),
        slots_stopped=sum(1 for s in slots if s.stopped),
        payments_flagged=int(flagged or 0),
        cash_differences=len(differences),
        cash_difference_fen=sum(differences),
        refunds_waiting=int(waiting or 0),
    )


def _alarms(session: Session, site: str) -> list[AlarmFigure]:
    """Open alarms first (newest first), then the latest acknowledged ones."""
    rows = list(
        session.scalars(
            select(Alarm)
            .where(Alarm.site == site, Alarm.status == "open")
            .order_by(Alarm.at.desc(), Alarm.id.desc())
            .limit(ALARMS_SHOWN)
        )
    )
    rows += list(
        session.scalars(
            select(Alarm)
            .where(Alarm.site == site, Alarm.status == "acknowledged")
            .order_by(Alarm.acked_at.desc(), Alarm.id.desc())
            .limit(max(0, ALARMS_SHOWN - len(rows)) or 3)
        )
    )
    return [
        AlarmFigure(
            id=a.id,
            node=a.node,
            alarm=a.alarm,
            at=as_utc(a.at),
            status=a.status,
            acked_by=a.acked_by,
            acked_at=as_utc(a.acked_at) if a.acked_at else None,
            note=a.note,
            detail=a.detail or {},
        )
        for a in rows
    ]
