"""A face bound at an annual pass's first entry becomes the site's (issue 15), on SQLite and
PostgreSQL, with real gates and real photographs: the pass is sold through the API, a gate
binds the face it sees and reports it sealed, the ingest keeps the first binding and signs a
delta every gate applies; a different face from a second gate is an alarm, never a change."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from cloud.models import (
    Alarm,
    AuditEntry,
    Device,
    FaceEnrolment,
    GateEventRecord,
    Inventory,
    Price,
    Product,
)
from cloud.services import downlink_documents as documents
from cloud.services.face_binding import BindingKeys
from cloud.services.ingest import BatchResult, Ingest
from gate_node.assembly import make_engine
from gate_node.clock import ClockFloor
from gate_node.downlink import Downlink
from keys import keystore, topics
from keys.clock import ManualClock
from keys.face_embedding import embedding_bytes
from keys.gate_event import sign_event
from keys.reasons import Reason
from keys.sealed_box import raw_public
from tests import face_photos as photos
from tests.cloud.conftest import SALT
from tests.cloud.http_calls import bearer
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state

FACE_KEY = X25519PrivateKey.generate()
PASSPHRASE = b"a long test passphrase"  # tests/gate_node/conftest.py make_state's
HOLDER_ID = "11010519491231002X"


@dataclass
class Gate:
    """A face lane node of site S1: its downlink (state, engine) and its identity key."""

    downlink: Downlink
    key: keystore.SigningKey

    @property
    def engine(self):
        return self.downlink.engine

    def enter(self, text: str, frame, at):
        engine = self.engine
        decision = engine.confirm_face(engine.decide(text, at), [frame], at)
        if decision.grant:
            engine.admit(decision, at)
        return decision

    def face_reports(self) -> list[tuple[str, bytes]]:
        """The face_bind events in its outbox, signed as its uplink publishes them."""
        node = self.downlink.state.config.node
        return [
            (
                topics.face("S1", node).name,
                sign_event(
                    self.key,
                    site="S1",
                    node=node,
                    seq=e.seq,
                    kind=e.kind,
                    at_ms=e.at_ms,
                    data=e.data,
                ),
            )
            for e in self.engine.ledger.pending_events(0, 1000)
            if e.kind == "face_bind"
        ]

    def apply(self, raws) -> None:
        for raw in raws:
            self.downlink.handle(topics.down("S1", "faces").name, raw)


@pytest.fixture
def gates(tmp_path, root_key, issuer_key, office):
    made = {}
    for node in ("G1", "G2"):
        state = make_state(
            tmp_path / node,
            root_key,
            issuer_key,
            node=node,
            real_name_check="face",
            face={"liveness": "off"},
        )
        key = state.identity(PASSPHRASE)
        downlink = Downlink(
            state,
            make_engine(state, ManualClock(TEST_AT)),
            ClockFloor(state.clock_path),
            lambda what: None,
        )
        with office.sessions.begin() as db:
            db.add(Device(site="S1", node=node, public_key=keystore.raw_public(key.public_key)))
            config = documents.signed_config(
                db, office.root, "S1", {}, SALT, TEST_AT, raw_public(FACE_KEY.public_key())
            )
        downlink.handle(topics.down("S1", "config").name, config)
        assert state.cloud_face_key is not None
        made[node] = Gate(downlink, key)
    yield made
    for gate in made.values():
        gate.engine.ledger.close()


@pytest.fixture
def ingest(office):
    keys = BindingKeys(FACE_KEY, office.root, office.pd)
    engine = office.sessions.kw["bind"]
    return Ingest(engine, office.sessions, "Asia/Shanghai", ManualClock(TEST_AT), faces=keys)


@pytest.fixture
def annual(api, office) -> dict:
    """A real-name annual pass sold online (no photo): its ticket as the buyer's page shows it."""
    with office.sessions.begin() as db:
        product = Product(
            site="S1",
            code="ANNUAL-RN",
            name_zh="实名年卡",
            name_en="Real-name annual pass",
            kind="annual",
            validity_days=365,
            entries=0,
            entries_per_day=1,
            real_name=True,
        )
        db.add(product)
        db.flush()
        db.add(Price(product_id=product.id, price_type="adult", amount_fen=30000))
        stock = Inventory(product_id=product.id, day=office.day, capacity=10)
        db.add(stock)
        db.flush()
        stock_id = stock.id
    answer = api.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "annual-face-0001"},
        json={
            "site": "S1",
            "channel": "web",
            "lines": [
                {
                    "inventory_id": stock_id,
                    "price_type": "adult",
                    "quantity": 1,
                    "holders": [HOLDER_ID],
                }
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    order = answer.json()
    token = {"X-Order-Token": order["access_token"]}
    assert (
        api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token).json()["result"]
        == "paid"
    )
    return api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()["tickets"][0]


@pytest.fixture
def at(office):
    return TEST_AT + (office.day - TEST_AT.date())  # the visit day, same hour


def enrolment(office) -> FaceEnrolment:
    with office.sessions() as db:
        return db.scalars(select(FaceEnrolment)).one()


def faces_of(result: BatchResult) -> list[bytes]:
    return [p.document for p in result.published]


def test_the_first_binding_at_a_gate_becomes_the_sites_enrolment(gates, ingest, office, annual, at):
    assert gates["G1"].enter(annual["text"], photos.hopper_frame(), at).grant
    result = ingest.process(gates["G1"].face_reports())
    assert result.stored == 1 and result.faces == {"bound": 1} and len(result.published) == 1
    row = enrolment(office)
    assert (row.source, row.bound_by, row.deleted_at) == ("gate", "G1", None)
    assert row.ticket_id.hex().upper() == annual["ticket_no"].upper()
    assert embedding_bytes(photos.embedding("hopper"))[:32] not in bytes(row.embedding_sealed)
    with office.sessions() as db:
        audits = [(a.action, a.actor) for a in db.scalars(select(AuditEntry)) if "face" in a.action]
    assert audits == [("face.bind", "gate:G1")]


def test_the_winning_binding_reaches_every_gate_and_the_second_refuses_another_face(
    gates, ingest, annual, at
):
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    published = faces_of(ingest.process(gates["G1"].face_reports()))
    gates["G2"].apply(published)
    tomorrow = at + timedelta(days=1)
    refused = gates["G2"].enter(annual["text"], photos.astronaut_frame(), tomorrow)
    assert refused.reason is Reason.FACE_BELOW_THRESHOLD
    assert gates["G2"].enter(annual["text"], photos.hopper_frame(), tomorrow).grant
    assert gates["G2"].face_reports() == []  # nothing bound at G2: the site's face was there


def test_a_gate_that_bound_another_face_first_takes_the_sites_binding(
    gates, ingest, office, annual, at
):
    """Partitioned: G1 admits the owner, G2 (not told yet) admits a friend with the same QR
    the next day and binds the friend's face. The cloud keeps G1's (first to arrive), raises
    an alarm for G2's, and G2 drops its local binding for the site's."""
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    tomorrow = at + timedelta(days=1)
    assert gates["G2"].enter(annual["text"], photos.astronaut_frame(), tomorrow).grant
    first = ingest.process(gates["G1"].face_reports())
    second = ingest.process(gates["G2"].face_reports())
    assert second.faces == {"conflict": 1} and second.published == []
    row = enrolment(office)
    assert row.bound_by == "G1"  # not overwritten
    with office.sessions() as db:
        alarm = db.scalars(select(Alarm)).one()
    assert (alarm.alarm, alarm.node, alarm.status) == ("face_bind_conflict", "G2", "open")
    assert alarm.detail["recorded_by"] == "G1" and alarm.detail["distance"] > 0.5
    assert alarm.detail["ticket"] == annual["ticket_no"].upper()
    gates["G2"].apply(faces_of(first))
    assert gates["G2"].downlink.state.face_bindings == {}
    later = tomorrow + timedelta(days=1)
    refused = gates["G2"].enter(annual["text"], photos.astronaut_frame(), later)
    assert refused.reason is Reason.FACE_BELOW_THRESHOLD


def test_the_same_event_twice_is_stored_once_and_publishes_once(gates, ingest, office, annual, at):
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    reports = gates["G1"].face_reports()
    first = ingest.process(reports + reports)  # a resend beside the broker's redelivery
    again = ingest.process(reports)
    assert (first.stored, first.faces, len(first.published)) == (1, {"bound": 1}, 1)
    assert (again.stored, again.duplicates, again.faces, again.published) == (0, 1, {}, [])
    assert len(again.acks[("S1", "G1")]) == 1  # still acknowledged: the gate may forget it
    with office.sessions() as db:
        assert len(db.scalars(select(Alarm)).all()) == 0


def test_the_same_face_bound_at_two_gates_is_one_binding_and_no_alarm(
    gates, ingest, office, annual, at
):
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    gates["G2"].enter(annual["text"], photos.hopper_frame(), at + timedelta(days=1))
    ingest.process(gates["G1"].face_reports())
    assert ingest.process(gates["G2"].face_reports()).faces == {"same": 1}
    with office.sessions() as db:
        assert db.scalars(select(Alarm)).all() == []
    assert enrolment(office).bound_by == "G1"


def test_deleting_the_enrolment_deletes_the_gate_made_binding_at_every_gate(
    api, gates, ingest, office, annual, at
):
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    published = faces_of(ingest.process(gates["G1"].face_reports()))
    for gate in gates.values():
        gate.apply(published)
        assert len(gate.downlink.state.faces) == 1
    deleted = api.delete(f"/api/v1/faces/{annual['ticket_no']}", headers=bearer(api, "till1"))
    assert deleted.status_code == 200, deleted.text
    row = enrolment(office)
    assert row.embedding_sealed is None and row.deleted_at is not None
    with office.sessions() as db:
        removal = documents.held(db, "S1", "faces")
    for gate in gates.values():
        gate.apply([removal])
        state = gate.downlink.state
        assert len(state.faces) == 0 and state.face_bindings == {}
        assert gate.engine.faces.bindings == 0


def forget(office, number: str, now) -> None:
    """The member's deletion, through the service the API route calls, at ``now``."""
    from cloud.services import face_enrolment

    with office.sessions.begin() as db:
        ticket = face_enrolment.ticket_of(db, number)
        who = face_enrolment.Who("till1", "127.0.0.1")
        face_enrolment.forget(db, office.root, office.pd, ticket, "S1", who, now)


def test_a_binding_made_before_the_deletion_arriving_after_it_is_not_kept(
    gates, ingest, office, annual, at
):
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    ingest.process(gates["G1"].face_reports())
    gates["G2"].enter(annual["text"], photos.hopper_frame(), at)  # bound, reported late
    forget(office, annual["ticket_no"], at + timedelta(hours=1))
    late = ingest.process(gates["G2"].face_reports())
    assert late.faces == {"stale": 1} and late.published == []
    assert enrolment(office).embedding_sealed is None


def test_a_binding_made_after_the_deletion_binds_afresh(gates, ingest, office, annual, at):
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    ingest.process(gates["G1"].face_reports())
    forget(office, annual["ticket_no"], at + timedelta(hours=1))
    tomorrow = at + timedelta(days=1)
    gates["G2"].enter(annual["text"], photos.hopper_frame(), tomorrow)  # G2 binds again
    again = ingest.process(gates["G2"].face_reports())
    assert again.faces == {"bound": 1} and len(again.published) == 1
    row = enrolment(office)
    assert (row.bound_by, row.deleted_at) == ("G2", None) and row.embedding_sealed is not None


def test_a_face_binding_on_the_event_topic_is_refused(gates, ingest, annual, at):
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    ((_, payload),) = gates["G1"].face_reports()
    result = ingest.process([(topics.event("S1", "G1").name, payload)])
    assert result.refused == {"topic_mismatch": 1} and result.stored == 0


def test_a_binding_sealed_to_another_key_is_stored_as_an_event_and_refused(
    gates, office, annual, at
):
    keys = BindingKeys(X25519PrivateKey.generate(), office.root, office.pd)
    other = Ingest(office.sessions.kw["bind"], office.sessions, "Asia/Shanghai", faces=keys)
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    result = other.process(gates["G1"].face_reports())
    assert result.stored == 1 and result.faces == {"refused": 1}
    with office.sessions() as db:
        assert db.scalars(select(FaceEnrolment)).all() == []
        (entry,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "face.bind_refused"))
    assert entry.detail == {"code": "seal_tampered"}


