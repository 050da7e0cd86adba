"""A face bound at a pass's first entry goes to the cloud sealed (issue 15), on real photographs:
the hook fires once, the outbox holds the sealed binding and no embedding in clear, a site
without a face key keeps it local, and the cloud's enrolment replaces a local binding."""

from __future__ import annotations

import logging
from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from gate_node.decision.engine import Engine, LaneContext, SiteRules
from gate_node.face.binding_report import BindingReport
from gate_node.face.check import FaceCheck
from gate_node.face.settings import FaceSettings
from gate_node.ledger import Ledger
from keys.face_binding import open_binding
from keys.face_embedding import embedding_bytes
from keys.face_enrolment import sign_face_enrolments
from keys.gate_event import sign_event
from keys.keystore import generate
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.sealed_box import raw_public
from keys.signed_document import DocumentError, sign_document
from tests import face_photos as photos
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state
from tests.gate_node.test_face import HOPPER, NOW, SALT, real_name

CLOUD_FACE_KEY = X25519PrivateKey.generate()


@pytest.fixture(scope="module")
def model():
    return photos.model()


class Lane:
    """An engine at a face lane whose bindings are reported as assembly.py wires it."""

    def __init__(self, tmp_path, keyring, model, face_key: bytes | None) -> None:
        self.ledger = Ledger(tmp_path / "l.sqlite", "G1")
        self.faces = FaceCheck(model, FaceSettings(liveness="off"))
        self.engine = Engine(
            keyring,
            RevocationList(),
            self.ledger,
            SiteRules(real_name_check="face"),
            LaneContext("G1", 1),
            holder_salt=SALT,
            faces=self.faces,
        )
        report = BindingReport(self.ledger, "S1", "G1", lambda: face_key)
        self.calls: list[tuple] = []

        def bound(*args) -> None:
            self.calls.append(args)
            report(*args)

        self.engine.when_face_bound = bound

    def enter(self, text: str, frame, at):
        decision = self.engine.confirm_face(self.engine.decide(text, at), [frame], at)
        if decision.grant:
            self.engine.admit(decision, at)
        return decision

    def face_events(self):
        return [e for e in self.ledger.pending_events(0, 1000) if e.kind == "face_bind"]


@pytest.fixture
def lane(tmp_path, keyring, model):
    lane = Lane(tmp_path, keyring, model, raw_public(CLOUD_FACE_KEY.public_key()))
    yield lane
    lane.ledger.close()


def test_the_first_entry_of_an_annual_pass_reports_its_binding_once(lane, issuer_key):
    annual = real_name(issuer_key, 2, HOPPER, days=365, per_day=1)
    assert lane.enter(annual, photos.hopper_frame(), NOW).grant
    tomorrow = NOW + timedelta(days=1)
    assert lane.enter(annual, photos.hopper_frame(), tomorrow).grant
    assert len(lane.calls) == 1 and len(lane.face_events()) == 1


def test_the_reported_binding_is_sealed_to_the_clouds_face_key(lane, issuer_key):
    annual = real_name(issuer_key, 2, HOPPER, days=365, per_day=1)
    lane.enter(annual, photos.hopper_frame(), NOW)
    (event,) = lane.face_events()
    binding = open_binding(CLOUD_FACE_KEY, "S1", "G1", event.data["sealed"])
    assert binding.holder == HOPPER and binding.ticket_id == b"\x02" * 8
    assert binding.node == "G1" and binding.at_ms == int(NOW.timestamp() * 1000)
    assert embedding_bytes(binding.embedding) == embedding_bytes(lane.calls[0][1])


def test_no_embedding_travels_in_clear_in_the_outbox_or_the_signed_event(lane, issuer_key):
    annual = real_name(issuer_key, 2, HOPPER, days=365, per_day=1)
    lane.enter(annual, photos.hopper_frame(), NOW)
    (event,) = lane.face_events()
    clear = embedding_bytes(lane.calls[0][1])
    signed = sign_event(
        generate("node", "G1"),
        site="S1",
        node="G1",
        seq=event.seq,
        kind=event.kind,
        at_ms=event.at_ms,
        data=event.data,
    )
    assert clear not in cbor2.dumps(event.data) and clear not in signed
    assert clear[:16] not in signed  # not even a run of it
    assert set(event.data) == {"sealed"}


def test_a_face_that_matched_binds_nothing_and_reports_nothing(lane, issuer_key):
    annual = real_name(issuer_key, 2, HOPPER, days=365, per_day=1)
    lane.enter(annual, photos.hopper_frame(), NOW)
    later = NOW + timedelta(days=1)
    assert lane.enter(annual, photos.astronaut_frame(), later).reason is (
        Reason.FACE_BELOW_THRESHOLD
    )
    assert len(lane.calls) == 1 and len(lane.face_events()) == 1


def test_without_a_face_key_in_the_config_the_binding_stays_local_and_is_logged_once(
    tmp_path, keyring, model, issuer_key, caplog
):
    lane = Lane(tmp_path, keyring, model, None)
    caplog.set_level(logging.INFO, "gate_node.face")
    for number in (2, 3):
        ticket = real_name(issuer_key, number, HOPPER if number == 2 else b"\x07" * 8, days=365)
        assert lane.enter(ticket, photos.hopper_frame(), NOW).grant
    assert lane.faces.bindings == 2 and lane.face_events() == []
    assert len([r for r in caplog.records if "face bindings stay local" in r.message]) == 1
    lane.ledger.close()


# --- the state directory: the key from the config, the cloud's face over a local one --------


def config(root_key, seq: int, **body) -> bytes:
    return sign_document(
        root_key, "config", "S1", seq, {"settings": {}, "holder_salt": SALT, **body}, TEST_AT
    )


def test_the_root_signed_config_brings_the_clouds_face_key_and_a_restart_keeps_it(
    tmp_path, root_key, issuer_key
):
    state = make_state(tmp_path / "n", root_key, issuer_key, real_name_check="face")
    key = raw_public(CLOUD_FACE_KEY.public_key())
    state.apply_config(config(root_key, 1, face_key=key))
    assert state.cloud_face_key == key
    again = type(state).open(state.directory)
    assert again.cloud_face_key == key


def test_a_face_key_that_is_not_32_bytes_is_refused_with_the_config(tmp_path, root_key, issuer_key):
    state = make_state(tmp_path / "n", root_key, issuer_key, real_name_check="face")
    with pytest.raises(DocumentError) as refused:
        state.apply_config(config(root_key, 1, face_key=b"short"))
    assert refused.value.code == "malformed" and state.cloud_face_key is None


def test_the_clouds_enrolment_replaces_the_face_this_gate_bound(tmp_path, root_key, issuer_key):
    state = make_state(tmp_path / "n", root_key, issuer_key, real_name_check="face")
    state.save_face_bindings({HOPPER: photos.embedding("astronaut")})  # bound here, wrongly
    unbound = state.apply_faces(
        sign_face_enrolments(
            root_key,
            site="S1",
            seq=1,
            kind="snapshot",
            add={HOPPER: (photos.embedding("hopper"), [])},
            issued_at=TEST_AT,
        )
    )
    assert unbound == [HOPPER] and state.face_bindings == {}
    again = type(state).open(state.directory)
    again.identity(b"a long test passphrase")
    assert again.face_bindings == {} and HOPPER in again.faces.entries  # gone from the disk too
