"""A ticket office with a shop to buy from, for the shop's browser tests and ``bench shop``.

Everything goes through the product: ``keys init``, a real ``scenic-cloud serve --sandbox``
process (simulators/cloud_server.py) on SQLite, ``admin create`` for a manager, then the
catalogue entered over the API as a manager would: site S1 with two zones, a timed-entry
product with four price types and three slots on the site's today (one with places, one
nearly full, one sold out), and a real-name day product.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from cloud.services.cloud_keys import init_keys
from simulators.cloud_server import cloud_server, post_json, serve_env

SITE = "S1"
TZ = ZoneInfo("Asia/Shanghai")
PASSPHRASE = "a long shop test passphrase"
BIN = Path(sys.executable).parent


@dataclass
class ShopSite:
    api: str  # base URL of the running serve
    env: dict[str, str]  # its environment (state folder, database, passphrase, broker)
    manager: dict[str, str]  # an Authorization header
    timed: dict[str, Any]  # the timed-entry product as the API answered it
    real_name: dict[str, Any]
    slots: dict[str, int]  # "open", "few", "sold_out" -> inventory id
    day: date

    @property
    def state(self) -> Path:
        return Path(self.env["SCENIC_STATE_DIR"])


@contextmanager
def shop_site(
    folder: Path, at: datetime, extra_env: dict[str, str] | None = None
) -> Iterator[ShopSite]:
    """A serve process pinned at ``at`` (SCENIC_CLOCK_AT) with the catalogue above on the
    site's date of ``at``; the open slot is the hour around ``at`` (site time)."""
    state = folder / "cloud"
    init_keys(state, PASSPHRASE.encode())
    env = {
        **serve_env(state, f"sqlite:///{state / 'cloud.sqlite'}", PASSPHRASE),
        "SCENIC_CLOCK_AT": at.isoformat(),
        **(extra_env or {}),
    }
    with cloud_server(env) as api:
        manager = _manager(api, env)
        local = at.astimezone(TZ)
        hour = local.hour
        day = local.date()
        timed, real_name, slots = _catalogue(api, manager, day, hour)
        yield ShopSite(api, env, manager, timed, real_name, slots, day)


def _manager(api: str, env: dict[str, str]) -> dict[str, str]:
    username, password = "shop-manager", secrets.token_urlsafe(12)
    subprocess.run(
        [str(BIN / "scenic-cloud"), "admin", "create", "--username", username, "--role", "manager"],
        env={**env, "SCENIC_ADMIN_PASSWORD": password},
        check=True,
        capture_output=True,
    )
    answer = httpx.post(
        f"{api}/api/v1/auth/token", json={"username": username, "password": password}
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _catalogue(
    api: str, manager: dict[str, str], day: date, hour: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        return post_json(api, path, body, manager, secrets.token_hex(8))

    post(
        "sites",
        {
            "code": SITE,
            "name_zh": "灯会景区",
            "name_en": "Lantern Festival Park",
            "timezone": str(TZ),
            "zones": [
                {"zone": 1, "name_zh": "灯会主场", "name_en": "Main lantern show"},
                {"zone": 2, "name_zh": "湖畔", "name_en": "Lakeside"},
            ],
        },
    )
    prices = [
        {"price_type": "adult", "amount_fen": 8000},
        {"price_type": "child", "amount_fen": 4000},
        {"price_type": "concession", "amount_fen": 5000},
        {"price_type": "senior", "amount_fen": 4000},
    ]
    timed = post(
        "products",
        {
            "site": SITE,
            "code": "NIGHT",
            "name_zh": "灯会夜场分时票",
            "name_en": "Lantern night, timed entry",
            "kind": "timed",
            "zones": [1, 2],
            "refund_until_hours": -24,  # unused tickets refundable until the day ends
            "refund_fee_percent": 10,
            "prices": prices,
        },
    )
    real_name = post(
        "products",
        {
            "site": SITE,
            "code": "DAYREAL",
            "name_zh": "实名日票",
            "name_en": "Day ticket (real name)",
            "kind": "day",
            "real_name": True,
            "refund_until_hours": -24,
            "prices": prices[:2],
        },
    )
    start = min(hour, 21) * 60  # the hour around now, and the two after it
    slots = {}
    for name, offset, capacity, warn in (
        ("open", 0, 200, 80),
        ("few", 60, 10, 50),
        ("sold_out", 120, 0, 80),
    ):
        row = post(
            "inventory",
            {
                "product_id": timed["id"],
                "day": day.isoformat(),
                "capacity": capacity,
                "slot_start": start + offset,
                "slot_end": start + offset + 60,
                "warn_percent": warn,
            },
        )
        slots[name] = int(row["inventory_id"])
    post("inventory", {"product_id": real_name["id"], "day": day.isoformat(), "capacity": 500})
    return timed, real_name, slots


def fill_few(site: ShopSite, places: int = 6) -> None:
    """Sell ``places`` of the nearly-full slot, so the shop shows it as 预警 (few left)."""
    answer = httpx.post(
        f"{site.api}/api/v1/orders",
        headers={**site.manager, "Idempotency-Key": secrets.token_hex(8)},
        json={
            "site": SITE,
            "channel": "window",
            "lines": [
                {"inventory_id": site.slots["few"], "price_type": "adult", "quantity": places}
            ],
        },
    )
    answer.raise_for_status()
