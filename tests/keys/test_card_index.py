"""The card index as a gate holds it: a snapshot, then deltas in sequence; a gap is asked for."""

from __future__ import annotations

import pytest

from keys.card_index import CardIndex, sign_card_delta, sign_card_index
from keys.revocation import SequenceGap
from keys.signed_document import DocumentError, verify_document

CARD = b"\x01" * 8
OTHER = b"\x02" * 8


def held(root_key, raw: bytes):
    return verify_document(raw, root_key.public_key, doc_type="cards", site="S1")


def index_at_1(root_key) -> CardIndex:
    index = CardIndex()
    index.apply(held(root_key, sign_card_index(root_key, site="S1", seq=1, entries={CARD: ["A"]})))
    return index


def test_a_delta_adds_a_sold_ticket_and_removes_a_refunded_one(root_key):
    index = index_at_1(root_key)
    delta = sign_card_delta(root_key, site="S1", seq=2, add=[(OTHER, "B")], remove=[(CARD, "A")])
    index.apply(held(root_key, delta))
    assert index.tickets_for(CARD) == [] and index.tickets_for(OTHER) == ["B"]
    assert index.seq == 2


def test_a_delta_after_a_missed_one_is_a_gap_named_for_the_card_index(root_key):
    index = index_at_1(root_key)
    with pytest.raises(SequenceGap) as gap:
        index.apply(held(root_key, sign_card_delta(root_key, site="S1", seq=3, add=[(OTHER, "B")])))
    assert gap.value.doc_type == "cards" and gap.value.missing_from == 2
    assert index.seq == 1 and index.tickets_for(OTHER) == []


def test_a_replayed_delta_is_refused_as_stale(root_key):
    index = index_at_1(root_key)
    delta = held(root_key, sign_card_delta(root_key, site="S1", seq=2, add=[(OTHER, "B")]))
    index.apply(delta)
    with pytest.raises(DocumentError) as refused:
        index.apply(delta)
    assert refused.value.code == "stale_sequence"


def test_a_gate_holding_nothing_asks_for_a_snapshot_on_a_delta(root_key):
    with pytest.raises(SequenceGap) as gap:
        CardIndex().apply(held(root_key, sign_card_delta(root_key, site="S1", seq=5)))
    assert gap.value.missing_from == 0
