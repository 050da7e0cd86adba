"""The visitor's phone, in real headless Chromium (320 x 568) against a real ``serve``: buy from
the shop, pay in the sandbox, keep the codes with no signal, pass a gate with a screenshot of
one, refund another and see the gate refuse it once the revocation reaches it over MQTT."""

from __future__ import annotations

import queue
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.api.context import from_settings
from cloud.core.config import Settings
from cloud.services.downlink_documents import signed_keyring
from gate_node.assembly import make_engine
from gate_node.clock import ClockFloor
from gate_node.downlink import Downlink
from gate_node.readers.qr import QrDecoder
from keys import keystore, topics
from keys.clock import ManualClock
from keys.reasons import Reason
from keys.revocation import sign_revocations
from provisioning.node_init import initialise
from simulators.broker import PASSWORD, Broker
from simulators.shop_site import PASSPHRASE, SITE, fill_few, shop_site
from tests.conftest import TEST_AT

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]


@pytest.fixture
def broker(tmp_path):
    running = Broker(tmp_path / "broker", users=["cloud", "G1"], site=SITE).start()
    yield running
    running.stop()


@pytest.fixture
def site(tmp_path, broker):
    broker_env = {
        "SCENIC_BROKER_PORT": str(broker.port),
        "SCENIC_BROKER_USERNAME": "cloud",
        "SCENIC_BROKER_PASSWORD": PASSWORD,
    }
    with shop_site(tmp_path, TEST_AT, broker_env) as running:
        yield running


def only_the_cloud(context, api: str) -> list[str]:
    """Route every request of the browser; anything not for the cloud is refused and noted."""
    cloud = urlparse(api).netloc
    foreign: list[str] = []

    def guard(route):
        if urlparse(route.request.url).netloc == cloud:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return foreign


def decode(png: bytes) -> list[str]:
    frame = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return QrDecoder().decode(frame)


def gate_for(site, folder: Path):
    """A gate of site S1 pinning the cloud's root key and keyring, holding its (empty) list of
    revocations as provisioned; its engine on a clock a few minutes after the purchase."""
    context = from_settings(
        Settings(state_dir=site.state, db_url=site.env["SCENIC_DB_URL"]), PASSPHRASE.encode()
    )
    try:
        (folder / "root.pem").write_text(keystore.public_pem(context.root.public_key))
        with context.sessions.begin() as db:
            (folder / "keyring.cose").write_bytes(
                signed_keyring(db, context.root, SITE, context.keyring, TEST_AT)
            )
        (folder / "revocations.cose").write_bytes(
            sign_revocations(context.root, site=SITE, seq=0, kind="snapshot", revoked={})
        )
    finally:
        context.engine.dispose()
    state = initialise(
        folder / "gate",
        {"site": SITE, "node": "G1", "kind": "tripod", "zone": 1, "timezone": "Asia/Shanghai"},
        folder / "root.pem",
        folder / "keyring.cose",
        folder / "revocations.cose",
        PASSPHRASE.encode(),
        clock=ManualClock(TEST_AT),
    )
    clock = ManualClock(TEST_AT + timedelta(minutes=5))
    engine = make_engine(state, clock)
    downlink = Downlink(state, engine, ClockFloor(state.clock_path), lambda what: None)
    return engine, downlink, clock


def listen_for_revocations(broker) -> tuple[mqtt.Client, queue.Queue]:
    """The gate's side of the broker: what the cloud publishes on the site's revocations
    topic, as gate G1 (its own login and ACL) receives it."""
    received: queue.Queue = queue.Queue()
    subscribed = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="G1-test")
    client.username_pw_set("G1", PASSWORD)
    topic = topics.down(SITE, "revocations").name
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda c, u, mid, rc, p: subscribed.put(True)
    client.on_message = lambda c, u, m: received.put((m.topic, m.payload))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    subscribed.get(timeout=10)
    return client, received


