"""A gate's state directory rolled back, deleted or replaced is noticed, and never admits a
ticket the node knew to be refunded (gate_node/trust_record.py).

Each test tampers with the files as someone at the SD card would (delete, copy an older file
back, swap root.pem, edit node.json, touch trust.cose), then opens the node as ``gate-node
run`` does: real state loading, the node key decrypted, ``build`` and the service loop.
Documents are really signed by the test's root key; tickets are valid 2020-2099, so no
outcome depends on the hour the suite runs at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from tinydb import TinyDB

from gate_node.assembly import build, make_engine
from gate_node.clock import ClockFloor
from gate_node.downlink import Downlink
from gate_node.ledger import Ledger
from gate_node.readers.credentials import Credential
from gate_node.state import NodeState, NodeStateError
from gate_node.trust_record import RECORD_FILE, TrustRecord, write_record
from keys import keystore
from keys.card_index import sign_card_index
from keys.claims import TicketClaims
from keys.keyring import IssuerKey, sign_keyring
from keys.node_registry import sign_node_registry
from keys.reasons import Reason
from keys.revocation import sign_revocations
from keys.signed_document import sign_document
from keys.ticket import issue_ticket
from tests.gate_node.conftest import make_state

PASSPHRASE = b"a long test passphrase"
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
LAST_DAY = date(2099, 12, 31)
REFUNDED_FIRST = b"\x0a" * 8  # in snapshot 1 and 2
REFUNDED_LATER = b"\x0b" * 8  # refunded after snapshot 1: only in snapshot 2
GOOD = b"\x0c" * 8
TOOL = str(Path(sys.executable).with_name("gate-node"))


def ticket(signer, ticket_id: bytes) -> str:
    claims = TicketClaims(
        ticket_id=ticket_id, product=1, valid_from=date(2020, 1, 1), valid_until=LAST_DAY
    )
    return issue_ticket(signer, claims)


def snapshot(root_key, seq: int, *ticket_ids: bytes) -> bytes:
    revoked = dict.fromkeys(ticket_ids, LAST_DAY)
    return sign_revocations(root_key, site="S1", seq=seq, kind="snapshot", revoked=revoked)


class Site:
    """One node whose state has moved on: keyring 2 (I1 retired, I2 added), revocation
    snapshot 2, config 1, cards 1, nodes 1. Older signed files are kept, as a backup would."""

    def __init__(self, tmp_path: Path, root_key, issuer_key) -> None:
        self.root_key, self.issuer_key = root_key, issuer_key
        self.new_issuer = keystore.generate("issuer", "I2")
        state = make_state(tmp_path / "node", root_key, issuer_key)
        self.directory = state.directory
        self.keyring_1 = (self.directory / "keyring.cose").read_bytes()
        self.keyring_2 = sign_keyring(
            root_key,
            [
                IssuerKey(issuer_key.kid, issuer_key.public_key, retired=True),
                IssuerKey(self.new_issuer.kid, self.new_issuer.public_key),
            ],
            site="S1",
            seq=2,
        )
        self.snapshot_1 = snapshot(root_key, 1, REFUNDED_FIRST)
        self.snapshot_2 = snapshot(root_key, 2, REFUNDED_FIRST, REFUNDED_LATER)
        state.apply_revocations(self.snapshot_1)
        state.apply_revocations(self.snapshot_2)
        state.apply_keyring(self.keyring_2)
        state.apply_config(
            sign_document(root_key, "config", "S1", 1, {"settings": {"min_gap_minutes": 5}})
        )
        state.apply_cards(sign_card_index(root_key, site="S1", seq=1, entries={}))
        state.apply_nodes(sign_node_registry(root_key, site="S1", seq=1, nodes={"G1": state.root}))
        self.pins = MockFactory()
        self.pins.pin(21).drive_high()  # fire loop intact

    def open(self):
        """As ``gate-node run``: open, decrypt the node key, build."""
        state = NodeState.open(self.directory)
        key = state.identity(PASSPHRASE)
        return build(state, self.pins, with_camera=False, node_key=key)

    def scan(self, node, text: str):
        """One visitor at a free lane: the decision the service made on this read."""
        before = len(node.service.decisions)
        node.service.repeats = type(node.service.repeats)(0)
        node.service.reads.put(Credential("qr", text))
        node.service.step(5)
        assert len(node.service.decisions) == before + 1
        return node.service.decisions[-1]

    def downlink(self, node, requests: list | None = None) -> Downlink:
        sent = requests if requests is not None else []
        clock = ClockFloor(node.state.clock_path)
        return Downlink(node.state, node.service.engine, clock, sent.append)

    def alarms(self) -> list[dict]:
        """The trust alarms waiting in the outbox for the cloud (lane alarms left out)."""
        ledger = Ledger(self.directory / "ledger.sqlite", "G1")
        found = [
            e.data
            for e in ledger.pending_events()
            if e.kind == "alarm" and e.data["alarm"] in ("state_untrusted", "rolled_back")
        ]
        ledger.close()
        return found

    def revocation_files(self) -> list[Path]:
        return sorted((self.directory / "revocations").glob("*.cose"))


@pytest.fixture
def site(tmp_path, root_key, issuer_key):
    made = Site(tmp_path, root_key, issuer_key)
    yield made
    made.pins.reset()


def codes(state: NodeState) -> list[str]:
    return sorted({p.code for p in state.problems})


# -- nothing tampered: no alarm --------------------------------------------------------------------


def test_a_node_reopened_unchanged_trusts_its_state_and_admits(site):
    node = site.open()
    assert node.state.problems == [] and node.service.engine.closed is None
    assert node.state.config.min_gap_minutes == 5  # the signed config is what counts
    assert site.scan(node, ticket(site.issuer_key, b"\x0d" * 8)).reason is Reason.RETIRED_KID
    assert site.scan(node, ticket(site.new_issuer, REFUNDED_LATER)).reason is Reason.REVOKED
    assert site.scan(node, ticket(site.new_issuer, GOOD)).grant  # last: the lane is then busy
    assert site.alarms() == []
    node.close()


# -- revocations -------------------------------------------------------------------------------


def test_deleting_the_revocation_snapshot_closes_the_lane_and_a_refunded_ticket_is_refused(site):
    for path in site.revocation_files():
        path.unlink()
    node = site.open()
    assert codes(node.state) == ["rolled_back"]
    assert "revocations: holds seq none, applied 2 before" in node.state.untrusted
    decision = site.scan(node, ticket(site.new_issuer, REFUNDED_LATER))
    assert decision.reason is Reason.STATE_UNTRUSTED
    assert site.pins.pin(17).state is True  # the lock relay never pulled in
    assert site.scan(node, ticket(site.new_issuer, GOOD)).reason is Reason.STATE_UNTRUSTED
    assert node.service.ledger.uses("G1") == []
    (alarm,) = site.alarms()
    assert alarm["alarm"] == "state_untrusted" and alarm["problems"] == ["rolled_back"]
    node.close()


def test_an_older_revocation_snapshot_put_back_is_refused(site):
    for path in site.revocation_files():
        path.unlink()
    (site.directory / "revocations" / "000000000001-snapshot.cose").write_bytes(site.snapshot_1)
    node = site.open()
    assert node.state.revocations.seq == 1 and codes(node.state) == ["rolled_back"]
    assert site.scan(node, ticket(site.new_issuer, REFUNDED_LATER)).reason is (
        Reason.STATE_UNTRUSTED
    )
    assert node.service.ledger.uses("G1") == []
    assert [a["alarm"] for a in site.alarms()] == ["state_untrusted"]
    node.close()


def test_only_a_snapshot_at_the_remembered_seq_reopens_the_lane(site):
    for path in site.revocation_files():
        path.unlink()
    node = site.open()
    requests: list = []
    downlink = site.downlink(node, requests)
    time_doc = sign_document(site.root_key, "time", "S1", 1, {}, issued_at=NOW)
    downlink.handle("scenic/S1/down/time", time_doc)
    assert requests == [{"want": "revocations", "from": 0}]  # asks the cloud for a snapshot
    downlink.handle("scenic/S1/down/revocations", site.snapshot_1)  # a replayed old one
    assert downlink.refused["rolled_back"] == 1
    assert node.service.engine.closed is not None
    assert [a["alarm"] for a in site.alarms()] == ["state_untrusted", "rolled_back"]
    downlink.handle("scenic/S1/down/revocations", site.snapshot_2)
    assert downlink.applied["revocations"] == 1, downlink.refused
    assert node.service.engine.closed is None
    assert site.scan(node, ticket(site.new_issuer, REFUNDED_LATER)).reason is Reason.REVOKED
    assert site.scan(node, ticket(site.new_issuer, GOOD)).grant
    node.close()
    assert NodeState.open(site.directory).problems == []  # and it stays mended


# -- keyring -----------------------------------------------------------------------------------


def test_an_older_keyring_copied_over_the_newer_brings_no_retired_key_back(site):
    (site.directory / "keyring.cose").write_bytes(site.keyring_1)  # I1 active again in it
    node = site.open()
    assert node.state.keyring.seq == 1 and codes(node.state) == ["rolled_back"]
    assert "keyring: holds seq 1, applied 2 before" in node.state.untrusted
    decision = site.scan(node, ticket(site.issuer_key, GOOD))
    assert decision.reason is Reason.STATE_UNTRUSTED and node.service.ledger.uses("G1") == []
    assert site.alarms()[0]["problems"] == ["rolled_back"]
    downlink = site.downlink(node)
    downlink.handle("scenic/S1/down/keyring", site.keyring_2)  # the remembered one, again
    assert node.service.engine.closed is None
    assert site.scan(node, ticket(site.issuer_key, GOOD)).reason is Reason.RETIRED_KID
    node.close()


def test_a_replayed_keyring_is_stale_and_a_rolled_back_one_older_than_remembered_alarms(site):
    node = site.open()
    downlink = site.downlink(node)
    downlink.handle("scenic/S1/down/keyring", site.keyring_1)  # a broker replay: routine
    assert downlink.refused["stale_sequence"] == 1 and site.alarms() == []
    node.close()
    keyring_3 = sign_keyring(
        site.root_key,
        [IssuerKey(site.new_issuer.kid, site.new_issuer.public_key)],
        site="S1",
        seq=3,
    )
    state = NodeState.open(site.directory)
    state.identity(PASSPHRASE)
    state.apply_keyring(keyring_3)
    (site.directory / "keyring.cose").write_bytes(site.keyring_1)  # rolled back on disk
    node = site.open()
    downlink = site.downlink(node)
    downlink.handle("scenic/S1/down/keyring", site.keyring_2)  # newer than held, older than 3
    assert downlink.refused["rolled_back"] == 1
    assert site.alarms()[-1]["alarm"] == "rolled_back"
    assert node.state.keyring.seq == 1 and node.service.engine.closed is not None
    node.close()


# -- the root key and its pin ------------------------------------------------------------------


def replace_root(site) -> keystore.SigningKey:
    """An attacker's root: root.pem swapped, and every root-signed file re-signed with it,
    so each file verifies against the root.pem beside it."""
    impostor = keystore.generate("root", "R9")
    (site.directory / "root.pem").write_text(keystore.public_pem(impostor.public_key))
    (site.directory / "keyring.cose").write_bytes(
        sign_keyring(
            impostor, [IssuerKey(site.new_issuer.kid, site.new_issuer.public_key)], site="S1", seq=9
        )
    )
    for path in site.revocation_files():
        path.unlink()
    (site.directory / "revocations" / "000000000009-snapshot.cose").write_bytes(
        snapshot(impostor, 9)
    )
    for name in ("config.cose", "cards.cose", "nodes.cose"):
        (site.directory / name).unlink()
    return impostor


def set_pin(site, fingerprint: str) -> None:
    with TinyDB(site.directory / "node.json", indent=2) as db:
        db.table("pinned").update({"root_fingerprint": fingerprint})


def assert_refused_at_start(site, code: str) -> None:
    with pytest.raises(NodeStateError, match=code):
        site.open()
    (alarm,) = site.alarms()
    assert alarm["alarm"] == "state_untrusted" and code in alarm["problems"]
    state = NodeState.open(site.directory)  # gate-node verify: decides, never admits
    engine = make_engine(state)
    for ticket_id in (REFUNDED_LATER, GOOD):
        decision = engine.decide(ticket(site.new_issuer, ticket_id), NOW)
        assert decision.reason is Reason.STATE_UNTRUSTED
    engine.ledger.close()


def test_a_replaced_root_pem_is_refused_at_start(site):
    replace_root(site)
    assert "root_replaced" in codes(NodeState.open(site.directory))
    assert_refused_at_start(site, "root_replaced")


def test_a_replaced_root_pem_with_node_json_pinning_it_is_refused_by_the_record(site):
    impostor = replace_root(site)
    set_pin(site, keystore.fingerprint(impostor.public_key))
    assert codes(NodeState.open(site.directory)) == ["pin_edited", "rolled_back"]
    assert_refused_at_start(site, "pin_edited")


def test_editing_the_pinned_fingerprint_in_node_json_is_refused(site):
    set_pin(site, "0000:0000:0000:0000:0000:0000:0000:0000")
    assert codes(NodeState.open(site.directory)) == ["pin_edited", "root_replaced"]
    assert_refused_at_start(site, "pin_edited")


# -- the record itself -------------------------------------------------------------------------


def test_a_deleted_record_is_refused_at_start(site):
    (site.directory / RECORD_FILE).unlink()
    assert codes(NodeState.open(site.directory)) == ["record_missing"]
    assert_refused_at_start(site, "record_missing")


def test_an_edited_record_is_refused_at_start(site):
    raw = bytearray((site.directory / RECORD_FILE).read_bytes())
    raw[-70] ^= 0x01  # a byte of the payload: the node's signature no longer holds
    (site.directory / RECORD_FILE).write_bytes(bytes(raw))
    assert codes(NodeState.open(site.directory)) == ["record_forged"]
    assert_refused_at_start(site, "record_forged")


def test_a_record_rewritten_with_a_swapped_node_key_does_not_start_the_node(site, tmp_path):
    """Files alone can swap node.key for a key of one's own and sign a record that forgets the
    revocations; the real passphrase cannot decrypt that key, so the node never serves."""
    for path in site.revocation_files():
        path.unlink()
    intruder = keystore.generate("node", "N1")
    (site.directory / "node.key").unlink()
    keystore.save(intruder, site.directory / "node.key", b"the intruder's own passphrase")
    record = TrustRecord("G1", keystore.fingerprint(site.root_key.public_key), {"keyring": 2})
    write_record(site.directory, intruder, "S1", record, NOW)
    assert NodeState.open(site.directory).problems == []  # believable without the key...
    with pytest.raises(NodeStateError, match="wrong passphrase"):
        site.open()  # ...but run decrypts it first


def test_a_record_signed_by_another_key_is_refused(site):
    other = keystore.generate("node", "N1")
    record = TrustRecord("G1", keystore.fingerprint(site.root_key.public_key), {"keyring": 2})
    write_record(site.directory, other, "S1", record, NOW)
    assert codes(NodeState.open(site.directory)) == ["record_forged"]
    assert_refused_at_start(site, "record_forged")


# -- what an installer sees ----------------------------------------------------------------------


def test_status_and_run_name_the_problem(site):
    replace_root(site)
    env = {**os.environ, "SCENIC_KEY_PASSPHRASE": PASSPHRASE.decode()}
    env["GPIOZERO_PIN_FACTORY"] = "mock"
    status = subprocess.run(
        [TOOL, "status", "--state-dir", str(site.directory), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    trust = json.loads(status.stdout)["trust"]
    assert status.returncode == 0 and trust["ok"] is False
    assert "root_replaced" in [p["code"] for p in trust["problems"]]
    run = subprocess.run(
        [TOOL, "run", "--state-dir", str(site.directory)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert "root_replaced" in line and "节点数据不可信" in line
