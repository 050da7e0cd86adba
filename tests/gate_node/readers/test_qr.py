"""QR codes off a camera: phone screens and paper, straight and awkward, decode the same."""

from __future__ import annotations

import pytest

from gate_node.readers.frames import FrameSourceError, ImageFiles, open_source
from gate_node.readers.qr import QrDecoder, decode_zbar, decode_zxing
from keys.ticket import issue_ticket
from simulators.camera import empty_frame, ticket_frame


@pytest.fixture
def text(issuer_key, day_claims):
    return issue_ticket(issuer_key, day_claims)


@pytest.mark.parametrize(
    "how",
    [
        {},
        {"invert": True},
        {"angle": 30},
        {"blur": 3},
        {"noise": 12},
        {"module_px": 3},
        {"invert": True, "angle": 40, "noise": 8},
    ],
    ids=["paper", "dark-mode-screen", "tilted", "blurred", "noisy", "far", "screen-tilted-noisy"],
)
def test_the_decoder_reads_the_ticket_however_it_is_held(text, how):
    assert QrDecoder().decode(ticket_frame(text, **how)) == [text]


def test_zxing_reads_dark_mode_screens_that_pyzbar_misses(text):
    frame = ticket_frame(text, invert=True)
    assert decode_zxing(frame) == [text]
    assert decode_zbar(frame) == []


def test_pyzbar_is_a_working_fallback(text):
    assert decode_zbar(ticket_frame(text)) == [text]


def test_an_empty_frame_has_no_codes():
    assert QrDecoder().decode(empty_frame()) == []


def test_image_files_are_a_frame_source(tmp_path, text):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), ticket_frame(text))
    cv2.imwrite(str(tmp_path / "b.png"), empty_frame())
    source = open_source(f"dir:{tmp_path}")
    frames = [source.read(), source.read(), source.read()]
    assert QrDecoder().decode(frames[0]) == [text] and frames[2] is None


def test_a_broken_image_is_a_clear_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(FrameSourceError, match="not a readable image"):
        ImageFiles([tmp_path / "x.png"]).read()


@pytest.mark.parametrize("spec", ["webcam", "picamera", "v4l2:/dev/video99"])
def test_unavailable_cameras_say_what_is_missing(spec):
    with pytest.raises(FrameSourceError):
        open_source(spec)