def test_a_visitor_buys_three_codes_keeps_them_offline_passes_a_gate_and_a_refunded_one_is_refused(
    site, broker, phone_context, screenshot, tmp_path
):
    fill_few(site)  # the next slot is nearly full: the shop must say so
    foreign = only_the_cloud(phone_context, site.api)
    page = phone_context.new_page()

    # The poster's link: the shop, zh-CN first.
    page.goto(f"{site.api}/shop/{SITE}?product={site.timed['id']}")
    page.get_by_test_id(f"day-{site.day.isoformat()}").click()
    page.get_by_test_id(f"slot-{site.slots['open']}").wait_for()
    few = page.get_by_test_id(f"slot-{site.slots['few']}")
    assert "余量紧张" in few.inner_text()
    assert "售罄" in page.get_by_test_id(f"slot-{site.slots['sold_out']}").inner_text()
    assert page.get_by_test_id(f"slot-{site.slots['sold_out']}").is_disabled()
    screenshot(page, "1-shop-slots")
    page.get_by_test_id(f"slot-{site.slots['open']}").click()
    page.get_by_test_id("plus-adult").click()
    page.get_by_test_id("plus-adult").click()
    page.get_by_test_id("plus-child").click()
    assert page.locator("#total").inner_text() == "¥200.00"
    page.get_by_label("手机号").fill("13800000000")
    assert page.get_by_test_id("pay-sandbox").is_visible()
    assert page.get_by_test_id("pay-cash").count() == 0  # cash is never offered online
    screenshot(page, "2-shop-cart")

    page.get_by_test_id("pay-sandbox").click()
    page.wait_for_url("**/t/*")
    assert "token=" in urlparse(page.url).fragment and "token" not in urlparse(page.url).path
    codes = page.locator(".card .qr img")
    codes.nth(2).wait_for()
    assert codes.count() == 3
    page.wait_for_selector("body[data-saved='1']")
    assert "灯会夜场分时票" in page.locator(".card").first.inner_text()
    assert "21:00-22:00" in page.locator(".card").first.inner_text()
    screenshot(page, "3-tickets")

    # No signal at the gate: the page and its codes come from the phone.
    phone_context.set_offline(True)
    page.reload()
    codes.nth(2).wait_for()
    assert codes.count() == 3
    assert "无网络" in page.locator("#status").inner_text()
    screenshot(page, "4-offline")
    first, second = page.locator(".card").nth(0), page.locator(".card").nth(1)
    kept = [decode(card.locator(".qr").screenshot()) for card in (first, second)]
    numbers = [first.get_attribute("data-ticket"), second.get_attribute("data-ticket")]
    assert all(len(texts) == 1 for texts in kept), kept

    engine, downlink, clock = gate_for(site, tmp_path)
    admitted = engine.decide(kept[0][0], clock.now())
    assert admitted.grant and admitted.ticket_no == numbers[0]
    engine.admit(admitted, clock.now())
    assert engine.decide(kept[1][0], clock.now()).grant  # not yet refunded

    # Back online: refund the second ticket, the fee shown before confirming.
    client, received = listen_for_revocations(broker)
    try:
        phone_context.set_offline(False)
        page.reload()
        page.get_by_test_id(f"refund-{numbers[1]}").click()
        confirm = page.get_by_test_id(f"confirm-{numbers[1]}")
        confirm.wait_for()
        assert "退款 ¥72.00，手续费 ¥8.00" in page.locator(".panel").inner_text()
        screenshot(page, "5-refund-quote")
        confirm.click()
        page.locator(f".card[data-ticket='{numbers[1]}'] .void-mark").wait_for()
        assert page.locator(".card .qr img").count() == 2
        screenshot(page, "6-refunded")

        topic, payload = received.get(timeout=15)  # the cloud's signed delta, over MQTT
    finally:
        client.loop_stop()
        client.disconnect()
    downlink.handle(topic, payload)
    assert downlink.applied["revocations"] == 1
    refused = engine.decide(kept[1][0], clock.now())
    assert refused.reason is Reason.REVOKED
    assert foreign == []


def test_the_shops_first_page_weighs_under_200_kb_and_asks_nothing_of_other_hosts(
    site, phone_context
):
    foreign = only_the_cloud(phone_context, site.api)
    lengths: list[int] = []
    phone_context.on(
        "response", lambda answer: lengths.append(int(answer.headers.get("content-length", "0")))
    )
    page = phone_context.new_page()
    page.goto(f"{site.api}/shop/{SITE}", wait_until="networkidle")
    assert page.get_by_test_id(f"product-{site.timed['id']}").is_visible()
    assert 0 < sum(lengths) < 200 * 1024
    assert foreign == []


def test_a_wrong_id_number_is_explained_next_to_its_field_in_the_chosen_language(
    site, phone_context, screenshot
):
    page = phone_context.new_page()
    page.goto(f"{site.api}/shop/{SITE}?product={site.real_name['id']}")
    page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_test_id(f"day-{site.day.isoformat()}").click()
    page.get_by_test_id("plus-adult").click()
    page.get_by_test_id("plus-adult").click()
    page.get_by_label("Visitor 1: ID card number").fill("110105194912310021")  # bad check digit
    page.get_by_label("Visitor 2: ID card number").fill("11010519491231002X")
    page.get_by_label("Mobile phone number").fill("13800000000")
    page.get_by_test_id("pay-sandbox").click()
    first = page.get_by_label("Visitor 1: ID card number")
    assert first.get_attribute("aria-invalid") == "true"
    assert "not valid" in page.locator("#holder-0-error").inner_text()
    assert page.locator("#holder-1-error").inner_text() == ""
    screenshot(page, "holder-error-en")
    assert "/shop/" in page.url  # nothing was ordered


