"""Storing gate events: verified, once, with their effects once; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import cbor2
import pytest
from sqlalchemy import func, select

from cloud.db import make_engine, session_factory
from cloud.migrate import upgrade
from cloud.models import Device, GateEventBatch, GateEventRecord, ParkCount, RefusedEvent
from cloud.services.ingest import Ingest, proof, prove
from keys import keystore
from keys.gate_event import sign_event
from keys.gate_event_batch import DOC_TYPE as BATCH_TYPE
from keys.gate_event_batch import MAX_BATCH_EVENTS, Entry, sign_batch
from keys.signed_document import sign_document

AT = int(datetime(2026, 11, 24, 3, 0, tzinfo=UTC).timestamp() * 1000)  # 11:00 in Shanghai


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.sqlite'}"
        upgrade(url)
        return url
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def node_key():
    return keystore.generate("node", "N1")


@pytest.fixture
def ingest(url, node_key):
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add(
            Device(site="S1", node="G1", public_key=keystore.raw_public(node_key.public_key))
        )
        session.add(
            Device(
                site="S1",
                node="G9",
                status="revoked",
                public_key=keystore.raw_public(node_key.public_key),
            )
        )
    yield Ingest(engine, sessions, "Asia/Shanghai")
    engine.dispose()


def event(key, seq, kind="passage", node="G1", direction="in"):
    return sign_event(
        key, site="S1", node=node, seq=seq, kind=kind, at_ms=AT, data={"use": seq, "dir": direction}
    )


def count(ingest, model, **where):
    with ingest.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).filter_by(**where))


def entries(ingest):
    with ingest.sessions() as session:
        counts = session.scalars(select(ParkCount)).all()
    return [(c.day.isoformat(), c.entries, c.exits, c.in_park) for c in counts]


TOPIC = "scenic/S1/gate/G1/event"


def test_events_are_stored_with_their_effects(ingest, node_key):
    result = ingest.process(
        [
            (TOPIC, event(node_key, 1)),
            (TOPIC, event(node_key, 2)),
            (TOPIC, event(node_key, 3, direction="out")),
        ]
    )
    assert result.stored == 3 and dict(result.acks) == {("S1", "G1"): [1, 2, 3]}
    assert entries(ingest) == [("2026-11-24", 2, 1, 1)]


def test_a_replayed_event_is_stored_and_counted_once(ingest, node_key):
    ingest.process([(TOPIC, event(node_key, 1))])
    again = ingest.process([(TOPIC, event(node_key, 1))])
    assert again.stored == 0 and again.duplicates == 1
    assert again.acks[("S1", "G1")] == [1]  # still acknowledged: the node may forget it
    assert count(ingest, GateEventRecord) == 1 and entries(ingest)[0][1] == 1


def test_the_same_event_twice_in_one_batch_counts_once(ingest, node_key):
    payload = event(node_key, 7)
    result = ingest.process([(TOPIC, payload), (TOPIC, payload)])
    assert result.stored == 1 and result.duplicates == 1
    assert entries(ingest)[0][1] == 1


def test_unknown_revoked_forged_and_mismatched_events_are_refused_and_logged(ingest, node_key):
    impostor = keystore.generate("node", "N1")
    result = ingest.process(
        [
            ("scenic/S1/gate/G7/event", event(node_key, 1, node="G7")),
            ("scenic/S1/gate/G9/event", event(node_key, 1, node="G9")),
            (TOPIC, event(impostor, 1)),
            (TOPIC, event(node_key, 2, node="G2")),
            (TOPIC, b"garbage"),
            ("scenic/S1/other", event(node_key, 3)),
        ]
    )
    assert result.stored == 0
    assert dict(result.refused) == {
        "unknown_node": 1,
        "revoked_node": 1,
        "bad_signature": 1,
        "topic_mismatch": 1,
        "truncated": 1,
        "bad_topic": 1,
    }
    assert count(ingest, RefusedEvent) == 6 and count(ingest, GateEventRecord) == 0


def test_days_are_the_sites_days(ingest, node_key):
    late = int(datetime(2026, 11, 24, 17, 0, tzinfo=UTC).timestamp() * 1000)  # 01:00 next day
    payload = sign_event(
        node_key,
        site="S1",
        node="G1",
        seq=1,
        kind="passage",
        at_ms=late,
        data={"use": 1, "dir": "in"},
    )
    ingest.process([(TOPIC, payload)])
    assert entries(ingest)[0][0] == "2026-11-25"


def test_ticket_ids_are_stored_as_hex(ingest, node_key):
    payload = sign_event(
        node_key,
        site="S1",
        node="G1",
        seq=1,
        kind="use",
        at_ms=AT,
        data={"use": 1, "ticket": b"\xab" * 8, "dir": "in", "granted": 1},
    )
    ingest.process([(TOPIC, payload)])
    with ingest.sessions() as session:
        stored = session.scalars(select(GateEventRecord)).one()
    assert stored.data["ticket"] == "AB" * 8 and stored.raw == payload


def test_a_node_decommissioned_by_another_process_is_refused_within_the_refresh(url, node_key):
    from keys.clock import ManualClock
    from tests.conftest import TEST_AT

    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add(
            Device(site="S1", node="G1", public_key=keystore.raw_public(node_key.public_key))
        )
    clock = ManualClock(TEST_AT)
    worker = Ingest(engine, sessions, "Asia/Shanghai", clock)
    try:
        assert worker.process([(TOPIC, event(node_key, 1))]).stored == 1
        with sessions.begin() as session:
            session.scalars(select(Device)).one().status = "revoked"
        clock.advance(10)
        assert worker.process([(TOPIC, event(node_key, 2))]).refused == {"revoked_node": 1}
    finally:
        engine.dispose()


# -- batches: one node signature over many events (keys/gate_event_batch.py) ------------------


def batch(key, seqs, node="G1", kind="passage", site="S1"):
    entries = [Entry.of(s, kind, AT, {"use": s, "dir": "in"}) for s in seqs]
    return sign_batch(key, site=site, node=node, entries=entries)


def stored_rows(ingest):
    with ingest.sessions() as session:
        rows = session.scalars(select(GateEventRecord).order_by(GateEventRecord.seq)).all()
        return [(r.seq, r.raw is None, r.batch) for r in rows]


def test_a_batch_is_stored_event_by_event_with_its_signed_bytes_kept_once(ingest, node_key):
    raw = batch(node_key, [1, 2, 3])
    result = ingest.process([(TOPIC, raw)])
    assert result.stored == 3 and dict(result.acks) == {("S1", "G1"): [1, 2, 3]}
    assert entries(ingest) == [("2026-11-24", 3, 0, 3)]
    digest = hashlib.sha256(raw).digest()
    assert stored_rows(ingest) == [(1, True, digest), (2, True, digest), (3, True, digest)]
    with ingest.sessions() as session:
        assert session.scalars(select(GateEventBatch)).one().raw == raw
        for record in session.scalars(select(GateEventRecord)):
            proven = prove(session, record, node_key.public_key)  # provable against the gate
            assert (proven.seq, proven.kind) == (record.seq, record.kind)
            assert proven.data == {"use": record.seq, "dir": "in"}


def test_a_forged_batch_stores_nothing(ingest, node_key):
    impostor = keystore.generate("node", "N1")
    result = ingest.process([(TOPIC, batch(impostor, [1, 2, 3]))])
    assert result.stored == 0 and result.refused == {"bad_signature": 1} and not result.acks
    assert count(ingest, GateEventRecord) == 0 and count(ingest, GateEventBatch) == 0
    assert count(ingest, RefusedEvent, reason="bad_signature", claimed_node="G1") == 1


def test_a_replayed_batch_is_stored_and_counted_once(ingest, node_key):
    raw = batch(node_key, [1, 2, 3])
    ingest.process([(TOPIC, raw)])
    again = ingest.process([(TOPIC, raw), (TOPIC, raw)])
    assert again.stored == 0 and again.duplicates == 6
    assert again.acks[("S1", "G1")] == [1, 2, 3, 1, 2, 3]  # the node may forget them
    assert count(ingest, GateEventRecord) == 3 and count(ingest, GateEventBatch) == 1
    assert entries(ingest)[0][1] == 3


def test_a_batch_overlapping_stored_events_adds_only_the_new_ones(ingest, node_key):
    ingest.process([(TOPIC, event(node_key, 1)), (TOPIC, event(node_key, 2))])
    first = batch(node_key, [3, 4])
    ingest.process([(TOPIC, first)])
    resent = batch(node_key, [2, 3, 4, 5, 6])  # a resend after a lost ack, regrouped
    result = ingest.process([(TOPIC, resent)])
    assert result.stored == 2 and result.duplicates == 3
    assert result.acks[("S1", "G1")] == [2, 3, 4, 5, 6]
    one, two = hashlib.sha256(first).digest(), hashlib.sha256(resent).digest()
    assert stored_rows(ingest) == [
        (1, False, None),
        (2, False, None),
        (3, True, one),
        (4, True, one),
        (5, True, two),
        (6, True, two),
    ]
    assert count(ingest, GateEventBatch) == 2 and entries(ingest)[0][1] == 6
    # a batch all of whose events were stored before keeps no bytes of its own
    ingest.process([(TOPIC, batch(node_key, [1, 2, 3]))])
    assert count(ingest, GateEventBatch) == 2


def test_a_malformed_event_in_a_signed_batch_is_refused_alone(ingest, node_key):
    good = [Entry.of(s, "passage", AT, {"use": s, "dir": "in"}).encoded for s in (1, 2, 4)]
    body = {
        "node": "G1",
        "events": [
            good[0],
            cbor2.dumps({"seq": 3, "kind": "teleport", "at": AT, "data": {}}),
            good[1],
            b"\xff\xff",
            Entry.of(5, "face_bind", AT, {"sealed": b"x"}).encoded,  # belongs on the face topic
            good[2],
        ],
    }
    raw = sign_document(node_key, BATCH_TYPE, "S1", 1, body, datetime.fromtimestamp(AT / 1000, UTC))
    result = ingest.process([(TOPIC, raw)])
    assert result.stored == 3 and result.acks[("S1", "G1")] == [1, 2, 4]
    assert result.refused == {"malformed": 1, "bad_cbor": 1, "topic_mismatch": 1}
    assert count(ingest, RefusedEvent, claimed_node="G1") == 3
    assert [seq for seq, _, _ in stored_rows(ingest)] == [1, 2, 4]


def test_batches_over_a_cap_or_on_another_nodes_topic_are_refused_whole(ingest, node_key):
    result = ingest.process(
        [
            (TOPIC, batch(node_key, range(1, MAX_BATCH_EVENTS + 2))),
            ("scenic/S1/gate/G9/event", batch(node_key, [1], node="G9")),
            ("scenic/S1/gate/G7/event", batch(node_key, [1], node="G7")),
            ("scenic/S1/gate/G1/event", batch(node_key, [1, 2], node="G2")),
            ("scenic/S1/gate/G1/event", batch(node_key, [1, 2], site="S2")),
        ]
    )
    assert dict(result.refused) == {
        "too_many_events": 1,
        "revoked_node": 1,
        "unknown_node": 1,
        "topic_mismatch": 1,
        "wrong_site": 1,
    }
    assert result.stored == 0 and count(ingest, GateEventRecord) == 0
    assert count(ingest, GateEventBatch) == 0


def test_single_events_and_batches_mix_in_one_transaction(ingest, node_key):
    result = ingest.process(
        [
            (TOPIC, event(node_key, 1)),
            (TOPIC, batch(node_key, [2, 3, 4])),
            (TOPIC, event(node_key, 5, direction="out")),
        ]
    )
    assert result.stored == 5 and result.acks[("S1", "G1")] == [1, 2, 3, 4, 5]
    assert entries(ingest) == [("2026-11-24", 4, 1, 3)]
    with ingest.sessions() as session:
        single = session.scalars(select(GateEventRecord).filter_by(seq=1)).one()
        assert proof(session, single) == event(node_key, 1)
        assert prove(session, single, node_key.public_key).seq == 1
