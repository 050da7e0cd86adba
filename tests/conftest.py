"""Shared fixtures: real keys made per session, a keyring, a clean passphrase environment, and
the clock every test runs on (never the machine's: the suite passes at any hour, in any zone)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from keys import keystore
from keys.claims import TicketClaims
from keys.clock import ManualClock, site_today
from keys.keyring import IssuerKey, Keyring
from simulators.databases import postgres_schema

# Browser fixtures for `browser` tests, shared by every test folder.
from tests.browser import (  # noqa: F401
    browser_context,
    chromium,
    phone_context,
    playwright_loop_parked,
    screenshot,
)

TEST_PASSPHRASE = "a long test passphrase"
# The instant tests run at: 13:30 UTC is 21:30 in Asia/Shanghai, late on the same date in both,
# so a test that mixed up the zones would still fail (a wrong day after 16:00 UTC did before).
TEST_AT = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
SITE_TIMEZONE = "Asia/Shanghai"


@pytest.fixture
def clock() -> ManualClock:
    """A clock at ``TEST_AT`` that a test steps (``clock.advance(seconds)``)."""
    return ManualClock(TEST_AT)


@pytest.fixture
def today(clock: ManualClock) -> date:
    """The site's date on ``clock`` (2026-12-01)."""
    return site_today(clock, SITE_TIMEZONE)


@pytest.fixture(scope="session")
def root_key() -> keystore.SigningKey:
    return keystore.generate("root", "R1")


@pytest.fixture(scope="session")
def issuer_key() -> keystore.SigningKey:
    return keystore.generate("issuer", "I1")


@pytest.fixture(scope="session")
def keyring(issuer_key: keystore.SigningKey) -> Keyring:
    return Keyring([IssuerKey(issuer_key.kid, issuer_key.public_key)])


@pytest.fixture
def day_claims() -> TicketClaims:
    return TicketClaims(
        ticket_id=bytes.fromhex("0123456789abcdef"),
        product=12,
        valid_from=date(2026, 11, 24),
        valid_until=date(2026, 11, 24),
    )


@pytest.fixture
def passphrase_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, TEST_PASSPHRASE)
    return TEST_PASSPHRASE


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, migrated, dropped afterwards."""
    with postgres_schema() as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow and hardware-in-the-loop tests first (stable otherwise): pytest-xdist hands tests
    out in collection order, and a minute-long test handed out last kept one worker busy while
    the others sat idle at the end of the run."""
    items.sort(
        key=lambda item: 0 if item.get_closest_marker("slow") or "hil_tests" in item.nodeid else 1
    )
