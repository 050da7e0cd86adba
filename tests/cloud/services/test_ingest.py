"""Storing gate events: verified, once, with their effects once; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from cloud.db import make_engine, session_factory
from cloud.migrate import upgrade
from cloud.models import Device, GateEventRecord, ParkCount, RefusedEvent
from cloud.services.ingest import Ingest
from keys import keystore
from keys.gate_event import sign_event

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
