"""Issuer key rotation: new tickets carry the new kid, old ones keep working until retired,
and every site gets a newer root-signed keyring for its gates."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.api.context import from_settings
from cloud.core.config import Settings
from cloud.db import make_engine, session_factory
from cloud.models import SiteDocument
from cloud.services import issuer_keys
from cloud.services.sites import add_site
from keys import keystore
from keys.claims import TicketClaims
from keys.keyring import Keyring
from keys.ticket import issue_ticket, verify_ticket

TOOL = str(Path(sys.executable).with_name("scenic-cloud"))
PASSPHRASE = "a long cloud passphrase"


@pytest.fixture
def cloud(tmp_path) -> dict[str, str]:
    env = {
        **os.environ,
        "SCENIC_STATE_DIR": str(tmp_path / "state"),
        "SCENIC_KEY_PASSPHRASE": PASSPHRASE,
        "SCENIC_DB_URL": f"sqlite:///{tmp_path / 'cloud.sqlite'}",
    }
    assert subprocess.run([TOOL, "keys", "init"], env=env, capture_output=True).returncode == 0
    assert (
        subprocess.run(
            [TOOL, "site", "--code", "S1", "--name-zh", "甲", "--name-en", "A"],
            env=env,
            capture_output=True,
        ).returncode
        == 0
    )
    return env


def keys(env, *args):
    return subprocess.run(
        [TOOL, "keys", *args], env=env, capture_output=True, text=True, timeout=120
    )


def ticket(signing) -> str:
    return issue_ticket(
        signing,
        TicketClaims(
            ticket_id=os.urandom(8),
            product=1,
            valid_from=date(2026, 11, 24),
            valid_until=date(2026, 11, 24),
        ),
    )


def context(env):
    return from_settings(
        Settings(state_dir=Path(env["SCENIC_STATE_DIR"]), db_url=env["SCENIC_DB_URL"]),
        PASSPHRASE.encode(),
    )


def gate_keyring(env) -> Keyring:
    state = Path(env["SCENIC_STATE_DIR"])
    engine = make_engine(env["SCENIC_DB_URL"])
    with session_factory(engine)() as session:
        raw = session.scalar(select(SiteDocument.raw).where(SiteDocument.doc_type == "keyring"))
    engine.dispose()
    root = keystore.load(state / "keys/root.key", PASSPHRASE.encode())
    return Keyring.load(raw, root.public_key, "S1")


def test_rotation_signs_with_the_new_key_and_keeps_the_old_verifying(cloud):
    before = context(cloud)
    old_ticket = ticket(before.issuer.key)
    rotated = keys(cloud, "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "I2 active" in rotated.stdout and "I1 verify" in rotated.stdout
    after = context(cloud)
    assert after.issuer.kid == "I2"
    ring = gate_keyring(cloud)
    assert ring.kids == ["I1", "I2"]
    assert verify_ticket(old_ticket, ring).valid
    assert verify_ticket(ticket(after.issuer.key), ring).kid == b"I2"


def test_a_retired_key_makes_its_tickets_refused_at_the_gates(cloud):
    old_ticket = ticket(context(cloud).issuer.key)
    keys(cloud, "rotate")
    first_seq = gate_keyring(cloud).seq
    retired = keys(cloud, "retire", "I1")
    assert retired.returncode == 0, retired.stderr
    ring = gate_keyring(cloud)
    assert ring.seq > first_seq  # a gate takes it as newer
    assert verify_ticket(old_ticket, ring).reason.value == "retired_kid"


def test_the_active_key_cannot_be_retired(cloud):
    refused = keys(cloud, "retire", "I1")
    assert refused.returncode == 2 and "Rotate first" in refused.stderr
    assert issuer_keys.read_registry(Path(cloud["SCENIC_STATE_DIR"])) == {"I1": "active"}


def test_sites_added_later_still_get_keyrings(cloud, tmp_path):
    engine = make_engine(cloud["SCENIC_DB_URL"])
    with session_factory(engine).begin() as session:
        add_site(session, "S2", "乙", "B", "Asia/Shanghai")
    engine.dispose()
    assert "2 site(s)" in keys(cloud, "rotate").stdout


def test_a_running_cloud_signs_with_the_rotated_key_without_a_restart(cloud):
    serving = context(cloud)  # what `scenic-cloud serve` runs on, built once at start
    assert serving.issuer.kid == "I1"
    rotated = keys(cloud, "rotate")  # another process, as an operator runs it
    assert rotated.returncode == 0, rotated.stderr
    assert serving.issuer.kid == "I2"
    assert sorted(k.kid for k in serving.keyring) == [b"I1", b"I2"]
    assert verify_ticket(ticket(serving.issuer.key), gate_keyring(cloud)).kid == b"I2"


def test_a_registry_change_that_cannot_load_keeps_the_old_key_signing(cloud):
    serving = context(cloud)
    registry = Path(cloud["SCENIC_STATE_DIR"]) / "keys" / "issuers.json"
    registry.write_text('{"keys": {"I1": "verify", "I7": "active"}}\n')  # I7 has no key file
    assert serving.issuer.kid == "I1" and [k.kid for k in serving.keyring] == [b"I1"]
    assert verify_ticket(ticket(serving.issuer.key), Keyring(serving.keyring)).valid
