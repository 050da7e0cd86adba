"""A face lane assembled on mock GPIO: the real-name QR, then the face from the face camera
(image files as the camera, read as a camera gives them: grayscale), decide and open.

The face is read on the face worker's thread (gate_node/face/worker.py) and embedded in the
helper process (embedder.py), so the loop is stepped until the answer is in (``settle``); the
loop's clock advances 5 ms a step, about as fast as real time, so a check's timeout
(``face.check_timeout_s``) is measured on the same clock the lane uses."""

from __future__ import annotations

import threading
from datetime import timedelta

import cv2
import pytest
from gpiozero.pins.mock import MockFactory

from gate_node.assembly import build
from gate_node.face.camera import capture
from gate_node.readers.credentials import Credential
from gate_node.readers.frames import ImageFiles
from keys.claims import TicketClaims
from keys.clock import SYSTEM, ManualClock, site_today
from keys.face_enrolment import sign_face_enrolments
from keys.holder import holder_ref
from keys.reasons import Reason
from keys.ticket import issue_ticket
from tests import face_photos as photos
from tests.conftest import SITE_TIMEZONE, TEST_AT
from tests.gate_node.conftest import make_state
from tests.gate_node.test_service import Loop, rotate

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
    assert node.service.engine.faces.embedder.wait_ready(120)  # the helper loaded its model
    yield node, Loop(node, clock)
    node.close()


def settle(node, loop, decisions=1, steps=12_000):
    """Step the loop, ~5 ms of real time a step, until ``decisions`` were made and no face
    check is in progress (a bounded wait: the check runs on the face worker meanwhile)."""
    for _ in range(steps):
        if len(node.service.decisions) >= decisions and not node.service.face_busy:
            return
        loop.run(5)
        SYSTEM.sleep(0.005)  # real time for the face worker; the lane's clock is the Loop's
    raise AssertionError("the lane never answered")


class SlowCamera:
    """A face camera taking ``pause_s`` per frame, or (None) hanging until ``release`` is set,
    as a camera does whose USB link stalls."""

    def __init__(self, frames, pause_s):
        self.frames, self.pause_s = list(frames), pause_s
        self.release = threading.Event()

    def read(self):
        self.release.wait(self.pause_s)
        return self.frames.pop(0) if self.frames else None

    def close(self):
        self.release.set()


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
    settle(node, loop)
    assert node.service.decisions[-1].grant
    assert pins.pin(17).state is False  # unlock_in relay pulled in (active low)


def test_another_face_at_the_face_camera_keeps_the_lane_shut_and_records_why(
    lane, pins, issuer_key, tmp_path
):
    node, loop = lane
    node.service.face_capture = camera(tmp_path, "cam", [photos.hopper_frame()] * 5)
    node.service.reads.put(Credential("qr", real_name(issuer_key)))
    settle(node, loop)
    assert node.service.decisions[-1].reason is Reason.FACE_NOT_LIVE  # a photo: no blink
    assert pins.pin(17).state is True
    assert node.service.ledger.counts()["denials"] == 1


def test_an_annual_pass_holder_enters_by_face_alone(lane, pins, tmp_path):
    node, loop = lane
    node.service.face_capture = camera(tmp_path, "cam", photos.blinking())
    node.service.present_face()
    settle(node, loop)
    decision = node.service.decisions[-1]
    assert decision.grant and decision.ticket_no == "05" * 8
    assert pins.pin(17).state is False


def test_a_lane_without_a_face_camera_answers_face_unavailable_to_a_face(lane):
    node, loop = lane
    node.service.present_face()
    loop.run(10)
    assert node.service.decisions[-1].reason is Reason.FACE_UNAVAILABLE


def test_the_loop_serves_the_fire_loop_while_a_slow_face_check_runs(lane, pins, issuer_key):
    node, loop = lane
    node.service.face_capture = capture(SlowCamera(photos.blinking(), pause_s=0.3))
    node.service.reads.put(Credential("qr", real_name(issuer_key)))
    loop.run(10)
    assert node.service.face_busy
    pins.pin(21).drive_low()  # the fire loop is cut while the visitor looks at the camera
    loop.run(50)
    assert node.service.face_busy  # the face is still being read (three frames, 0.3 s each)
    assert pins.pin(17).state is False  # and the arm is already free for the evacuation
    settle(node, loop)
    assert not node.service.face_busy and len(node.service.decisions) == 1


def test_a_face_check_that_never_answers_is_refused_and_its_late_result_dropped(
    lane, pins, issuer_key, tmp_path
):
    node, loop = lane
    hung = SlowCamera(photos.blinking(), pause_s=None)
    node.service.face_capture = capture(hung)
    text = real_name(issuer_key)
    node.service.reads.put(Credential("qr", text))
    loop.run(4_900)  # the face setting's check_timeout_s is 5 s
    assert node.service.face_busy and not node.service.decisions
    loop.run(200)
    decision = node.service.decisions[-1]
    assert decision.reason is Reason.FACE_TIMEOUT and not node.service.face_busy
    assert decision.message(node.service.engine.rules.timezone) == (
        "人脸核验超时，请重新扫码",
        "Face check took too long: scan again",
    )
    assert pins.pin(17).state is True
    assert node.service.ledger.counts()["denials"] == 1
    hung.release.set()  # the camera comes back: the timed-out check finishes, unheard
    node.service.face_capture = camera(tmp_path, "cam", photos.blinking())
    node.service.repeats.hold_s = 0
    node.service.reads.put(Credential("qr", text))  # the visitor scans again
    settle(node, loop, decisions=2)  # queued behind the late check on the one worker
    assert [d.reason for d in node.service.decisions] == [Reason.FACE_TIMEOUT, Reason.OK]
    assert len(node.service.ledger.uses("G1")) == 1  # the late result admitted no one


def test_showing_the_code_again_during_the_face_check_admits_once(lane, pins, issuer_key):
    node, loop = lane
    node.service.face_capture = capture(SlowCamera(photos.blinking(), pause_s=0.2))
    node.service.repeats.hold_s = 0  # not even the repeat filter: the ledger must hold
    text = real_name(issuer_key)
    node.service.reads.put(Credential("qr", text))
    loop.run(10)
    node.service.reads.put(Credential("qr", text))  # shown again while the face is read
    loop.run(10)
    assert node.service.face_busy and not node.service.decisions
    settle(node, loop)
    assert node.service.decisions[-1].grant
    rotate(pins, loop)  # she walks through; the lane takes the next read
    loop.run(10)
    assert [d.reason for d in node.service.decisions] == [Reason.OK, Reason.ALREADY_USED]
    assert len(node.service.ledger.uses("G1")) == 1
