"""The manager's dashboard in real headless Chromium, against a live site: real Mosquitto, the
real ingest worker, the cloud's app under uvicorn. A manager signs in, watches the in-park count
change when a gate reports an entry over MQTT, switches language, and acknowledges an alarm."""

from __future__ import annotations

import re

import pytest

from simulators.dashboard_site import live_site
from simulators.databases import sqlite_database

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]


@pytest.fixture
def site(tmp_path, issuer_key):
    with live_site(tmp_path, sqlite_database(tmp_path), issuer_key) as running:
        yield running


def sign_in(page, site, username="boss", password=None):
    page.goto(site.url + "/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or site.login[1])
    page.click("button[type=submit]")
    page.wait_for_selector("#in-park")


def in_park(page) -> int:
    return int(page.inner_text("#in-park").replace(",", ""))


def test_the_in_park_count_changes_when_a_gate_reports_an_entry_over_mqtt(
    site, browser_context, screenshot
):
    page = browser_context.new_page()
    sign_in(page, site)
    page.wait_for_selector("body[data-version]", state="attached")  # the stream is open
    before = in_park(page)
    screenshot(page, "before")
    site.publish_entry("G1")
    expect(page.locator("#in-park")).to_have_text(f"{before + 1:,}", timeout=10_000)
    assert page.url.endswith("/dashboard")  # no reload: the stream brought it
    screenshot(page, "after-entry")


def test_a_manager_switches_to_english_and_it_is_remembered_at_the_next_sign_in(
    site, browser_context, screenshot
):
    page = browser_context.new_page()
    sign_in(page, site)
    assert page.text_content("#attention h2") == "需要处理"
    page.click("#switch-language")
    page.wait_for_selector("text=Needs attention")
    assert page.get_attribute("html", "lang") == "en"
    screenshot(page, "english")
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/dashboard/login$"))
    sign_in(page, site)
    assert page.text_content("#attention h2") == "Needs attention"


def test_a_manager_acknowledges_an_alarm_with_a_note(site, browser_context, screenshot):
    page = browser_context.new_page()
    sign_in(page, site)
    assert page.inner_text("#att-alarms b") == "1"
    alarm = page.locator("li.alarm.open").first
    alarm.locator("input[name=note]").fill("保安已到G2，确认为同行儿童")
    alarm.locator("button").click()
    page.wait_for_selector("li.alarm.acknowledged")
    assert "保安已到G2" in page.inner_text("li.alarm.acknowledged")
    assert page.inner_text("#att-alarms b") == "0"
    screenshot(page, "acknowledged")


def test_a_new_alarm_appears_while_the_manager_watches(site, browser_context):
    page = browser_context.new_page()
    sign_in(page, site)
    page.wait_for_selector("body[data-version]", state="attached")
    site.publish("G1", "alarm", alarm="forced", arg=1)
    expect(page.locator("#att-alarms b")).to_have_text("2", timeout=10_000)
    assert "强行闯入" in page.inner_text("#alarm-list")


def test_a_manager_sets_a_pass_renewal_rule_and_a_wrong_one_is_explained_at_its_form(
    site, browser_context, screenshot
):
    from cloud.models import PassRule, Price, Product

    with site.day.sessions.begin() as db:
        product = Product(site="S1", code="YEAR", name_zh="年卡", name_en="Annual pass",
                          kind="annual", validity_days=365, entries=0)  # fmt: skip
        db.add(product)
        db.flush()
        db.add(Price(product_id=product.id, price_type="adult", amount_fen=29800))
        annual = product.id
    page = browser_context.new_page()
    sign_in(page, site)
    page.click("#pass-rules")
    page.wait_for_url(re.compile(r".*/dashboard/passes$"))
    form = page.locator(f"#product-{annual}")
    form.locator("input[name=level_gold]").fill("150")  # a typing slip: 150 % off
    form.locator(f"#save-{annual}").click()
    expect(page.locator(f"#error-{annual}")).to_contain_text("level_discounts.gold")
    screenshot(page, "pass-rule-refused")
    form = page.locator(f"#product-{annual}")
    form.locator("input[name=level_gold]").fill("10")
    form.locator("input[name=grace_days]").fill("15")
    form.locator("input[name=price_yuan]").fill("268.5")
    form.locator(f"#save-{annual}").click()
    expect(page.locator("#notice")).to_have_text("续卡规则已保存")
    assert page.locator(f"#product-{annual} input[name=price_yuan]").input_value() == "268.50"
    screenshot(page, "pass-rule-saved")
    with site.day.sessions() as db:
        rule = db.get(PassRule, annual)
        assert (rule.grace_days, rule.price_fen, rule.level_discounts) == (15, 26850, {"gold": 10})
