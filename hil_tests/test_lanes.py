"""What visitors and staff see at each kind of lane: codes at the scanner, people in the lane,
the fire loop. Driven from outside only (hil_tests/rig.py), on the simulator or a real rig."""

from __future__ import annotations

from typing import Any

import pytest

from hil_tests.rig import wait_until
from simulators.mechanisms import FlapMechanism

REPEAT_HOLD_S = 3.0  # the node ignores the same code shown again within 3 s (one read)


def _admit(lane: Any, text: str, behaviour: str = "walk", people: int = 1) -> None:
    """Show a code, wait for the lane to open, then people walk up (as a queue does)."""
    decided = lane.journal().decisions
    lane.present(text)
    lane.wait_for_decisions(decided + 1)
    lane.mechanism.arrive(behaviour, count=people)


def test_a_valid_code_opens_the_lane_once_and_one_entry_is_recorded(lane):
    _admit(lane, lane.ticket(1))
    lane.wait_idle()
    wait_until(lambda: lane.journal().passed == 1, what="the passage in the journal")
    journal = lane.journal()
    assert (journal.uses, journal.passed, journal.rolled_back) == (1, 1, 0)
    assert lane.mechanism.counts["passed_in"] == 1
    wait_until(lambda: lane.output("red") and not lane.output("green"), what="the lane to shut")


def test_a_code_shown_again_after_entry_is_refused_and_the_lane_stays_shut(tripod_lane):
    lane = tripod_lane
    text = lane.ticket(2)
    _admit(lane, text)
    lane.wait_idle()
    wait_until(lambda: lane.journal().passed == 1, what="the passage")
    lane.mechanism.arrive("walk")  # the same person, trying again behind someone
    lane.wait_idle(REPEAT_HOLD_S + 12)  # nobody opens it: they give up
    lane.present(text)
    journal = lane.wait_for_decisions(2)
    assert journal.denials == ["already_used"]
    assert lane.mechanism.counts["gave_up"] == 1 and lane.mechanism.counts["passed_in"] == 1


def test_a_group_code_lets_the_whole_group_through_one_by_one(lane):
    _admit(lane, lane.ticket(3, group_size=4), people=4)
    lane.wait_idle(40)
    wait_until(lambda: lane.journal().passed == 4, 10, "four passages")
    journal = lane.journal()
    assert (journal.uses, journal.passed, journal.rolled_back) == (1, 4, 0)
    assert lane.mechanism.counts["passed_in"] == 4


@pytest.mark.parametrize(
    "lane", ["tripod", "wing", pytest.param("swing", marks=pytest.mark.slow)], indirect=True
)
def test_a_visitor_who_turns_back_gets_the_entry_back_after_the_timeout(lane):
    text = lane.ticket(4)
    _admit(lane, text, behaviour="turn_back")
    wait_until(lambda: lane.journal().rolled_back == 1, 25, "the timeout's roll-back")
    assert lane.journal().passed == 0
    lane.wait_idle()
    _admit(lane, text)  # the same code works once they make up their mind
    lane.wait_idle()
    wait_until(lambda: lane.journal().passed == 1, what="the passage")
    assert lane.journal().denials == []


def test_a_tailgater_behind_a_visitor_raises_an_alarm_and_is_not_counted(flap_lane):
    lane = flap_lane
    _admit(lane, lane.ticket(5), behaviour="tailgate")
    lane.wait_idle(30)
    wait_until(lambda: "tailgate" in lane.journal().alarms, what="the tailgating alarm")
    assert lane.journal().passed == 1
    assert isinstance(lane.mechanism, FlapMechanism) and lane.mechanism.struck == 0


def test_the_flaps_never_close_on_a_child_under_the_beams(flap_lane):
    lane = flap_lane
    _admit(lane, lane.ticket(6))
    lane.mechanism.arrive("child")  # too short for the presence beams, darts in as they close
    lane.wait_idle(30)
    assert isinstance(lane.mechanism, FlapMechanism)
    assert lane.mechanism.struck == 0
    assert lane.mechanism.counts["passed_in"] == 2
    wait_until(lambda: lane.journal().passed == 1, what="the adult's passage")


def test_someone_lingering_in_the_lane_holds_it_open_until_they_are_clear(flap_lane):
    lane = flap_lane
    _admit(lane, lane.ticket(7), behaviour="linger")
    lane.wait_idle(30)
    assert isinstance(lane.mechanism, FlapMechanism) and lane.mechanism.struck == 0
    wait_until(lambda: lane.journal().passed == 1, what="the passage")


def test_a_forced_entry_raises_an_alarm_and_records_no_entry(lane):
    lane.mechanism.arrive("force")
    lane.wait_idle(20)
    wait_until(lambda: "forced" in lane.journal().alarms, what="the forced-entry alarm")
    assert lane.journal().uses == 0


def test_a_fire_alarm_opens_the_lane_and_keeps_it_open_after_the_loop_is_restored(lane):
    lane.mechanism.set_fire(True)
    wait_until(lambda: lane.output("green"), what="the green lamp")
    wait_until(lambda: "fire_alarm" in lane.journal().alarms, what="the fire alarm report")
    lane.mechanism.arrive("walk", count=3)  # evacuation: nobody shows a code
    lane.wait_idle(30)
    assert lane.mechanism.counts["passed_in"] == 3
    assert lane.journal().uses == 0
    lane.mechanism.set_fire(False)  # a loop that comes back must not shut lanes on a crowd
    lane.mechanism.arrive("walk")
    lane.wait_idle(30)
    assert lane.output("green") and lane.mechanism.counts["passed_in"] == 4


def test_an_rfid_card_nobody_sold_is_refused_at_the_reader(tripod_lane):
    lane = tripod_lane
    if not hasattr(lane, "rfid_reader"):
        pytest.skip("the rig file gives no RFID reader line")
    lane.rfid_reader.tap(bytes.fromhex("04A21B7C"))
    journal = lane.wait_for_decisions(1)
    assert journal.uses == 0 and journal.denials == ["unknown_card"]
    assert not lane.output("green")


def test_a_garbled_id_card_read_is_refused_as_unreadable(tripod_lane):
    lane = tripod_lane
    if not hasattr(lane, "id_reader"):
        pytest.skip("the rig file gives no ID-card reader line")
    lane.id_reader.swipe("11010519491231002Y")  # a misread check character
    assert lane.wait_for_decisions(1).denials == ["unreadable_card"]
