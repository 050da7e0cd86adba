"""Holder references (实名制): bind a ticket to a person without putting their ID on it.

A real-name ticket carries ``holder_ref(salt, kind, value)``: HMAC-SHA256 keyed with the site's
holder salt over the credential kind and its normalised value, cut to 8 bytes. 64 bits make a
card read match another person's reference with probability 2**-64; more bytes would push an
annual pass past QR version 7. The gate holds the same salt (delivered in its signed config),
so when a visitor presents an ID card it recomputes the reference from the card read and
compares; a face match compares the enrolment id the same way. The ticket itself discloses
nothing: without the salt, an 8-byte HMAC of an 18-character ID number cannot be inverted by
enumerating birth dates and districts.

The salt is a secret of the site, not a key that signs anything: leaking it exposes only which
ticket belongs to which known ID number.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

HOLDER_REF_BYTES = 8
KINDS = (
    "id_card",
    "member",
    "rfid",
    "face",
    "ota",
)  # ota: an OTA's own code (cloud/services/ota_codes.py)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_number(value: str) -> bool:
    """A resident ID number (GB 11643-1999): 17 digits and its ISO 7064 MOD 11-2 check
    character. Checked where an ID is typed at sale and where a reader reads one at a gate."""
    number = value.strip().upper()
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def holder_ref(salt: bytes, kind: str, value: str) -> bytes:
    """The reference for one credential; ``kind`` is id_card, member, rfid, face or ota."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if len(salt) < 16:
        raise ValueError("the holder salt must be at least 16 bytes")
    normalised = value.strip().upper()  # ID cards end in a check digit that may be x or X
    return hmac.new(salt, f"{kind}:{normalised}".encode(), sha256).digest()[:HOLDER_REF_BYTES]


def matches(salt: bytes, reference: bytes, kind: str, value: str) -> bool:
    """Constant-time comparison of a credential read with a ticket's holder reference."""
    return hmac.compare_digest(holder_ref(salt, kind, value), reference)
