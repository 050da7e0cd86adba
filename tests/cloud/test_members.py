"""Members (会员): sign-up by a code through the console sender, sealed personal data, export
and deletion, audited staff access, points and coupons, and a flash sale (限时抢购) whose
places and per-member limit hold with 200 concurrent buyers on both engines."""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from cloud.core.errors import Code, Problem
from cloud.models import AuditEntry, Member, MemberTake, Order
from cloud.services import members, promotions
from cloud.services.orders import LineRequest
from cloud.services.payments.settle import apply_payment
from tests.cloud.conftest import SALT, now
from tests.cloud.http_calls import bearer
from tests.conftest import TEST_AT

PHONE = "13800138000"
BY_TEST = {"actor": "tester", "source": "test", "now": TEST_AT}


def sign_up(office, contact=PHONE, at=None) -> members.SignedIn:
    outbox = io.StringIO()
    with office.sessions.begin() as session:
        members.request_code(
            session, contact, pd=office.pd, sender=members.ConsoleSender(outbox), now=at or now()
        )
    code = re.search(r"验证码是(\d{6})", outbox.getvalue()).group(1)
    return members.verify(office.sessions, contact, code, pd=office.pd, now=at or now())


def member(office, signed: members.SignedIn) -> Member:
    with office.sessions() as session:
        return members.member_of(session, signed.token, now())


def buy_as_member(office, session, me, adults, **offer):
    """``members.checkout`` of ``adults`` day tickets at S1 (``offer``: coupon=, points=)."""
    return members.checkout(
        session,
        me,
        [LineRequest(office.day_ticket, "adult", adults)],
        site="S1",
        pd=office.pd,
        holder_salt=SALT,
        now=now(),
        **offer,
    )


def test_a_visitor_signs_up_with_the_code_sent_to_their_phone_and_it_works_once(office):
    outbox = io.StringIO()
    with office.sessions.begin() as session:
        members.request_code(
            session, "138 0013 8000", pd=office.pd, sender=members.ConsoleSender(outbox), now=now()
        )
    assert "13800138000" in outbox.getvalue() and "验证码" in outbox.getvalue()
    code = re.search(r"验证码是(\d{6})", outbox.getvalue()).group(1)
    signed = members.verify(office.sessions, "+8613800138000", code, pd=office.pd, now=now())
    assert signed.new and member(office, signed).id == signed.member_id
    with pytest.raises(Problem) as again:
        members.verify(office.sessions, PHONE, code, pd=office.pd, now=now())
    assert again.value.code is Code.BAD_MEMBER_CODE


