"""A morning at a scenic area, made through the real services: a catalogue with timed slots,
orders sold on several channels and paid in the sandbox, gates registered with their keys, and
signed gate events (uses, passages, heartbeats, an alarm) stored by the real ingest.

Used by the dashboard's tests, bench/dashboard.py and anyone who wants to look at a busy dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.errors import Code, Problem
from cloud.core.security import hash_password
from cloud.models import Device, Inventory, Order, Price, Product, Site, Ticket, User, Zone
from cloud.services.ingest import Ingest
from cloud.services.issuing import Issuer
from cloud.services.orders import LineRequest, create_order
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.payments.settle import apply_payment
from cloud.services.personal_data import PersonalData
from keys import keystore
from keys.clock import ManualClock
from keys.gate_event import sign_event

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 1)
# 11:30 at the site: the morning rush is over, the afternoon slots are still ahead.
MORNING = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
SALT = bytes(range(16))
PASSWORDS = {"boss": "boss-password", "books": "books-password", "till1": "till1-password"}
SLOTS = ((540, 600), (600, 660), (660, 720), (780, 840), (840, 900))  # 09:00 .. 15:00


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=TZ).astimezone(UTC)


@dataclass
class Day:
    sessions: sessionmaker[Session]
    ingest: Ingest
    node_keys: dict[str, keystore.SigningKey]
    clock: ManualClock  # the ingest's: events are received when they happen
    seqs: dict[str, int] = field(default_factory=dict)
    uses: dict[str, int] = field(default_factory=dict)  # per node, as the gate's ledger numbers
    slot_inventory: list[int] = field(default_factory=list)
    day_inventory: int = 0

    def event(self, node: str, kind: str, at: datetime, **data: object) -> tuple[str, bytes]:
        """A signed event from ``node`` (its next sequence number), as the broker carries it."""
        seq = self.seqs[node] = self.seqs.get(node, 0) + 1
        raw = sign_event(
            self.node_keys[node],
            site="S1",
            node=node,
            seq=seq,
            kind=kind,
            at_ms=int(at.timestamp() * 1000),
            data=dict(data),
        )
        return f"scenic/S1/gate/{node}/event", raw

    def enter(self, node: str, ticket: bytes, at: datetime, people: int = 1) -> None:
        """A ticket used at ``node`` and its people through the lane (the real ingest)."""
        use = self.uses[node] = self.uses.get(node, 0) + 1  # the gate ledger's use number
        messages = [self.event(node, "use", at, use=use, ticket=ticket, dir="in", granted=people)]
        messages += [self.event(node, "passage", at, use=use, dir="in") for _ in range(people)]
        self.receive(at, messages)

    def receive(self, at: datetime, messages: list[tuple[str, bytes]]) -> None:
        """The ingest stores ``messages`` at ``at`` (their receiving time)."""
        self.clock.set_wall(at)
        self.ingest.process(messages)

    def leave(self, node: str, at: datetime, people: int = 1) -> None:
        self.receive(at, [self.event(node, "passage", at, use=0, dir="out") for _ in range(people)])

    def tickets(self, inventory_id: int) -> list[tuple[bytes, int]]:
        with self.sessions() as db:
            return [
                (t.ticket_id, t.people)
                for t in db.scalars(
                    select(Ticket).where(Ticket.inventory_id == inventory_id).order_by(Ticket.id)
                )
            ]


def build_day(
    sessions: sessionmaker[Session],
    issuer_key: keystore.SigningKey,
    *,
    orders_per_slot: int = 8,
    now: datetime = MORNING,
) -> Day:
    """The catalogue, staff, gates, sales and the morning's gate events up to ``now``."""
    issuer = Issuer(issuer_key, SALT)
    pd = PersonalData(bytes(32))
    sandbox = SandboxProvider(b"sandbox secret")
    node_keys = {node: keystore.generate("node", node) for node in ("G1", "G2", "G3")}
    with sessions.begin() as db:
        db.add(Site(code="S1", name_zh="云山景区", name_en="Cloud Mountain"))
        db.add(Zone(site="S1", zone=1, name_zh="主景区", name_en="Main area"))
        db.add(Zone(site="S1", zone=2, name_zh="温泉区", name_en="Hot springs"))
        db.flush()
        for name, role in (("boss", "manager"), ("books", "finance"), ("till1", "cashier")):
            db.add(User(username=name, password_hash=hash_password(PASSWORDS[name]), role=role))
        for node, zone in (("G1", 1), ("G2", 1), ("G3", 2)):
            db.add(
                Device(
                    site="S1",
                    node=node,
                    kind="wing" if node != "G3" else "swing",
                    zone=zone,
                    public_key=keystore.raw_public(node_keys[node].public_key),
                )
            )
        timed = Product(
            site="S1",
            code="TIMED",
            name_zh="分时票",
            name_en="Timed entry",
            kind="timed",
            refund_until_hours=-24,  # unused tickets refundable until the day ends
        )
        whole = Product(site="S1", code="DAY", name_zh="日票", name_en="Day ticket", kind="day")
        db.add_all([timed, whole])
        db.flush()
        for product in (timed, whole):
            db.add(Price(product_id=product.id, price_type="adult", amount_fen=12000))
            db.add(Price(product_id=product.id, price_type="child", amount_fen=6000))
        slots = [
            Inventory(
                product_id=timed.id,
                day=DAY,
                slot_start=start,
                slot_end=end,
                capacity=40 if start != 600 else 30,
                warn_percent=80,
            )
            for start, end in SLOTS
        ]
        day_stock = Inventory(product_id=whole.id, day=DAY, capacity=500)
        timed_total = Inventory(product_id=timed.id, day=DAY, capacity=400)  # slots share it
        db.add_all([*slots, day_stock, timed_total])
        db.flush()
        slot_ids, day_id = [s.id for s in slots], day_stock.id
    clock = ManualClock(now)
    ingest = Ingest(sessions.kw["bind"], sessions, "Asia/Shanghai", clock)
    day = Day(sessions, ingest, node_keys, clock, slot_inventory=slot_ids, day_inventory=day_id)
    channels = ("web", "web", "window", "ota")
    sold_at = local(7, 0)
    n = 0
    for index, inventory_id in enumerate([*slot_ids, day_id]):
        count = orders_per_slot + (16 if index == 1 else 0)  # the 10:00 slot sells out
        for k in range(count):
            n += 1
            lines = [LineRequest(inventory_id, "adult", 2)]
            if k % 3 == 0:
                lines.append(LineRequest(inventory_id, "child", 1))
            at = sold_at + timedelta(minutes=n)
            try:
                order_no, total = _order(sessions, pd, lines, channels[n % len(channels)], at)
            except Problem as refusal:  # the 10:00 slot sells out (限流), as popular slots do
                assert refusal.code is Code.SOLD_OUT
                continue
            headers, body = sandbox.simulate_payment(order_no, total)
            note = sandbox.verify_notification(headers, body)
            with sessions.begin() as db:
                apply_payment(db, note, issuer, at)
    _morning(day, now)
    return day


