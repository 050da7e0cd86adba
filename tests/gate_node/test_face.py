"""Face at the gate on real photographs (tests/face_photos.py): detection reasons, 1:1, 1:N,
liveness, the decision engine at a face lane, and a node without the face extra."""

from __future__ import annotations

import functools
import sys
from datetime import date, timedelta

import numpy as np
import pytest

from gate_node.assembly import make_face_check
from gate_node.decision.engine import Decision, Engine, LaneContext, SiteRules
from gate_node.face.check import FaceCheck, detect_scale
from gate_node.face.embedder import EmbedProcess
from gate_node.face.gallery import Gallery
from gate_node.face.settings import FaceSettings, FaceSettingsError
from gate_node.ledger import Ledger
from keys import face_embedding
from keys.claims import TicketClaims
from keys.clock import ManualClock, site_today
from keys.face_embedding import Face
from keys.face_enrolment import Enrolment, FaceEnrolments
from keys.holder import holder_ref
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.ticket import issue_ticket
from tests import face_photos as photos
from tests.conftest import SITE_TIMEZONE, TEST_AT
from tests.gate_node.conftest import make_state

SALT = bytes(range(16))
COLLINS = holder_ref(SALT, "id_card", "11010519491231002X")
HOPPER = holder_ref(SALT, "id_card", "110101199003074477")
NOW = TEST_AT
TODAY = site_today(ManualClock(NOW), SITE_TIMEZONE)
NO_LIVENESS = FaceSettings(liveness="off")


def enrolled(*holders: tuple[bytes, np.ndarray, tuple[str, ...]]) -> FaceEnrolments:
    held = FaceEnrolments()
    held.entries = {h: Enrolment(h, e, t) for h, e, t in holders}
    held.seq = 1
    return held


