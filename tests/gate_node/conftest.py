"""A real node state directory, made through the same code gate-node init uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate_node.state import NodeState
from keys import keystore
from keys.clock import ManualClock
from keys.keyring import IssuerKey, sign_keyring
from provisioning.node_init import initialise
from tests.conftest import TEST_AT


def make_state(directory: Path, root_key, issuer_key, **config) -> NodeState:
    directory.mkdir(parents=True, exist_ok=True)
    (directory.parent / "root.pem").write_text(keystore.public_pem(root_key.public_key))
    (directory.parent / "keyring.cose").write_bytes(
        sign_keyring(
            root_key,
            [IssuerKey(issuer_key.kid, issuer_key.public_key)],
            site="S1",
            seq=1,
            issued_at=TEST_AT,
        )
    )
    doc = {"site": "S1", "node": "G1", "kind": "tripod", "zone": 1, **config}
    return initialise(
        directory / "state",
        doc,
        directory.parent / "root.pem",
        directory.parent / "keyring.cose",
        None,
        b"a long test passphrase",
        clock=ManualClock(TEST_AT),
    )


@pytest.fixture
def node_state(tmp_path, root_key, issuer_key) -> NodeState:
    return make_state(tmp_path / "node", root_key, issuer_key)
