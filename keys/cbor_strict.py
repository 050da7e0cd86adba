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
  half-read QR code deserves "scan again", not "forged".

It never raises anything but ``CborError``.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

MAX_ITEM_BYTES = 1024
"""A ticket is ~100 bytes; a signed downlink document is checked with its own, larger cap."""

MAX_DEPTH = 8
"""Deepest nesting any of our structures has is 4 (document -> body -> list -> entry)."""


class CborError(ValueError):
    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


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
    _check_plain(item, allowed_tags, max_depth, 0)
    return item


def _check_plain(item: Any, allowed_tags: frozenset[int], max_depth: int, depth: int) -> None:
    if depth > max_depth:
        raise CborError(f"nested deeper than {max_depth}")
    if item is None or isinstance(item, (bool, int, bytes, str)):
        return
    if isinstance(item, list):
        for element in item:
            _check_plain(element, allowed_tags, max_depth, depth + 1)
        return
    if isinstance(item, dict):
        for key, value in item.items():
            _check_plain(key, allowed_tags, max_depth, depth + 1)
            _check_plain(value, allowed_tags, max_depth, depth + 1)
        return
    if isinstance(item, cbor2.CBORTag) and item.tag in allowed_tags:
        _check_plain(item.value, allowed_tags, max_depth, depth + 1)
        return
    raise CborError(f"{type(item).__name__} is not allowed here")
