"""Nothing outside keys/clock.py reads the machine's clock (DESIGN.md, "Time, in code").

A direct ``datetime.now()``, ``date.today()``, ``time.time()``, ``time.monotonic()`` or
``time.sleep()`` in keys/, gate_node/, cloud/ or provisioning/ is a decision a test cannot set
to 03:00 or 23:00: take a ``keys.clock.Clock`` (or a ``now``) instead. The check reads the
source with ``ast``, so a comment or a string naming these calls does not trip it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("keys", "gate_node", "cloud", "provisioning")
FORBIDDEN = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "sleep"),
}
FORBIDDEN_IMPORTS = {("time", name) for name in ("time", "time_ns", "monotonic", "sleep")}
# path -> why it may read the machine's clock. Keep this short: each entry is a promise.
ALLOWED = {
    "keys/clock.py": "the one clock: SystemClock is the only reader of the machine's time",
}


def machine_clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, call) for every direct read of the machine's clock in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
            if (name, node.func.attr) in FORBIDDEN:
                found.append((node.lineno, f"{name}.{node.func.attr}()"))
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            for alias in node.names:
                if ("time", alias.name) in FORBIDDEN_IMPORTS:
                    found.append((node.lineno, f"from time import {alias.name}"))
    return sorted(found)


def test_no_code_outside_keys_clock_reads_the_machine_clock():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in ALLOWED:
                continue
            for line, call in machine_clock_reads(path.read_text(encoding="utf-8")):
                offenders.append(f"{relative}:{line}: {call}")
    assert not offenders, "take a keys.clock.Clock instead:\n" + "\n".join(offenders)


def test_the_check_sees_each_spelling_of_a_clock_read():
    source = """
import datetime, time
from datetime import date
from time import monotonic
datetime.datetime.now(datetime.UTC)
date.today()
time.time()
time.sleep(1)
clock.now()  # a Clock: fine
"""
    assert [call for _, call in machine_clock_reads(source)] == [
        "from time import monotonic",
        "datetime.now()",
        "date.today()",
        "time.time()",
        "time.sleep()",
    ]
