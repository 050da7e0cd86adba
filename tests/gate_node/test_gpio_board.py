"""The firmware on Pi GPIO through gpiozero: drive mock input pins, read output pins back."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from gate_node.firmware.hal import DIR_IN, EV_FIRE, EV_PASSAGE
from gate_node.firmware.tripod import Tripod
from gate_node.firmware.wing import Wing
from gate_node.gpio_board import GpiozeroBoard
from gate_node.pin_map import DEFAULT_PIN_MAPS


@pytest.fixture
def factory():
    mock = MockFactory()
    yield mock
    mock.reset()


class Clock:
    """Stepped milliseconds: the lane is ticked as the node loop would, without waiting."""

    def __init__(self, lane=None):
        self.now = 0
        self.lane = lane

    def advance(self, ms, step=5):
        for _ in range(ms // step):
            self.now += step
            self.lane.tick(self.now)


def test_tripod_grant_pulses_the_active_low_relay_and_counts_a_rotation(factory):
    factory.pin(21).drive_high()  # fire loop intact
    board = GpiozeroBoard(DEFAULT_PIN_MAPS["tripod"], factory)
    tripod = Tripod(board, 0)
    clock = Clock(tripod)
    assert factory.pin(17).state is True  # relay released: active-low line held high
    assert tripod.grant(clock.now, DIR_IN, 1)
    assert factory.pin(17).state is False  # relay pulled in
    assert factory.pin(22).state is False and factory.pin(23).state is True  # green on, red off
    clock.advance(300)
    assert factory.pin(17).state is True
    factory.pin(5).drive_high()
    clock.advance(50)
    factory.pin(5).drive_low()
    clock.advance(50)
    assert tripod.next_event() == EV_PASSAGE and tripod.events.arg == DIR_IN
    assert factory.pin(23).state is False  # red on again
    board.close()


def test_an_open_fire_loop_on_the_pi_opens_the_wing(factory):
    factory.pin(21).drive_low()  # loop cut
    board = GpiozeroBoard(DEFAULT_PIN_MAPS["wing"], factory)
    wing = Wing(board, 0)
    Clock(wing).advance(10)
    assert wing.next_event() == EV_FIRE
    assert factory.pin(17).state is False  # open_in relay energised
    board.close()


def test_pull_up_input_reads_active_when_pulled_low(factory):
    factory.pin(21).drive_high()
    board = GpiozeroBoard(DEFAULT_PIN_MAPS["swing"], factory)
    override = board.pin_in("override")
    assert override.value() == 0
    factory.pin(19).drive_low()  # key switch closes to ground
    assert override.value() == 1
    board.close()


def test_ticks_from_the_board_are_monotonic_milliseconds(factory):
    board = GpiozeroBoard(DEFAULT_PIN_MAPS["tripod"], factory)
    first = board.ticks_ms()
    assert 0 <= first < 1 << 30
    board.close()


@pytest.fixture
def environment_mock_factory():
    """GPIOZERO_PIN_FACTORY=mock as `gate-node run` off a Pi meets it: the default factory."""
    from gpiozero import Device

    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


@pytest.mark.parametrize("kind", ["tripod", "wing", "swing"])
def test_the_simulated_board_models_an_intact_fire_loop_so_the_lane_admits(
    environment_mock_factory, kind
):
    board = GpiozeroBoard(DEFAULT_PIN_MAPS[kind])
    assert board.pin_in("fire_loop").value() == 1
    board.close()


def test_the_simulated_board_loop_can_still_be_cut_by_a_test(environment_mock_factory):
    board = GpiozeroBoard(DEFAULT_PIN_MAPS["wing"])
    wing = Wing(board, 0)
    environment_mock_factory.pin(21).drive_low()  # loop cut
    Clock(wing).advance(100)
    assert wing.next_event() == EV_FIRE
    board.close()


def test_an_active_low_fire_loop_is_modelled_intact_too(environment_mock_factory):
    wiring = {**DEFAULT_PIN_MAPS["tripod"], "pins": dict(DEFAULT_PIN_MAPS["tripod"]["pins"])}
    wiring["pins"]["fire_loop"] = {"gpio": 21, "active_low": True}
    board = GpiozeroBoard(wiring)
    assert board.pin_in("fire_loop").value() == 1
    assert environment_mock_factory.pin(21).state is False
    board.close()