def strangers(count: int, seed: int = 7) -> list[tuple[bytes, np.ndarray, tuple[str, ...]]]:
    """Random embeddings with the spread of real ones (unit-ish norm, ~0.4 per component
    scale): far from any real face, so they never match, but they fill the gallery."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(0, 0.09, (count, 128)).astype(np.float32)
    return [(i.to_bytes(8, "big"), vectors[i], ("x",)) for i in range(count)]


@pytest.fixture(scope="module")
def model() -> face_embedding.FaceModel:
    return photos.model()


def check(model, settings=NO_LIVENESS) -> FaceCheck:
    return FaceCheck(model, settings, enrolled((COLLINS, photos.embedding("astronaut"), ("pass",))))


# --- what the camera sees -----------------------------------------------------------------


def test_the_same_person_in_a_camera_frame_matches_her_enrolment_photo(model):
    result = check(model).verify(COLLINS, [photos.astronaut_frame()])
    assert result.reason is Reason.OK and result.distance is not None and result.distance < 0.3


def test_a_grayscale_camera_frame_matches_a_colour_enrolment(model):
    gray = photos.astronaut_frame().mean(axis=2).astype(np.uint8)  # the Pi camera's Y plane
    assert check(model).verify(COLLINS, [gray]).reason is Reason.OK


def test_another_person_with_the_ticket_is_below_the_threshold(model):
    result = check(model).verify(COLLINS, [photos.hopper_frame()])
    assert result.reason is Reason.FACE_BELOW_THRESHOLD
    assert result.distance is not None and result.distance > 0.6


def test_a_landscape_has_no_face(model):
    assert check(model).verify(COLLINS, [photos.landscape()]).reason is Reason.FACE_NONE


def test_two_people_in_the_frame_are_several_faces(model):
    assert check(model).verify(COLLINS, [photos.two_faces()]).reason is Reason.FACE_SEVERAL


def test_a_face_smaller_than_the_sites_minimum_is_too_small(model):
    strict = FaceSettings(liveness="off", min_face_px=120)  # her face is 86 px in the frame
    result = check(model, strict).verify(COLLINS, [photos.astronaut_frame()])
    assert result.reason is Reason.FACE_TOO_SMALL


def test_a_second_face_in_any_frame_refuses_the_check(model):
    frames = [photos.astronaut_frame(), photos.two_faces(), photos.astronaut_frame()]
    assert check(model).verify(COLLINS, frames).reason is Reason.FACE_SEVERAL


def test_a_holder_with_no_enrolment_has_no_match(model):
    assert check(model).verify(HOPPER, [photos.hopper_frame()]).reason is Reason.FACE_NO_MATCH


# --- liveness ---------------------------------------------------------------------------------


def test_a_visitor_who_blinks_passes_the_liveness_check(model):
    result = check(model, FaceSettings()).verify(COLLINS, photos.blinking())
    assert result.reason is Reason.OK


def test_a_printed_photo_held_still_is_not_live(model):
    result = check(model, FaceSettings()).verify(COLLINS, photos.still_photo())
    assert result.reason is Reason.FACE_NOT_LIVE


def test_a_printed_photo_waved_and_turned_in_front_of_the_camera_is_not_live(model):
    result = check(model, FaceSettings()).verify(COLLINS, photos.waved_photo())
    assert result.reason is Reason.FACE_NOT_LIVE


def test_one_frame_cannot_show_a_blink(model):
    result = check(model, FaceSettings(frames=1)).verify(COLLINS, photos.blinking())
    assert result.reason is Reason.FACE_NOT_LIVE


# --- 1:N --------------------------------------------------------------------------------------


def test_an_annual_pass_holder_is_found_among_a_thousand_by_face_alone(model):
    members = enrolled(*strangers(1000), (COLLINS, photos.embedding("astronaut"), ("pass",)))
    result = FaceCheck(model, NO_LIVENESS, members).identify([photos.astronaut_frame()])
    assert result.reason is Reason.OK and result.holder == COLLINS and result.tickets == ("pass",)


def test_a_stranger_matches_no_member(model):
    members = enrolled(*strangers(1000), (COLLINS, photos.embedding("astronaut"), ("pass",)))
    result = FaceCheck(model, NO_LIVENESS, members).identify([photos.hopper_frame()])
    assert result.reason is Reason.FACE_NO_MATCH


def test_an_enrolment_without_tickets_serves_one_to_one_only(model):
    members = enrolled((COLLINS, photos.embedding("astronaut"), ()))
    result = FaceCheck(model, NO_LIVENESS, members).identify([photos.astronaut_frame()])
    assert result.reason is Reason.FACE_NO_MATCH


def test_the_float32_gallery_finds_the_same_nearest_as_face_distance():
    """10,000 enrolments, 400 probes (near an enrolment, nearly halfway between two, or
    nobody's): the nearest and its distance are face_distance's, for every probe. (Two rows
    within float32 rounding, ~1e-6, of the probe may come out in either order.)"""
    import face_recognition

    rng = np.random.default_rng(3)
    known = rng.normal(0, 0.09, (10_000, 128)).astype(np.float32)
    known[:2] = photos.embedding("astronaut"), photos.embedding("hopper")
    gallery = Gallery({i.to_bytes(8, "big"): known[i] for i in range(len(known))})
    rows = rng.integers(0, len(known), 400)
    probes = np.concatenate(
        [
            known[rows[:200]] + rng.normal(0, 0.01, (200, 128)),  # someone enrolled
            0.49 * known[rows[200:300]] + 0.51 * known[rows[300:400]],  # between two
            rng.normal(0, 0.09, (100, 128)),  # nobody
        ]
    ).astype(np.float32)
    assert gallery.nearest(probes[0].astype(np.float64)) == gallery.nearest(probes[0])
    for probe in probes:
        reference = face_recognition.face_distance(known.astype(np.float64), probe)
        found = gallery.nearest(probe)
        assert found is not None
        assert found[0] == int(np.argmin(reference)).to_bytes(8, "big")
        assert found[1] == pytest.approx(reference.min(), abs=1e-6)


def test_an_empty_gallery_has_no_nearest():
    assert Gallery({}).nearest(photos.embedding("astronaut")) is None


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_distance", 0.95),
        ("frames", 0),
        ("min_face_px", 10),
        ("liveness", "smile"),
        ("keep_images_days", 365),
    ],
)
def test_face_settings_out_of_range_are_refused_by_name(field, value):
    with pytest.raises(FaceSettingsError, match=field):
        FaceSettings.from_config({field: value})


def test_an_unknown_face_setting_is_refused():
    with pytest.raises(FaceSettingsError, match="threshold"):
        FaceSettings.from_config({"threshold": 0.5})


# --- the decision engine at a face lane ----------------------------------------------------


def real_name(issuer_key, number: int, holder: bytes, *, days: int = 1, per_day: int | None = None):
    return issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=bytes([number]) * 8,
            product=1,
            valid_from=TODAY,
            valid_until=TODAY + timedelta(days=days - 1),
            entries=1 if days == 1 else 0,
            entries_per_day=per_day,
            holder=holder,
        ),
    )


@pytest.fixture
def face_lane(tmp_path, keyring, model):
    ledger = Ledger(tmp_path / "l.sqlite", "G1")
    bound: list[dict[bytes, np.ndarray]] = []
    faces = FaceCheck(
        model,
        FaceSettings(),
        enrolled((COLLINS, photos.embedding("astronaut"), ())),
        on_bind=bound.append,
    )
    engine = Engine(
        keyring,
        RevocationList(),
        ledger,
        SiteRules(real_name_check="face"),
        LaneContext("G1", 1),
        holder_salt=SALT,
        faces=faces,
    )
    engine.bound = bound  # type: ignore[attr-defined]
    yield engine
    ledger.close()


def test_a_real_name_qr_at_a_face_lane_asks_for_the_face(face_lane, issuer_key):
    assert face_lane.decide(real_name(issuer_key, 1, COLLINS), NOW).reason is Reason.FACE_REQUIRED


def test_the_holders_blinking_face_admits_her_real_name_ticket(face_lane, issuer_key):
    pending = face_lane.decide(real_name(issuer_key, 1, COLLINS), NOW)
    assert face_lane.confirm_face(pending, photos.blinking(), NOW).grant


def test_the_same_qr_with_a_photo_of_the_holder_is_refused_as_not_live(face_lane, issuer_key):
    pending = face_lane.decide(real_name(issuer_key, 1, COLLINS), NOW)
    decision = face_lane.confirm_face(pending, photos.still_photo(), NOW)
    assert decision.reason is Reason.FACE_NOT_LIVE


def test_the_same_qr_with_another_face_is_refused(face_lane, issuer_key):
    face_lane.faces.settings = NO_LIVENESS
    pending = face_lane.decide(real_name(issuer_key, 1, COLLINS), NOW)
    decision = face_lane.confirm_face(pending, [photos.hopper_frame()], NOW)
    assert decision.reason is Reason.FACE_BELOW_THRESHOLD


def test_an_annual_pass_sold_online_binds_the_face_of_its_first_entry(face_lane, issuer_key):
    face_lane.faces.settings = NO_LIVENESS
    annual = real_name(issuer_key, 2, HOPPER, days=365, per_day=1)
    first = face_lane.confirm_face(face_lane.decide(annual, NOW), [photos.hopper_frame()], NOW)
    assert first.grant and face_lane.faces.bindings == 1 and len(face_lane.bound) == 1
    face_lane.admit(first, NOW)
    tomorrow = NOW + timedelta(days=1)
    again = face_lane.confirm_face(
        face_lane.decide(annual, tomorrow), [photos.hopper_frame()], tomorrow
    )
    assert again.grant


def test_a_bound_annual_pass_refuses_another_face_later(face_lane, issuer_key):
    face_lane.faces.settings = NO_LIVENESS
    annual = real_name(issuer_key, 2, HOPPER, days=365, per_day=1)
    first = face_lane.confirm_face(face_lane.decide(annual, NOW), [photos.hopper_frame()], NOW)
    face_lane.admit(first, NOW)
    tomorrow = NOW + timedelta(days=1)
    later = face_lane.confirm_face(
        face_lane.decide(annual, tomorrow), [photos.astronaut_frame()], tomorrow
    )
    assert later.reason is Reason.FACE_BELOW_THRESHOLD


def test_a_day_ticket_without_an_enrolment_binds_nothing(face_lane, issuer_key):
    face_lane.faces.settings = NO_LIVENESS
    pending = face_lane.decide(real_name(issuer_key, 3, HOPPER), NOW)
    decision = face_lane.confirm_face(pending, [photos.hopper_frame()], NOW)
    assert decision.reason is Reason.FACE_NO_MATCH and face_lane.faces.bindings == 0


def test_an_annual_pass_enters_by_face_alone_once_a_day(face_lane, issuer_key):
    annual = real_name(issuer_key, 4, COLLINS, days=365, per_day=1)
    face_lane.faces.enrolments = enrolled((COLLINS, photos.embedding("astronaut"), (annual,)))
    first = face_lane.decide_face(photos.blinking(), NOW)
    assert first.grant
    face_lane.admit(first, NOW)
    assert face_lane.decide_face(photos.blinking(), NOW).reason is Reason.DAILY_LIMIT


# --- without the face extra -----------------------------------------------------------------


@pytest.fixture
def no_face_extra(monkeypatch):
    """The import fails at its one boundary, as on a node installed without the extra."""
    face_embedding.load.cache_clear()
    monkeypatch.setitem(sys.modules, "face_recognition", None)
    yield
    face_embedding.load.cache_clear()


def test_without_the_face_extra_a_face_lane_refuses_faces_and_keeps_admitting_qr_codes(
    no_face_extra, tmp_path, root_key, issuer_key
):
    state = make_state(tmp_path / "g", root_key, issuer_key, real_name_check="face")
    faces = make_face_check(state)
    assert faces is not None and not faces.available
    ledger = Ledger(tmp_path / "l.sqlite", "G1")
    engine = Engine(
        state.keyring,
        RevocationList(),
        ledger,
        state.config.rules(),
        state.config.lane(),
        holder_salt=SALT,
        faces=faces,
    )
    pending = engine.decide(real_name(issuer_key, 1, COLLINS), NOW)
    assert engine.confirm_face(pending, [photos.astronaut_frame()], NOW).reason is (
        Reason.FACE_UNAVAILABLE
    )
    assert engine.decide_face([photos.astronaut_frame()], NOW).reason is Reason.FACE_UNAVAILABLE
    plain = issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=b"\x07" * 8, product=1, valid_from=TODAY, valid_until=date(2099, 1, 1)
        ),
    )
    assert engine.decide(plain, NOW).grant
    ledger.close()


def test_a_lane_without_face_settings_has_no_face_check(tmp_path, root_key, issuer_key):
    state = make_state(tmp_path / "g", root_key, issuer_key)
    assert make_face_check(state) is None


def test_a_face_refusal_is_a_decision_with_its_reason_text():
    decision = Decision(Reason.FACE_BELOW_THRESHOLD)
    assert decision.message(SiteRules().timezone) == (
        "人脸与实名信息不符",
        "Face does not match the ticket holder",
    )


def test_an_id_card_alone_at_a_face_lane_asks_for_the_face_of_its_holder(
    face_lane, issuer_key, root_key
):
    from tests.gate_node.test_real_name import index

    face_lane.cards = index(root_key, 1, {COLLINS: [real_name(issuer_key, 6, COLLINS)]})
    pending = face_lane.decide_card("id_card", "11010519491231002X", NOW)
    assert pending.reason is Reason.FACE_REQUIRED
    assert face_lane.confirm_face(pending, photos.blinking(), NOW).grant


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [np.zeros((1, 1), np.uint8)],
        [np.zeros((480, 640), np.float32)],
        [np.zeros((480, 640, 4), np.uint8)],
        [np.zeros((480, 640, 3, 2), np.uint8)],
    ],
    ids=["no frames", "one pixel", "float frame", "rgba black", "five dimensions"],
)
def test_whatever_the_camera_gives_ends_in_a_reason(model, frames):
    assert check(model).verify(COLLINS, frames).reason is Reason.FACE_NONE


# --- speed without weakening the checks (issue 15) ----------------------------------------------


@functools.cache
def close_up() -> np.ndarray:
    """The astronaut close to the camera: her face ~180 px in the frame."""
    return photos.on_canvas(photos.astronaut()[40:260, 120:330], scale=2.0, at=(100, 20))


def test_a_site_with_a_larger_minimum_face_detects_on_a_smaller_frame_and_maps_the_box_back(
    model,
):
    settings = FaceSettings(liveness="off", min_face_px=160)
    assert detect_scale(settings) < 0.6  # about a third of the pixels
    full = model.analyse(close_up(), embed=False)
    small = model.analyse(close_up(), detect_scale=detect_scale(settings), embed=False)
    assert isinstance(full, Face) and isinstance(small, Face)
    # dlib's box size steps with its pyramid level (5/6 a level): the same face, a box within
    # a level's size, centred within a few pixels; the landmarks find the eyes all the same
    (top, right, bottom, left), (t, r, b, lt) = full.box, small.box
    assert abs((top + bottom) - (t + b)) / 2 <= 12 and abs((left + right) - (lt + r)) / 2 <= 12
    assert 5 / 6 * 0.95 <= small.size / full.size <= 6 / 5 * 1.05
    assert np.abs(np.subtract(full.landmarks["left_eye"], small.landmarks["left_eye"])).max() <= 3
    result = check(model, settings).verify(COLLINS, [close_up()])
    assert result.reason is Reason.OK and result.distance is not None and result.distance < 0.3


def test_a_second_face_just_above_the_minimum_is_still_seen_at_the_reduced_scale(model):
    settings = FaceSettings(liveness="off", min_face_px=100)  # the smaller face is ~104 px
    assert detect_scale(settings) < 1.0
    assert check(model, settings).verify(COLLINS, [photos.two_faces()]).reason is (
        Reason.FACE_SEVERAL
    )


def test_a_face_under_a_large_minimum_is_still_too_small_not_none(model):
    settings = FaceSettings(liveness="off", min_face_px=200)  # her face is 86 px: not found
    result = check(model, settings).verify(COLLINS, [photos.astronaut_frame()])  # at 0.47
    assert result.reason is Reason.FACE_TOO_SMALL


@pytest.mark.parametrize("lookahead", [0, 1])
def test_the_check_stops_taking_frames_at_the_blink_but_for_its_lookahead(model, lookahead):
    taken = []

    def camera():
        for frame in photos.blinking():  # the eyes are shut in the third frame
            taken.append(frame)
            yield frame

    faces = FaceCheck(
        model,
        FaceSettings(),
        enrolled((COLLINS, photos.embedding("astronaut"), ("pass",))),
        lookahead=lookahead,
    )
    result = faces.verify(COLLINS, camera())
    faces.close()
    assert result.reason is Reason.OK and len(taken) == 3 + lookahead


@pytest.mark.parametrize(
    "frames",
    [
        photos.blinking,
        photos.still_photo,
        photos.waved_photo,
        lambda: (photos.astronaut_frame(), photos.two_faces(), photos.astronaut_frame()),
        lambda: (photos.landscape(),),
        lambda: (photos.hopper_frame(), photos.eyes_shut(photos.hopper_frame())),
    ],
    ids=["blink", "still", "waved", "second-face", "landscape", "another-person"],
)
def test_frames_analysed_ahead_on_threads_decide_as_one_at_a_time(model, frames):
    answers = []
    for lookahead in (0, 1, 3):
        faces = FaceCheck(
            model,
            FaceSettings(),
            enrolled((COLLINS, photos.embedding("astronaut"), ("pass",))),
            lookahead=lookahead,
        )
        result = faces.verify(COLLINS, frames())
        faces.close()
        answers.append((result.reason, result.distance))
    assert answers[0] == answers[1] == answers[2]


def test_two_threads_detecting_at_once_find_what_one_finds(model):
    """dlib's HOG detector is not safe to share between threads: each has its own copy."""
    from concurrent.futures import ThreadPoolExecutor

    frames = [photos.astronaut_frame(), photos.two_faces(), photos.hopper_frame()] * 4
    alone = [model.detect(frame) for frame in frames]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(model.detect, frames))
    assert together == alone


