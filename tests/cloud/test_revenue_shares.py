"""Revenue shares with partner attractions in package tickets (套票分账), on SQLite and
PostgreSQL: shares that exceed a price are refused (4xx); the split is fixed per ticket when
it is paid, so a share edit mid-day changes only later sales; refunds net the shares back,
once even when two refunds race; each partner's daily statement equals the sums of its rows
(and its CSV), and finance's confirmation locks it (audited)."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from cloud.core.errors import Code, Problem
from cloud.models import AuditEntry, PartnerAttraction, ShareLine, Ticket
from cloud.services import partner_settlement, revenue_shares
from cloud.services.catalogue import add_inventory, add_product
from cloud.services.orders import LineRequest
from cloud.services.payments.settle import apply_payment
from cloud.services.refunds import refund_tickets
from tests.cloud.conftest import place_order
from tests.cloud.http_calls import bearer, problem
from tests.conftest import TEST_AT

DAY = date(2026, 12, 1)  # TEST_AT (13:30 UTC) is 21:30 that day at the site (Asia/Shanghai)
DAY_STARTS = datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
PACKAGE_PRICES = [
    {"price_type": "adult", "amount_fen": 20000, "peak_amount_fen": 25000},
    {"price_type": "child", "amount_fen": 10000, "peak_amount_fen": None},
]


def at(minutes: int):
    return TEST_AT + timedelta(minutes=minutes)


@pytest.fixture
def package(office) -> int:
    """A package ticket (套票) with places on the office's visit day; its inventory id."""
    with office.sessions.begin() as session:
        product = add_product(
            session,
            {
                "site": "S1",
                "code": "PKG",
                "name_zh": "景区+博物馆+索道套票",
                "name_en": "Park, museum and cableway",
                "kind": "package",
                "validity_days": 1,
                "entries": 1,
            },
            PACKAGE_PRICES,
        )
        office.products["package"] = product.id
        stock = add_inventory(
            session,
            product.id,
            office.day,
            100,
            slot_start=None,
            slot_end=None,
            warn_percent=80,
            stop_percent=100,
            today=DAY,
        )
        for code, name in (("museum", "博物馆"), ("cableway", "索道")):
            revenue_shares.create_attraction(
                session,
                code=code,
                name=name,
                site="S1",
                settlement_account=f"ICBC-{code}",
                actor="books",
                source="test",
                now=at(0),
            )
        return stock.id


def set_shares(office, *shares, minutes=0):
    with office.sessions.begin() as session:
        return revenue_shares.set_components(
            session,
            office.products["package"],
            list(shares),
            actor="books",
            source="test",
            now=at(minutes),
        )


def sell(office, stock, minutes, adults=0, children=0) -> tuple[str, list[str]]:
    lines = [LineRequest(stock, "adult", adults)] if adults else []
    lines += [LineRequest(stock, "child", children)] if children else []
    order = place_order(office, *lines, at=at(minutes))
    headers, body = office.sandbox.simulate_payment(order.order_no, order.total_fen)
    note = office.sandbox.verify_notification(headers, body)
    with office.sessions.begin() as session:
        apply_payment(session, note, office.issuer, at(minutes))
        numbers = session.scalars(
            select(Ticket.ticket_id).where(Ticket.order_id == order.id).order_by(Ticket.id)
        ).all()
    return order.order_no, [n.hex().upper() for n in numbers]


def refund(office, order_no, tickets, minutes):
    with office.sessions.begin() as session:
        return refund_tickets(
            session,
            order_no=order_no,
            ticket_numbers=tickets,
            providers=office.providers,
            root=office.root,
            actor="till1",
            source="test",
            now=at(minutes),
        )


def statement(office, code, day=DAY, minutes=150):
    with office.sessions.begin() as session:
        held = partner_settlement.make_statement(
            session, code, day, actor="books", source="test", now=at(minutes)
        )
        return {k: getattr(held, k) for k in ("sales_fen", "refunds_fen", "owed_fen", "tickets")}


def rows_sum(office, code, kind) -> int:
    with office.sessions() as session:
        partner = session.scalar(select(PartnerAttraction).where(PartnerAttraction.code == code))
        return int(
            session.scalar(
                select(func.coalesce(func.sum(ShareLine.amount_fen), 0)).where(
                    ShareLine.partner_id == partner.id,
                    ShareLine.kind == kind,
                    ShareLine.at >= DAY_STARTS,
                    ShareLine.at < DAY_STARTS + timedelta(days=1),
                )
            )
        )


