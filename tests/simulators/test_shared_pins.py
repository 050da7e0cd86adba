"""Simulated pins shared across processes: what one side drives, the other reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gpiozero import DigitalInputDevice, DigitalOutputDevice

from simulators.shared_pins import PinBank, PinBankError, SharedPinFactory

BIN = Path(sys.executable).parent


@pytest.fixture
def bank(tmp_path):
    made = PinBank.create(tmp_path / "lane.pins")
    yield made
    made.close()


@pytest.fixture
def factory(bank):
    made = SharedPinFactory(bank.path)  # its own mapping of the file, as another process has
    yield made
    made.close()


def test_an_input_reads_what_the_harness_drives(bank, factory):
    beam = DigitalInputDevice(5, pin_factory=factory)
    assert not beam.value
    bank.drive(5, True)
    assert beam.value
    bank.drive(5, False)
    assert not beam.value


def test_an_undriven_input_reads_its_pull(bank, factory):
    switch = DigitalInputDevice(19, pull_up=True, pin_factory=factory)
    assert not switch.value  # pulled up, active low: released
    bank.drive(19, False)
    assert switch.value  # pressed: shorted to ground
    bank.release(19)
    assert not switch.value


def test_the_harness_sees_what_the_node_drives_on_an_output(bank, factory):
    relay = DigitalOutputDevice(17, active_high=False, initial_value=False, pin_factory=factory)
    assert bank.function(17) == "output" and bank.output(17)  # active low: released is high
    relay.on()
    assert not bank.output(17)
    relay.close()
    assert bank.function(17) == "unused"


def test_a_file_that_is_not_a_pin_bank_is_refused(tmp_path):
    (tmp_path / "other").write_bytes(b"x" * 264)
    with pytest.raises(PinBankError):
        PinBank.open(tmp_path / "other")


def test_gate_sim_answers_commands_on_its_socket_and_stops_on_sigterm(tmp_path):
    control = tmp_path / "lane.sock"
    sim = subprocess.Popen(
        [
            str(BIN / "gate-sim"),
            "run",
            "--bank",
            str(tmp_path / "lane.pins"),
            "--kind",
            "wing",
            "--control",
            str(control),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        assert "gate-sim: wing lane" in sim.stdout.readline()
        answer = subprocess.run(
            [str(BIN / "gate-sim"), "send", str(control), '{"arrive": "walk", "count": 2}'],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(answer.stdout)["queue"] in (1, 2)  # one may already be walking up
        bad = subprocess.run(
            [str(BIN / "gate-sim"), "send", str(control), '{"override": true}'],
            capture_output=True,
            text=True,
        )
        assert bad.returncode == 2 and "swing" in json.loads(bad.stdout)["error"]
        bank = PinBank.open(tmp_path / "lane.pins")
        assert bank.input(21, "floating") is True  # the fire loop, intact
        bank.close()
        sim.send_signal(signal.SIGTERM)
        assert sim.wait(10) == 0
        assert not control.exists()
    finally:
        if sim.poll() is None:
            os.kill(sim.pid, signal.SIGKILL)


def test_gate_sim_refuses_an_unknown_gate_kind_with_one_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [str(BIN / "gate-sim"), "run", "--bank", str(tmp_path / "p"), "--kind", "revolving"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_gate_sim_send_to_no_simulator_exits_1(tmp_path):
    result = subprocess.run(
        [str(BIN / "gate-sim"), "send", str(tmp_path / "none.sock"), "{}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
