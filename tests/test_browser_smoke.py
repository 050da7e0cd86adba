"""The browser the dashboard and shop tests use starts, draws Chinese text, and goes offline."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_headless_chromium_renders_a_page_offline(phone_context, screenshot):
    page = phone_context.new_page()
    page.set_content(
        "<html lang='zh-CN'><head><meta name='viewport' content='width=device-width'></head>"
        "<body><h1>景区票务 Tickets</h1></body></html>"
    )
    assert page.inner_text("h1") == "景区票务 Tickets"
    assert page.evaluate("window.innerWidth") == 320
    phone_context.set_offline(True)
    assert page.evaluate("navigator.onLine") is False
    assert screenshot(page, "smoke").stat().st_size > 0