MUSEUM = revenue_shares.Share("museum", share_fen=3000)
CABLEWAY = revenue_shares.Share("cableway", share_bp=2000)  # 20 % of the net price


def test_the_split_is_fixed_at_sale_and_refunds_net_it_back_in_the_days_statement(office, package):
    set_shares(office, MUSEUM, CABLEWAY)
    first, first_tickets = sell(office, package, 0, adults=2)
    set_shares(office, revenue_shares.Share("museum", share_fen=5000), CABLEWAY, minutes=30)
    sell(office, package, 60, adults=1, children=1)
    refund(office, first, first_tickets[:1], 90)  # sold before the edit: 30.00 back, not 50.00
    sell(office, package, 24 * 60, adults=1)  # the next day: not in this day's statement

    museum = statement(office, "museum")
    assert museum == {
        "sales_fen": 2 * 3000 + 2 * 5000,
        "refunds_fen": 3000,
        "owed_fen": 13000,
        "tickets": 4,
    }
    cableway = statement(office, "cableway")
    assert cableway == {
        "sales_fen": 2 * 4000 + 4000 + 2000,
        "refunds_fen": 4000,
        "owed_fen": 10000,
        "tickets": 4,
    }
    for code, made in (("museum", museum), ("cableway", cableway)):
        assert made["sales_fen"] == rows_sum(office, code, "sale")
        assert made["refunds_fen"] == -rows_sum(office, code, "refund")
        with office.sessions.begin() as session:
            text = partner_settlement.export_csv(
                session, code, DAY, actor="books", source="test", now=at(150)
            )
        *rows, total = list(csv.reader(io.StringIO(text)))[1:]
        assert sum(Decimal(r[6]) for r in rows) * 100 == made["owed_fen"] == Decimal(total[6]) * 100
    with office.sessions() as session:  # no ticket's shares exceed what it was sold for
        for ticket in session.scalars(select(Ticket)):
            shares = session.scalar(
                select(func.sum(ShareLine.amount_fen)).where(
                    ShareLine.ticket_id == ticket.id, ShareLine.kind == "sale"
                )
            )
            assert shares is None or shares <= ticket.unit_fen


def test_a_ticket_sold_below_its_shares_pays_the_partners_no_more_than_it_brought(office, package):
    set_shares(office, revenue_shares.Share("museum", share_fen=8000), CABLEWAY)
    with office.sessions() as session:
        rows = revenue_shares._rows(session, office.products["package"])
        assert revenue_shares.split(rows, 10000, 1) == [8000, 2000]  # the child price: all of it
        assert revenue_shares.split(rows, 5000, 1) == [5000, 0]  # a ticket sold cheaper


def test_shares_beyond_a_price_are_refused(office, package):
    with pytest.raises(Problem) as refused:
        set_shares(office, revenue_shares.Share("museum", share_fen=9000), CABLEWAY)
    assert refused.value.code is Code.BAD_SHARES  # 90.00 + 20 % of 100.00 > 100.00 (child)
    assert refused.value.extra["price_type"] == "child"
    with pytest.raises(Problem) as refused:
        set_shares(office, CABLEWAY, revenue_shares.Share("museum", share_bp=8001))
    assert refused.value.code is Code.BAD_SHARES
    with office.sessions.begin() as session, pytest.raises(Problem) as refused:
        revenue_shares.set_components(
            session, office.products["day"], [MUSEUM], actor="b", source="t", now=at(0)
        )
    assert refused.value.code is Code.NOT_A_PACKAGE


def test_a_confirmed_statement_is_locked(office, package):
    set_shares(office, MUSEUM, CABLEWAY)
    order_no, tickets = sell(office, package, 0, adults=2)
    assert statement(office, "museum")["owed_fen"] == 6000
    with office.sessions.begin() as session:
        partner_settlement.confirm(session, "museum", DAY, actor="books", source="t", now=at(100))
    refund(office, order_no, tickets[:1], 110)  # the same day, after finance confirmed
    assert statement(office, "museum")["owed_fen"] == 6000  # as confirmed
    with office.sessions.begin() as session, pytest.raises(Problem) as again:
        partner_settlement.confirm(session, "museum", DAY, actor="books", source="t", now=at(120))
    assert again.value.code is Code.STATEMENT_CONFIRMED
    with office.sessions() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"partner_statement", "partner_confirm", "package_shares"} <= actions


