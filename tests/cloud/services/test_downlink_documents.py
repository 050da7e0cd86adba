"""Signed documents for the gates: sequences without gaps, snapshots of what is still valid."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.db import make_engine, session_factory
from cloud.models import Device
from cloud.services import downlink_documents as documents
from keys import keystore
from keys.node_registry import NodeRegistry
from keys.revocation import RevocationList
from keys.signed_document import verify_document


@pytest.fixture
def sessions(url):
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    from simulators.databases import sqlite_database

    if request.param == "sqlite":
        return sqlite_database(tmp_path)
    return request.getfixturevalue("postgres_url")


def apply(revocations, raw, root):
    revocations.apply(verify_document(raw, root.public_key, doc_type="revocations", site="S1"))


def test_revocations_are_a_snapshot_then_deltas_a_gate_can_follow(sessions, root_key):
    gate = RevocationList()
    for number in (1, 2, 3):
        with sessions.begin() as session:
            raw = documents.revoke(session, root_key, "S1", {bytes([number]) * 8: date(2099, 1, 1)})
        apply(gate, raw, root_key)
    assert gate.seq == 3 and len(gate) == 3


def test_a_snapshot_leaves_out_tickets_that_expired(sessions, root_key):
    with sessions.begin() as session:
        documents.revoke(
            session, root_key, "S1", {b"\x01" * 8: date(2020, 1, 1), b"\x02" * 8: date(2099, 1, 1)}
        )
    with sessions.begin() as session:
        raw = documents.revocation_snapshot(session, root_key, "S1", date(2026, 11, 24))
    gate = RevocationList()
    apply(gate, raw, root_key)
    assert not gate.is_revoked(b"\x01" * 8) and gate.is_revoked(b"\x02" * 8)


def test_no_snapshot_for_a_site_that_never_revoked(sessions, root_key):
    with sessions.begin() as session:
        assert documents.revocation_snapshot(session, root_key, "S9", date(2026, 11, 24)) is None


def test_the_registry_lists_active_nodes_only(sessions, root_key):
    active, revoked = keystore.generate("node", "N1"), keystore.generate("node", "N1")
    with sessions.begin() as session:
        session.add(Device(site="S1", node="G1", public_key=keystore.raw_public(active.public_key)))
        session.add(
            Device(
                site="S1",
                node="G2",
                status="revoked",
                public_key=keystore.raw_public(revoked.public_key),
            )
        )
    with sessions.begin() as session:
        raw = documents.node_registry(session, root_key, "S1")
    registry = NodeRegistry.from_document(
        verify_document(raw, root_key.public_key, doc_type="nodes", site="S1")
    )
    assert registry.key_of("G1") is not None and registry.key_of("G2") is None
