"""The same gate scenarios under CPython and under real MicroPython."""

from __future__ import annotations

import pytest

from tests.firmware import micropython, scenarios


@pytest.mark.parametrize("start", scenarios.STARTS, ids=["t0", "across-wrap"])
@pytest.mark.parametrize("name", scenarios.names())
def test_scenario_on_cpython(name: str, start: int) -> None:
    getattr(scenarios, name)(start)


@pytest.fixture(scope="module")
def micropython_results() -> dict[str, str]:
    reason = micropython.available()
    if reason:
        pytest.fail(f"MicroPython cannot run: {reason}")
    files = ["tests/__init__.py", "tests/firmware/__init__.py", "tests/firmware/scenarios.py"]
    result = micropython.run("import tests.firmware.scenarios as s\ns.run_all()", files)
    assert result.returncode == 0, result.stderr
    outcomes = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(" ")
        label, _, message = rest.partition(": ")
        outcomes[label] = status if status == "PASS" else f"{status}: {message}"
    return outcomes


@pytest.mark.micropython
@pytest.mark.parametrize("start", scenarios.STARTS, ids=["t0", "across-wrap"])
@pytest.mark.parametrize("name", scenarios.names())
def test_scenario_on_micropython(micropython_results: dict[str, str], name: str, start: int):
    assert micropython_results.get(f"{name}@{start}") == "PASS", micropython_results.get(
        f"{name}@{start}", "did not run"
    )


@pytest.mark.micropython
def test_micropython_is_really_micropython() -> None:
    result = micropython.run("import sys\nprint(sys.implementation.name)", [])
    assert result.stdout.strip() == "micropython"
