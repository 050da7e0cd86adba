"""The partner verification API (POST /api/v1/verify) answers as a gate of the site would.

The shared table (tests/rules_table.py) runs through the gate's engine over a real ledger and
through the API over a real SQLite or PostgreSQL database. The entries a case lists are
recorded in the gates' ledgers (G1, and a peer G2 whose uses reach G1 by gossip), signed, and
stored by the cloud's real ingest; refunds go through the real refund service, whose signed
revocation the gate applies. So the partner sees exactly what the gates reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.api.app import create_app
from cloud.core.security import new_token, token_hash
from cloud.models import ApiKey, Device, Order, Ticket
from cloud.services.ingest import Ingest
from cloud.services.orders import LineRequest
from cloud.services.payments.settle import apply_payment
from cloud.services.refunds import refund_tickets
from gate_node.decision.engine import Engine, LaneContext, SiteRules
from gate_node.ledger import Ledger
from keys import keystore
from keys.clock import ManualClock
from keys.gate_event import sign_event
from keys.keyring import IssuerKey, Keyring
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.signed_document import verify_document
from keys.ticket import issue_ticket
from tests.cloud.conftest import Office, api_context, now, place_order
from tests.cloud.http_calls import problem
from tests.conftest import TEST_AT
from tests.rules_table import CASES, DAY, SITE_TZ, Case, Entry, local

NODES = ("G1", "G2")


@dataclass
class Site:
    """Gate G1 (the one deciding) and its peer G2, the cloud's API and ingest, one clock."""

    office: Office
    clock: ManualClock
    api: TestClient
    partner_key: str
    ledgers: dict[str, Ledger]
    node_keys: dict[str, keystore.SigningKey]
    ingest: Ingest
    revocations: RevocationList

    def sell(self, count: int) -> list[bytes]:
        """``count`` day tickets sold and paid through the real services: their ids."""
        ids: list[bytes] = []
        while len(ids) < count:
            quantity = min(20, count - len(ids))  # the product's max_per_order
            made = place_order(self.office, LineRequest(self.office.day_ticket, "adult", quantity))
            headers, body = self.office.sandbox.simulate_payment(made.order_no, made.total_fen)
            note = self.office.sandbox.verify_notification(headers, body)
            with self.office.sessions.begin() as session:
                apply_payment(session, note, self.office.issuer, now())
                order_id = session.scalar(select(Order.id).where(Order.order_no == made.order_no))
                ids += session.scalars(
                    select(Ticket.ticket_id).where(Ticket.order_id == order_id)
                ).all()
        return ids

    def refund(self, ticket_id: bytes) -> None:
        """A cashier refunds the ticket; the gate applies the signed revocation."""
        with self.office.sessions.begin() as session:
            order_no = session.scalar(
                select(Order.order_no)
                .join(Ticket, Ticket.order_id == Order.id)
                .where(Ticket.ticket_id == ticket_id)
            )
            outcome = refund_tickets(
                session,
                order_no=order_no,
                ticket_numbers=[ticket_id.hex().upper()],
                providers=self.office.providers,
                root=self.office.root,
                actor="cashier1",
                source="10.0.0.5",
                now=now(),
            )
        document = verify_document(
            outcome.revocation, self.office.root.public_key, doc_type="revocations", site="S1"
        )
        self.revocations.apply(document)

    def record(self, ticket_id: bytes, entries: tuple[Entry, ...], allowed: int) -> None:
        """The entries, in the ledger of the gate they were made at; rollbacks a minute on."""
        for entry in entries:
            ledger = self.ledgers[entry.node]
            seq = ledger.record_use(ticket_id, entry.at, entry.direction, 1, allowed)
            if entry.given_back:
                ledger.roll_back(seq, entry.given_back, entry.at + timedelta(minutes=1))

    def report(self) -> None:
        """Every gate sends its outbox to the cloud, and the peer's uses reach G1 by gossip."""
        for node in NODES:
            ledger = self.ledgers[node]
            events = ledger.pending_events(limit=10_000)
            messages = [
                (
                    f"scenic/S1/gate/{node}/event",
                    sign_event(
                        self.node_keys[node],
                        site="S1",
                        node=node,
                        seq=event.seq,
                        kind=event.kind,
                        at_ms=event.at_ms,
                        data=event.data,
                    ),
                )
                for event in events
            ]
            result = self.ingest.process(messages)
            assert not result.refused, result.refused
            ledger.acknowledge([event.seq for event in events])
        for use in self.ledgers["G2"].uses("G2"):
            self.ledgers["G1"].merge_peer_use(use)

    def gate_answer(self, code: str, zone: int, at: datetime) -> Reason:
        """What lane G1 in ``zone`` decides (reads only: the table's entries stay as listed)."""
        key = self.office.issuer.key
        engine = Engine(
            Keyring([IssuerKey(key.kid, key.public_key)]),
            self.revocations,
            self.ledgers["G1"],
            SiteRules(timezone=SITE_TZ),
            LaneContext(node="G1", zone=zone),
        )
        return engine.decide(code, at).reason

    def partner_answer(self, code: str, zone: int | None, at: datetime) -> dict[str, Any]:
        self.clock.set_wall(at)
        body: dict[str, Any] = {"code": code} if zone is None else {"code": code, "zone": zone}
        answer = self.api.post("/api/v1/verify", headers={"X-Api-Key": self.partner_key}, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def site(office, tmp_path) -> Site:
    clock = ManualClock(TEST_AT)
    context = api_context(office)
    context.clock = clock
    partner_key = new_token()
    node_keys = {node: keystore.generate("node", node) for node in NODES}
    with office.sessions.begin() as db:
        db.add(ApiKey(partner="parking", key_hash=token_hash(partner_key), scopes=["verify"]))
        for node, key in node_keys.items():
            db.add(Device(site="S1", node=node, public_key=keystore.raw_public(key.public_key)))
    ledgers = {node: Ledger(tmp_path / f"{node}.sqlite", node=node, clock=clock) for node in NODES}
    yield Site(
        office,
        clock,
        TestClient(create_app(context), raise_server_exceptions=False),
        partner_key,
        ledgers,
        node_keys,
        Ingest(office.sessions.kw["bind"], office.sessions, "Asia/Shanghai", clock),
        RevocationList(),
    )
    for ledger in ledgers.values():
        ledger.close()


def test_the_partner_api_and_the_gate_answer_the_shared_table_alike(site, issuer_key):
    """Every case of tests/rules_table.py, on one site: each case has a ticket of its own."""
    assert site.office.day == DAY  # the table's day is the day the office sells
    codes = {}
    for case, ticket_id in zip(CASES, site.sell(len(CASES)), strict=True):
        claims = case.claims(ticket_id)
        codes[case.name] = issue_ticket(issuer_key, claims)
        site.record(ticket_id, case.entries, claims.entries)
        if case.refunded:
            site.refund(ticket_id)
    site.report()
    disagreements = []
    for case in CASES:
        gate = site.gate_answer(codes[case.name], case.zone, case.at).value
        partner = site.partner_answer(codes[case.name], case.zone, case.at)["reason"]
        if not gate == partner == case.expected.value:
            disagreements.append(
                f"{case.name}: gate {gate}, partner {partner}, not {case.expected}"
            )
    assert not disagreements, "\n".join(disagreements)


def test_a_partner_who_names_no_zone_is_answered_for_any_zone(site, issuer_key):
    (ticket_id,) = site.sell(1)
    code = issue_ticket(
        issuer_key, Case("", Reason.OK, local(9), {"zones": (1, 2)}).claims(ticket_id)
    )
    assert site.partner_answer(code, None, local(9))["reason"] == "ok"
    assert site.partner_answer(code, 3, local(9))["reason"] == "wrong_zone"


def test_the_partner_sees_when_a_ticket_was_first_used_and_how_many_entries_count(site, issuer_key):
    (ticket_id,) = site.sell(1)
    code = issue_ticket(issuer_key, Case("", Reason.OK, local(9), {"entries": 5}).claims(ticket_id))
    nobody_came, first, second = Entry(local(8), given_back=1), Entry(local(9)), Entry(local(10))
    site.record(ticket_id, (nobody_came, first, Entry(local(9, 30), direction="out"), second), 5)
    site.report()
    answer = site.partner_answer(code, 1, local(11))
    assert answer["valid"] and answer["entries_used"] == 2
    assert datetime.fromisoformat(answer["used_at"]) == first.at
    assert datetime.fromisoformat(answer["verified_at"]) == local(11)


def test_a_code_that_does_not_verify_names_no_ticket(site):
    answer = site.partner_answer("NOT A TICKET", 1, local(9))
    assert answer["ticket_no"] is None and not answer["valid"]
    assert answer["reason"] == "bad_prefix" and answer["entries_used"] == 0


def test_odd_event_data_from_a_gate_is_read_as_defaults_not_a_server_error(site, issuer_key):
    (ticket_id,) = site.sell(1)
    code = issue_ticket(issuer_key, Case("", Reason.OK, local(9)).claims(ticket_id))
    at_ms = int(local(8).timestamp() * 1000)
    odd = (
        ("use", {"use": "x", "ticket": ticket_id, "dir": "in", "granted": "all"}),
        ("rollback", {"use": "x", "unused": "all"}),
    )
    messages = [
        (
            "scenic/S1/gate/G1/event",
            sign_event(
                site.node_keys["G1"],
                site="S1",
                node="G1",
                seq=seq,
                kind=kind,
                at_ms=at_ms,
                data=data,
            ),
        )
        for seq, (kind, data) in enumerate(odd, start=900)
    ]
    assert site.ingest.process(messages).stored == 2
    answer = site.partner_answer(code, 1, local(9))
    assert answer["reason"] == "already_used" and answer["entries_used"] == 1


def test_partners_need_a_key_with_the_verify_scope(api, office):
    problem(api.post("/api/v1/verify", json={"code": "J1"}), 401, "unauthenticated")
    problem(
        api.post("/api/v1/verify", headers={"X-Api-Key": "nope"}, json={"code": "J1"}),
        401,
        "unauthenticated",
    )
