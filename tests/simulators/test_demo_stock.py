"""The demo keeps selling across midnight in the site's zone: the day ticket's places for the
new day are opened when the day turns, not yesterday's offered (the ticket office refuses a
past day; a demo started at 23:59 Asia/Shanghai used to stop there)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from keys.clock import ManualClock
from simulators import site


def test_the_places_sold_are_always_todays_in_the_site_zone(monkeypatch: pytest.MonkeyPatch):
    opened: list[tuple[str, dict[str, Any], str]] = []

    def post_json(api: str, path: str, body: dict[str, Any], headers: Any, key: str) -> Any:
        opened.append((path, body, key))
        return {"inventory_id": 100 + len(opened)}

    monkeypatch.setattr(site, "post_json", post_json)
    clock = ManualClock(datetime(2026, 12, 5, 15, 59, 30, tzinfo=UTC))  # 23:59:30 in Shanghai
    stock = site.DayStock("http://api", {}, 7, clock)

    assert stock.today() == 101 and stock.today() == 101  # opened once for the day
    clock.advance(31)  # 00:00:01 on the 6th, site time
    assert stock.today() == 102
    assert [(body["day"], key) for _, body, key in opened] == [
        ("2026-12-05", "demo-inventory-2026-12-05"),
        ("2026-12-06", "demo-inventory-2026-12-06"),
    ]
    assert {body["product_id"] for _, body, _ in opened} == {7}
