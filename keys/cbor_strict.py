"""Decoding one CBOR item from untrusted bytes, with limits, so a bad code costs nothing.

cbor2 does the decoding; this module adds what a gate needs around it:
- a size cap checked *before* parsing (``MAX_ITEM_BYTES``), so nobody can make a gate chew on
  a large blob;
- exactly one item: bytes left over after it are refused (one ticket, one encoding);
- only plain data comes out: integers, byte and text strings, arrays, maps, booleans, null,
  and tags the caller allows. cbor2 turns semantic tags (dates, decimals, sets, shared
  references) into Python objects; anything of that kind is refused here, after decoding, by
  a walk that also bounds nesting (``MAX_DEPTH``);
- a premature end is told apart from other malformations (``CborError.truncated``), because a
  half-read QR code deserves "scan again", not "forged";
- no map holds a key twice (``CborError.duplicate``). cbor2 keeps the last of two equal keys
  and has no flag to refuse them (RFC 8949 section 5.6 leaves the choice to the decoder), so
  two decoders can read one ticket differently. ``_count_pairs`` walks the raw bytes and counts
  the key/value pairs every map declares; the decoded maps must hold as many. A duplicate
  always loses at least one pair, so it is caught whatever the key's type or encoding
  (``01`` and ``18 01`` are both 1; ``true`` and ``1`` are one key to Python: refused too).
  Only duplicates are refused, not other non-canonical forms (key order, long heads): tickets
  and documents made by other COSE implementations (pycose) order their maps their own way.

It never raises anything but ``CborError``.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from keys.errors import KeysError

MAX_ITEM_BYTES = 1024
"""A ticket is ~100 bytes; a signed downlink document is checked with its own, larger cap."""

MAX_DEPTH = 8
"""Deepest nesting any of our structures has is 4 (document -> body -> list -> entry)."""


class CborError(KeysError, ValueError):
    """Not the strict CBOR we accept; ``truncated`` and ``duplicate`` say why."""

    def __init__(self, message: str, *, truncated: bool = False, duplicate: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated
        self.duplicate = duplicate

    @property
    def code(self) -> str:
        """The stable code a document refusal carries (keys/signed_document.py)."""
        return "duplicate_key" if self.duplicate else "bad_cbor"


def decode_item(
    data: bytes,
    *,
    max_bytes: int = MAX_ITEM_BYTES,
    allowed_tags: frozenset[int] = frozenset(),
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Decode exactly one CBOR data item of plain data; raise ``CborError`` otherwise."""
    if len(data) > max_bytes:
        raise CborError(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except cbor2.CBORDecodeEOF as exc:
        raise CborError(f"ends early: {exc}", truncated=True) from None
    # Decoding untrusted bytes is a boundary: cbor2 can raise several kinds (value, type,
    # recursion, overflow) depending on the malformation; each becomes one refusal.
    except Exception as exc:
        raise CborError(f"malformed: {exc}") from None
    if stream.tell() != len(data):
        raise CborError(f"{len(data) - stream.tell()} bytes after the item")
    decoded_pairs = _check_plain(item, allowed_tags, max_depth, 0)
    if decoded_pairs != _count_pairs(data):
        raise CborError("a map holds the same key twice", duplicate=True)
    return item


def _check_plain(item: Any, allowed_tags: frozenset[int], max_depth: int, depth: int) -> int:
    """Refuse anything but plain data; return how many key/value pairs the maps hold."""
    if depth > max_depth:
        raise CborError(f"nested deeper than {max_depth}")
    if item is None or isinstance(item, (bool, int, bytes, str)):
        return 0
    if isinstance(item, list):
        return sum(_check_plain(element, allowed_tags, max_depth, depth + 1) for element in item)
    if isinstance(item, dict):
        pairs = len(item)
        for key, value in item.items():
            pairs += _check_plain(key, allowed_tags, max_depth, depth + 1)
            pairs += _check_plain(value, allowed_tags, max_depth, depth + 1)
        return pairs
    if isinstance(item, cbor2.CBORTag) and item.tag in allowed_tags:
        return _check_plain(item.value, allowed_tags, max_depth, depth + 1)
    raise CborError(f"{type(item).__name__} is not allowed here")


_BREAK = 0xFF
_ARGUMENT_BYTES = {24: 1, 25: 2, 26: 4, 27: 8}


def _count_pairs(data: bytes) -> int:
    """How many key/value pairs the maps in ``data`` hold, read from the raw bytes.

    RFC 8949 section 3: a head is the major type (top 3 bits) and additional information (low
    5 bits), then 0-8 argument bytes; 31 means indefinite length, ended by a break (``FF``).
    Runs only on bytes cbor2 has decoded as one well-formed item and skips strings whole, so
    it costs less than the decode. Iterative: deep nesting costs no recursion.
    """
    pairs = 0
    position = 0
    # One frame per open container: [items still to read (-1: until a break), is a map,
    # items read]. The outermost frame holds the one top-level item.
    frames: list[list[int]] = [[1, 0, 0]]
    while frames:
        frame = frames[-1]
        if frame[0] == 0:
            frames.pop()
            pairs += frame[2] // 2 if frame[1] else 0
            continue
        if position >= len(data):
            raise CborError("ends early", truncated=True)
        initial = data[position]
        position += 1
        if initial == _BREAK:
            frames.pop()
            pairs += frame[2] // 2 if frame[1] else 0
            continue
        frame[0] -= 1 if frame[0] > 0 else 0
        frame[2] += 1
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            argument = info
        elif info in _ARGUMENT_BYTES:
            size = _ARGUMENT_BYTES[info]
            argument = int.from_bytes(data[position : position + size], "big")
            position += size
        elif info == 31:
            argument = -1
        else:
            raise CborError(f"reserved additional information {info}")
        if major in (2, 3):
            if argument >= 0:
                position += argument
            else:
                frames.append([-1, 0, 0])  # string chunks until the break
        elif major == 4:
            frames.append([argument, 0, 0])
        elif major == 5:
            frames.append([2 * argument if argument >= 0 else -1, 1, 0])
        elif major == 6:
            frames.append([1, 0, 0])
        # majors 0, 1 and 7 (integers, simple values, floats) have nothing after the head
    return pairs
