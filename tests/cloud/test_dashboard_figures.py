"""The dashboard's figures, on SQLite and PostgreSQL: each equals the sum of the rows it counts,
gates go missing on time, alarms are acknowledged once with a note."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cloud.core.errors import Code, Problem
from cloud.db import make_engine, session_factory
from cloud.models import Alarm, AuditEntry, GateEventRecord, Order, OrderItem, ParkCount, Ticket
from cloud.services import alarms
from cloud.services.dashboard_figures import MISSING_AFTER, snapshot
from cloud.services.dashboard_forecast import SlotOutlook, forecast
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.refunds import refund_tickets
from keys.rules import SlotGrace
from simulators.busy_day import DAY, MORNING, build_day


@pytest.fixture
def day(db_url, issuer_key):
    engine = make_engine(db_url)
    built = build_day(session_factory(engine), issuer_key, orders_per_slot=4)
    yield built
    engine.dispose()


def snap(day, at=MORNING):
    with day.sessions.begin() as db:
        return snapshot(db, "S1", at)


def test_in_park_is_entries_minus_exits_and_the_zones_add_up_to_it(day):
    figures = snap(day)
    with day.sessions() as db:
        counted = db.get(ParkCount, ("S1", DAY))
        passages = db.scalar(
            select(func.count())
            .select_from(GateEventRecord)
            .where(GateEventRecord.kind == "passage")
        )
    assert figures.entries == counted.entries and figures.exits == counted.exits
    assert figures.entries + figures.exits == passages
    assert figures.in_park == counted.in_park > 0
    assert sum(n for *_, n in figures.zones) == figures.in_park
    assert sum(figures.entries_by_hour()) == figures.entries
    assert figures.in_park_curve()[-1] == figures.in_park


def test_sales_by_channel_and_by_product_each_add_up_to_the_paid_order_lines(day):
    figures = snap(day)
    with day.sessions() as db:
        lines = db.execute(
            select(Order.channel, OrderItem.quantity, OrderItem.unit_fen)
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(Order.paid_at.is_not(None))
        ).all()
    total = sum(q * fen for _, q, fen in lines)
    assert figures.sales_fen == total > 0
    assert sum(figures.sales_by_channel.values()) == total
    assert sum(fen for *_, fen in figures.sales_by_product) == total
    assert figures.tickets_sold == sum(q for _, q, _ in lines)
    for channel in {c for c, _, _ in lines}:
        assert figures.sales_by_channel[channel] == sum(q * f for c, q, f in lines if c == channel)


def test_booked_and_arrived_per_slot_are_the_people_on_tickets_and_those_who_came_in(day):
    figures = snap(day)
    with day.sessions() as db:
        tickets = db.scalars(select(Ticket).where(Ticket.status == "valid")).all()
        used = {
            e.data["ticket"]
            for e in db.scalars(select(GateEventRecord).where(GateEventRecord.kind == "use"))
        }
    for slot in figures.slots:
        mine = [t for t in tickets if t.inventory_id == slot.inventory_id]
        assert slot.booked == sum(t.people for t in mine)
        assert slot.arrived == sum(t.people for t in mine if t.ticket_id.hex().upper() in used)
    assert sum(s.arrived for s in figures.slots) == figures.entries


def test_a_sold_out_slot_is_stopped_and_asks_for_attention(day):
    figures = snap(day)
    stopped = [s for s in figures.slots if s.stopped]
    assert [s.slot_start for s in stopped] == [600]
    assert figures.attention.slots_stopped == 1


def test_refunds_today_are_counted_and_summed(day):
    with day.sessions() as db:
        order_no = db.scalar(  # an order for the 14:00 slot: nobody has come yet
            select(Order.order_no)
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(Order.status == "paid", OrderItem.inventory_id == day.slot_inventory[-1])
            .limit(1)
        )
    with day.sessions.begin() as db:
        refund_tickets(
            db,
            order_no=order_no,
            ticket_numbers=None,
            providers={"sandbox": SandboxProvider(b"sandbox secret")},
            root=day.node_keys["G1"],
            actor="boss",
            source="test",
            now=MORNING,
        )
    figures = snap(day)
    with day.sessions() as db:
        refunded = db.scalar(select(Order.refunded_fen).where(Order.order_no == order_no))
    assert figures.refunds_count == 1 and figures.refunds_fen == refunded > 0


def test_a_gate_that_stops_reporting_shows_as_missing_within_a_minute(day):
    assert {g.node: g.state for g in snap(day).gates} == {
        "G1": "online",
        "G2": "online",
        "G3": "missing",  # silent for five minutes
    }
    last = next(g for g in snap(day).gates if g.node == "G1").last_received
    assert last is not None
    assert next(g for g in snap(day, last + MISSING_AFTER).gates if g.node == "G1").state == (
        "online"
    )
    later = last + MISSING_AFTER + timedelta(seconds=1)
    assert timedelta(seconds=60) > MISSING_AFTER  # the promise to managers
    figures = snap(day, later)
    assert next(g for g in figures.gates if g.node == "G1").state == "missing"
    assert figures.attention.gates_missing == 3


def test_a_gate_shows_its_outbox_backlog_and_software_from_its_heartbeat(day):
    gates = {g.node: g for g in snap(day).gates}
    assert (gates["G2"].outbox, gates["G2"].software) == (1, "0.1.0")
    assert gates["G3"].outbox == 3


def test_an_alarm_is_acknowledged_once_with_a_note_and_audited(day):
    figures = snap(day)
    assert figures.attention.open_alarms == 1
    (alarm,) = [a for a in figures.alarms if a.status == "open"]
    assert (alarm.node, alarm.alarm) == ("G2", "tailgate")
    with pytest.raises(Problem) as empty, day.sessions.begin() as db:
        alarms.acknowledge(db, alarm.id, "boss", "10.0.0.1", "  ", MORNING)
    assert empty.value.code is Code.ALARM_NOTE_REQUIRED
    with day.sessions.begin() as db:
        alarms.acknowledge(db, alarm.id, "boss", "10.0.0.1", "Guard sent to G2", MORNING)
    with pytest.raises(Problem) as again, day.sessions.begin() as db:
        alarms.acknowledge(db, alarm.id, "ops", "10.0.0.2", "me too", MORNING)
    assert again.value.code is Code.ALARM_ACKNOWLEDGED and again.value.status == 409
    with day.sessions() as db:
        row = db.get(Alarm, alarm.id)
        audited = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "alarm_acknowledged")
        ).all()
    assert (row.status, row.acked_by, row.note) == ("acknowledged", "boss", "Guard sent to G2")
    assert [(a.actor, a.source) for a in audited] == [("boss", "10.0.0.1")]
    assert snap(day).attention.open_alarms == 0


@pytest.mark.parametrize("report", ["fire_cleared", "denied", "override", "timeout"])
def test_a_controller_report_that_is_no_alarm_is_stored_but_asks_for_nothing(day, report):
    at = MORNING - timedelta(seconds=5)
    day.receive(at, [day.event("G1", "alarm", at, alarm=report, arg=0)])
    assert snap(day).attention.open_alarms == 1  # only the tailgating one


def test_the_expected_peak_counts_the_booked_visitors_still_to_come():
    # 10:00, 100 inside; 400 booked for 11:00-12:00, none arrived; no slot over yet (90%).
    ahead = forecast(
        minute_now=600,
        curve=[0] * 39 + [100],
        entries=100,
        exits=0,
        slots=[SlotOutlook(660, 720, 400, 0)],
        grace=SlotGrace(),
    )
    assert ahead.still_coming == 360
    assert not ahead.peak_is_past and 660 <= ahead.peak_minute <= 750
    assert 300 < ahead.peak < 460
    (release,) = ahead.releases
    assert (release.release_at, release.unclaimed, release.final) == (750, 40, False)


def test_a_slot_whose_window_closed_can_release_its_unclaimed_places_now():
    ahead = forecast(
        minute_now=700,
        curve=[10] * 47,
        entries=50,
        exits=40,
        slots=[SlotOutlook(540, 600, 50, 42)],
        grace=SlotGrace(),
    )
    (release,) = ahead.releases
    assert (release.release_at, release.unclaimed, release.final) == (630, 8, True)
    assert ahead.show_rate == pytest.approx(42 / 50) and ahead.show_rate_measured


def test_managers_racing_to_acknowledge_one_alarm_get_one_success(db_url):
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    with sessions.begin() as db:
        db.add(Alarm(site="S1", node="G1", seq=1, alarm="fire_alarm", at=MORNING, detail={}))
    start = threading.Barrier(8)

    def attempt(who: str) -> str:
        start.wait()
        try:
            with sessions.begin() as db:
                alarms.acknowledge(db, 1, who, "10.0.0.9", f"handled by {who}", MORNING)
            return "ok"
        except Problem as refusal:
            return str(refusal.code)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, [f"m{i}" for i in range(8)]))
    assert sorted(outcomes) == ["alarm_acknowledged"] * 7 + ["ok"]
    with sessions() as db:
        audited = db.scalars(select(AuditEntry).where(AuditEntry.action == "alarm_acknowledged"))
        assert len(audited.all()) == 1
    engine.dispose()


def _use(day, node, ticket, at, passages, people=1):
    """A use at ``node`` for ``ticket`` and ``passages`` of its people through the lane."""
    use = day.uses[node] = day.uses.get(node, 0) + 1
    messages = [day.event(node, "use", at, use=use, ticket=ticket, dir="in", granted=people)]
    messages += [day.event(node, "passage", at, use=use, dir="in") for _ in range(passages)]
    day.receive(at, messages)


def test_each_passage_counts_in_the_quarter_of_the_site_clock_it_happened_in(day):
    from simulators.busy_day import TZ, local

    (ticket, _), *_ = day.tickets(day.slot_inventory[-1])
    early = local(7, 14) + timedelta(seconds=59, milliseconds=600)  # rounds up to 07:15
    for at in (early, local(7, 15), local(7, 29) + timedelta(seconds=59, milliseconds=999)):
        _use(day, "G1", ticket, at, passages=1)
    figures = snap(day)
    assert figures.entries_by_bucket[28:30] == [1, 2]  # 07:00-07:15, 07:15-07:30
    by_hand = [0] * 96
    with day.sessions() as db:
        for event in db.scalars(select(GateEventRecord).where(GateEventRecord.kind == "passage")):
            when = event.at if event.at.tzinfo else event.at.replace(tzinfo=MORNING.tzinfo)
            clock = when.astimezone(TZ)
            if (event.data.get("dir") or "in") == "in":
                by_hand[(clock.hour * 60 + clock.minute) // 15] += 1
    assert figures.entries_by_bucket == by_hand
    assert sum(figures.entries_by_hour()) == figures.entries == sum(by_hand)


def test_arrived_counts_people_who_went_through_not_uses_and_never_more_than_the_ticket(day):
    from simulators.busy_day import local

    slot = day.slot_inventory[-1]  # 14:00: nobody has come yet
    (rolled_back, _), (came, came_people), (twice, twice_people), *_ = day.tickets(slot)
    before = next(s for s in snap(day).slots if s.inventory_id == slot)
    assert before.arrived == 0
    _use(day, "G1", rolled_back, local(10, 0), passages=0)  # nobody pushed the arm
    _use(day, "G2", came, local(10, 1), passages=1)
    _use(day, "G1", twice, local(10, 2), passages=1)
    _use(day, "G2", twice, local(10, 40), passages=1)  # out by another lane and in again
    after = next(s for s in snap(day).slots if s.inventory_id == slot)
    assert after.arrived == min(came_people, 1) + min(twice_people, 2)
