"""`make bench`: run every benchmark in turn (or the ones named: python -m bench NAME ...)."""

from __future__ import annotations

import importlib
import sys

ALL = [
    "ticket_size",
    "verify_speed",
    "qr_decode",
    "gate_latency",
    "mqtt_ingest",
    "mqtt_latency",
    "sales",
    "hostile",
    "login_guessing",
    "shop",
    "enrol_time",
    "face",
    "reports",  # staff operations (issue 19)
    "dashboard",
    "festival",
    "ingest_profile",
    "reconcile",  # issue 17
]


def main() -> None:
    names = sys.argv[1:] or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        sys.exit(f"bench: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
    for name in names:
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()
