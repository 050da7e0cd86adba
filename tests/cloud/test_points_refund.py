"""Points on refunds (services/points_refund.py), on SQLite and PostgreSQL: the points earned
on the refunded part are taken back in proportion, those redeemed on it given back, once per
refund; points already spent come off the refund at their value; the level follows the spend
kept; two refunds of one order at once, and a refund racing a checkout that spends the points,
leave the balance equal to the ledger; over HTTP the member sees it in points and ledger."""

from __future__ import annotations

import io
import re
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cloud.core.errors import Problem
from cloud.models import Member, Order, PointsMovement, Refund, Ticket
from cloud.services import members, points_refund
from cloud.services.refunds import refund_tickets
from tests.cloud.conftest import now
from tests.cloud.test_members import PHONE, buy_as_member, pay, sign_up


def bought(office, signed, adults, **offer) -> tuple[str, list[str]]:
    """A paid member order of ``adults`` day tickets: its number and ticket numbers."""
    with office.sessions.begin() as session:
        me = members.member_of(session, signed.token, now())
        order = buy_as_member(office, session, me, adults, **offer)
        order_no, total = order.order_no, order.total_fen
    pay(office, order_no, total)
    with office.sessions() as session:
        tickets = session.scalars(
            select(Ticket.ticket_id).where(Ticket.order_id == order.id).order_by(Ticket.id)
        ).all()
    return order_no, [t.hex().upper() for t in tickets]


def refund(office, order_no, tickets=None):
    with office.sessions.begin() as session:
        return refund_tickets(
            session,
            order_no=order_no,
            ticket_numbers=tickets,
            providers=office.providers,
            root=office.root,
            actor="till1",
            source="test",
            now=now(),
        )


def balance(office, member_id) -> tuple[int, int, str, int]:
    """(points, lifetime spend, level, sum of the ledger)."""
    with office.sessions() as session:
        me = session.get(Member, member_id)
        ledger = session.scalar(
            select(func.coalesce(func.sum(PointsMovement.change), 0)).where(
                PointsMovement.member_id == member_id
            )
        )
        return me.points, me.spent_fen, me.level, int(ledger)


def reasons(office, member_id) -> list[tuple[str, int, int]]:
    with office.sessions() as session:
        return [
            (m.reason, m.change, m.fen)
            for m in session.scalars(
                select(PointsMovement)
                .where(PointsMovement.member_id == member_id)
                .order_by(PointsMovement.id)
            )
        ]


def test_points_earned_on_refunded_tickets_are_taken_back_in_proportion(office):
    signed = sign_up(office)
    order_no, tickets = bought(office, signed, 2)  # 160.00 yuan: 160 points
    assert balance(office, signed.member_id) == (160, 16000, "regular", 160)
    first = refund(office, order_no, tickets[:1])
    assert first.refund_fen == 7200  # 80.00 less the 10 % fee; the member still had the points
    assert balance(office, signed.member_id) == (80, 16000 - 7200, "regular", 80)
    refund(office, order_no, tickets[1:])
    assert balance(office, signed.member_id) == (0, 16000 - 14400, "regular", 0)
    assert reasons(office, signed.member_id) == [
        ("earned", 160, 0),
        ("taken_back", -80, 0),
        ("taken_back", -80, 0),
    ]


def test_points_redeemed_on_refunded_tickets_are_given_back(office):
    signed = sign_up(office)
    bought(office, signed, 2)  # 160 points
    order_no, tickets = bought(office, signed, 2, points=100)  # 50 points a person
    # paid 159.00: 159 points earned; 160 - 100 + 159
    assert balance(office, signed.member_id)[0] == 219
    refund(office, order_no, tickets[:1])  # 79.50 of 159.00 refunded: 79 points back, 50 given
    assert balance(office, signed.member_id)[0] == 219 - 79 + 50
    refund(office, order_no, tickets[1:])  # the rest: 159 taken back in all, 100 given back
    points, _, _, ledger = balance(office, signed.member_id)
    assert points == ledger == 160
    assert reasons(office, signed.member_id)[-4:] == [
        ("taken_back", -79, 0),
        ("given_back", 50, 0),
        ("taken_back", -80, 0),
        ("given_back", 50, 0),
    ]


def test_points_already_spent_come_off_the_refund_at_their_value(office):
    signed = sign_up(office)
    order_no, tickets = bought(office, signed, 2)  # 160 points
    with office.sessions.begin() as session:  # all spent on an order not yet paid
        me = members.member_of(session, signed.token, now())
        buy_as_member(office, session, me, 2, points=160)
    assert balance(office, signed.member_id)[0] == 0
    outcome = refund(office, order_no, tickets[:1])
    assert outcome.refund_fen == 7200 - 80  # 80 points at 1 fen each
    assert balance(office, signed.member_id) == (0, 16000 - 7200, "regular", 0)
    with office.sessions() as session:
        claimed = session.scalar(select(Refund).where(Refund.refund_no == f"RF{outcome.refund_id}"))
        assert claimed.amount_fen == 7120
    assert reasons(office, signed.member_id)[-1] == ("taken_back_fen", 0, 80)


