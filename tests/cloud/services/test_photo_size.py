"""A photo's size from its header (services/photo_size.py): real encodings of our test photos,
then truncated and odd headers, which size as None and never raise."""

from __future__ import annotations

import cv2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.services.photo_size import photo_size
from tests import face_photos as photos


@pytest.mark.parametrize(
    "ext, flags",
    [(".png", []), (".jpg", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])],
)
def test_the_header_gives_the_size_the_decoder_would(ext, flags):
    image = photos.astronaut()[:300, :512]
    encoded = cv2.imencode(ext, image, flags)[1].tobytes()
    assert photo_size(encoded) == (512, 300)


def test_a_jpeg_cut_before_its_frame_header_or_a_scan_without_one_has_no_size():
    encoded = cv2.imencode(".jpg", photos.astronaut())[1].tobytes()
    frame = encoded.index(b"\xff\xc0")
    assert photo_size(encoded[: frame + 6]) is None
    assert photo_size(b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 8) is None
    assert photo_size(b"\xff\xd8\xff\xe0\x00\x01") is None  # a length shorter than itself
    assert photo_size(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDX" + b"\x00" * 8) is None


@given(st.binary(max_size=64))
def test_any_bytes_after_a_magic_number_size_or_none_never_raise(tail):
    for magic in (b"\xff\xd8", b"\x89PNG\r\n\x1a\n", b""):
        size = photo_size(magic + tail)
        assert size is None or all(0 <= side < 2**32 for side in size)
