"""A gate takes a site's face thresholds and lane rules from a root-signed config document, in
the form the cloud signs them (keys/gate_settings.py: face fractions as thousandths, since
signed CBOR carries no floats), and refuses one it would not run with."""

from __future__ import annotations

import pytest

from gate_node.face.settings import FaceSettings
from keys.gate_settings import from_document, to_document
from keys.signed_document import DocumentError, sign_document


def config_document(root_key, seq, settings):
    return sign_document(root_key, "config", "S1", seq, {"settings": to_document(settings)})


def test_a_signed_config_document_changes_the_gates_face_settings(node_state, root_key):
    face = {"max_distance": 0.45, "blink_ratio": 0.65, "check_timeout_s": 4.5, "frames": 6}
    node_state.apply_config(config_document(root_key, 1, {"face": face}))
    assert node_state.config.face_settings() == FaceSettings(**face)
    assert node_state.config.node == "G1"  # the gate's own identity is not the cloud's


def test_a_config_document_with_a_face_figure_out_of_range_is_refused(node_state, root_key):
    with pytest.raises(DocumentError, match=r"face\.max_distance"):
        node_state.apply_config(config_document(root_key, 1, {"face": {"max_distance": 0.9}}))
    assert node_state.config.face_settings() == FaceSettings()


def test_face_fractions_go_to_thousandths_and_back():
    face = {"max_distance": 0.42, "min_score": -0.25, "frames": 5, "liveness": "blink"}
    wire = to_document({"face": face, "min_gap_minutes": 2})
    assert wire["face"] == {
        "max_distance": 420,
        "min_score": -250,
        "frames": 5,
        "liveness": "blink",
    }
    assert from_document(wire) == {"face": face, "min_gap_minutes": 2}


def test_a_setting_the_site_stops_sending_returns_to_the_gates_own_value(node_state, root_key):
    """Each config document is laid over node.json's own configuration afresh, at once and at
    the next start: a gap the site set and then dropped does not stay on the gate."""
    from gate_node.state import NodeState

    node_state.apply_config(config_document(root_key, 1, {"min_gap_minutes": 5}))
    assert node_state.config.min_gap_minutes == 5
    assert NodeState.open(node_state.directory).config.min_gap_minutes == 5  # kept across a start

    node_state.apply_config(config_document(root_key, 2, {"exit_requires_entry": True}))

    assert node_state.config.min_gap_minutes == 0 and node_state.config.exit_requires_entry
    reopened = NodeState.open(node_state.directory).config
    assert reopened.min_gap_minutes == 0 and reopened.exit_requires_entry
    assert reopened.node == "G1"