def test_two_refunds_of_one_package_ticket_at_once_net_its_shares_back_once(office, package):
    set_shares(office, MUSEUM, CABLEWAY)
    order_no, tickets = sell(office, package, 0, adults=2)
    barrier = threading.Barrier(2)
    answers: list[object] = [None, None]

    def run(i):
        barrier.wait()
        try:
            answers[i] = refund(office, order_no, tickets[:1], 30).refund_fen
        except Problem as refused:
            answers[i] = refused.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, answers)) == sorted(["20000", str(Code.TICKET_NOT_VALID)]), answers
    assert statement(office, "museum") == {
        "sales_fen": 6000,
        "refunds_fen": 3000,
        "owed_fen": 3000,
        "tickets": 2,
    }


def test_finance_sets_shares_and_confirms_a_statement_over_http(office, package, api):
    books = bearer(api, "books")
    made = api.post(
        "/api/v1/attractions",
        json={"code": "forest", "name": "森林公园", "site": "S1", "settlement_account": "ABC-1"},
        headers=books,
    )
    assert made.status_code == 201, made.text
    again = api.post(
        "/api/v1/attractions",
        json={"code": "forest", "name": "森林公园", "site": "S1", "settlement_account": "ABC-1"},
        headers=books,
    )
    problem(again, 409, "duplicate_attraction")
    url = f"/api/v1/products/{office.products['package']}/shares"
    too_much = {"components": [{"partner": "forest", "share_fen": 10001}]}
    problem(api.put(url, json=too_much, headers=books), 422, "bad_shares")
    both = {"components": [{"partner": "forest", "share_fen": 1, "share_bp": 1}]}
    problem(api.put(url, json=both, headers=books), 422, "invalid_request")
    unknown = {"components": [{"partner": "nowhere", "share_fen": 1}]}
    problem(api.put(url, json=unknown, headers=books), 404, "not_found")
    day_url = f"/api/v1/products/{office.products['day']}/shares"
    problem(api.put(day_url, json={"components": []}, headers=books), 422, "not_a_package")
    fine = {"components": [{"partner": "forest", "share_bp": 1500}]}
    assert api.put(url, json=fine, headers=books).json()["components"] == [
        {"partner": "forest", "share_fen": None, "share_bp": 1500}
    ]
    assert api.get(url, headers=books).json()["components"][0]["share_bp"] == 1500
    sell(office, package, 0, adults=1)  # 200.00: 30.00 to the forest park
    base = f"/api/v1/attractions/forest/statements/{DAY}"
    answer = api.post(base, headers=books)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["owed_fen"], answer.json()["confirmed_by"]) == (3000, None)
    exported = api.get(f"{base}/csv", headers=books)
    assert exported.headers["content-type"].startswith("text/csv") and "30.00" in exported.text
    assert api.post(f"{base}/confirm", headers=books).json()["confirmed_by"] == "books"
    problem(api.post(f"{base}/confirm", headers=books), 409, "statement_confirmed")
    problem(api.post(base, headers=bearer(api, "till1")), 403, "forbidden")


def test_a_channels_sale_shares_what_we_receive_after_its_commission(office, package):
    from cloud.services import channels

    set_shares(office, MUSEUM, CABLEWAY)
    with office.sessions.begin() as session:
        account, _ = channels.create_account(
            session,
            code="trip",
            name="Trip",
            kind="ota",
            site="S1",
            commission_percent=10,
            credit_limit_fen=100_000,
        )
        channels.sell(
            session,
            account,
            [LineRequest(package, "adult", 1)],
            issuer=office.issuer,
            pd=office.pd,
            now=at(0),
        )
    assert statement(office, "museum")["owed_fen"] == 3000  # per person, whatever the price
    assert statement(office, "cableway")["owed_fen"] == 18000 * 2000 // 10000  # 20 % of the net


def test_a_changed_ticket_keeps_its_shares_and_a_refund_of_it_nets_them_back(office, package):
    from cloud.services.refunds import change_ticket

    set_shares(office, MUSEUM, CABLEWAY)
    order_no, tickets = sell(office, package, 0, adults=1)
    with office.sessions.begin() as session:
        later = add_inventory(
            session,
            office.products["package"],
            office.day + timedelta(days=1),
            100,
            slot_start=None,
            slot_end=None,
            warn_percent=80,
            stop_percent=100,
            today=DAY,
        )
        moved = change_ticket(
            session,
            ticket_number=tickets[0],
            inventory_id=later.id,
            issuer=office.issuer,
            root=office.root,
            actor="till1",
            source="test",
            now=at(10),
        )
    refund(office, order_no, moved.new_tickets, 20)
    assert statement(office, "museum") == {
        "sales_fen": 3000,
        "refunds_fen": 3000,
        "owed_fen": 0,
        "tickets": 1,
    }
