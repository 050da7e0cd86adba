"""Faults a gate lives through: power cuts, a clock reset at boot, a full SD card, the network
and the broker going away. The lane must keep admitting and refusing correctly, lose no entry,
and tell the cloud everything once it can. Simulated rig only where the fault needs control of
the node's power, clock or storage (conftest.py ``sim_rig``)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hil_tests.rig import SITE, EventTap, SimRig, rig_day, wait_until
from simulators.broker import PASSWORD, Broker
from simulators.netlink import Link


def _admit(rig: SimRig, text: str, people: int = 1) -> None:
    decided = rig.journal().decisions
    rig.present(text)
    rig.wait_for_decisions(decided + 1)
    rig.mechanism.arrive("walk", count=people)


def _passed(rig: SimRig, count: int, timeout_s: float = 20) -> None:
    wait_until(lambda: rig.journal().passed >= count, timeout_s, f"{count} passage(s)")


# -- power ---------------------------------------------------------------------------------------


def test_an_entry_recorded_before_a_power_cut_is_still_there_after_it(sim_rig):
    sim_rig.power_on()
    text = sim_rig.ticket(1)
    _admit(sim_rig, text)
    _passed(sim_rig, 1)
    sim_rig.power_cut()
    sim_rig.power_on()
    sim_rig.present(text)
    journal = sim_rig.wait_for_decisions(2)
    assert journal.passed == 1 and journal.denials == ["already_used"]


def test_a_visitor_let_in_just_before_a_power_cut_can_still_enter_after_it(sim_rig):
    """The use is on the SD card, the arm was released, the power went before anyone pushed:
    nobody passed, so the ticket must not be used up (as after a clean stop)."""
    sim_rig.power_on()
    text = sim_rig.ticket(2)
    sim_rig.present(text)
    sim_rig.wait_for_decisions(1)
    sim_rig.power_cut()  # the visitor had not pushed the arm yet
    sim_rig.power_on()
    _admit(sim_rig, text)
    _passed(sim_rig, 1)
    assert sim_rig.journal().denials == []


# -- the clock -----------------------------------------------------------------------------------

RESET_CLOCK = datetime(2000, 1, 1, tzinfo=UTC)  # a Pi with no RTC and no network at boot


def test_a_gate_that_boots_with_its_clock_reset_still_admits_todays_tickets(sim_rig):
    sim_rig.power_on()
    _admit(sim_rig, sim_rig.ticket(3))
    _passed(sim_rig, 1)
    sim_rig.power_cut()
    sim_rig.power_on(clock_at=RESET_CLOCK)
    _admit(sim_rig, sim_rig.ticket(4))
    _passed(sim_rig, 2)
    assert sim_rig.journal().denials == []


def test_a_gate_that_boots_with_its_clock_reset_still_refuses_yesterdays_tickets(sim_rig):
    sim_rig.power_on()
    _admit(sim_rig, sim_rig.ticket(5))
    _passed(sim_rig, 1)
    sim_rig.power_cut()
    sim_rig.power_on(clock_at=RESET_CLOCK)
    yesterday = rig_day() - timedelta(days=1)
    sim_rig.present(sim_rig.ticket(6, valid_from=yesterday, valid_until=yesterday))
    assert sim_rig.wait_for_decisions(2).denials == ["expired"]


# -- storage -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _small_sd_card(folder: Path, size: str = "4m") -> Iterator[Path]:
    """A size-limited file system for the state directory (tmpfs; needs root)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:  # a container without the right to mount
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_full_sd_card_keeps_the_lane_shut_and_the_node_serving(sim_rig, tmp_path):
    with _small_sd_card(tmp_path / "sd") as sd:
        sim_rig.install(state_dir=sd / "state")
        sim_rig.power_on()
        _admit(sim_rig, sim_rig.ticket(7))
        _passed(sim_rig, 1)
        filler = _fill(sd)
        sim_rig.present(sim_rig.ticket(8))  # the use cannot be written: nobody may pass
        sim_rig.mechanism.arrive("walk")
        wait_until(lambda: sim_rig.mechanism.counts["gave_up"] == 1, 20, "the visitor to give up")
        assert sim_rig.mechanism.counts["passed_in"] == 1
        assert sim_rig.node is not None and sim_rig.node.poll() is None, sim_rig.log()[-2000:]
        filler.unlink()  # the installer frees space (logs rotated, a new card)
        _admit(sim_rig, sim_rig.ticket(9))
        _passed(sim_rig, 2)
        sim_rig.shut_down()


# -- the network ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _networked(
    rig: SimRig, folder: Path, through_link: bool
) -> Iterator[tuple[Broker, Link, EventTap]]:
    broker = Broker(folder / "broker", users=["cloud", "L1"], site=SITE).start()
    link = Link(broker.port)
    rig.install(
        broker={
            "host": "127.0.0.1",
            "port": link.port if through_link else broker.port,
            "username": "L1",
            "resend_s": 2,
        }
    )
    password = rig.state_dir / "broker.password"
    password.write_text(PASSWORD)
    password.chmod(0o600)
    tap = EventTap("127.0.0.1", broker.port, "cloud", PASSWORD, SITE, "L1", rig.node_public_key())
    try:
        yield broker, link, tap
    finally:
        tap.close()
        rig.shut_down()
        link.close()
        broker.stop()


@pytest.mark.mqtt
def test_an_hour_of_entries_made_while_the_network_is_down_all_reach_the_broker_after(
    sim_rig, tmp_path
):
    """A quiet lane's hour (40 entries) compressed to its passages, back to back, offline."""
    with _networked(sim_rig, tmp_path, through_link=True) as (_, link, tap):
        sim_rig.power_on()
        _admit(sim_rig, sim_rig.ticket(100))
        wait_until(lambda: tap.journal().passed == 1, 20, "the first passage at the broker")
        link.cut()
        for number in range(101, 141):
            sim_rig.present(sim_rig.ticket(number))
        sim_rig.mechanism.arrive("walk", count=40)
        _passed(sim_rig, 41, 90)
        assert tap.journal().passed == 1  # nothing got out while the link was down
        link.restore()
        wait_until(lambda: tap.journal().passed == 41, 60, "every passage at the broker")
        assert tap.journal().uses == 41
        assert sorted(tap.events) == list(range(1, max(tap.events) + 1))  # no gap in seqs


@pytest.mark.mqtt
def test_a_broker_killed_and_restarted_loses_no_entry(sim_rig, tmp_path):
    with _networked(sim_rig, tmp_path, through_link=False) as (broker, _, tap):
        sim_rig.power_on()
        _admit(sim_rig, sim_rig.ticket(200))
        wait_until(lambda: tap.journal().passed == 1, 20, "the first passage at the broker")
        broker.kill()  # kill -9: what it had PUBACKed but not saved is gone
        for number in range(201, 206):
            _admit(sim_rig, sim_rig.ticket(number))
            _passed(sim_rig, number - 199)
        broker.start()
        wait_until(lambda: tap.journal().passed == 6, 60, "every passage at the broker")
        assert tap.journal().uses == 6
