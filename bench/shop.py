"""The visitor's phone: from opening the shop to a paid ticket on screen, and the pages' weight.

A real ``scenic-cloud serve`` (SQLite, sandbox on: simulators/shop_site.py) and Debian's
headless Chromium in a 4-inch phone context (tests/browser.py's PHONE), a fresh context per
visitor (nothing cached, as someone who just scanned the poster). Each visitor opens the
shop, picks the day and slot, two adults and a child, types a phone number, pays in the
sandbox and waits for the three codes. Reported:

- browser: wall time from ``goto(shop)`` to the third code drawn (no human think time);
- server: the part of it the cloud spent answering, the sum over the requests of the time
  from sending the request to the first byte of the answer (Resource Timing), on the same
  2 cores as the browser;
- weight: bytes of every answer the shop's first page needed (HTML, CSS, scripts, the
  availability JSON), and of the ticket page with its three codes; target under 200 KB.
Every request is routed: one to any host but the cloud fails the run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.report import report
from simulators.shop_site import SITE, shop_site
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PHONE

VISITORS = 10
AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in the site's zone: every slot ahead
WEIGHT_TARGET = 200 * 1024


class Traffic:
    """Every answer a browser context received: bytes, server time, and foreign hosts."""

    def __init__(self, context: Any, cloud: str) -> None:
        self.cloud, self.foreign = cloud, []
        self.bytes = 0
        self.server_ms = 0.0
        context.route("**/*", self._guard)
        context.on("requestfinished", self._finished)

    def _guard(self, route: Any) -> None:
        if urlparse(route.request.url).netloc == self.cloud:
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def _finished(self, request: Any) -> None:
        if request.url.startswith("data:"):
            return
        timing = request.timing
        if timing["responseStart"] >= 0 and timing["requestStart"] >= 0:
            self.server_ms += timing["responseStart"] - timing["requestStart"]
        answer = request.response()
        if answer is not None:  # every answer of the cloud has a length (no streaming)
            self.bytes += int(answer.headers.get("content-length", "0"))

    def reset(self) -> None:
        self.bytes, self.server_ms = 0, 0.0


def visit(browser: Any, site: Any) -> dict[str, float]:
    context = browser.new_context(**PHONE)
    traffic = Traffic(context, urlparse(site.api).netloc)
    try:
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"{site.api}/shop/{SITE}?product={site.timed['id']}")
        page.get_by_test_id(f"day-{site.day.isoformat()}").click()
        page.get_by_test_id(f"slot-{site.slots['open']}").click()
        first_page = traffic.bytes
        page.get_by_test_id("plus-adult").click()
        page.get_by_test_id("plus-adult").click()
        page.get_by_test_id("plus-child").click()
        page.locator("#contact").fill("13800000000")
        page.get_by_test_id("pay-sandbox").click()
        page.wait_for_url("**/t/*")
        traffic_before_tickets = traffic.bytes
        page.locator(".card .qr img").nth(2).wait_for()
        seconds = time.perf_counter() - started
        page.wait_for_selector("body[data-saved='1']")
        ticket_page = traffic.bytes - traffic_before_tickets
        if traffic.foreign:
            raise RuntimeError(f"requests to other hosts: {traffic.foreign}")
        return {
            "browser_ms": seconds * 1000,
            "server_ms": traffic.server_ms,
            "first_page_bytes": first_page,
            "ticket_page_bytes": ticket_page,
        }
    finally:
        context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    runs: list[dict[str, float]] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        shop_site(Path(folder), AT) as site,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            visit(browser, site)  # warm the server (imports, first queries)
            runs = [visit(browser, site) for _ in range(VISITORS)]
        finally:
            browser.close()

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    first_kb = max(run["first_page_bytes"] for run in runs) / 1024
    rows = [
        {
            "figure": "shop opened -> 3 paid codes on screen (browser)",
            "value": round(median("browser_ms")),
            "unit": "ms (median)",
            "max": round(max(run["browser_ms"] for run in runs)),
        },
        {
            "figure": "of which the cloud answering (server side)",
            "value": round(median("server_ms")),
            "unit": "ms (median)",
            "max": round(max(run["server_ms"] for run in runs)),
        },
        {
            "figure": "shop first page weight (HTML, CSS, JS, availability)",
            "value": round(first_kb, 1),
            "unit": "KB",
            "target": "< 200 KB",
            "met": first_kb * 1024 < WEIGHT_TARGET,
        },
        {
            "figure": "ticket page with 3 codes (shell, scripts, cards JSON)",
            "value": round(max(run["ticket_page_bytes"] for run in runs) / 1024, 1),
            "unit": "KB",
        },
        {"figure": "requests to hosts other than the cloud", "value": 0, "unit": "requests"},
    ]
    report(
        "shop",
        f"The visitor's phone: {VISITORS} visitors, each a fresh 320x568 Chromium context",
        rows,
        "Browser and server share the 2 cores; no human think time. Server side is the sum of "
        "request-to-first-byte over the flow's requests (Resource Timing).",
    )


if __name__ == "__main__":
    main()
