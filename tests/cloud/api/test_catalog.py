"""Catalogue input that no ticket could carry is refused when a manager enters it, not when a
buyer pays (a 500 then); site codes are whole matches; numbers and flags are never coerced."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cloud.core.errors import Problem
from cloud.services.sites import add_site
from tests.cloud.http_calls import bearer, place_order, problem


def today(api) -> date:
    """The API's own today (its context's clock), which the sales horizon counts from."""
    return api.app.state.context.clock.now().date()


def product(**fields):
    return {
        "site": "S1",
        "code": "P1",
        "name_zh": "测试",
        "name_en": "Test",
        "kind": "day",
        "prices": [{"price_type": "adult", "amount_fen": 100}],
        **fields,
    }


BAD_ZONES = [
    ([-1, 1e11], "invalid_request"),
    ([70000], "invalid_request"),
    ([1, 1], "invalid_request"),
    ([], "invalid_request"),
    (list(range(65)), "invalid_request"),
    ([7], "unknown_zone"),
]


def test_zones_no_ticket_can_carry_are_refused(api):
    boss = bearer(api, "boss")
    for zones, code in BAD_ZONES:
        answer = api.post("/api/v1/products", json=product(zones=zones), headers=boss)
        problem(answer, 422, code)


def test_inventory_on_a_day_outside_the_sales_horizon_is_refused(api, office):
    boss = bearer(api, "boss")
    for day in ("9999-12-31", "0001-01-01", "1999-12-31"):
        stock = {"product_id": office.products["day"], "day": day, "capacity": 10}
        problem(api.post("/api/v1/inventory", json=stock, headers=boss), 422, "bad_inventory_day")


def test_inventory_more_than_three_years_ahead_is_refused(api, office):
    far = today(api) + timedelta(days=4 * 366)
    stock = {"product_id": office.products["day"], "day": far.isoformat(), "capacity": 10}
    problem(
        api.post("/api/v1/inventory", json=stock, headers=bearer(api, "boss")),
        422,
        "bad_inventory_day",
    )


def test_the_longest_validity_on_the_last_day_on_sale_still_pays_and_issues(api, office):
    boss = bearer(api, "boss")
    made = api.post("/api/v1/products", json=product(validity_days=400, zones=[1]), headers=boss)
    assert made.status_code == 201, made.text
    last = today(api) + timedelta(days=3 * 366 - 1)
    stock = api.post(
        "/api/v1/inventory",
        json={"product_id": made.json()["id"], "day": last.isoformat(), "capacity": 10},
        headers=boss,
    )
    assert stock.status_code == 201, stock.text
    order = place_order(
        api, office, key="far-ahead-0001", quantity=1, inventory_id=stock.json()["inventory_id"]
    )
    paid = api.post(
        f"/api/v1/sandbox/pay/{order['order_no']}", headers={"X-Order-Token": order["access_token"]}
    )
    assert paid.status_code == 200 and paid.json()["result"] == "paid", paid.text
    assert paid.json()["tickets"] == 1


def test_a_site_code_is_a_whole_match_of_letters_digits_dash_underscore(api):
    boss = bearer(api, "boss")
    for code in ("S2\n", "S2 ", "a/b", "S+", "#", "", "x" * 33, "景区"):
        site = {"code": code, "name_zh": "西湖", "name_en": "West Lake"}
        problem(api.post("/api/v1/sites", json=site, headers=boss), 422, "invalid_request")


def test_the_site_service_refuses_a_trailing_newline_too(office):
    with office.sessions.begin() as db, pytest.raises(Problem) as refused:
        add_site(db, "S2\n", "西湖", "West Lake", "Asia/Shanghai")
    assert refused.value.code == "bad_site_code"


def test_a_quantity_must_be_a_json_integer(api, office):
    for quantity in ("1", True, 1.0, "one"):
        line = {"inventory_id": office.day_ticket, "price_type": "adult", "quantity": quantity}
        answer = api.post(
            "/api/v1/orders",
            headers={"Idempotency-Key": "strict-quantity"},
            json={"site": "S1", "lines": [line]},
        )
        problem(answer, 422, "invalid_request")


def test_flags_and_amounts_are_not_coerced(api):
    boss = bearer(api, "boss")
    for fields in ({"real_name": 1}, {"real_name": "yes"}, {"validity_days": "2"}):
        problem(
            api.post("/api/v1/products", json=product(**fields), headers=boss),
            422,
            "invalid_request",
        )
    priced = product(prices=[{"price_type": "adult", "amount_fen": "100"}])
    problem(api.post("/api/v1/products", json=priced, headers=boss), 422, "invalid_request")


def test_days_are_still_iso_text(api, office):
    stock = {
        "product_id": office.products["day"],
        "day": (office.day + timedelta(days=1)).isoformat(),
        "capacity": 10,
    }
    assert api.post("/api/v1/inventory", json=stock, headers=bearer(api, "boss")).status_code == 201
    assert date.fromisoformat(stock["day"]) > office.day


def test_a_manager_adds_a_site_with_zones_and_it_lists_its_products(api, office):
    boss = bearer(api, "boss")
    made = api.post(
        "/api/v1/sites",
        headers=boss,
        json={
            "code": "S2",
            "name_zh": "西湖",
            "name_en": "West Lake",
            "zones": [{"zone": 1, "name_zh": "苏堤", "name_en": "Su Causeway"}],
        },
    )
    assert made.status_code == 201, made.text
    problem(
        api.post(
            "/api/v1/sites",
            headers=boss,
            json={"code": "S2", "name_zh": "西湖", "name_en": "West Lake"},
        ),
        409,
        "duplicate_site",
    )
    problem(
        api.post(
            "/api/v1/sites",
            headers=boss,
            json={"code": "S3", "name_zh": "x", "name_en": "x", "timezone": "Mars/Base"},
        ),
        422,
        "bad_timezone",
    )
    assert api.get("/api/v1/sites/S2/products").json() == []


def test_availability_warns_before_the_slot_is_full(api, office):
    for number in range(2):
        api.post(
            "/api/v1/orders",
            headers={"Idempotency-Key": f"warn-order-{number:04d}"},
            json={
                "site": "S1",
                "lines": [{"inventory_id": office.timed_9, "price_type": "adult", "quantity": 20}],
            },
        )
    (slot,) = api.get(
        f"/api/v1/products/{office.products['timed']}/availability",
        params={"day": office.day.isoformat()},
    ).json()
    assert slot["taken"] == 40 and slot["warning"] and not slot["stopped"]