def test_the_level_follows_the_spend_kept_after_a_refund(office):
    signed = sign_up(office)
    order_no, tickets = bought(office, signed, 13)  # 1040.00 yuan: silver from 1000.00
    assert balance(office, signed.member_id)[1:3] == (104000, "silver")
    refund(office, order_no, tickets[:1])
    assert balance(office, signed.member_id)[1:3] == (104000 - 7200, "regular")


def test_a_refund_takes_the_points_back_once(office):
    signed = sign_up(office)
    order_no, tickets = bought(office, signed, 2)
    outcome = refund(office, order_no, tickets[:1])
    with office.sessions.begin() as session, pytest.raises(IntegrityError):
        claimed = session.get(Refund, outcome.refund_id)
        again = session.get(Order, claimed.order_id)
        gone = session.scalars(select(Ticket).where(Ticket.status == "refunded")).all()
        points_refund.on_refund(session, again, claimed, list(gone), now())
    assert balance(office, signed.member_id)[:2] == (80, 16000 - 7200)


def _race(n, act):
    barrier = threading.Barrier(n)
    answers: list[object] = [None] * n

    def run(i):
        barrier.wait()
        try:
            answers[i] = act(i)
        except Problem as refused:
            answers[i] = refused.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_refunds_of_one_order_at_once_take_the_points_back_once(office):
    signed = sign_up(office)
    order_no, _ = bought(office, signed, 2)
    answers = _race(2, lambda i: refund(office, order_no).refund_fen)
    assert sorted(a for a in answers if isinstance(a, int)) == [14400], answers
    assert balance(office, signed.member_id) == (0, 1600, "regular", 0)
    assert [r for r in reasons(office, signed.member_id) if r[0] == "taken_back"] == [
        ("taken_back", -160, 0)
    ]


def test_a_refund_racing_a_checkout_that_spends_the_points(office):
    signed = sign_up(office)
    order_no, tickets = bought(office, signed, 2)  # 160 points

    def act(i):
        if i == 0:
            return refund(office, order_no, tickets[:1]).refund_fen
        with office.sessions.begin() as session:
            me = members.member_of(session, signed.token, now())
            return buy_as_member(office, session, me, 2, points=160).total_fen

    refunded, checkout = _race(2, act)
    points, _, _, ledger = balance(office, signed.member_id)
    assert points == ledger and points >= 0
    if checkout == 16000 - 160:  # the checkout spent them first: the refund paid for 80
        assert (refunded, points) == (7200 - 80, 0)
    else:  # the refund took 80 back first: 80 left, not enough for the checkout
        assert (refunded, points, checkout) == (7200, 80, members.Code.NOT_ENOUGH_POINTS)


def test_the_member_sees_the_points_taken_back_over_http(office, api):
    from tests.cloud.http_calls import bearer

    outbox = io.StringIO()
    api.app.state.member_sender = members.ConsoleSender(outbox)
    assert api.post("/api/v1/members/codes", json={"contact": PHONE}).status_code == 200
    code = re.search(r"验证码是(\d{6})", outbox.getvalue()).group(1)
    signed = api.post("/api/v1/members/sessions", json={"contact": PHONE, "code": code}).json()
    me = {"X-Member-Token": signed["token"]}
    line = {"inventory_id": office.day_ticket, "price_type": "adult", "quantity": 2}
    order = api.post("/api/v1/members/me/orders", json={"site": "S1", "lines": [line]}, headers=me)
    pay(office, order.json()["order_no"], order.json()["total_fen"])
    assert api.get("/api/v1/members/me", headers=me).json()["points"] == 160
    with office.sessions() as session:
        first = session.scalar(select(Ticket.ticket_id).order_by(Ticket.id)).hex().upper()
    answer = api.post(
        f"/api/v1/orders/{order.json()['order_no']}/refunds",
        json={"tickets": [first]},
        headers={**bearer(api, "boss"), "Idempotency-Key": "refund-points-0001"},
    )
    assert answer.status_code == 200, answer.text
    mine = api.get("/api/v1/members/me", headers=me).json()
    assert (mine["points"], mine["spent_fen"]) == (80, 8800)
    ledger = api.get("/api/v1/members/me/export", headers=me).json()["points"]
    assert [(p["reason"], p["change"]) for p in ledger] == [("earned", 160), ("taken_back", -80)]
