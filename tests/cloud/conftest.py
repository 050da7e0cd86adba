"""A ticket office with a catalogue, on SQLite and on PostgreSQL (every sales test runs on both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import make_engine, session_factory
from cloud.models import Inventory, Product
from cloud.services.catalogue import add_inventory, add_product
from cloud.services.issuing import Issuer
from cloud.services.payments.cash import CashProvider
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.personal_data import PersonalData
from cloud.services.sites import add_site, add_zone
from keys import keystore
from keys.clock import ManualClock, site_today
from simulators.databases import sqlite_database
from tests.conftest import TEST_AT

SITE_TZ = ZoneInfo("Asia/Shanghai")
SALT = bytes(range(16))
PRICES = [
    {"price_type": "adult", "amount_fen": 8000, "peak_amount_fen": 12000},
    {"price_type": "child", "amount_fen": 4000, "peak_amount_fen": None},
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return sqlite_database(tmp_path)
    return request.getfixturevalue("postgres_url")


@dataclass
class Office:
    sessions: sessionmaker[Session]
    issuer: Issuer
    root: keystore.SigningKey
    pd: PersonalData
    sandbox: SandboxProvider
    cash: CashProvider
    day: date  # a visit day a week from now
    day_ticket: int  # inventory ids
    timed_9: int
    real_name: int
    products: dict[str, int]

    @property
    def providers(self) -> dict[str, object]:
        return {"sandbox": self.sandbox, "cash": self.cash}


@pytest.fixture
def office(db_url, root_key, issuer_key) -> Office:
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    day = site_today(ManualClock(TEST_AT), SITE_TZ) + timedelta(days=7)
    with sessions.begin() as session:
        # Made through the services, as a manager's requests are (services/catalogue.py).
        add_site(session, "S1", "测试景区", "Test scenic area", "Asia/Shanghai")
        add_zone(session, "S1", 1, "主景区", "Main area")

        def product(code: str, zh: str, en: str, kind: str, **rules: Any) -> Product:
            fields = {"site": "S1", "code": code, "name_zh": zh, "name_en": en, "kind": kind}
            return add_product(
                session, {**fields, "validity_days": 1, "entries": 1, **rules}, PRICES
            )

        def places(product: Product, capacity: int, slot_start=None, slot_end=None) -> Inventory:
            return add_inventory(
                session,
                product.id,
                day,
                capacity,
                slot_start=slot_start,
                slot_end=slot_end,
                warn_percent=80,
                stop_percent=100,
                today=site_today(ManualClock(TEST_AT), SITE_TZ),
            )

        products = {
            "day": product(
                "DAY", "日票", "Day ticket", "day", refund_until_hours=24, refund_fee_percent=10
            ),
            "timed": product("TIMED", "分时票", "Timed entry", "timed", zones=[1]),
            "real": product("REAL", "实名票", "Real-name ticket", "day", real_name=True),
        }
        stock = {
            "day": places(products["day"], 1000),
            "timed_9": places(products["timed"], 50, slot_start=540, slot_end=600),
            "real": places(products["real"], 100),
        }
        ids = {name: inv.id for name, inv in stock.items()}
        product_ids = {name: p.id for name, p in products.items()}
    yield Office(
        sessions,
        Issuer(issuer_key, SALT),
        root_key,
        PersonalData(bytes(32)),
        SandboxProvider(b"sandbox secret"),
        CashProvider(),
        day,
        ids["day"],
        ids["timed_9"],
        ids["real"],
        product_ids,
    )
    engine.dispose()


def place_order(office: Office, *lines: Any, at: datetime | None = None, **extra: Any) -> Any:
    """An order for ``lines`` made through the real service, committed; ``extra`` goes to
    ``create_order`` (contact, client, limits, idempotency_key...)."""
    from cloud.services.orders import create_order

    options: dict[str, Any] = {"contact": None, **extra}
    with office.sessions.begin() as session:
        return create_order(
            session,
            site="S1",
            lines=list(lines),
            channel="web",
            pd=office.pd,
            holder_salt=SALT,
            now=at or now(),
            **options,
        )


def now() -> datetime:
    """The instant sales tests act at (fixed: ``TEST_AT``; a test adds to it to move on)."""
    return TEST_AT


def api_context(office: Office, publish=None):
    """The API's context over this office's database and keys (tests build the app on it)."""
    from cloud.api.context import CloudContext

    return CloudContext(
        engine=office.sessions.kw["bind"],
        sessions=office.sessions,
        root=office.root,
        issuer=office.issuer,
        pd=office.pd,
        providers={"sandbox": office.sandbox, "cash": office.cash},
        publish=publish or (lambda site, kind, raw: None),
        clock=ManualClock(TEST_AT),
    )


@pytest.fixture
def published() -> list[tuple[str, str, bytes]]:
    """What the API published to the gates: (site, document type, signed bytes)."""
    return []


@pytest.fixture
def api(office, published):
    """The HTTP API over the office, with a manager, a cashier and a finance account."""
    from fastapi.testclient import TestClient

    from cloud.api.app import create_app
    from cloud.models import User
    from tests.stored_passwords import stored_hash

    context = api_context(office, lambda site, kind, raw: published.append((site, kind, raw)))
    with office.sessions.begin() as db:
        for name, role in (("boss", "manager"), ("till1", "cashier"), ("books", "finance")):
            db.add(User(username=name, password_hash=stored_hash(f"{name}-password"), role=role))
    return TestClient(create_app(context), raise_server_exceptions=False)
