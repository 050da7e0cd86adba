"""The rig under every HIL scenario: simulated by default, a real one with ``--rig FILE``.

``lane`` is one lane of each kind (tripod, wing, swing) on the simulator; on a real rig, the
rig file's kind, and the scenarios for other kinds are skipped. ``sim_lane`` is for faults the
simulator can cause from outside (power cut, clock reset, SD card full) that a real rig would
need a power relay and a shell on the Pi for: skipped on a real rig (README: how to run them
by hand there).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hil_tests.rig import RealRig, SimRig

KINDS = ("tripod", "wing", "swing")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--rig",
        type=Path,
        default=None,
        help="A real rig's JSON file (hil_tests/README.md); without it the simulator is used",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "hil_tests":
            item.add_marker(pytest.mark.hil)


def _rig_file(request: pytest.FixtureRequest) -> Path | None:
    value: Path | None = request.config.getoption("--rig")
    return value


def _lane(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> Iterator[Any]:
    rig_file = _rig_file(request)
    if rig_file is not None:
        real = RealRig(rig_file)
        if real.kind != kind:
            real.close()
            pytest.skip(f"the rig is a {real.kind} lane")
        try:
            yield real
        finally:
            real.close()
        return
    sim = SimRig(tmp_path / "rig", kind)
    try:
        sim.power_on()
        yield sim
    finally:
        sim.close()


@pytest.fixture(params=KINDS)
def lane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A lane of each kind, powered on and serving."""
    yield from _lane(request, tmp_path, request.param)


@pytest.fixture(params=("wing", "swing"))
def flap_lane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A lane with flaps or a leaf, beams and an anti-pinch sensor."""
    yield from _lane(request, tmp_path, request.param)


@pytest.fixture
def tripod_lane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _lane(request, tmp_path, "tripod")


@pytest.fixture
def sim_rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimRig]:
    """A simulated lane, installed but not powered on (the test decides when and how)."""
    if _rig_file(request) is not None:
        pytest.skip("needs the simulator's control of power, clock and storage")
    kind = getattr(request, "param", "tripod")
    sim = SimRig(tmp_path / "rig", kind)
    try:
        yield sim
    finally:
        sim.close()
