"""A JPEG's or PNG's width and height from its header, before anything is decoded.

Why: ``cv2.imdecode`` allocates the whole bitmap before the caller can look at its size, so a
photo of a few hundred kilobytes (a PNG of one colour compresses about 1000:1) made the cloud
allocate 768 MB and spend 4 s on a 16000x16000 picture before ``MAX_PIXELS`` refused it
(services/face_enrolment.py). The header says the size in a few bytes; read it first.

PNG (ISO/IEC 15948, 5.2-5.3): the 8-byte signature, then the IHDR chunk: length (4), "IHDR",
width (4, big-endian), height (4). JPEG (ITU-T T.81, B.1.1): markers ``FF xx``, each but SOI,
EOI, TEM and RSTn followed by a 2-byte big-endian length that counts itself; the first
start-of-frame (``FF C0``-``FF CF`` except C4 DHT, C8 JPG, CC DAC) holds precision (1),
height (2), width (2). A scan (``FF DA``) before any frame header is no image we can size.
Never decodes, never raises: None for anything it cannot size.
"""

from __future__ import annotations

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NOT_FRAMES = {0xC4, 0xC8, 0xCC}
_NO_LENGTH = {0x01, 0xD8, *range(0xD0, 0xD8)}  # TEM, SOI, RST0-7


def photo_size(photo: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels from the header of a PNG or JPEG, else None."""
    if photo.startswith(PNG_SIGNATURE):
        if len(photo) < 24 or photo[12:16] != b"IHDR":
            return None
        return int.from_bytes(photo[16:20], "big"), int.from_bytes(photo[20:24], "big")
    if photo.startswith(b"\xff\xd8"):
        return _jpeg_size(photo)
    return None


def _jpeg_size(photo: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(photo):
        if photo[at] != 0xFF:
            return None
        marker = photo[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _NO_LENGTH:
            at += 2
            continue
        if marker == 0xDA or marker == 0xD9:  # a scan or the end before any frame header
            return None
        length = int.from_bytes(photo[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in _NOT_FRAMES:
            if at + 9 > len(photo):
                return None
            height = int.from_bytes(photo[at + 5 : at + 7], "big")
            width = int.from_bytes(photo[at + 7 : at + 9], "big")
            return width, height
        if length < 2:
            return None
        at += 2 + length
    return None
