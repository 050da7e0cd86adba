"""The one way a benchmark reports: a rich table on stdout and JSON in bench/results/NAME.json.

Each row may carry a target and whether it was met, so the README's figures and an issue's
targets are read off the same file. Tests never time anything; this is where speed is measured.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"


def percentiles(samples_ns: Sequence[int]) -> dict[str, float]:
    """Median, p99 and max of nanosecond samples, in milliseconds."""
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "p50_ms": statistics.median(ordered) / 1e6,
        "p99_ms": p99 / 1e6,
        "max_ms": ordered[-1] / 1e6,
    }


def cpu_model() -> str:
    """The CPU the VM reports (/proc/cpuinfo's "model name"): sessions run on machines whose
    speeds differ ~3x, and a figure is only comparable with one from the same CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(
    name: str,
    title: str,
    rows: list[dict[str, Any]],
    notes: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """``extra``: more top-level JSON fields (what the figures were measured on, e.g. the
    dlib build in bench/face.py)."""
    table = Table(title=title)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    console = Console(width=max(120, Console().width))
    console.print(table)
    if notes:
        console.print(notes)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": name,
                "title": title,
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "processor": platform.machine(),
                    "cpu_model": cpu_model(),
                },
                **(extra or {}),
                "rows": rows,
                "notes": notes,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