def test_without_the_face_key_bindings_are_stored_sealed_and_counted(gates, office, annual, at):
    plain = Ingest(office.sessions.kw["bind"], office.sessions, "Asia/Shanghai")
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    result = plain.process(gates["G1"].face_reports())
    assert result.stored == 1 and result.faces == {"no_face_key": 1}
    with office.sessions() as db:
        stored = db.scalars(select(GateEventRecord)).one()
    assert stored.kind == "face_bind" and set(stored.data) == {"sealed"}


def test_face_init_on_an_older_install_signs_every_sites_config_again_with_the_key(
    office, tmp_path, root_key, issuer_key
):
    with office.sessions.begin() as db:
        documents.signed_config(db, office.root, "S1", {"timezone": "Asia/Shanghai"}, SALT)
    state = make_state(tmp_path / "old", root_key, issuer_key, real_name_check="face")
    with office.sessions() as db:
        state.apply_config(documents.held(db, "S1", "config"))
    assert state.cloud_face_key is None  # enrolled before the cloud had a face key
    key = raw_public(FACE_KEY.public_key())
    with office.sessions.begin() as db:
        assert documents.configs_with_face_key(db, office.root, key, TEST_AT) == ["S1"]
    with office.sessions() as db:
        state.apply_config(documents.held(db, "S1", "config"))
    assert state.cloud_face_key == key and state.config_seq == 2
    assert state.config.timezone == "Asia/Shanghai" and state.holder_salt == SALT


