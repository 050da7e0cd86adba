"""Real-name sales reach the gates (a real Mosquitto, the real API and downlink service): the
ID card alone opens a ticket sold online, not after its refund; RFID cards bound to annual
passes likewise; a gate that missed deltas learns it is behind from the signed heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from cloud.api.app import create_app
from cloud.api.context import CloudContext
from cloud.db import make_engine, session_factory
from cloud.models import Inventory, Price, Product, Site, Ticket, User, Zone
from cloud.services import card_index
from cloud.services.issuing import Issuer
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.personal_data import PersonalData
from gate_node.readers.credentials import Credential
from keys.clock import ManualClock
from keys.holder import holder_ref
from tests.conftest import TEST_AT
from tests.mqtt.conftest import wait_until
from tests.mqtt.test_link import TODAY, Lane, ticket
from tests.stored_passwords import stored_hash

pytestmark = pytest.mark.mqtt

SALT = bytes(range(16, 32))
VALID_ID = "11010519491231002X"  # GB 11643's own example number
CARD_UID = "04A1B2C3D4"


@dataclass
class Office:
    api: TestClient
    products: dict[str, int]
    stock: dict[str, int]


@pytest.fixture
def office(site, service) -> Office:
    """The ticket office on the site's database: a real-name day ticket and an annual pass for
    the gates' today, sold two days ahead (so a refund is still in its window). What the API
    publishes goes out through the downlink service's broker link, as ``serve`` does."""
    engine = make_engine(site.url)
    sessions = session_factory(engine)
    with sessions.begin() as db:
        db.add(Site(code="S1", name_zh="测试景区", name_en="Test scenic area"))
        db.add(Zone(site="S1", zone=1, name_zh="主景区", name_en="Main area"))
        db.flush()
        products = {
            "real": Product(
                site="S1",
                code="REAL",
                name_zh="实名票",
                name_en="Real-name ticket",
                kind="day",
                real_name=True,
                refund_until_hours=24,
            ),
            "annual": Product(
                site="S1",
                code="ANNUAL",
                name_zh="年卡",
                name_en="Annual pass",
                kind="annual",
                validity_days=365,
            ),
        }
        db.add_all(products.values())
        db.flush()
        stock = {}
        for name, product in products.items():
            db.add(Price(product_id=product.id, price_type="adult", amount_fen=8000))
            stock[name] = Inventory(product_id=product.id, day=TODAY, capacity=100)
        db.add_all(stock.values())
        db.add(User(username="till1", password_hash=stored_hash("till1-password"), role="cashier"))
        db.flush()
        ids = {name: inv.id for name, inv in stock.items()}
        product_ids = {name: p.id for name, p in products.items()}
    context = CloudContext(
        engine=engine,
        sessions=sessions,
        root=site.root,
        issuer=Issuer(site.issuer, SALT),
        pd=PersonalData(bytes(32)),
        providers={"sandbox": SandboxProvider(b"sandbox secret")},
        publish=service.publisher.site_document,
        clock=ManualClock(TEST_AT - timedelta(days=2)),
    )
    yield Office(TestClient(create_app(context)), product_ids, ids)
    engine.dispose()


def salted_node(site, node: str = "G1") -> None:
    """A registered node holding the site's holder salt (as enrolment gives it)."""
    site.add_node(node)
    salt = site.nodes[node].directory / "holder.salt"
    salt.write_text(SALT.hex())
    salt.chmod(0o600)


def lane_with_salt(site, node: str = "G1") -> Lane:
    salted_node(site, node)
    return Lane(site, node)


def buy(office: Office, stock: str, key: str, **line) -> tuple[dict, dict]:
    order = office.api.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": key},
        json={
            "site": "S1",
            "channel": "web",
            "lines": [
                {"inventory_id": office.stock[stock], "price_type": "adult", "quantity": 1, **line}
            ],
        },
    )
    assert order.status_code == 201, order.text
    token = {"X-Order-Token": order.json()["access_token"]}
    order_no = order.json()["order_no"]
    paid = office.api.post(f"/api/v1/sandbox/pay/{order_no}", headers=token)
    assert paid.json()["result"] == "paid", paid.text
    read = office.api.get(f"/api/v1/orders/{order_no}", headers=token).json()
    return read, token


def present(lane: Lane, kind: str, value: str) -> str:
    lane.node.service.repeats.hold_s = 0
    lane.node.service.reads.put(Credential(kind, value))
    before = len(lane.node.service.decisions)
    assert wait_until(lambda: len(lane.node.service.decisions) > before, step=lane.step)
    return lane.node.service.decisions[-1].reason.value


def bind_card(office: Office, order: dict, uid: str):
    """The cashier till1 binds the RFID card ``uid`` to the order's first ticket, over the
    API; the answer."""
    staff = office.api.post(
        "/api/v1/auth/token", json={"username": "till1", "password": "till1-password"}
    ).json()
    return office.api.post(
        f"/api/v1/tickets/{order['tickets'][0]['ticket_no']}/cards",
        headers={"Authorization": f"Bearer {staff['access_token']}"},
        json={"uid": uid},
    )