def _order(
    sessions: sessionmaker[Session],
    pd: PersonalData,
    lines: list[LineRequest],
    channel: str,
    at: datetime,
) -> tuple[str, int]:
    with sessions.begin() as db:
        order = create_order(
            db,
            site="S1",
            lines=lines,
            channel=channel,
            contact=None,
            pd=pd,
            holder_salt=SALT,
            now=at,
        )
        return order.order_no, order.total_fen


def _morning(day: Day, now: datetime) -> None:
    """Arrivals through the morning: most 09:00 and 10:00 visitors, some 11:00 ones, a few
    whole-day visitors; exits after about two hours; heartbeats and one alarm."""
    gates = ("G1", "G2", "G3")
    plan = [(day.slot_inventory[0], local(8, 50), 0.8), (day.slot_inventory[1], local(9, 50), 0.9)]
    plan += [(day.slot_inventory[2], local(10, 50), 0.5), (day.day_inventory, local(9, 0), 0.6)]
    i = 0
    for inventory_id, first, share in plan:
        tickets = day.tickets(inventory_id)
        for ticket_id, people in tickets[: int(len(tickets) * share)]:
            at = first + timedelta(minutes=(i * 7) % 55)
            if at >= now:
                continue
            day.enter(gates[i % 3], ticket_id, at, people)
            if at + timedelta(minutes=120) < now:
                day.leave(gates[(i + 1) % 3], at + timedelta(minutes=120), people)
            i += 1
    # G3 fell silent five minutes ago (missing); G2 reported tailgating three minutes ago.
    late = now - timedelta(minutes=5)
    day.receive(late, [day.event("G3", "heartbeat", late, outbox=3, software="0.1.0")])
    alarm = now - timedelta(minutes=3)
    day.receive(alarm, [day.event("G2", "alarm", alarm, alarm="tailgate", arg=1)])
    for k, node in enumerate(("G1", "G2")):
        beat = now - timedelta(seconds=10)
        day.receive(beat, [day.event(node, "heartbeat", beat, outbox=k, software="0.1.0")])
    day.clock.set_wall(now)


def paid_orders(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return len(db.scalars(select(Order).where(Order.status == "paid")).all())