def test_a_blink_in_the_last_frame_is_still_seen(model):
    frame = photos.astronaut_frame()
    frames = [frame, frame, frame, frame, photos.eyes_shut(frame)]
    assert check(model, FaceSettings()).verify(COLLINS, frames).reason is Reason.OK


def test_a_first_frame_mid_blink_is_not_the_one_embedded(model):
    frame = photos.astronaut_frame()
    result = check(model, FaceSettings()).verify(COLLINS, [photos.eyes_shut(frame), frame])
    assert result.reason is Reason.OK and result.frame is frame


@pytest.fixture(scope="module")
def embed_process():
    process = EmbedProcess()
    assert process.wait_ready(120)
    yield process
    process.close()


def test_embeddings_from_the_helper_process_match_the_same_person_and_not_another(
    model, embed_process
):
    faces = FaceCheck(
        model,
        FaceSettings(),
        enrolled((COLLINS, photos.embedding("astronaut"), ())),
        embedder=embed_process,
    )
    same = faces.verify(COLLINS, photos.blinking())
    assert same.reason is Reason.OK and same.distance is not None and same.distance < 0.3
    inline = check(model, FaceSettings()).verify(COLLINS, photos.blinking())
    assert inline.distance is not None and abs(same.distance - inline.distance) < 1e-5
    other = faces.verify(COLLINS, photos.blinking("hopper"))
    assert other.reason is Reason.FACE_BELOW_THRESHOLD
    assert other.distance is not None and other.distance > 0.6
    # a refusal before the embedding was needed leaves the pipe in step for the next check
    assert faces.verify(COLLINS, photos.still_photo()).reason is Reason.FACE_NOT_LIVE
    assert faces.verify(COLLINS, photos.blinking()).reason is Reason.OK
