"""Batches of gate events: one node signature over many events, each still proven by it."""

from __future__ import annotations

from datetime import UTC, datetime

import cbor2
import pytest

from keys import keystore
from keys.gate_event import MAX_EVENT_BYTES, sign_event
from keys.gate_event_batch import (
    DOC_TYPE,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    Entry,
    event_in,
    pack,
    peek_report_node,
    sign_batch,
    verify_report,
)
from keys.signed_document import DocumentError, sign_document

AT = int(datetime(2026, 11, 24, 3, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def node_key():
    return keystore.generate("node", "N1")


def entries(first, count, kind="passage"):
    return [
        Entry.of(seq, kind, AT + seq, {"use": seq, "dir": "in"})
        for seq in range(first, first + count)
    ]


def signed(key, body, seq=1, site="S1"):
    """A batch document with a hand-made body, signed by ``key``."""
    return sign_document(key, DOC_TYPE, site, seq, body, datetime.fromtimestamp(AT / 1000, UTC))


def test_a_batch_round_trips_every_event_under_one_signature(node_key):
    raw = sign_batch(node_key, site="S1", node="G1", entries=entries(5, 3))
    report = verify_report(raw, node_key.public_key, "S1")
    assert report.node == "G1" and report.refused == ()
    assert [(e.seq, e.kind, e.data) for e in report.events] == [
        (s, "passage", {"use": s, "dir": "in"}) for s in (5, 6, 7)
    ]
    assert all(e.raw == raw and e.batch is not None and e.site == "S1" for e in report.events)
    assert report.events[0].at == datetime.fromtimestamp((AT + 5) / 1000, UTC)
    assert event_in(raw, node_key.public_key, "S1", 6).data == {"use": 6, "dir": "in"}
    with pytest.raises(DocumentError) as missing:
        event_in(raw, node_key.public_key, "S1", 8)
    assert missing.value.code == "not_found"


def test_a_single_event_document_is_still_a_report_of_one(node_key):
    raw = sign_event(node_key, site="S1", node="G1", seq=9, kind="use", at_ms=AT, data={"use": 1})
    report = verify_report(raw, node_key.public_key, "S1")
    assert [(e.seq, e.kind, e.batch, e.raw) for e in report.events] == [(9, "use", None, raw)]
    assert event_in(raw, node_key.public_key, "S1", 9).seq == 9


def test_a_batch_signed_by_another_key_or_for_another_site_or_altered_is_refused(node_key):
    impostor = keystore.generate("node", "N1")
    raw = sign_batch(impostor, site="S1", node="G1", entries=entries(1, 2))
    with pytest.raises(DocumentError) as forged:
        verify_report(raw, node_key.public_key, "S1")
    assert forged.value.code == "bad_signature"
    other_site = sign_batch(node_key, site="S2", node="G1", entries=entries(1, 2))
    with pytest.raises(DocumentError) as wrong_site:
        verify_report(other_site, node_key.public_key, "S1")
    assert wrong_site.value.code == "wrong_site"
    good = sign_batch(node_key, site="S1", node="G1", entries=entries(1, 2))
    tampered = good.replace(b"passage", b"passagf")
    with pytest.raises(DocumentError) as altered:
        verify_report(tampered, node_key.public_key, "S1")
    assert altered.value.code == "bad_signature"


def test_batches_over_a_cap_are_refused_whole_with_a_reason(node_key):
    many = sign_batch(node_key, site="S1", node="G1", entries=entries(1, MAX_BATCH_EVENTS + 1))
    with pytest.raises(DocumentError) as count:
        verify_report(many, node_key.public_key, "S1")
    assert count.value.code == "too_many_events"
    big = [Entry.of(s, "alarm", AT, {"what": "x" * 3000}) for s in range(1, 24)]
    huge = sign_batch(node_key, site="S1", node="G1", entries=big)
    assert len(huge) > MAX_BATCH_BYTES
    with pytest.raises(DocumentError) as size:
        verify_report(huge, node_key.public_key, "S1")
    assert size.value.code == "too_large"
    assert peek_report_node(huge) is None  # not even read past the cap
    for body in ({"node": "G1", "events": []}, {"node": "G1"}, {"node": 7, "events": [b""]}):
        with pytest.raises(DocumentError) as empty:
            verify_report(signed(node_key, body), node_key.public_key, "S1")
        assert empty.value.code == "malformed"


def test_an_unreadable_event_in_a_signed_batch_is_refused_alone_with_its_reason(node_key):
    good = [e.encoded for e in entries(1, 2)]
    bad = [
        b"\xa1\x63seq",  # truncated CBOR
        cbor2.dumps({"seq": 3, "kind": "passage", "at": AT}),  # no data
        cbor2.dumps({"seq": 4, "kind": "teleport", "at": AT, "data": {}}),  # unknown kind
        cbor2.dumps({"seq": 5, "kind": "use", "at": 10**18, "data": {}}),  # time out of range
        cbor2.dumps({"seq": -1, "kind": "use", "at": AT, "data": {}}),
        cbor2.dumps({"seq": 2**63, "kind": "use", "at": AT, "data": {}}),  # beyond BIGINT
        cbor2.dumps({"seq": 6, "kind": "use", "at": AT, "data": {}, "extra": 1}),
        b"\xa4\x63seq\x07\x63seq\x07\x64kind\x63use\x62at\x01",  # seq twice in one map
        b"\xa1" + b"\x59\x10\x00" + b"x" * (MAX_EVENT_BYTES),  # one event over its own cap
        "not bytes",
        Entry.of(2, "use", AT, {"use": 2}).encoded,  # seq 2 again: the first one is kept
    ]
    raw = signed(node_key, {"node": "G1", "events": [*good, *bad]})
    report = verify_report(raw, node_key.public_key, "S1")
    assert [(e.seq, e.kind) for e in report.events] == [(1, "passage"), (2, "passage")]
    assert [(r.code, r.seq) for r in report.refused] == [
        ("bad_cbor", None),
        ("malformed", 3),
        ("malformed", 4),
        ("malformed", 5),
        ("malformed", None),
        ("malformed", None),
        ("malformed", 6),
        ("duplicate_key", None),
        ("too_large", None),
        ("malformed", None),
        ("duplicate_seq", 2),
    ]


def test_pack_keeps_order_and_both_caps(node_key):
    small = entries(1, 150)
    batches = pack(small)
    assert [len(b) for b in batches] == [
        MAX_BATCH_EVENTS,
        MAX_BATCH_EVENTS,
        150 - 2 * MAX_BATCH_EVENTS,
    ]
    assert [e.seq for b in batches for e in b] == list(range(1, 151))
    large = [Entry.of(s, "alarm", AT, {"what": "x" * 3000}) for s in range(1, 60)]
    for batch in pack(large):
        raw = sign_batch(node_key, site="S1", node="G1", entries=batch)
        assert len(raw) <= MAX_BATCH_BYTES
        assert len(verify_report(raw, node_key.public_key, "S1").events) == len(batch)
    lone = Entry.of(1, "alarm", AT, {"what": "x" * (MAX_BATCH_BYTES + 1)})
    assert pack([*entries(1, 2), lone, *entries(3, 1)]) == [entries(1, 2), [lone], entries(3, 1)]
