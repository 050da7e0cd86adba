"""Per-site gate settings: a manager sets face thresholds and lane rules over HTTP; a value a
gate would refuse is refused here, naming the field; what is accepted is signed by the root key
into the site's config document, published, audited, and a gate applies it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud.models import AuditEntry, Site
from cloud.mqtt.downlink_service import FROM_DATABASE
from cloud.services import downlink_documents as documents
from cloud.services import gate_settings
from keys.signed_document import verify_document
from tests.cloud.http_calls import bearer, problem
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state

URL = "/api/v1/sites/S1/gate-settings"
FACE = {"max_distance": 0.42, "frames": 7, "liveness": "off"}


def test_a_manager_sets_face_thresholds_and_they_go_out_root_signed(api, office, published):
    body = {"slot_grace_after": 45, "face": FACE}
    answer = api.put(URL, json=body, headers=bearer(api, "boss"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"] == body and answer.json()["config_seq"] == 1
    ((site, doc_type, raw),) = published
    assert (site, doc_type) == ("S1", "config")
    document = verify_document(raw, office.root.public_key, doc_type="config", site="S1")
    face_sent = {"max_distance": 420, "frames": 7, "liveness": "off"}  # thousandths: no floats
    assert document.body["settings"] == {
        "timezone": "Asia/Shanghai",
        "slot_grace_after": 45,
        "face": face_sent,
    }
    again = api.get(URL, headers=bearer(api, "boss")).json()
    assert again["settings"] == body and again["config_seq"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"face": {"max_distance": 0.95}}, "face.max_distance"),
        ({"face": {"frames": 0}}, "face.frames"),
        ({"face": {"liveness": "smile"}}, "face.liveness"),
        ({"face": {"keep_images_days": 365}}, "face.keep_images_days"),
        ({"slot_grace_after": 2000}, "slot_grace_after"),
        ({"min_gap_minutes": -1}, "min_gap_minutes"),
        ({"real_name_check": "retina"}, "real_name_check"),
    ],
)
def test_a_setting_a_gate_would_refuse_is_refused_naming_the_field(api, published, body, field):
    answer = api.put(URL, json=body, headers=bearer(api, "boss"))
    refusal = problem(answer, 422, "bad_gate_setting")
    assert field in refusal["message_en"] and field in refusal["message_zh"]
    assert published == []
    assert api.get(URL, headers=bearer(api, "boss")).json()["config_seq"] is None


def test_an_unknown_face_setting_is_refused_before_anything_is_signed(api, published):
    answer = api.put(URL, json={"face": {"threshold": 0.5}}, headers=bearer(api, "boss"))
    assert answer.status_code == 422 and published == []


def test_a_change_of_gate_settings_is_audited(api, office):
    api.put(URL, json={"min_gap_minutes": 10}, headers=bearer(api, "boss"))
    with office.sessions() as db:
        (entry,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "set_gate_settings"))
    assert (entry.actor, entry.target) == ("boss", "site:S1")
    assert entry.detail["settings"] == {"min_gap_minutes": 10}


def test_settings_of_an_unknown_site_are_not_found(api):
    answer = api.put("/api/v1/sites/NOPE/gate-settings", json={}, headers=bearer(api, "boss"))
    problem(answer, 404, "unknown_site")


def test_the_downlink_service_publishes_new_config_documents_from_the_database():
    assert "config" in FROM_DATABASE  # a document the API signed reaches gates it missed


def test_a_gate_enrolled_later_gets_the_sites_settings(api, office):
    api.put(URL, json={"face": FACE}, headers=bearer(api, "boss"))
    with office.sessions() as db:
        settings = gate_settings.config_settings(db, office.root, db.get(Site, "S1"))
    assert settings == {"timezone": "Asia/Shanghai", "face": {**FACE, "max_distance": 420}}


def test_a_gate_accepts_the_published_document_and_its_face_settings_change(
    api, office, published, tmp_path, root_key, issuer_key
):
    gate = make_state(tmp_path / "gate", root_key, issuer_key, real_name_check="face")
    assert gate.config.face_settings().max_distance == 0.5  # the gate's default
    api.put(URL, json={"min_gap_minutes": 3, "face": FACE}, headers=bearer(api, "boss"))
    ((_, _, raw),) = published
    gate.apply_config(raw)
    face = gate.config.face_settings()
    assert (face.max_distance, face.frames, face.liveness) == (0.42, 7, "off")
    assert gate.config.min_gap_minutes == 3 and gate.config.real_name_check == "face"
    assert gate.config.node == "G1" and gate.config.zone == 1  # the node's own stay its own


def test_a_settings_change_keeps_the_face_key_the_gates_seal_bindings_to(api, office, published):
    face_key = bytes(range(32))
    with office.sessions.begin() as db:  # as enrolment signs it once the cloud has a face key
        documents.signed_config(db, office.root, "S1", {}, bytes(16), TEST_AT, face_key)
    api.put(URL, json={"min_gap_minutes": 5}, headers=bearer(api, "boss"))
    ((_, _, raw),) = published
    document = verify_document(raw, office.root.public_key, doc_type="config", site="S1")
    assert document.body["face_key"] == face_key and document.seq == 2