def test_two_workers_storing_different_bindings_at_once_keep_exactly_one(gates, office, annual, at):
    """G1 and G2 bound different faces while partitioned; their reports reach two ingest
    workers at the same instant (real threads, own sessions, lined up by a Barrier)."""
    gates["G1"].enter(annual["text"], photos.hopper_frame(), at)
    gates["G2"].enter(annual["text"], photos.astronaut_frame(), at + timedelta(days=1))
    keys = BindingKeys(FACE_KEY, office.root, office.pd)
    engine = office.sessions.kw["bind"]
    workers = [Ingest(engine, office.sessions, "Asia/Shanghai", faces=keys) for _ in range(2)]
    start = threading.Barrier(2)
    results: dict[str, BatchResult] = {}

    def report(node: str, worker: Ingest) -> None:
        reports = gates[node].face_reports()
        start.wait()
        results[node] = worker.process(reports)

    threads = [
        threading.Thread(target=report, args=(node, worker))
        for node, worker in zip(("G1", "G2"), workers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    outcomes = sorted(next(iter(r.faces)) for r in results.values())
    assert outcomes == ["bound", "conflict"]
    winner = next(node for node, r in results.items() if r.faces == {"bound": 1})
    assert enrolment(office).bound_by == winner
    assert sum(len(r.published) for r in results.values()) == 1
    with office.sessions() as db:
        (alarm,) = db.scalars(select(Alarm)).all()
    assert alarm.node != winner and alarm.detail["recorded_by"] == winner


def test_a_binding_from_another_sites_gate_naming_this_sites_ticket_is_refused(
    gates, ingest, office, annual, at
):
    """A gate of S2 cannot give an S1 pass holder a face (at S2): the ticket must be its site's."""
    from cloud.models import Site, Ticket
    from keys.face_binding import FaceBinding, seal_binding

    stranger = keystore.generate("node", "X1")
    with office.sessions.begin() as db:
        db.add(Site(code="S2", name_zh="二号景区", name_en="Site two"))
        db.flush()
        db.add(Device(site="S2", node="X1", public_key=keystore.raw_public(stranger.public_key)))
        ticket = db.scalars(select(Ticket)).one()
        holder, ticket_id = bytes(ticket.holder_ref), bytes(ticket.ticket_id)
    binding = FaceBinding(holder, photos.embedding("hopper"), ticket_id, "X1", 1_765_000_000_000)
    sealed = seal_binding(FACE_KEY.public_key(), "S2", binding)
    raw = sign_event(
        stranger,
        site="S2",
        node="X1",
        seq=1,
        kind="face_bind",
        at_ms=binding.at_ms,
        data={"sealed": sealed},
    )
    result = ingest.process([(topics.face("S2", "X1").name, raw)])
    assert result.stored == 1 and result.faces == {"refused": 1}, result
    with office.sessions() as db:
        assert db.scalars(select(FaceEnrolment)).all() == []
