"""The visitor's pages and what they ask the API for: the shop, the ticket page shell, ticket
cards behind the order's token, refund and change quotes, and the entrance posters."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud.core.config import ConfigError, ShopSettings
from cloud.models import Inventory
from gate_node.readers.qr import QrDecoder
from keys.clock import ManualClock
from tests.cloud.conftest import SITE_TZ
from tests.cloud.http_calls import bearer, place_order, problem

ID_NUMBER = "11010519491231002X"  # a valid check character (GB 11643-1999)
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def paid_order(api, office, key: str = "shop-order-1", **line) -> dict:
    order = place_order(api, office, key=key, **line)
    token = order["access_token"]
    paid = api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers={"X-Order-Token": token})
    assert paid.status_code == 200, paid.text
    return order


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def test_the_shop_lists_the_sites_products_with_prices_and_days_on_sale(api, office):
    answer = api.get("/shop/S1")
    assert answer.status_code == 200
    data = page_data(answer.text)
    names = {p["name_zh"] for p in data["products"]}
    assert {"日票", "分时票", "实名票"} <= names
    day = next(p for p in data["products"] if p["name_zh"] == "日票")
    assert day["days"] == [office.day.isoformat()]
    assert [p["price_type"] for p in day["prices"]] == ["adult", "child"]
    assert data["today"] == "2026-12-01"  # the site's date at TEST_AT (21:30 in Shanghai)


def test_the_shop_offers_the_live_online_channels_and_never_cash(api, office):
    data = page_data(api.get("/shop/S1").text)
    assert data["channels"] == ["sandbox"]  # the office has sandbox and cash


def test_an_unknown_site_has_no_shop(api, office):
    problem(api.get("/shop/NOPE"), 404, "not_found")


def test_the_pages_run_only_their_own_scripts_and_never_send_a_referer(api, office):
    for path in ("/shop/S1", "/t/2026120100000000"):
        answer = api.get(path)
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy
        assert "connect-src 'self'" in policy
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert '<meta name="referrer" content="no-referrer">' in answer.text
        # every script is a file of this origin; the only inline block is inert JSON data
        for attributes in re.findall(r"<script([^>]*)>", answer.text):
            assert 'src="/shop/static/' in attributes or 'type="application/json"' in attributes


def test_the_ticket_page_is_the_same_shell_for_every_order_and_holds_no_codes(api, office):
    order = paid_order(api, office)
    mine = api.get(f"/t/{order['order_no']}").text
    other = api.get("/t/2026120199999999").text
    assert mine.replace(order["order_no"], "X") == other.replace("2026120199999999", "X")
    tickets = api.get(
        f"/api/v1/orders/{order['order_no']}", headers={"X-Order-Token": order["access_token"]}
    ).json()["tickets"]
    assert tickets and all(t["text"] not in mine for t in tickets)


def test_ticket_cards_are_only_for_the_holder_of_that_orders_token(api, office):
    mine = paid_order(api, office, key="shop-order-1")
    theirs = paid_order(api, office, key="shop-order-2")
    path = f"/api/v1/orders/{mine['order_no']}/cards"
    problem(api.get(path), 404, "not_found")
    problem(api.get(path, headers={"X-Order-Token": theirs["access_token"]}), 404, "not_found")
    cards = api.get(path, headers={"X-Order-Token": mine["access_token"]}).json()
    assert cards["order_no"] == mine["order_no"] and len(cards["tickets"]) == 2
    first = cards["tickets"][0]
    assert first["qr_png"].startswith("data:image/png;base64,")
    assert first["day"] == office.day.isoformat() and first["zones"] == [
        {"zh": "主景区", "en": "Main area"}
    ]


def test_a_code_on_the_card_reads_as_the_tickets_own_text(api, office):
    import base64

    order = paid_order(api, office)
    token = {"X-Order-Token": order["access_token"]}
    cards = api.get(f"/api/v1/orders/{order['order_no']}/cards", headers=token).json()
    texts = [
        t["text"]
        for t in api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()["tickets"]
    ]
    png = base64.b64decode(cards["tickets"][0]["qr_png"].split(",", 1)[1])
    frame = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert QrDecoder().decode(frame) == [texts[0]]


def test_a_refund_quote_shows_the_fee_and_the_refund_then_pays_exactly_that(api, office):
    order = paid_order(api, office, quantity=1)
    token = {"X-Order-Token": order["access_token"]}
    number = api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()["tickets"][0][
        "ticket_no"
    ]
    quote = api.get(f"/api/v1/tickets/{number}/quote", headers=token).json()
    assert quote["refundable"] and (quote["refund_fen"], quote["fee_fen"]) == (7200, 800)
    refund = api.post(
        f"/api/v1/orders/{order['order_no']}/refunds",
        headers={**token, "Idempotency-Key": "refund-1"},
        json={"tickets": [number]},
    ).json()
    assert (refund["refund_fen"], refund["fee_fen"]) == (7200, 800)
    after = api.get(f"/api/v1/tickets/{number}/quote", headers=token).json()
    assert not after["refundable"] and after["why_not"] == "ticket_not_valid"


def test_a_quote_after_the_refund_window_closed_says_so(api, office):
    order = paid_order(api, office, quantity=1)
    token = {"X-Order-Token": order["access_token"]}
    number = api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()["tickets"][0][
        "ticket_no"
    ]
    # the day product closes refunds 24 h before the visit day starts (site time)
    visit = datetime.combine(office.day, datetime.min.time(), tzinfo=SITE_TZ)
    api.app.state.context.clock = ManualClock(visit - timedelta(hours=23))
    quote = api.get(f"/api/v1/tickets/{number}/quote", headers=token).json()
    assert not quote["refundable"] and quote["why_not"] == "refund_window_closed"


def test_a_quote_without_the_token_learns_nothing(api, office):
    order = paid_order(api, office, quantity=1)
    number = api.get(
        f"/api/v1/orders/{order['order_no']}", headers={"X-Order-Token": order["access_token"]}
    ).json()["tickets"][0]["ticket_no"]
    problem(api.get(f"/api/v1/tickets/{number}/quote"), 404, "not_found")
    problem(api.get("/api/v1/tickets/00/quote", headers={"X-Order-Token": "x"}), 404, "not_found")


def test_a_change_is_offered_to_other_days_with_places_at_the_same_price(api, office):
    with office.sessions.begin() as db:
        later = Inventory(
            product_id=office.products["day"], day=office.day + timedelta(days=1), capacity=5
        )
        full = Inventory(
            product_id=office.products["day"],
            day=office.day + timedelta(days=2),
            capacity=1,
            taken=1,
        )
        db.add_all([later, full])
        db.flush()
        later_id = later.id
    order = paid_order(api, office, quantity=1)
    token = {"X-Order-Token": order["access_token"]}
    number = api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()["tickets"][0][
        "ticket_no"
    ]
    quote = api.get(f"/api/v1/tickets/{number}/quote", headers=token).json()
    assert quote["change_fee_fen"] == 0
    assert [o["inventory_id"] for o in quote["options"]] == [later_id]
    changed = api.post(
        f"/api/v1/tickets/{number}/change",
        headers={**token, "Idempotency-Key": "change-1"},
        json={"inventory_id": later_id},
    )
    assert changed.status_code == 200, changed.text


def test_a_real_name_card_shows_the_holders_id_masked(api, office):
    order = paid_order(api, office, quantity=1, inventory_id=office.real_name, holders=[ID_NUMBER])
    cards = api.get(
        f"/api/v1/orders/{order['order_no']}/cards",
        headers={"X-Order-Token": order["access_token"]},
    ).json()
    assert cards["tickets"][0]["holder"] == "110***********002X"
    assert ID_NUMBER not in json.dumps(cards)


def decode_png(body: bytes) -> list[str]:
    frame = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_GRAYSCALE)
    return QrDecoder().decode(frame)


def test_a_poster_points_to_the_shop_at_the_public_address(api, office):
    api.app.state.context.shop = ShopSettings("https://tickets.example", FONT)
    manager = bearer(api, "boss")
    product = office.products["timed"]
    answer = api.get(f"/api/v1/sites/S1/poster.png?product={product}", headers=manager)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["x-poster-font"] == "ok"
    assert decode_png(answer.content) == [f"https://tickets.example/shop/S1?product={product}"]


def test_posters_come_in_a4_and_a3_as_png_and_pdf(api, office):
    api.app.state.context.shop = ShopSettings("", FONT)
    manager = bearer(api, "boss")
    a4 = api.get("/api/v1/sites/S1/poster.png", headers=manager)
    a3 = api.get("/api/v1/sites/S1/poster.png?paper=a3", headers=manager)
    sizes = [cv2.imdecode(np.frombuffer(p.content, np.uint8), 0).shape for p in (a4, a3)]
    assert sizes == [(1754, 1240), (2480, 1754)]  # 150 dpi
    assert decode_png(a4.content) == ["http://testserver/shop/S1"]
    pdf = api.get("/api/v1/sites/S1/poster.pdf?paper=a3", headers=manager)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert b"/MediaBox [0 0 841.89 1190.55]" in pdf.content  # A3 in points


def test_without_the_cjk_font_a_poster_is_english_only_and_says_so(api, office):
    api.app.state.context.shop = ShopSettings("", Path("/no/such/font.ttc"))
    manager = bearer(api, "boss")
    for kind in ("png", "pdf"):
        answer = api.get(f"/api/v1/sites/S1/poster.{kind}", headers=manager)
        assert answer.status_code == 200
        assert answer.headers["x-poster-font"] == "missing"
    assert decode_png(api.get("/api/v1/sites/S1/poster.png", headers=manager).content)


def test_posters_are_made_for_managers_only(api, office):
    problem(api.get("/api/v1/sites/S1/poster.png"), 401, "unauthenticated")
    problem(api.get("/api/v1/sites/S1/poster.png", headers=bearer(api, "till1")), 403, "forbidden")


@pytest.mark.parametrize("value", ["tickets.example", "ftp://tickets.example"])
def test_a_public_address_without_a_web_scheme_is_refused_at_start(value):
    with pytest.raises(ConfigError, match="SCENIC_PUBLIC_BASE_URL"):
        ShopSettings.from_env({"SCENIC_PUBLIC_BASE_URL": value})


def test_a_group_code_says_how_many_people_it_admits(api, office):
    order = paid_order(api, office, quantity=5, group_ticket=True)
    cards = api.get(
        f"/api/v1/orders/{order['order_no']}/cards",
        headers={"X-Order-Token": order["access_token"]},
    ).json()
    assert [(t["people"], t["price_type"]) for t in cards["tickets"]] == [(5, "adult")]
