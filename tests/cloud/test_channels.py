"""Distributors and OTAs (分销 / OTA): accounts with their own terms and balance, sales that
return our signed codes, an OTA's own codes redeemed offline at a gate once, and daily
settlement statements whose figures are the sums of the orders and refunds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import func, select

from cloud.core.errors import Code, Problem
from cloud.models import AuditEntry, ChannelAccount, Order, Refund
from cloud.services import card_index, channel_settlement, channels
from cloud.services.orders import LineRequest
from gate_node.decision.engine import Engine, LaneContext, SiteRules
from gate_node.ledger import Ledger
from keys.card_index import CardIndex
from keys.keyring import IssuerKey, Keyring
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.signed_document import verify_document
from keys.ticket import verify_ticket
from tests.cloud.conftest import SITE_TZ, now


def account(office, code="trip", kind="ota", commission=10, credit=0, topup=0):
    with office.sessions.begin() as session:
        _, key = channels.create_account(
            session,
            code=code,
            name=code.title(),
            kind=kind,
            site="S1",
            commission_percent=commission,
            credit_limit_fen=credit,
        )
    if topup:
        with office.sessions.begin() as session:
            channels.top_up(session, code, topup, actor="books", source="test", now=now())
    return key.key


def sell(office, code="trip", quantity=1, ota_codes_in=None, price_type="adult"):
    with office.sessions.begin() as session:
        found = channels.by_code(session, code)
        return channels.sell(
            session,
            found,
            [LineRequest(office.day_ticket, price_type, quantity)],
            issuer=office.issuer,
            pd=office.pd,
            now=now(),
            ota_codes_in=ota_codes_in,
        )


def balance(office, code="trip") -> int:
    with office.sessions() as session:
        return session.scalar(select(ChannelAccount.balance_fen).where(ChannelAccount.code == code))


def test_a_sale_debits_the_channels_net_and_returns_our_signed_codes(office, issuer_key):
    account(office, commission=10, topup=50000)
    sale = sell(office, quantity=2)
    assert (sale.gross_fen, sale.commission_fen, sale.net_fen) == (16000, 1600, 14400)
    assert balance(office) == 50000 - 14400 == sale.balance_fen
    ring = Keyring([IssuerKey(issuer_key.kid, issuer_key.public_key)])
    assert all(verify_ticket(t["text"], ring).valid for t in sale.tickets)
    with office.sessions() as session:
        order = session.scalar(select(Order).where(Order.order_no == sale.order_no))
        assert (order.channel, order.status) == ("ota", "paid")


def test_a_products_own_terms_override_the_accounts_commission(office):
    account(office, commission=10, topup=50000)
    with office.sessions.begin() as session:
        channels.set_terms(session, "trip", office.products["day"], net_fen=7000)
    assert sell(office).net_fen == 7000
    with office.sessions.begin() as session:
        channels.set_terms(session, "trip", office.products["day"], commission_percent=25)
    assert sell(office).commission_fen == 2000


def test_a_sale_beyond_balance_and_credit_is_refused_and_holds_no_place(office):
    account(office, commission=0, credit=10000, topup=5000)
    sell(office)  # 8000 of 15000
    with pytest.raises(Problem) as refused:
        sell(office)  # would reach -11000 with a credit of 10000
    assert refused.value.code is Code.CREDIT_EXCEEDED
    assert balance(office) == -3000
    with office.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_concurrent_sales_never_overdraw_the_credit(office):
    account(office, commission=0, credit=8000 * 5)  # room for exactly five tickets
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def buyer():
        barrier.wait()
        try:
            sell(office)
            outcomes.append("sold")
        except Problem as refusal:
            outcomes.append(str(refusal.code))

    threads = [threading.Thread(target=buyer) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("sold") == 5 and outcomes.count("credit_exceeded") == 7
    assert balance(office) == -40000


def gate(office, root_key, issuer_key, tmp_path, card_index_raw: bytes) -> Engine:
    cards = CardIndex()
    cards.apply(verify_document(card_index_raw, root_key.public_key, doc_type="cards", site="S1"))
    return Engine(
        Keyring([IssuerKey(issuer_key.kid, issuer_key.public_key)]),
        RevocationList(),
        Ledger(tmp_path / "gate.sqlite", "G1"),
        SiteRules(timezone=SITE_TZ),
        LaneContext("G1", 1),
        cards=cards,
        holder_salt=office.issuer.holder_salt,
    )


def test_an_otas_own_code_is_redeemed_offline_at_a_gate_once_and_refused_the_second_time(
    office, root_key, issuer_key, tmp_path
):
    account(office, topup=50000)
    sale = sell(office, quantity=2, ota_codes_in=["CTRIP-88812345", "CTRIP-88812346"])
    assert [t["ota_code"] for t in sale.tickets] == ["CTRIP-88812345", "CTRIP-88812346"]
    with office.sessions.begin() as session:
        raw = card_index.next_document(session, office.root, "S1", now())  # as the gates get it
    lane = gate(office, root_key, issuer_key, tmp_path, raw)  # no network from here on
    at = datetime.combine(office.day, time(10), SITE_TZ).astimezone(UTC)
    first = lane.decide("CTRIP-88812345\r\n", at)  # as a serial scanner sends it
    assert first.reason is Reason.OK and first.ticket_no == sale.tickets[0]["ticket_no"]
    lane.admit(first, at)
    again = lane.decide("CTRIP-88812345", at)
    assert again.reason is Reason.ALREADY_USED
    assert lane.decide("CTRIP-88812346", at).reason is Reason.OK  # its sibling is untouched
    assert lane.decide("CTRIP-00000000", at).reason is Reason.BAD_PREFIX  # never registered
    lane.ledger.close()


def test_an_ota_code_is_registered_once_and_never_looks_like_ours(office):
    account(office, topup=50000)
    sell(office, ota_codes_in=["MT-12345678"])
    for codes, code in (
        (["mt-12345678"], Code.DUPLICATE_OTA_CODE),  # the same code, in other case
        (["J1ABCDEF"], Code.BAD_OTA_CODE),
        (["A", "B"], Code.OTA_CODES_COUNT),
    ):
        with pytest.raises(Problem) as refused:
            sell(office, ota_codes_in=codes)
        assert refused.value.code is code


def refund(office, code, order_no):
    with office.sessions.begin() as session:
        found = channels.by_code(session, code)
        return channels.refund(
            session, found, order_no, None, root=office.root, source="test", now=now()
        )


def test_a_refund_credits_the_channel_its_share_and_only_its_own_orders(office):
    account(office, commission=10, topup=50000)
    account(office, code="agency", kind="distributor", topup=50000)
    sale = sell(office)
    with pytest.raises(Problem) as refused:
        refund(office, "agency", sale.order_no)
    assert refused.value.code is Code.NOT_FOUND
    outcome, after = refund(office, "trip", sale.order_no)
    # 80 yuan less the product's 10 % fee = 72 back; the channel paid 90 % of the price.
    assert outcome.refund_fen == 7200 and after == 50000 - 7200 + 7200 * 90 // 100
    with office.sessions() as session:
        assert session.scalar(select(Refund.status)) == "succeeded"


def test_settlement_figures_equal_the_sums_of_the_channels_orders_and_refunds(office):
    account(office, commission=15, topup=100000)
    sales = [sell(office, quantity=q) for q in (1, 2, 3)]
    sales.append(sell(office, quantity=1, price_type="child"))
    refund(office, "trip", sales[1].order_no)
    day = now().astimezone(SITE_TZ).date()
    with office.sessions.begin() as session:
        made = channel_settlement.make_statement(
            session, "trip", day, actor="books", source="test", now=now()
        )
    left = balance(office)
    with office.sessions() as session:
        orders = session.scalars(select(Order).where(Order.channel == "ota")).all()
        refunds = session.scalars(select(Refund)).all()
        assert made.sales_fen == sum(o.total_fen for o in orders)
        assert made.refunds_fen == sum(r.amount_fen for r in refunds)
        assert made.orders == len(orders) == 4
        # commission: 15 % of every sale, less 15 % of what was refunded (the rounding goes
        # the channel's way on each movement)
        sold_commission = sum(o.total_fen * 15 // 100 for o in orders)
        assert made.commission_fen == sold_commission - (
            made.refunds_fen - made.refunds_fen * 85 // 100
        )
        assert made.net_fen == made.sales_fen - made.refunds_fen - made.commission_fen
        assert made.balance_fen == left == 100000 - made.net_fen
        csv_text = channel_settlement.export_csv(
            session, "trip", day, actor="books", source="test", now=now()
        )
    assert csv_text.count("\n") == 1 + 1 + 4 + 1 + 1  # header, top-up, sales, refund, total


def test_a_confirmed_statement_changes_no_more(office):
    account(office, topup=100000)
    sell(office)
    day = now().astimezone(SITE_TZ).date()

    def make():
        with office.sessions.begin() as session:
            return channel_settlement.make_statement(
                session, "trip", day, actor="books", source="test", now=now()
            )

    first = make()
    with office.sessions.begin() as session:
        channel_settlement.confirm(session, "trip", day, actor="books", source="test", now=now())
    sell(office)
    assert make().sales_fen == first.sales_fen  # the confirmed figures stand
    with office.sessions.begin() as session, pytest.raises(Problem) as refused:
        channel_settlement.confirm(session, "trip", day, actor="books", source="test", now=now())
    assert refused.value.code is Code.STATEMENT_CONFIRMED


def test_an_ota_sells_and_refunds_through_the_api_with_its_own_key_only(office, api, published):
    from tests.cloud.http_calls import bearer

    books = bearer(api, "books")
    made = api.post(
        "/api/v1/channels",
        json={
            "code": "fliggy",
            "name": "Fliggy",
            "kind": "ota",
            "site": "S1",
            "commission_percent": 10,
            "credit_limit_fen": 20000,
        },
        headers=books,
    )
    assert made.status_code == 200, made.text
    key = {"X-Api-Key": made.json()["api_key"]}
    assert api.get("/api/v1/channel/account", headers=key).json()["balance_fen"] == 0
    sale = api.post(
        "/api/v1/channel/orders",
        json={
            "lines": [{"inventory_id": office.day_ticket, "price_type": "adult", "quantity": 1}],
            "ota_codes": ["FZ-000123"],
        },
        headers={**key, "Idempotency-Key": "fliggy-sale-0001"},
    )
    assert sale.status_code == 200, sale.text
    assert sale.json()["tickets"][0]["ota_code"] == "FZ-000123"
    # The code entered the site's card index; the downlink service publishes it as a delta.
    assert published == []
    with office.sessions.begin() as session:
        assert "S1" in card_index.sites_with_changes(session)
    replay = api.post(
        "/api/v1/channel/orders",
        json={
            "lines": [{"inventory_id": office.day_ticket, "price_type": "adult", "quantity": 1}],
            "ota_codes": ["FZ-000123"],
        },
        headers={**key, "Idempotency-Key": "fliggy-sale-0001"},
    )
    assert replay.json()["order_no"] == sale.json()["order_no"] and published == []
    assert api.get("/api/v1/channel/account", headers={"X-Api-Key": "nope"}).status_code == 401
    order_no = sale.json()["order_no"]
    assert (
        api.post(f"/api/v1/channel/orders/{order_no}/refunds", json={}, headers=books).status_code
        == 401
    )
    refunded = api.post(f"/api/v1/channel/orders/{order_no}/refunds", json={}, headers=key)
    assert refunded.status_code == 200, refunded.text
    assert [kind for _, kind, _ in published] == ["revocations"]
    day = now().astimezone(SITE_TZ).date().isoformat()
    statement = api.post(f"/api/v1/channels/fliggy/statements/{day}", headers=books).json()
    assert (statement["sales_fen"], statement["refunds_fen"]) == (8000, 7200)
    exported = api.get(f"/api/v1/channels/fliggy/statements/{day}/csv", headers=books)
    assert exported.headers["content-type"].startswith("text/csv") and order_no in exported.text
    with office.sessions() as session:  # finance data read: who and from where
        assert (
            session.scalar(
                select(AuditEntry.actor).where(AuditEntry.action == "channel_statement_csv")
            )
            == "books"
        )
    assert (
        api.post(f"/api/v1/channels/fliggy/statements/{day}/confirm", headers=books).json()[
            "confirmed_by"
        ]
        == "books"
    )
    till = bearer(api, "till1")
    assert api.post(f"/api/v1/channels/fliggy/statements/{day}", headers=till).status_code == 403


def test_the_channel_commands_add_top_up_and_confirm_a_statement(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from keys.clock import ENVIRONMENT_VARIABLE as CLOCK_AT
    from tests.conftest import TEST_AT

    tool = str(Path(sys.executable).with_name("scenic-cloud"))
    env = {**os.environ, CLOCK_AT: TEST_AT.isoformat(), "USER": "books"}
    env["SCENIC_DB_URL"] = f"sqlite:///{tmp_path / 'cloud.sqlite'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool, *args], capture_output=True, text=True, env=env)

    assert run("site", "--code", "S1", "--name-zh", "景区", "--name-en", "Site").returncode == 0
    added = run(
        "channel",
        "add",
        "--code",
        "ctrip",
        "--name",
        "Ctrip",
        "--kind",
        "ota",
        "--site",
        "S1",
        "--commission",
        "12",
    )
    assert added.returncode == 0 and len(added.stdout.splitlines()[-1]) >= 32, added.stderr
    assert "500.00" in run("channel", "topup", "--code", "ctrip", "--amount-fen", "50000").stdout
    negative = run("channel", "topup", "--code", "ctrip", "--amount-fen", "-500")
    assert negative.returncode == 2 and negative.stderr.count("\n") == 1
    assert "amount_fen" in negative.stderr and "float" not in negative.stderr  # not the till's
    day = ("--code", "ctrip", "--day", TEST_AT.astimezone(SITE_TZ).date().isoformat())
    out = tmp_path / "ctrip.csv"
    made = run("channel", "statement", *day, "--out", str(out))
    assert made.returncode == 0 and "balance 500.00" in made.stdout, made.stderr
    assert out.read_text().startswith("time,kind,order_no")
    assert run("channel", "confirm", *day).returncode == 0
    again = run("channel", "confirm", *day)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
