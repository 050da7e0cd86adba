"""A ticket office with a catalogue, on SQLite and on PostgreSQL (every sales test runs on both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import make_engine, session_factory
from cloud.models import Inventory, Price, Product, Site, Zone
from cloud.services.issuing import Issuer
from cloud.services.payments.cash import CashProvider
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.personal_data import PersonalData
from keys import keystore
from keys.clock import ManualClock, site_today
from simulators.databases import sqlite_database
from tests.conftest import TEST_AT

SITE_TZ = ZoneInfo("Asia/Shanghai")
SALT = bytes(range(16))


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
        session.add(Site(code="S1", name_zh="测试景区", name_en="Test scenic area"))
        session.add(Zone(site="S1", zone=1, name_zh="主景区", name_en="Main area"))
        session.flush()
        products = {
            "day": Product(
                site="S1",
                code="DAY",
                name_zh="日票",
                name_en="Day ticket",
                kind="day",
                refund_until_hours=24,
                refund_fee_percent=10,
            ),
            "timed": Product(
                site="S1",
                code="TIMED",
                name_zh="分时票",
                name_en="Timed entry",
                kind="timed",
                zones=[1],
            ),
            "real": Product(
                site="S1",
                code="REAL",
                name_zh="实名票",
                name_en="Real-name ticket",
                kind="day",
                real_name=True,
            ),
        }
        session.add_all(products.values())
        session.flush()
        for product in products.values():
            session.add(
                Price(
                    product_id=product.id,
                    price_type="adult",
                    amount_fen=8000,
                    peak_amount_fen=12000,
                )
            )
            session.add(Price(product_id=product.id, price_type="child", amount_fen=4000))
        stock = {
            "day": Inventory(product_id=products["day"].id, day=day, capacity=1000),
            "timed_9": Inventory(
                product_id=products["timed"].id, day=day, slot_start=540, slot_end=600, capacity=50
            ),
            "real": Inventory(product_id=products["real"].id, day=day, capacity=100),
        }
        session.add_all(stock.values())
        session.flush()
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
    from cloud.core.security import hash_password
    from cloud.models import User

    context = api_context(office, lambda site, kind, raw: published.append((site, kind, raw)))
    with office.sessions.begin() as db:
        for name, role in (("boss", "manager"), ("till1", "cashier"), ("books", "finance")):
            db.add(User(username=name, password_hash=hash_password(f"{name}-password"), role=role))
    return TestClient(create_app(context), raise_server_exceptions=False)