def test_five_wrong_codes_use_the_code_up(office):
    outbox = io.StringIO()
    with office.sessions.begin() as session:
        members.request_code(
            session,
            "guest@example.com",
            pd=office.pd,
            sender=members.ConsoleSender(outbox),
            now=now(),
        )
    code = re.search(r"验证码是(\d{6})", outbox.getvalue()).group(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(members.MAX_ATTEMPTS):
        with pytest.raises(Problem):
            members.verify(office.sessions, "guest@example.com", wrong, pd=office.pd, now=now())
    with pytest.raises(Problem) as refused:
        members.verify(office.sessions, "guest@example.com", code, pd=office.pd, now=now())
    assert refused.value.code is Code.BAD_MEMBER_CODE


def test_a_second_code_within_a_minute_is_refused(office):
    with office.sessions.begin() as session:
        members.request_code(
            session, PHONE, pd=office.pd, sender=members.ConsoleSender(io.StringIO()), now=now()
        )
    with office.sessions.begin() as session, pytest.raises(Problem) as refused:
        members.request_code(
            session,
            PHONE,
            pd=office.pd,
            sender=members.ConsoleSender(io.StringIO()),
            now=now() + timedelta(seconds=30),
        )
    assert refused.value.code is Code.CODE_TOO_SOON


def test_a_members_phone_and_name_are_stored_sealed(office):
    signed = sign_up(office)
    with office.sessions.begin() as session:
        found = session.get(Member, signed.member_id)
        members.set_name(session, found, "张三", office.pd)
    with office.sessions() as session:
        raw = session.execute(text("SELECT contact, name FROM members")).one()
        assert PHONE.encode() not in bytes(raw[0]) and "张三".encode() not in bytes(raw[1])
        assert members.profile(session.get(Member, signed.member_id), office.pd)["name"] == "张三"


def test_a_member_exports_then_deletes_their_data_and_their_session_ends(office):
    signed = sign_up(office)
    with office.sessions.begin() as session:
        me = members.member_of(session, signed.token, now())
        order = buy_as_member(office, session, me, 1)
        order_no = order.order_no
    with office.sessions() as session:
        exported = members.export(
            session, members.member_of(session, signed.token, now()), office.pd
        )
    assert exported["profile"]["contact"] == PHONE
    assert [o["order_no"] for o in exported["orders"]] == [order_no]
    with office.sessions.begin() as session:
        members.delete_member(session, members.member_of(session, signed.token, now()), now())
    with office.sessions() as session, pytest.raises(Problem) as gone:
        members.member_of(session, signed.token, now())
    assert gone.value.code is Code.UNAUTHENTICATED
    with office.sessions() as session:
        row = session.get(Member, signed.member_id)
        assert (row.contact, row.name, row.contact_ref) == (None, None, None)


def test_staff_looking_at_a_member_is_audited(office):
    signed = sign_up(office)
    with office.sessions.begin() as session:
        seen = members.staff_view(
            session, signed.member_id, office.pd, actor="boss", source="10.0.0.9", now=now()
        )
    assert seen["contact"] == PHONE
    with office.sessions() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "member_view"))
        assert (entry.actor, entry.source) == ("boss", "10.0.0.9")


def pay(office, order_no, amount):
    headers, body = office.sandbox.simulate_payment(order_no, amount)
    note = office.sandbox.verify_notification(headers, body)
    with office.sessions.begin() as session:
        apply_payment(session, note, office.issuer, now())


def test_points_are_earned_once_per_paid_order_and_spent_at_checkout(office):
    signed = sign_up(office)
    with office.sessions.begin() as session:
        me = members.member_of(session, signed.token, now())
        order = buy_as_member(office, session, me, 2)
        first = (order.order_no, order.total_fen)
    pay(office, *first)
    with office.sessions.begin() as session:
        me = members.member_of(session, signed.token, now())
        assert me.points == 160  # credited when the payment settled
        assert members.earn_points(session, me, first[0], now()) == 0  # and only once
        order = buy_as_member(office, session, me, 1, points=100)
        assert order.total_fen == 8000 - 100 and me.points == 60
        with pytest.raises(Problem) as short:
            buy_as_member(office, session, me, 1, points=61)
        assert short.value.code is Code.NOT_ENOUGH_POINTS


def test_a_coupon_holds_its_per_member_and_total_limits(office):
    with office.sessions.begin() as session:
        promotions.create_coupon(
            session,
            code="spring10",
            starts_at=now() - timedelta(days=1),
            ends_at=now() + timedelta(days=1),
            total_limit=2,
            per_member_limit=1,
            amount_fen=1000,
            **BY_TEST,
        )
    buyers = [sign_up(office, f"1380013800{i}") for i in range(3)]

    def buy(signed):
        with office.sessions.begin() as session:
            me = members.member_of(session, signed.token, now())
            return buy_as_member(office, session, me, 1, coupon="SPRING10").total_fen

    assert buy(buyers[0]) == 7000
    for signed, code in ((buyers[0], Code.MEMBER_LIMIT), (buyers[2], None)):
        if code is None:
            assert buy(signed) == 7000
            continue
        with pytest.raises(Problem) as refused:
            buy(signed)
        assert refused.value.code is code
    with pytest.raises(Problem) as gone:
        buy(buyers[1])
    assert gone.value.code is Code.OFFER_SOLD_OUT
    with office.sessions() as session:  # the refused checkouts left no order behind
        assert session.scalar(select(func.count()).select_from(Order)) == 2


