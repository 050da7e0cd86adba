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
