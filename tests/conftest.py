"""Shared fixtures: real keys made per session, a keyring and a clean passphrase environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from keys import keystore
from keys.claims import TicketClaims
from keys.keyring import IssuerKey, Keyring
from simulators.databases import postgres_schema

TEST_PASSPHRASE = "a long test passphrase"


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