def test_a_flash_sale_of_50_places_to_200_concurrent_buyers_sells_exactly_50_one_each(office):
    with office.sessions.begin() as session:
        sale = promotions.create_flash_sale(
            session,
            inventory_id=office.day_ticket,
            price_type="adult",
            price_fen=990,
            places=50,
            per_member_limit=1,
            starts_at=now() - timedelta(minutes=1),
            ends_at=now() + timedelta(hours=1),
            **BY_TEST,
        )
        people = []
        for i in range(150):
            row = Member(contact_ref=f"flash-{i}", created_at=now())
            session.add(row)
            session.flush()
            people.append(row.id)
    buyers = people + people[:50]  # 50 members try twice, at the same instant
    barrier = threading.Barrier(len(buyers))
    outcomes: list[tuple[int, str]] = []

    def buy(member_id):
        barrier.wait()
        try:
            with office.sessions.begin() as session:
                me = session.get(Member, member_id)
                promotions.flash_buy(
                    session, sale, me, 1, pd=office.pd, holder_salt=SALT, now=now()
                )
            outcomes.append((member_id, "bought"))
        except Problem as refusal:
            outcomes.append((member_id, str(refusal.code)))

    threads = [threading.Thread(target=buy, args=(m,)) for m in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [m for m, outcome in outcomes if outcome == "bought"]
    assert len(outcomes) == 200 and len(winners) == 50 and len(set(winners)) == 50
    assert {o for _, o in outcomes} <= {"bought", "offer_sold_out", "member_limit"}
    with office.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 50
        assert session.scalar(select(func.max(MemberTake.taken))) == 1
        assert set(session.scalars(select(Order.total_fen))) == {990}


def test_a_member_signs_up_buys_exports_and_deletes_through_the_api(office, api):
    from tests.cloud.http_calls import bearer

    outbox = io.StringIO()
    api.app.state.member_sender = members.ConsoleSender(outbox)
    assert api.post("/api/v1/members/codes", json={"contact": PHONE}).status_code == 200
    code = re.search(r"验证码是(\d{6})", outbox.getvalue()).group(1)
    signed = api.post("/api/v1/members/sessions", json={"contact": PHONE, "code": code}).json()
    me = {"X-Member-Token": signed["token"]}
    assert api.put("/api/v1/members/me", json={"name": "李四"}, headers=me).json()["name"] == "李四"
    line = {"inventory_id": office.day_ticket, "price_type": "adult", "quantity": 1}
    tap = {**me, "Idempotency-Key": "checkout-1"}
    order = api.post("/api/v1/members/me/orders", json={"site": "S1", "lines": [line]}, headers=tap)
    assert order.status_code == 200 and order.json()["total_fen"] == 8000
    again = api.post("/api/v1/members/me/orders", json={"site": "S1", "lines": [line]}, headers=tap)
    assert again.json() == order.json()  # a double tap: the same order, its place held once
    with office.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
    exported = api.get("/api/v1/members/me/export", headers=me).json()
    assert exported["orders"][0]["order_no"] == order.json()["order_no"]
    seen = api.get(f"/api/v1/members/{signed['member_id']}", headers=bearer(api, "till1"))
    assert seen.json()["contact"] == PHONE
    assert api.delete("/api/v1/members/me", headers=me).status_code == 200
    assert api.get("/api/v1/members/me", headers=me).status_code == 401
    with office.sessions() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "member_view")
            )
            == 1
        )


def test_a_discounted_order_is_refunded_no_more_than_was_paid(office):
    from cloud.services.refunds import refund_tickets

    with office.sessions.begin() as session:
        promotions.create_coupon(
            session,
            code="AUTUMN",
            starts_at=now() - timedelta(days=1),
            ends_at=now() + timedelta(days=1),
            total_limit=10,
            amount_fen=1001,
            **BY_TEST,
        )
    signed = sign_up(office)
    with office.sessions.begin() as session:
        me = members.member_of(session, signed.token, now())
        order = buy_as_member(office, session, me, 2, coupon="autumn")
        paid = (order.order_no, order.total_fen)
    assert paid[1] == 16000 - 1000  # 5.00 yuan off each person; the odd fen is not split
    pay(office, *paid)
    with office.sessions.begin() as session:
        outcome = refund_tickets(
            session,
            order_no=paid[0],
            ticket_numbers=None,
            providers=office.providers,
            root=office.root,
            actor="till1",
            source="test",
            now=now(),
        )
    assert outcome.refund_fen == 2 * (7500 - 750)  # what was paid, less the 10 % fee