def test_a_real_name_ticket_sold_online_opens_the_gate_by_id_card_alone_until_refunded(
    site, service, office
):
    lane = lane_with_salt(site)
    downlink = lane.node.service.link[1]
    assert present(lane, "id_card", VALID_ID) == "unknown_card"  # nothing sold yet
    order, token = buy(office, "real", "order-real-1", holders=[VALID_ID])
    assert wait_until(lambda: downlink.applied["cards"] == 1, step=lane.step)
    assert present(lane, "id_card", VALID_ID) == "ok"
    for _ in range(2000):  # nobody walks through: the use is rolled back at the timeout
        lane.step()
    refunded = office.api.post(
        f"/api/v1/orders/{order['order_no']}/refunds",
        headers=token,
        json={"tickets": [order["tickets"][0]["ticket_no"]]},
    )
    assert refunded.status_code == 200, refunded.text
    assert wait_until(
        lambda: downlink.applied["cards"] == 2 and downlink.applied["revocations"] == 1,
        step=lane.step,
    )
    assert present(lane, "id_card", VALID_ID) == "unknown_card"  # it left the card index
    lane.close()


def test_an_rfid_card_bound_to_an_annual_pass_opens_the_gate(site, service, office):
    lane = lane_with_salt(site)
    downlink = lane.node.service.link[1]
    order, _ = buy(office, "annual", "order-annual-1")
    bound = bind_card(office, order, CARD_UID)
    assert bound.status_code == 201, bound.text
    assert wait_until(lambda: downlink.applied["cards"] >= 1, step=lane.step)
    assert present(lane, "rfid", CARD_UID) == "ok"
    assert present(lane, "rfid", "04FFFFFFFF") == "unknown_card"
    lane.close()


def test_only_an_annual_pass_can_have_an_rfid_card(site, service, office):
    order, _ = buy(office, "real", "order-real-2", holders=[VALID_ID])
    refused = bind_card(office, order, CARD_UID)
    assert refused.status_code == 409 and refused.json()["code"] == "not_annual_pass"


def test_a_gate_that_missed_card_deltas_learns_from_the_heartbeat_and_asks(site, service):
    salted_node(site)
    engine = make_engine(site.url)
    text = ticket(site.issuer, 51, holder=holder_ref(SALT, "id_card", VALID_ID))
    with session_factory(engine).begin() as db:  # sold while the gate is away
        card_index.enter_ticket(
            db,
            "S1",
            Ticket(
                ticket_id=(51).to_bytes(8, "big"),
                holder_ref=holder_ref(SALT, "id_card", VALID_ID),
                text=text,
                valid_until=TODAY,
            ),
        )
    engine.dispose()
    service.publish_card_changes()  # not retained: nobody hears it
    service.publish_time()  # retained: names cards seq 1
    lane = Lane(site, "G1")
    downlink = lane.node.service.link[1]
    assert wait_until(lambda: lane.node.service.engine.cards.seq == 1, step=lane.step)
    assert downlink.behind["cards"] == 1
    assert present(lane, "id_card", VALID_ID) == "ok"
    lane.close()


def test_a_quiet_gate_that_missed_a_refund_learns_from_the_heartbeat_and_refuses(site, service):
    site.add_node("G1")
    text = ticket(site.issuer, 61)
    service.revoke("S1", {(61).to_bytes(8, "big"): TODAY})
    service.publish_time()
    lane = Lane(site, "G1")
    revocations = lane.node.service.engine.revocations
    assert wait_until(lambda: revocations.seq == 1, step=lane.step)
    assert lane.node.service.link[1].behind["revocations"] == 1
    lane.scan(text)
    assert lane.node.service.decisions[-1].reason.value == "revoked"
    lane.close()


def test_an_rfid_card_opens_the_gate_again_once_its_lapsed_annual_pass_is_renewed(
    site, service, office
):
    """Sold, and the card bound, 400 days before the gates' today: the pass has lapsed beyond
    its grace, so its renewal at the window starts today, as a new signed ticket that the card
    opens once the next card index delta reaches the gate."""
    from sqlalchemy import select

    from cloud.models import AnnualPass

    engine = make_engine(site.url)
    with session_factory(engine).begin() as db:
        old_day = Inventory(
            product_id=office.products["annual"], day=TODAY - timedelta(days=400), capacity=10
        )
        db.add(old_day)
        db.flush()
        office.stock["annual_old"] = old_day.id
    lane = lane_with_salt(site)
    downlink = lane.node.service.link[1]
    context = office.api.app.state.context
    context.clock = ManualClock(TEST_AT - timedelta(days=401))
    order, _ = buy(office, "annual_old", "order-annual-old")
    assert bind_card(office, order, CARD_UID).status_code == 201
    assert wait_until(lambda: downlink.applied["cards"] >= 1, step=lane.step)
    assert present(lane, "rfid", CARD_UID) == "expired"

    context.clock = ManualClock(TEST_AT)
    with session_factory(engine)() as db:
        pass_id = db.scalar(select(AnnualPass.id))
    staff = office.api.post(
        "/api/v1/auth/token", json={"username": "till1", "password": "till1-password"}
    ).json()
    asked = office.api.post(
        f"/api/v1/passes/{pass_id}/renewals",
        headers={"Authorization": f"Bearer {staff['access_token']}"},
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["valid_from"] == TODAY.isoformat()
    paid = office.api.post(
        f"/api/v1/sandbox/pay/{asked.json()['order_no']}",
        headers={"X-Order-Token": asked.json()["access_token"]},
    )
    assert paid.json()["result"] == "paid", paid.text
    assert wait_until(lambda: downlink.applied["cards"] >= 2, step=lane.step)
    assert present(lane, "rfid", CARD_UID) == "ok"
    lane.close()
    engine.dispose()