def test_the_same_id_number_twice_is_refused_by_the_api_and_said_by_the_field(site, phone_context):
    """The page lets a second visitor with a used ID through its own check only to show the
    API's refusal: one ID, one ticket (防黄牛) is the API's rule, not the page's."""
    page = phone_context.new_page()
    page.goto(f"{site.api}/shop/{SITE}?product={site.real_name['id']}")
    page.get_by_test_id(f"day-{site.day.isoformat()}").click()
    page.get_by_test_id("plus-adult").click()
    page.get_by_label("游客1 身份证号").fill("11010519491231002X")
    page.get_by_label("手机号").fill("13800000000")
    page.get_by_test_id("pay-sandbox").click()
    page.wait_for_url("**/t/*")
    page.goto(f"{site.api}/shop/{SITE}?product={site.real_name['id']}")
    page.get_by_test_id(f"day-{site.day.isoformat()}").click()
    page.get_by_test_id("plus-adult").click()
    page.get_by_label("游客1 身份证号").fill("11010519491231002X")
    page.get_by_label("手机号").fill("13900000000")
    page.get_by_test_id("pay-sandbox").click()
    page.locator("#holder-0-error:not(:empty)").wait_for()
    assert page.locator("#holder-0-error").inner_text() != ""
    assert "/shop/" in page.url


def buy_one_timed_adult(site, page) -> None:
    """In the shop: today's open slot, one adult, a phone number, paid in the sandbox; waits
    for the ticket page."""
    page.goto(f"{site.api}/shop/{SITE}?product={site.timed['id']}")
    page.get_by_test_id(f"day-{site.day.isoformat()}").click()
    page.get_by_test_id(f"slot-{site.slots['open']}").click()
    page.get_by_test_id("plus-adult").click()
    page.get_by_label("手机号").fill("13800000000")
    page.get_by_test_id("pay-sandbox").click()
    page.wait_for_url("**/t/*")


def test_a_ticket_link_without_its_token_shows_no_codes(site, phone_context):
    page = phone_context.new_page()
    buy_one_timed_adult(site, page)
    page.locator(".card .qr img").first.wait_for()
    bare = page.url.split("#")[0]
    stranger = phone_context.browser.new_context()
    try:
        other = stranger.new_page()
        other.goto(bare)
        other.locator("#status:not(:empty)").wait_for()
        assert "链接不完整" in other.locator("#status").inner_text()
        other.goto(bare + "#token=guessed")
        other.get_by_text("找不到这个订单").wait_for()
        assert other.locator(".card").count() == 0
    finally:
        stranger.close()


def test_a_date_change_from_the_ticket_page_shows_its_fee_and_gives_a_new_code(
    site, phone_context, screenshot
):
    page = phone_context.new_page()
    buy_one_timed_adult(site, page)
    card = page.locator(".card").first
    card.locator(".qr img").wait_for()
    old = card.get_attribute("data-ticket")
    page.get_by_test_id(f"change-{old}").click()
    page.get_by_text("改签手续费 ¥0.00").wait_for()
    page.get_by_role("radio", name="22:00-23:00").click()
    screenshot(page, "change-quote")
    page.get_by_test_id(f"confirm-{old}").click()
    page.locator(f".card[data-ticket='{old}'] .void-mark").wait_for()
    fresh = page.locator(".card").first
    assert fresh.get_attribute("data-ticket") != old
    assert "22:00-23:00" in fresh.inner_text()
    assert page.locator(".card .qr img").count() == 1
    screenshot(page, "changed")
    page.get_by_role("button", name="English").click()
    assert "Lantern night, timed entry · Adult" in fresh.inner_text()
    assert "Changed (see the new ticket)" in page.locator(".void-mark").inner_text()
    screenshot(page, "changed-en")


@pytest.fixture
def capped_site(tmp_path):
    with shop_site(tmp_path, TEST_AT, {"SCENIC_CLIENT_HOLD_PLACES": "2"}) as running:
        yield running


def test_the_shop_is_held_to_the_apis_cap_on_unpaid_places_per_client(capped_site, phone_context):
    site = capped_site
    page = phone_context.new_page()
    page.goto(f"{site.api}/shop/{SITE}?product={site.timed['id']}")
    page.get_by_test_id(f"day-{site.day.isoformat()}").click()
    page.get_by_test_id(f"slot-{site.slots['open']}").click()
    for _ in range(3):
        page.get_by_test_id("plus-adult").click()
    page.get_by_label("手机号").fill("13800000000")
    page.get_by_test_id("pay-sandbox").click()
    page.get_by_text("上限2张").wait_for()  # the API's own 429 client_hold_limit text
    assert "该地址未支付订单已占0张（上限2张）" in page.locator("#pay-error").inner_text()
    assert "/shop/" in page.url
