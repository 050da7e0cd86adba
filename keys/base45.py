"""Base45 (RFC 9285): the strict codec for ticket text, so a QR code can use alphanumeric mode.

RFC 9285 section 4: bytes are taken two at a time, ``n = a*256 + b`` written as ``c + d*45 +
e*45*45`` in the order ``c d e``; a final single byte is written as two characters ``c d``.
The alphabet is the QR alphanumeric set ``0-9 A-Z space $ % * + - . / :``.

Strictness (section 4.3 says a decoder MUST reject these):
- a character outside the alphabet (lower case included);
- a triplet whose value exceeds 65535, or a final pair whose value exceeds 255;
- a length that leaves one character over (``len % 3 == 1``), which no encoder produces.

Why our own and not the ``base45`` package: a gate must say *why* a code is unreadable, and
that package folds every failure into one ``ValueError``; it also pops from the head of a
list, quadratic in the length. The tests check this codec against it as an oracle.
This module never imports the rest of the project.
"""

from __future__ import annotations

from keys.errors import KeysError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


class Base45Error(KeysError, ValueError):
    """Not base45. ``truncated`` is true when the length alone is impossible."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


def b45encode(data: bytes) -> str:
    """Encode bytes as base45 text (RFC 9285 section 4)."""
    out: list[str] = []
    full = len(data) - len(data) % 2
    for i in range(0, full, 2):
        n = (data[i] << 8) | data[i + 1]
        e, rest = divmod(n, 2025)
        d, c = divmod(rest, 45)
        out.append(ALPHABET[c] + ALPHABET[d] + ALPHABET[e])
    if full != len(data):
        d, c = divmod(data[-1], 45)
        out.append(ALPHABET[c] + ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode base45 text, rejecting every non-canonical form (RFC 9285 section 4.3)."""
    if len(text) % 3 == 1:
        raise Base45Error(f"length {len(text)} leaves one character over", truncated=True)
    try:
        values = [_VALUE[ch] for ch in text]
    except KeyError as exc:
        raise Base45Error(f"character {exc.args[0]!r} is not in the base45 alphabet") from None
    out = bytearray()
    full = len(values) - len(values) % 3
    for i in range(0, full, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if n > 0xFFFF:
            raise Base45Error(f"triplet at {i} has value {n} > 65535")
        out += n.to_bytes(2, "big")
    if full != len(values):
        n = values[full] + values[full + 1] * 45
        if n > 0xFF:
            raise Base45Error(f"final pair has value {n} > 255")
        out.append(n)
    return bytes(out)
