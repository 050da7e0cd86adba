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


_SCALARS = frozenset({type(None), bool, int, bytes, str})
"""The exact types cbor2 gives plain scalars; it makes no subclass of them."""


def _check_plain(item: Any, allowed_tags: frozenset[int], max_depth: int, depth: int) -> int:
    """Refuse anything but plain data; return how many key/value pairs the maps hold.

    Iterative, with exact type checks (``type(x) in``): the same verdict as a recursive walk
    with ``isinstance`` on what cbor2 decodes (it makes no subclass of these), at about half
    the cost, which matters for a batch of 64 events (tests/keys/
    test_cbor_strict_equivalence.py holds the old walks and checks both agree)."""
    if depth > max_depth:
        raise CborError(f"nested deeper than {max_depth}")
    scalars = _SCALARS
    pairs = 0
    stack = [(item, depth)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind in scalars:
            continue
        if kind is list:
            children: Any = item
        elif kind is dict:
            pairs += len(item)
            children = [part for pair in item.items() for part in pair]
        elif kind is cbor2.CBORTag and item.tag in allowed_tags:
            children = (item.value,)
        else:
            raise CborError(f"{kind.__name__} is not allowed here")
        if not children:
            continue
        if depth + 1 > max_depth:
            raise CborError(f"nested deeper than {max_depth}")
        for child in children:
            if type(child) not in scalars:
                push((child, depth + 1))
    return pairs


_BREAK = 0xFF
_ARGUMENT_BYTES = {24: 1, 25: 2, 26: 4, 27: 8}


def _count_pairs(data: bytes) -> int:
    """How many key/value pairs the maps in ``data`` hold, read from the raw bytes.

    RFC 8949 section 3: a head is the major type (top 3 bits) and additional information (low
    5 bits), then 0-8 argument bytes; 31 means indefinite length, ended by a break (``FF``).
    Runs only on bytes cbor2 has decoded as one well-formed item and skips strings whole, so
    it costs less than the decode. Iterative: deep nesting costs no recursion. A map of
    definite length holds the pairs its head declares; one of indefinite length, half the
    items read before its break.
    """
    pairs = 0
    position = 0
    size = len(data)
    # The innermost open container: items still to read (-1: until a break), and, for a map
    # of indefinite length only, items read so far (-1 otherwise). Enclosing ones: ``outer``.
    remaining, counted = 1, -1
    outer: list[tuple[int, int]] = []
    while True:
        if remaining == 0:
            if not outer:
                return pairs
            remaining, counted = outer.pop()
            continue
        if position >= size:
            raise CborError("ends early", truncated=True)
        initial = data[position]
        position += 1
        if initial == _BREAK:
            if counted > 0:
                pairs += counted // 2
            if not outer:
                return pairs
            remaining, counted = outer.pop()
            continue
        if remaining > 0:
            remaining -= 1
        if counted >= 0:
            counted += 1
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            argument = info
        elif info in _ARGUMENT_BYTES:
            width = _ARGUMENT_BYTES[info]
            argument = int.from_bytes(data[position : position + width], "big")
            position += width
        elif info == 31:
            argument = -1
        else:
            raise CborError(f"reserved additional information {info}")
        if major == 2 or major == 3:
            if argument >= 0:
                position += argument
            else:
                outer.append((remaining, counted))  # string chunks until the break
                remaining, counted = -1, -1
        elif major == 4:
            outer.append((remaining, counted))
            remaining, counted = argument, -1
        elif major == 5:
            outer.append((remaining, counted))
            if argument >= 0:
                pairs += argument
                remaining, counted = 2 * argument, -1
            else:
                remaining, counted = -1, 0
        elif major == 6:
            outer.append((remaining, counted))
            remaining, counted = 1, -1
        # majors 0, 1 and 7 (integers, simple values, floats) have nothing after the head
