"""Base45 against RFC 9285's own examples, its MUST-reject cases, and an independent codec."""

from __future__ import annotations

import base45 as oracle
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.base45 import ALPHABET, Base45Error, b45decode, b45encode

RFC_VECTORS = [  # RFC 9285 sections 4.3 and 4.4
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


@pytest.mark.parametrize(("raw", "text"), RFC_VECTORS)
def test_rfc_vectors_encode_and_decode(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


def test_triplet_over_65535_is_rejected_as_the_rfc_requires() -> None:
    with pytest.raises(Base45Error) as info:
        b45decode("GGW")  # RFC 9285 section 4.3: 65536 is not a valid triplet
    assert not info.value.truncated


def test_final_pair_over_255_is_rejected() -> None:
    with pytest.raises(Base45Error):
        b45decode("::")  # 44 + 44*45 = 2024


def test_length_leaving_one_character_over_is_reported_as_truncated() -> None:
    with pytest.raises(Base45Error) as info:
        b45decode("BB8A")
    assert info.value.truncated


@pytest.mark.parametrize("bad", ["bb8", "BB8\n", "BB#", "BB8é"])
def test_characters_outside_the_alphabet_are_rejected(bad: str) -> None:
    with pytest.raises(Base45Error):
        b45decode(bad)


@given(st.binary(max_size=300))
def test_round_trip_and_agreement_with_an_independent_codec(raw: bytes) -> None:
    text = b45encode(raw)
    assert set(text) <= set(ALPHABET)
    assert b45decode(text) == raw
    assert text == oracle.b45encode(raw).decode("ascii")
    assert oracle.b45decode(text) == raw


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_any_alphabet_text_decodes_or_is_refused_with_base45_error(text: str) -> None:
    try:
        raw = b45decode(text)
    except Base45Error:
        return
    assert b45encode(raw) == text  # what decodes is canonical: re-encoding gives it back
