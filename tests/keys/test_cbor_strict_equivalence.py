"""The strict decoder's walks were rewritten for speed (a batch of 64 events decodes 65 items);
they must refuse and accept exactly what the first, plain versions did.

``reference_decode`` is keys/cbor_strict.py's ``decode_item`` as it was before the rewrite
(recursive ``isinstance`` walk, per-container frames counting items read), kept here verbatim
as the oracle. Hypothesis feeds both well-formed CBOR of every shape we accept or refuse
(nested maps and arrays, definite and indefinite lengths, tags, floats, simple values, maps
with a key twice), those bytes mutated, and bytes at random: the outcome (the value, or the
refusal's code and flags) must be the same.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.cbor_strict import CborError, decode_item

# -- the oracle: the walks as they were ---------------------------------------------------------


def reference_decode(
    data: bytes, *, max_bytes: int, allowed_tags: frozenset[int], max_depth: int
) -> Any:
    if len(data) > max_bytes:
        raise CborError(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except cbor2.CBORDecodeEOF as exc:
        raise CborError(f"ends early: {exc}", truncated=True) from None
    except Exception as exc:
        raise CborError(f"malformed: {exc}") from None
    if stream.tell() != len(data):
        raise CborError(f"{len(data) - stream.tell()} bytes after the item")
    decoded_pairs = _reference_check_plain(item, allowed_tags, max_depth, 0)
    if decoded_pairs != _reference_count_pairs(data):
        raise CborError("a map holds the same key twice", duplicate=True)
    return item


def _reference_check_plain(item: Any, allowed_tags: frozenset[int], max_depth: int, depth: int):
    if depth > max_depth:
        raise CborError(f"nested deeper than {max_depth}")
    if item is None or isinstance(item, (bool, int, bytes, str)):
        return 0
    if isinstance(item, list):
        return sum(
            _reference_check_plain(element, allowed_tags, max_depth, depth + 1) for element in item
        )
    if isinstance(item, dict):
        pairs = len(item)
        for key, value in item.items():
            pairs += _reference_check_plain(key, allowed_tags, max_depth, depth + 1)
            pairs += _reference_check_plain(value, allowed_tags, max_depth, depth + 1)
        return pairs
    if isinstance(item, cbor2.CBORTag) and item.tag in allowed_tags:
        return _reference_check_plain(item.value, allowed_tags, max_depth, depth + 1)
    raise CborError(f"{type(item).__name__} is not allowed here")


_ARGUMENT_BYTES = {24: 1, 25: 2, 26: 4, 27: 8}


def _reference_count_pairs(data: bytes) -> int:
    pairs = 0
    position = 0
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
        if initial == 0xFF:
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
                frames.append([-1, 0, 0])
        elif major == 4:
            frames.append([argument, 0, 0])
        elif major == 5:
            frames.append([2 * argument if argument >= 0 else -1, 1, 0])
        elif major == 6:
            frames.append([1, 0, 0])
    return pairs


# -- inputs -------------------------------------------------------------------------------------


def _head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 256**size:
            return bytes([major << 5 | info]) + length.to_bytes(size, "big")
    raise ValueError(length)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # bignums (tags 2, 3) too
    st.binary(max_size=30),
    st.text(max_size=10),
    st.floats(allow_nan=False),
    st.sampled_from([b"\xf7", b"\xf0", b"\xf8\x20"]).map(lambda raw: ("raw", raw)),
)


def _encode(item: Any) -> bytes:
    """Write ``item`` as CBOR; ("raw", b) is spliced in; ("map", pairs, indefinite) keeps
    repeated keys; ("array", items, indefinite); ("tag", n, item); ("chunks", [bytes])."""
    if isinstance(item, tuple) and item and item[0] == "raw":
        return item[1]
    if isinstance(item, tuple) and item and item[0] == "map":
        _, pairs, indefinite = item
        body = b"".join(_encode(k) + _encode(v) for k, v in pairs)
        return (b"\xbf" + body + b"\xff") if indefinite else _head(5, len(pairs)) + body
    if isinstance(item, tuple) and item and item[0] == "array":
        _, items, indefinite = item
        body = b"".join(_encode(x) for x in items)
        return (b"\x9f" + body + b"\xff") if indefinite else _head(4, len(items)) + body
    if isinstance(item, tuple) and item and item[0] == "tag":
        return _head(6, item[1]) + _encode(item[2])
    if isinstance(item, tuple) and item and item[0] == "chunks":
        return b"\x5f" + b"".join(_head(2, len(c)) + c for c in item[1]) + b"\xff"
    return cbor2.dumps(item)


keys = st.one_of(st.text(max_size=4), st.integers(min_value=-3, max_value=3), st.booleans())
items = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.tuples(
            st.just("map"),
            st.lists(st.tuples(keys, children), max_size=4),
            st.booleans(),
        ),
        st.tuples(st.just("array"), st.lists(children, max_size=4), st.booleans()),
        st.tuples(st.just("tag"), st.sampled_from([1, 2, 18, 99]), children),
        st.tuples(st.just("chunks"), st.lists(st.binary(max_size=5), max_size=3)),
    ),
    max_leaves=20,
)


def _outcome(decode: Any, data: bytes, **options: Any) -> tuple[Any, ...]:
    try:
        return ("value", repr(decode(data, **options)))
    except CborError as exc:
        return ("refused", exc.code, exc.truncated, exc.duplicate)


def _same(data: bytes) -> None:
    for options in (
        {"max_bytes": 4096, "allowed_tags": frozenset(), "max_depth": 8},
        {"max_bytes": 4096, "allowed_tags": frozenset({18, 99}), "max_depth": 3},
    ):
        assert _outcome(decode_item, data, **options) == _outcome(reference_decode, data, **options)


@settings(max_examples=600, deadline=None)
@given(items)
def test_well_formed_cbor_of_every_shape_gets_the_same_verdict(item):
    _same(_encode(item))


@settings(max_examples=400, deadline=None)
@given(items, st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_mutated_cbor_gets_the_same_verdict(item, where, byte):
    data = bytearray(_encode(item))
    data[where % len(data)] = byte
    _same(bytes(data))
    _same(bytes(data[: where % len(data)]))  # cut short


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_get_the_same_verdict(data):
    _same(data)


def test_the_cases_that_matter_are_among_them():
    twice = _encode(("map", [("a", 1), ("a", 1)], False))
    deep = _encode(
        ("array", [("array", [("array", [("array", [1], False)], False)], False)], False)
    )
    for data, expected in (
        (twice, ("refused", "duplicate_key", False, True)),
        (_encode(("map", [("a", 1), ("a", 2)], True)), ("refused", "duplicate_key", False, True)),
        (cbor2.dumps(1.5), ("refused", "bad_cbor", False, False)),
        (b"\xa1\x61", ("refused", "bad_cbor", True, False)),
    ):
        assert (
            _outcome(decode_item, data, max_bytes=99, allowed_tags=frozenset(), max_depth=8)
            == expected
        )
    options = {"max_bytes": 99, "allowed_tags": frozenset(), "max_depth": 3}
    assert _outcome(decode_item, deep, **options)[:2] == ("refused", "bad_cbor")
    _same(deep)
