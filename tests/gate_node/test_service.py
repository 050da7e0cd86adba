"""The assembled node on mock GPIO: a visitor scans, the arm is released, the use is settled."""

from __future__ import annotations

from datetime import date

import cv2
import pytest
from gpiozero.pins.mock import MockFactory

from gate_node.assembly import build
from gate_node.readers.credentials import Credential, UnreadableCredential
from gate_node.state import NodeState
from keys.claims import TicketClaims
from keys.clock import ManualClock, site_today
from keys.ticket import issue_ticket
from simulators.camera import ticket_frame
from tests.conftest import SITE_TIMEZONE, TEST_AT
from tests.gate_node.conftest import make_state

TODAY = site_today(ManualClock(TEST_AT), SITE_TIMEZONE)  # the `today` fixture's date


@pytest.fixture
def pins():
    factory = MockFactory()
    factory.pin(21).drive_high()  # fire loop intact
    yield factory
    factory.reset()


def ticket(issuer_key, ticket_id: bytes, **extra) -> str:
    return issue_ticket(
        issuer_key,
        TicketClaims(ticket_id=ticket_id, product=1, valid_from=TODAY, valid_until=TODAY, **extra),
    )


class Loop:
    """Steps the node's loop in 5 ms ticks of simulated time, the clock along with it."""

    def __init__(self, node, clock):
        self.node, self.clock, self.now = node, clock, 0

    def run(self, ms):
        for _ in range(ms // 5):
            self.now += 5
            self.clock.advance(0.005)
            self.node.service.step(self.now)


def rotate(pins, loop, gpio=5):
    pins.pin(gpio).drive_high()
    loop.run(60)
    pins.pin(gpio).drive_low()
    loop.run(60)


def test_a_valid_scan_releases_the_arm_and_the_passage_settles_the_use(
    node_state, pins, issuer_key, clock
):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    node.service.reads.put(Credential("qr", ticket(issuer_key, b"\x01" * 8)))
    loop.run(10)
    assert pins.pin(17).state is False  # unlock_in relay pulled in (active low)
    rotate(pins, loop)
    (use,) = node.service.ledger.uses("G1")
    assert (use.passed, use.rolled_back) == (1, 0)
    node.close()


def test_nobody_pushing_the_arm_rolls_the_use_back_and_the_ticket_works_again(
    node_state, pins, issuer_key, clock
):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    text = ticket(issuer_key, b"\x02" * 8)
    node.service.reads.put(Credential("qr", text))
    loop.run(5200)  # tripod timeout 5 s
    (use,) = node.service.ledger.uses("G1")
    assert use.rolled_back == 1 and not use.counts
    node.service.repeats = type(node.service.repeats)(0)  # the visitor shows it again later
    node.service.reads.put(Credential("qr", text))
    loop.run(10)
    assert node.service.decisions[-1].grant
    node.close()


def open_the_lane(node_state, pins, clock, text):
    """A node that granted ``text`` and released the arm, nobody through yet."""
    node = build(node_state, pins, with_camera=False, clock=clock)
    node.service.reads.put(Credential("qr", text))
    Loop(node, clock).run(1000)
    return node


def restart_and_find_the_use_given_back(node_state, pins, clock, text):
    """Start the node again from its state directory: the use of ``text`` is rolled back and
    the same ticket is granted again."""
    again = build(NodeState.open(node_state.directory), pins, with_camera=False, clock=clock)
    (use,) = again.service.ledger.uses("G1")
    assert use.rolled_back == 1 and not use.counts
    again.service.reads.put(Credential("qr", text))
    Loop(again, clock).run(10)
    assert again.service.decisions[-1].grant, again.service.decisions[-1].reason
    again.close()


def test_a_node_stopped_while_the_lane_is_open_gives_the_use_back_for_after_the_restart(
    node_state, pins, issuer_key, clock
):
    text = ticket(issuer_key, b"\x09" * 8)
    node = open_the_lane(node_state, pins, clock, text)
    assert node.service.decisions[-1].grant
    node.close()  # SIGTERM, a restart of the service, a reboot for an update
    restart_and_find_the_use_given_back(node_state, pins, clock, text)


def test_a_power_cut_while_the_lane_is_open_gives_the_use_back_at_the_next_start(
    node_state, pins, issuer_key, clock
):
    text = ticket(issuer_key, b"\x0a" * 8)
    node = open_the_lane(node_state, pins, clock, text)
    node.service.ledger.close()  # the power goes: no clean stop, no give-back
    node.board.close()
    restart_and_find_the_use_given_back(node_state, pins, clock, text)


def test_a_power_cut_after_the_passage_keeps_the_entry(node_state, pins, issuer_key, clock):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    node.service.reads.put(Credential("qr", ticket(issuer_key, b"\x0b" * 8)))
    loop.run(10)
    rotate(pins, loop)
    node.service.ledger.close()
    node.board.close()
    again = build(NodeState.open(node_state.directory), pins, with_camera=False, clock=clock)
    (use,) = again.service.ledger.uses("G1")
    assert (use.passed, use.rolled_back) == (1, 0)
    again.close()


def test_a_used_ticket_is_refused_and_the_lane_stays_locked(node_state, pins, issuer_key, clock):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    text = ticket(issuer_key, b"\x03" * 8)
    node.service.reads.put(Credential("qr", text))
    loop.run(10)
    rotate(pins, loop)
    node.service.repeats = type(node.service.repeats)(0)
    node.service.reads.put(Credential("qr", text))
    loop.run(10)
    assert node.service.decisions[-1].reason.value == "already_used"
    assert pins.pin(17).state is True  # relay stays released
    assert node.service.ledger.counts()["denials"] == 1
    node.close()


def test_a_group_of_five_passes_on_one_scan(node_state, pins, issuer_key, clock):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    node.service.reads.put(Credential("qr", ticket(issuer_key, b"\x04" * 8, group_size=5)))
    loop.run(10)
    for _ in range(5):
        rotate(pins, loop)
    (use,) = node.service.ledger.uses("G1")
    assert (use.granted, use.passed) == (5, 5)
    node.close()


def test_reads_wait_while_the_lane_is_busy(node_state, pins, issuer_key, clock):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    node.service.reads.put(Credential("qr", ticket(issuer_key, b"\x05" * 8)))
    node.service.reads.put(Credential("qr", ticket(issuer_key, b"\x06" * 8)))
    loop.run(10)
    assert len(node.service.decisions) == 1  # second visitor waits for the arm
    rotate(pins, loop)
    assert len(node.service.decisions) == 2 and node.service.decisions[-1].grant
    node.close()


def test_misreads_and_foreign_codes_are_refused_with_reasons(node_state, pins, clock):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    node.service.reads.put(UnreadableCredential("check character"))
    node.service.reads.put(Credential("qr", "https://example.com"))
    loop.run(10)
    assert [d.reason.value for d in node.service.decisions] == ["unreadable_card", "bad_prefix"]
    node.close()


def test_a_fault_while_deciding_is_refused_as_internal_error_and_the_lane_goes_on(
    node_state, pins, issuer_key, clock
):
    node = build(node_state, pins, with_camera=False, clock=clock)
    loop = Loop(node, clock)
    node.service.ledger.close()  # the ledger's database is gone under the running node
    node.service.reads.put(Credential("qr", ticket(issuer_key, b"T" * 8)))
    loop.run(10)
    node.service.reads.put(Credential("qr", "https://example.com"))
    loop.run(10)  # the loop still takes reads
    assert [d.reason.value for d in node.service.decisions] == ["internal_error"] * 2
    assert node.service.denied == 2 and node.service.granted == 0
    node.close()


def test_the_camera_thread_feeds_the_lane(tmp_path, root_key, issuer_key, pins, clock):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(
        str(frames / "visitor.png"),
        ticket_frame(ticket(issuer_key, b"\x07" * 8), invert=True, angle=15),
    )
    state: NodeState = make_state(tmp_path / "cam", root_key, issuer_key, camera=f"dir:{frames}")
    node = build(state, pins, clock=clock)
    loop = Loop(node, clock)
    node.camera.join(timeout=0.1)  # one image: the thread decodes it at once
    for _ in range(200):
        loop.run(5)
        if node.service.decisions:
            break
    assert node.service.decisions and node.service.decisions[0].grant
    node.close()


def test_a_handheld_checker_counts_the_passage_when_granted(tmp_path, root_key, issuer_key, clock):
    state = make_state(tmp_path / "hh", root_key, issuer_key, kind="handheld")
    node = build(state, with_camera=False, clock=clock)
    node.service.reads.put(Credential("qr", ticket(issuer_key, b"\x08" * 8, group_size=3)))
    node.service.step(5)
    (use,) = node.service.ledger.uses("G1")
    assert use.passed == 3
    node.close()


def test_day_tickets_for_another_day_are_refused(node_state, pins, issuer_key, clock):
    node = build(node_state, pins, with_camera=False, clock=clock)
    text = issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=b"\x09" * 8,
            product=1,
            valid_from=date(2020, 1, 1),
            valid_until=date(2020, 1, 1),
        ),
    )
    node.service.reads.put(Credential("qr", text))
    node.service.step(5)
    assert node.service.decisions[-1].reason.value == "expired"
    node.close()
