"""Face data at the gate: root-signed enrolments only, encrypted at rest under the node's key,
a deletion reaching every gate (right to be forgotten), and no image kept unless enabled."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from gate_node.assembly import make_engine
from gate_node.clock import ClockFloor
from gate_node.downlink import Downlink
from gate_node.face.disputes import FOLDER, Disputes
from gate_node.face.vault import BINDINGS, ENROLMENTS
from gate_node.state import NodeState
from keys import keystore, topics
from keys.clock import ManualClock
from keys.face_embedding import embedding_bytes
from keys.face_enrolment import sign_face_enrolments
from keys.holder import holder_ref
from keys.reasons import Reason
from tests import face_photos as photos
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state

SALT = bytes(range(16))
COLLINS = holder_ref(SALT, "id_card", "11010519491231002X")
FACES_TOPIC = topics.down("S1", "faces").name
LANE = {"real_name_check": "face", "face": {"liveness": "off"}}


def gate(tmp_path, name, root_key, issuer_key, **config) -> Downlink:
    state = make_state(tmp_path / name, root_key, issuer_key, **{**LANE, **config})
    engine = make_engine(state, ManualClock(TEST_AT))
    requests: list[dict[str, object]] = []
    downlink = Downlink(state, engine, ClockFloor(state.clock_path), requests.append)
    downlink.requests = requests  # type: ignore[attr-defined]
    return downlink


def faces_document(root_key, seq, kind="snapshot", add=None, remove=()) -> bytes:
    return sign_face_enrolments(
        root_key, site="S1", seq=seq, kind=kind, add=add, remove=remove, issued_at=TEST_AT
    )


def collins(root_key, seq=1) -> bytes:
    return faces_document(root_key, seq, add={COLLINS: (photos.embedding("astronaut"), [])})


def test_a_signed_enrolment_lets_the_gate_match_the_holder(tmp_path, root_key, issuer_key):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g1.handle(FACES_TOPIC, collins(root_key))
    assert g1.applied["faces"] == 1
    assert g1.engine.faces is not None
    assert g1.engine.faces.verify(COLLINS, [photos.astronaut_frame()]).reason is Reason.OK


def test_an_enrolment_signed_by_another_key_is_refused(tmp_path, root_key, issuer_key):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g1.handle(FACES_TOPIC, collins(keystore.generate("root", "R9")))
    assert g1.refused["bad_signature"] == 1 and len(g1.state.faces) == 0


def test_enrolments_on_disk_are_encrypted_and_read_back_with_the_node_key(
    tmp_path, root_key, issuer_key
):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g1.handle(FACES_TOPIC, collins(root_key))
    stored = (g1.state.directory / ENROLMENTS).read_bytes()
    assert embedding_bytes(photos.embedding("astronaut"))[:64] not in stored
    assert COLLINS not in stored
    reopened = NodeState.open(g1.state.directory, ManualClock(TEST_AT))
    reopened.identity(b"a long test passphrase")
    assert COLLINS in reopened.faces.entries and not reopened.problems


def test_a_face_file_copied_from_another_gate_is_not_believed(tmp_path, root_key, issuer_key):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g2 = gate(tmp_path, "g2", root_key, issuer_key)
    g1.handle(FACES_TOPIC, collins(root_key))
    g2.handle(FACES_TOPIC, collins(root_key))
    (g2.state.directory / ENROLMENTS).write_bytes((g1.state.directory / ENROLMENTS).read_bytes())
    reopened = NodeState.open(g2.state.directory, ManualClock(TEST_AT))
    reopened.identity(b"a long test passphrase")
    assert len(reopened.faces) == 0
    assert reopened.untrusted is not None and "faces" in reopened.untrusted


def test_deleting_an_enrolment_reaches_every_gate_and_leaves_no_trace_on_disk(
    tmp_path, root_key, issuer_key
):
    gates = [gate(tmp_path, f"g{i}", root_key, issuer_key) for i in (1, 2, 3)]
    for g in gates:
        g.handle(FACES_TOPIC, collins(root_key))
    forget = faces_document(root_key, 2, kind="delta", remove=[COLLINS])
    for g in gates:
        g.handle(FACES_TOPIC, forget)
    for g in gates:
        assert g.engine.faces is not None
        result = g.engine.faces.verify(COLLINS, [photos.astronaut_frame()])
        assert result.reason is Reason.FACE_NO_MATCH
        reopened = NodeState.open(g.state.directory, ManualClock(TEST_AT))
        reopened.identity(b"a long test passphrase")
        assert reopened.faces.seq == 2 and COLLINS not in reopened.faces.entries


def test_deleting_an_enrolment_forgets_a_face_bound_at_first_entry(tmp_path, root_key, issuer_key):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g1.handle(FACES_TOPIC, faces_document(root_key, 1))
    assert g1.engine.faces is not None
    g1.engine.faces.bind(COLLINS, photos.embedding("astronaut"))
    assert (g1.state.directory / BINDINGS).exists() and len(g1.state.face_bindings) == 1
    g1.handle(FACES_TOPIC, faces_document(root_key, 2, kind="delta", remove=[COLLINS]))
    assert g1.engine.faces.bindings == 0
    reopened = NodeState.open(g1.state.directory, ManualClock(TEST_AT))
    reopened.identity(b"a long test passphrase")
    assert reopened.face_bindings == {}


def test_a_face_delta_after_a_gap_asks_for_the_missing_enrolments(tmp_path, root_key, issuer_key):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g1.handle(FACES_TOPIC, collins(root_key))
    g1.handle(FACES_TOPIC, faces_document(root_key, 3, kind="delta", remove=[COLLINS]))
    assert g1.refused["sequence_gap"] == 1 and COLLINS in g1.state.faces.entries
    assert g1.requests == [{"want": "faces", "from": 2}]  # type: ignore[attr-defined]


def test_a_replayed_older_enrolment_snapshot_is_refused(tmp_path, root_key, issuer_key):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g1.handle(FACES_TOPIC, faces_document(root_key, 5))
    g1.handle(FACES_TOPIC, collins(root_key, seq=4))  # would bring a deleted face back
    assert g1.refused["stale_sequence"] == 1 and len(g1.state.faces) == 0


# --- images for disputes ----------------------------------------------------------------------


def test_no_face_image_is_kept_unless_the_operator_enables_it(tmp_path, root_key, issuer_key):
    g1 = gate(tmp_path, "g1", root_key, issuer_key)
    g1.handle(FACES_TOPIC, collins(root_key))
    assert g1.engine.faces is not None and g1.engine.faces.disputes is None
    engine = g1.engine
    engine.decide_face([photos.astronaut_frame()], TEST_AT)
    assert not (g1.state.directory / FOLDER).exists()


def test_kept_images_are_encrypted_and_deleted_after_the_retention_limit(
    tmp_path, root_key, issuer_key
):
    g1 = gate(tmp_path, "g1", root_key, issuer_key, face={"liveness": "off", "keep_images_days": 7})
    assert g1.engine.faces is not None and g1.engine.faces.disputes is not None
    g1.engine.decide_face([photos.hopper_frame()], TEST_AT)
    kept = list((g1.state.directory / FOLDER).glob("*.enc"))
    assert len(kept) == 1 and "face_no_match" in kept[0].name
    assert b"PNG" not in kept[0].read_bytes()[:64]
    image = g1.engine.faces.disputes.open_image(kept[0])
    assert np.array_equal(image, photos.hopper_frame())
    assert g1.engine.faces.disputes.prune(TEST_AT + timedelta(days=6)) == 0
    assert g1.engine.faces.disputes.prune(TEST_AT + timedelta(days=7, seconds=1)) == 1
    assert list((g1.state.directory / FOLDER).glob("*.enc")) == []


def test_turning_keeping_off_deletes_what_was_kept(tmp_path):
    disputes = Disputes(tmp_path, bytes(32), keep_days=3)
    disputes.keep(photos.hopper_frame(), TEST_AT, "face_no_match")
    assert Disputes(tmp_path, bytes(32), keep_days=0).prune(TEST_AT) == 1


@pytest.mark.parametrize("days", [-1, 31])
def test_a_retention_beyond_thirty_days_is_refused(tmp_path, root_key, issuer_key, days):
    from gate_node.state import NodeStateError

    with pytest.raises(NodeStateError, match="keep_images_days"):
        make_state(tmp_path / "g", root_key, issuer_key, face={"keep_images_days": days})
