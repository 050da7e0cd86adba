"""A face lane assembled on mock GPIO: the real-name QR, then the face from the face camera
(image files as the camera, read as a camera gives them: grayscale), decide and open."""

from __future__ import annotations

from datetime import timedelta

import cv2
import pytest
from gpiozero.pins.mock import MockFactory

from gate_node.assembly import build
from gate_node.face.camera import capture
from gate_node.readers.credentials import Credential
from gate_node.readers.frames import ImageFiles
from keys.claims import TicketClaims
from keys.clock import ManualClock, site_today
from keys.face_enrolment import sign_face_enrolments
from keys.holder import holder_ref
from keys.reasons import Reason
from keys.ticket import issue_ticket
from tests import face_photos as photos
from tests.conftest import SITE_TIMEZONE, TEST_AT
from tests.gate_node.conftest import make_state
from tests.gate_node.test_service import Loop

SALT = bytes(range(16))
COLLINS = holder_ref(SALT, "id_card", "11010519491231002X")
TODAY = site_today(ManualClock(TEST_AT), SITE_TIMEZONE)


@pytest.fixture
def pins():
    factory = MockFactory()
    factory.pin(21).drive_high()  # fire loop intact
    yield factory
    factory.reset()


def camera(tmp_path, name, frames):
    folder = tmp_path / name
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:02d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return capture(ImageFiles.directory(folder))


@pytest.fixture
def lane(tmp_path, pins, root_key, issuer_key, clock):
    state = make_state(tmp_path / "n", root_key, issuer_key, real_name_check="face")
    annual = issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=b"\x05" * 8,
            product=2,
            valid_from=TODAY,
            valid_until=TODAY + timedelta(days=364),
            entries=0,
            entries_per_day=1,
            holder=COLLINS,
        ),
    )
    state.apply_faces(
        sign_face_enrolments(
            root_key,
            site="S1",
            seq=1,
            kind="snapshot",
            add={COLLINS: (photos.embedding("astronaut"), [annual])},
            issued_at=TEST_AT,
        )
    )
    node = build(state, pins, with_camera=False, clock=clock)
    yield node, Loop(node, clock)
    node.close()


def real_name(issuer_key):
    return issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=b"\x01" * 8, product=1, valid_from=TODAY, valid_until=TODAY, holder=COLLINS
        ),
    )


def test_the_holder_blinking_at_the_face_camera_opens_the_lane_after_her_qr(
    lane, pins, issuer_key, tmp_path
):
    node, loop = lane
    node.service.face_capture = camera(tmp_path, "cam", photos.blinking())
    node.service.reads.put(Credential("qr", real_name(issuer_key)))
    loop.run(10)
    assert node.service.decisions[-1].grant
    assert pins.pin(17).state is False  # unlock_in relay pulled in (active low)


def test_another_face_at_the_face_camera_keeps_the_lane_shut_and_records_why(
    lane, pins, issuer_key, tmp_path
):
    node, loop = lane
    node.service.face_capture = camera(tmp_path, "cam", [photos.hopper_frame()] * 5)
    node.service.reads.put(Credential("qr", real_name(issuer_key)))
    loop.run(10)
    assert node.service.decisions[-1].reason is Reason.FACE_NOT_LIVE  # a photo: no blink
    assert pins.pin(17).state is True
    assert node.service.ledger.counts()["denials"] == 1


def test_an_annual_pass_holder_enters_by_face_alone(lane, pins, tmp_path):
    node, loop = lane
    node.service.face_capture = camera(tmp_path, "cam", photos.blinking())
    node.service.present_face()
    loop.run(10)
    decision = node.service.decisions[-1]
    assert decision.grant and decision.ticket_no == "05" * 8
    assert pins.pin(17).state is False


def test_a_lane_without_a_face_camera_answers_face_unavailable_to_a_face(lane):
    node, loop = lane
    node.service.present_face()
    loop.run(10)
    assert node.service.decisions[-1].reason is Reason.FACE_UNAVAILABLE
