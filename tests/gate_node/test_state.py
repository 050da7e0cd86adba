"""The state directory trusts only what the pinned root key signed, re-checked at every start."""

from __future__ import annotations

from datetime import date

import pytest

from gate_node.state import NodeState, NodeStateError, validate_config
from keys import keystore
from keys.keyring import IssuerKey, sign_keyring
from keys.revocation import sign_revocations
from tests.gate_node.conftest import make_state


def test_a_new_state_directory_reopens_with_its_keyring(node_state):
    reopened = NodeState.open(node_state.directory)
    assert reopened.keyring.kids == ["I1"] and reopened.config.kind == "tripod"
    assert (node_state.directory / "node.key").stat().st_mode & 0o077 == 0
    assert b"ENCRYPTED" in (node_state.directory / "node.key").read_bytes()


def test_a_keyring_replaced_on_the_sd_card_is_refused_at_start(node_state, issuer_key):
    impostor = keystore.generate("root", "R1")
    forged = sign_keyring(
        impostor, [IssuerKey(issuer_key.kid, issuer_key.public_key)], site="S1", seq=99
    )
    (node_state.directory / "keyring.cose").write_bytes(forged)
    with pytest.raises(NodeStateError, match="bad_signature"):
        NodeState.open(node_state.directory)


def test_revocations_persist_and_a_forged_list_is_never_applied(node_state, root_key):
    node_state.apply_revocations(
        sign_revocations(
            root_key, site="S1", seq=1, kind="snapshot", revoked={b"\x01" * 8: date(2099, 1, 1)}
        )
    )
    assert NodeState.open(node_state.directory).revocations.is_revoked(b"\x01" * 8)
    impostor = keystore.generate("root", "R1")
    with pytest.raises(Exception, match="bad_signature"):
        node_state.apply_revocations(
            sign_revocations(impostor, site="S1", seq=2, kind="snapshot", revoked={})
        )
    assert NodeState.open(node_state.directory).revocations.is_revoked(b"\x01" * 8)


def test_a_newer_snapshot_replaces_the_files_it_supersedes(node_state, root_key):
    for seq in (1, 2):
        node_state.apply_revocations(
            sign_revocations(
                root_key,
                site="S1",
                seq=seq,
                kind="delta" if seq == 2 else "snapshot",
                revoked={bytes([seq]) * 8: date(2099, 1, 1)},
            )
        )
    node_state.apply_revocations(
        sign_revocations(
            root_key, site="S1", seq=3, kind="snapshot", revoked={b"\x03" * 8: date(2099, 1, 1)}
        )
    )
    files = sorted(p.name for p in (node_state.directory / "revocations").iterdir())
    assert files == ["000000000003-snapshot.cose"]


def test_initialising_over_an_existing_node_is_refused(tmp_path, root_key, issuer_key):
    make_state(tmp_path / "n", root_key, issuer_key)
    with pytest.raises(NodeStateError, match="already holds a node"):
        make_state(tmp_path / "n", root_key, issuer_key)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "revolving"}, "kind must be"),
        ({"zone": -1}, "zone"),
        ({"site": "scenic area"}, "site must be"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"direction": "sideways"}, "direction"),
        ({"colour": "red"}, "unknown configuration"),
        ({"readers": [{"url": "/dev/ttyUSB0", "kind": "barcode"}]}, "reader"),
        ({"pin_map": {"kind": "wing", "pins": {}}}, "pin map"),
    ],
)
def test_bad_configuration_names_the_field(change, words):
    with pytest.raises(NodeStateError, match=words):
        validate_config({"site": "S1", "node": "G1", "kind": "tripod", "zone": 1, **change})


def test_an_init_that_fails_half_way_leaves_nothing_that_looks_like_a_node(
    tmp_path, root_key, issuer_key
):
    from gate_node.state import NodeStateError
    from keys.clock import ManualClock
    from provisioning.node_init import initialise
    from tests.conftest import TEST_AT

    make_state(tmp_path / "good", root_key, issuer_key)  # writes root.pem and keyring.cose
    not_revocations = tmp_path / "c.json"
    not_revocations.write_text('{"not": "a revocation list"}')
    for target in (tmp_path / "new-node", tmp_path / "empty-node"):
        if target.name == "empty-node":
            target.mkdir()  # e.g. made by systemd's StateDirectory=
        with pytest.raises(NodeStateError, match="revocations"):
            initialise(
                target,
                {"site": "S1", "node": "G7", "kind": "tripod", "zone": 1},
                tmp_path / "root.pem",
                tmp_path / "keyring.cose",
                not_revocations,
                b"a long test passphrase",
                clock=ManualClock(TEST_AT),
            )
        assert not target.exists() or list(target.iterdir()) == []