def test_the_offer_commands_make_a_coupon_once_and_refuse_a_time_without_offset(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    tool = str(Path(sys.executable).with_name("scenic-cloud"))
    env = {**os.environ, "SCENIC_DB_URL": f"sqlite:///{tmp_path / 'cloud.sqlite'}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool, "offer", *args], capture_output=True, text=True, env=env)

    window = ("--starts", "2026-12-12T10:00+08:00", "--ends", "2026-12-13T10:00+08:00")
    made = run("coupon", "--code", "nye26", *window, "--total", "100", "--amount-fen", "500")
    assert made.returncode == 0 and "NYE26" in made.stdout, made.stderr
    again = run("coupon", "--code", "NYE26", *window, "--total", "100", "--amount-fen", "500")
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    naive = run(
        "flash",
        "--inventory",
        "1",
        "--price-fen",
        "990",
        "--places",
        "50",
        "--starts",
        "2026-12-12T10:00",
        "--ends",
        "2026-12-12T11:00",
    )
    assert naive.returncode == 2 and naive.stderr.count("\n") == 1


def test_an_offer_the_sale_could_not_apply_is_refused_naming_the_field(tmp_path):
    """The command line reaches the service without the API's bounds: a percentage over 100
    would make every order free, a negative amount dearer; each is refused, one line, exit 2."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tool = str(Path(sys.executable).with_name("scenic-cloud"))
    env = {**os.environ, "SCENIC_DB_URL": f"sqlite:///{tmp_path / 'cloud.sqlite'}"}
    window = ("--starts", "2026-12-12T10:00+08:00", "--ends", "2026-12-13T10:00+08:00")
    for bad, field in (
        (("--percent", "150"), "percent"),
        (("--amount-fen", "-500"), "amount_fen"),
        (("--amount-fen", "500", "--per-member", "0"), "per_member_limit"),
        (("--amount-fen", "500", "--percent", "10"), "one of them"),
    ):
        refused = subprocess.run(
            [tool, "offer", "coupon", "--code", "BAD1", *window, "--total", "10", *bad],
            capture_output=True,
            text=True,
            env=env,
        )
        assert refused.returncode == 2 and field in refused.stderr, refused.stderr
        assert refused.stderr.count("\n") == 1 and "float" not in refused.stderr


def test_a_coupon_and_a_flash_sale_made_over_the_api_are_audited_with_who_and_from_where(
    api, office
):
    boss = bearer(api, "boss")
    window = {
        "starts_at": (TEST_AT + timedelta(days=1)).isoformat(),
        "ends_at": (TEST_AT + timedelta(days=2)).isoformat(),
    }
    coupon = api.post(
        "/api/v1/coupons",
        headers=boss,
        json={"code": "winter5", "total_limit": 100, "amount_fen": 500, **window},
    )
    assert coupon.status_code == 200, coupon.text
    sale = api.post(
        "/api/v1/flash-sales",
        headers=boss,
        json={"inventory_id": office.day_ticket, "price_type": "adult", "price_fen": 990,
              "places": 50, "per_member_limit": 1, **window},
    )  # fmt: skip
    assert sale.status_code == 200, sale.text
    with office.sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(("create_coupon", "create_flash_sale")))
        ).all()
    made = {(e.action, e.target): e for e in entries}
    assert set(made) == {
        ("create_coupon", "coupon:WINTER5"),
        ("create_flash_sale", f"flash_sale:{sale.json()['id']}"),
    }
    assert {(e.actor, e.source) for e in entries} == {("boss", "testclient")}
    assert made[("create_coupon", "coupon:WINTER5")].detail["amount_fen"] == 500
    assert made[("create_flash_sale", f"flash_sale:{sale.json()['id']}")].detail["places"] == 50
