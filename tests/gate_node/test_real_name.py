"""实名制: real-name tickets at the lane, and ID or RFID cards presented without a QR code."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
import serial
from gpiozero.pins.mock import MockFactory

from gate_node.assembly import build
from gate_node.decision.engine import Engine, LaneContext, SiteRules
from gate_node.ledger import Ledger
from gate_node.service import ID_WAIT_S
from gate_node.state import NodeState
from keys.card_index import CardIndex, sign_card_index
from keys.claims import TicketClaims
from keys.clock import ManualClock, site_today
from keys.holder import holder_ref
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.signed_document import DocumentError, verify_document
from keys.ticket import issue_ticket
from tests.conftest import SITE_TIMEZONE, TEST_AT
from tests.gate_node.conftest import make_state

SALT = bytes(range(16))
VISITOR_ID = "11010519491231002X"
OTHER_ID = "110101199003074477"
SHANGHAI = ZoneInfo(SITE_TIMEZONE)
NOW = TEST_AT  # the `clock` fixture's instant
TODAY = site_today(ManualClock(NOW), SITE_TIMEZONE)


def real_name_ticket(issuer, number=1, holder_id=VISITOR_ID, kind="id_card"):
    return issue_ticket(
        issuer,
        TicketClaims(
            ticket_id=bytes([number]) * 8,
            product=1,
            valid_from=TODAY,
            valid_until=TODAY,
            holder=holder_ref(SALT, kind, holder_id),
        ),
    )


def index(root_key, seq, entries):
    cards = CardIndex()
    cards.replace(
        verify_document(
            sign_card_index(root_key, site="S1", seq=seq, entries=entries),
            root_key.public_key,
            doc_type="cards",
            site="S1",
        )
    )
    return cards


@pytest.fixture
def engine(tmp_path, keyring, issuer_key, root_key):
    ledger = Ledger(tmp_path / "l.sqlite", "G1")
    cards = index(
        root_key,
        1,
        {
            holder_ref(SALT, "id_card", VISITOR_ID): [real_name_ticket(issuer_key)],
            holder_ref(SALT, "rfid", "04A1B2C3"): [
                issue_ticket(
                    issuer_key,
                    TicketClaims(
                        ticket_id=b"\x09" * 8,
                        product=9,
                        valid_from=TODAY,
                        valid_until=date(2099, 1, 1),
                        entries=0,
                        entries_per_day=1,
                        holder=holder_ref(SALT, "rfid", "04A1B2C3"),
                    ),
                )
            ],
        },
    )
    yield Engine(
        keyring,
        RevocationList(),
        ledger,
        SiteRules(timezone=SHANGHAI, real_name_check="id_card"),
        LaneContext("G1", 1),
        cards=cards,
        holder_salt=SALT,
    )
    ledger.close()


def test_a_real_name_qr_asks_for_the_id_card_first(engine, issuer_key):
    assert engine.decide(real_name_ticket(issuer_key), NOW).reason is Reason.ID_REQUIRED


def test_the_holders_id_card_confirms_it(engine, issuer_key):
    pending = engine.decide(real_name_ticket(issuer_key), NOW)
    assert engine.confirm_holder(pending, VISITOR_ID, NOW).grant


def test_someone_elses_id_card_is_a_holder_mismatch(engine, issuer_key):
    pending = engine.decide(real_name_ticket(issuer_key), NOW)
    assert engine.confirm_holder(pending, OTHER_ID, NOW).reason is Reason.HOLDER_MISMATCH


def test_an_id_card_alone_finds_the_visitors_ticket(engine):
    decision = engine.decide_card("id_card", VISITOR_ID, NOW)
    assert decision.grant and decision.ticket_no == "01" * 8


def test_an_unknown_id_card_is_unknown(engine):
    assert engine.decide_card("id_card", OTHER_ID, NOW).reason is Reason.UNKNOWN_CARD


def test_an_annual_pass_rfid_card_admits_once_a_day(engine):
    first = engine.decide_card("rfid", "04A1B2C3", NOW)
    assert first.grant
    engine.admit(first, NOW)
    assert engine.decide_card("rfid", "04A1B2C3", NOW).reason is Reason.DAILY_LIMIT


def test_an_index_entry_pointing_at_another_holders_ticket_is_refused(engine, root_key, issuer_key):
    engine.cards = index(
        root_key,
        2,
        {holder_ref(SALT, "id_card", OTHER_ID): [real_name_ticket(issuer_key, 3, VISITOR_ID)]},
    )
    assert engine.decide_card("id_card", OTHER_ID, NOW).reason is Reason.HOLDER_MISMATCH


def test_without_a_salt_no_card_can_be_checked(engine):
    engine.holder_salt = None
    assert engine.decide_card("id_card", VISITOR_ID, NOW).reason is Reason.UNKNOWN_CARD


def test_an_older_card_index_is_refused(root_key):
    cards = index(root_key, 5, {})
    with pytest.raises(DocumentError, match="stale"):
        cards.replace(
            verify_document(
                sign_card_index(root_key, site="S1", seq=4, entries={}),
                root_key.public_key,
                doc_type="cards",
                site="S1",
            )
        )


def test_face_lanes_say_a_face_check_is_required(engine, issuer_key):
    engine.rules = SiteRules(timezone=SHANGHAI, real_name_check="face")
    assert engine.decide(real_name_ticket(issuer_key), NOW).reason is Reason.FACE_REQUIRED


def test_lanes_without_a_real_name_check_admit_on_the_qr(engine, issuer_key):
    engine.rules = SiteRules(timezone=SHANGHAI)
    assert engine.decide(real_name_ticket(issuer_key), NOW).grant


# --- on the running node, with an ID reader on a serial port ---------------------------------


@pytest.fixture
def lane(tmp_path, root_key, issuer_key, clock):
    state: NodeState = make_state(
        tmp_path / "n",
        root_key,
        issuer_key,
        real_name_check="id_card",
        readers=[{"url": "loop://", "kind": "id_card"}],
    )
    (state.directory / "holder.salt").write_text(SALT.hex())
    (state.directory / "holder.salt").chmod(0o600)
    state = NodeState.open(state.directory, clock)
    pins = MockFactory()
    pins.pin(21).drive_high()
    port = serial.serial_for_url("loop://", timeout=0)  # the reader's end of a real serial line
    node = build(state, pins, with_camera=False, serial_opener=lambda *a, **k: port, clock=clock)
    yield node, port, pins
    node.close()
    pins.reset()


def test_scan_then_swipe_the_id_card_opens_the_lane(lane, issuer_key):
    node, port, pins = lane
    from gate_node.readers.credentials import Credential

    node.service.reads.put(Credential("qr", real_name_ticket(issuer_key, 5)))
    node.service.step(5)
    assert pins.pin(17).state is True  # still locked: waiting for the ID card
    port.write(f"{VISITOR_ID}\r\n".encode())
    node.service.step(10)
    assert pins.pin(17).state is False  # released
    assert node.service.decisions[-1].grant


def test_scan_then_a_different_id_card_is_refused(lane, issuer_key):
    node, port, pins = lane
    from gate_node.readers.credentials import Credential

    node.service.reads.put(Credential("qr", real_name_ticket(issuer_key, 6)))
    node.service.step(5)
    port.write(f"{OTHER_ID}\r\n".encode())
    node.service.step(10)
    assert node.service.decisions[-1].reason is Reason.HOLDER_MISMATCH
    assert pins.pin(17).state is True


def test_an_id_card_swiped_just_inside_the_wait_still_opens_the_lane(lane, issuer_key, clock):
    node, port, pins = lane
    from gate_node.readers.credentials import Credential

    node.service.reads.put(Credential("qr", real_name_ticket(issuer_key, 7)))
    node.service.step(5)
    clock.advance(ID_WAIT_S - 0.01)
    port.write(f"{VISITOR_ID}\r\n".encode())
    node.service.step(10)
    assert node.service.decisions[-1].grant
    assert pins.pin(17).state is False


def test_a_real_name_scan_with_no_id_card_in_15_seconds_is_refused_as_id_required(
    lane, issuer_key, clock
):
    node, port, pins = lane
    from gate_node.readers.credentials import Credential

    node.service.reads.put(Credential("qr", real_name_ticket(issuer_key, 8)))
    node.service.step(5)
    clock.advance(ID_WAIT_S - 0.01)
    node.service.step(10)
    assert node.service.decisions == []  # still waiting for the card
    clock.advance(0.02)
    node.service.step(15)
    assert [d.reason for d in node.service.decisions] == [Reason.ID_REQUIRED]
    assert node.service.ledger.counts()["denials"] == 1
    port.write(f"{VISITOR_ID}\r\n".encode())  # too late: the card alone is not the ticket
    node.service.step(20)
    assert pins.pin(17).state is True


def test_card_index_deltas_survive_a_restart_of_the_node(tmp_path, root_key, issuer_key):
    from keys.card_index import sign_card_delta

    state = make_state(tmp_path / "node", root_key, issuer_key)
    state.identity(b"a long test passphrase")
    card, other = b"\x01" * 8, b"\x02" * 8
    state.apply_cards(sign_card_index(root_key, site="S1", seq=1, entries={card: ["A"]}))
    state.apply_cards(sign_card_delta(root_key, site="S1", seq=2, add=[(other, "B")]))
    reopened = NodeState.open(state.directory, ManualClock(TEST_AT))
    assert reopened.cards.seq == 2
    assert reopened.cards.tickets_for(card) == ["A"] and reopened.cards.tickets_for(other) == ["B"]
    assert reopened.problems == []
