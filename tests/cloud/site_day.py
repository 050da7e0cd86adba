"""A day at a site made through the real services: orders paid in the sandbox, tickets used at
gates and ingested as signed events, a refund, a date change, a cashier's shift. The report,
search and backup tests look at the same day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select

from cloud.models import Device, Order, Ticket, User
from cloud.services.ingest import Ingest
from cloud.services.orders import LineRequest
from cloud.services.payments.cash import cash_notification, close_shift, open_shift
from cloud.services.payments.settle import apply_payment
from cloud.services.refunds import refund_tickets
from keys import keystore
from keys.gate_event import sign_event
from tests.cloud.conftest import SITE_TZ, Office, now, place_order

GATES = {"G1": 1, "G2": 2}  # node -> zone


@dataclass
class Day:
    orders: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    seq: dict[str, int] = field(default_factory=dict)
    shift_id: int = 0


def pay(office: Office, order_no: str, amount: int) -> None:
    headers, body = office.sandbox.simulate_payment(order_no, amount, None)
    note = office.sandbox.verify_notification(headers, body)
    with office.sessions.begin() as session:
        apply_payment(session, note, office.issuer, now())


def sell(office: Office, *lines: LineRequest, contact: str | None = None) -> str:
    made = place_order(office, *lines, contact=contact)
    pay(office, made.order_no, made.total_fen)
    return str(made.order_no)


def tickets_of(office: Office, order_no: str) -> list[str]:
    with office.sessions() as session:
        order = session.scalar(select(Order).where(Order.order_no == order_no))
        assert order is not None
        found = session.scalars(select(Ticket).where(Ticket.order_id == order.id))
        return [t.ticket_id.hex().upper() for t in found]


def gates(office: Office) -> tuple[Ingest, keystore.SigningKey]:
    """Two registered gates (G1 in zone 1, G2 in zone 2) sharing one node key, and an ingest."""
    key = keystore.generate("node", "N1")
    with office.sessions.begin() as session:
        for node, zone in GATES.items():
            session.add(
                Device(
                    site="S1", node=node, zone=zone, public_key=keystore.raw_public(key.public_key)
                )
            )
    engine = office.sessions.kw["bind"]
    return Ingest(engine, office.sessions, "Asia/Shanghai"), key


def walk(
    ingest: Ingest,
    key: keystore.SigningKey,
    day: Day,
    node: str,
    ticket: str,
    at: datetime,
    *,
    people: int = 1,
    direction: str = "in",
) -> None:
    """A use of ``ticket`` at ``node`` and ``people`` passages, as the gate reports them."""
    first = day.seq.get(node, 0) + 1  # the node's next event sequence number
    use = first  # the use's number, which its passages name
    events = [("use", {"use": use, "ticket": bytes.fromhex(ticket), "dir": direction,
                       "granted": people, "allowed": people})]  # fmt: skip
    events += [("passage", {"use": use, "dir": direction})] * people
    messages = [
        (
            f"scenic/S1/gate/{node}/event",
            sign_event(
                key,
                site="S1",
                node=node,
                seq=first + offset,
                kind=kind,
                at_ms=int(at.timestamp() * 1000) + offset,
                data=data,
            ),
        )
        for offset, (kind, data) in enumerate(events)
    ]
    day.seq[node] = first + len(events) - 1
    result = ingest.process(messages)
    assert result.stored == len(events), result


def visit_time(office: Office, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(office.day, time(hour, minute), SITE_TZ)


def make_day(office: Office) -> Day:
    """Four paid orders (adult and child, one with a contact phone, one refunded), entries at
    both gates over three hours (one exit), a refund of one ticket and a counted cash shift
    100 fen short."""
    day = Day()
    day_line = office.day_ticket
    day.orders.append(sell(office, LineRequest(day_line, "adult", 2), contact="13800000001"))
    day.orders.append(sell(office, LineRequest(day_line, "child", 1)))
    day.orders.append(sell(office, LineRequest(office.timed_9, "adult", 3)))
    day.orders.append(
        sell(office, LineRequest(day_line, "adult", 1), LineRequest(day_line, "child", 2))
    )
    for order_no in day.orders:
        day.tickets += tickets_of(office, order_no)
    ingest, key = gates(office)
    plan = [("G1", 9), ("G1", 9), ("G2", 10), ("G2", 10), ("G1", 11), ("G2", 11)]
    for (node, hour), ticket in zip(plan, day.tickets, strict=False):
        walk(ingest, key, day, node, ticket, visit_time(office, hour, 5))
    walk(ingest, key, day, "G2", day.tickets[0], visit_time(office, 12), direction="out")
    with office.sessions.begin() as session:
        refund_tickets(
            session,
            order_no=day.orders[3],
            ticket_numbers=None,
            providers=office.providers,
            root=office.root,
            actor="till1",
            source="10.0.0.5",
            now=now() + timedelta(minutes=5),
        )
    with office.sessions.begin() as session:
        user = User(username="till9", password_hash="x", role="cashier")
        session.add(user)
        session.flush()
        shift = open_shift(session, user.id, 50_000, now())
        day.shift_id = shift.id
    made = place_order(office, LineRequest(day_line, "adult", 1))
    with office.sessions.begin() as session:
        shift = session.get(type(shift), day.shift_id)
        order = session.scalar(select(Order).where(Order.order_no == made.order_no))
        assert shift is not None and order is not None
        apply_payment(
            session, cash_notification(order, shift, 10_000), office.issuer, now(), shift=shift
        )
        close_shift(session, shift, 50_000 + made.total_fen - 100, "till9", "10.0.0.6", now())
    day.orders.append(made.order_no)
    return day
