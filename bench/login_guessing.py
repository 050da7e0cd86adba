"""Password guessing against a real ``scenic-cloud serve``: what the throttle refuses, what the
guesser learns from timing, and what the buyers on the catalogue feel meanwhile.

- Timing: median answer time of a wrong password for a known username and for unknown ones
  (before the throttle's dummy hash: 38 ms against 2.5 ms, which told which usernames exist).
- Guessing: 300 wrong passwords for one username at concurrency 50 from one address, while
  one buyer reads the catalogue in a loop; reported: answers by status, and the catalogue
  request's p50/p99 before and during the guessing (issue #12 measured 29 ms -> 1.25 s with
  no throttle).
Both on SQLite (WAL) and PostgreSQL; server and clients share the machine's 2 cores.
``SCENIC_BENCH_SERVER_PATH`` runs the server from another source tree (to measure a version
before the change with the same client).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx

from bench.engines import each_engine
from bench.report import percentiles, report
from cloud.api.context import from_settings
from cloud.core.config import Settings
from cloud.core.security import hash_password
from cloud.models import User
from cloud.services.cloud_keys import init_keys
from cloud.services.sites import add_site
from simulators.cloud_server import cloud_server, serve_env

GUESSES = 300
CONCURRENCY = 50
PASSPHRASE = "benchmark cloud passphrase"


def prepare(state: Path, url: str) -> None:
    init_keys(state, PASSPHRASE.encode())
    context = from_settings(Settings(state_dir=state, db_url=url), PASSPHRASE.encode())
    with context.sessions.begin() as db:
        add_site(db, "S1", "测试景区", "Bench site", "Asia/Shanghai")
        db.add(User(username="boss", password_hash=hash_password("boss-password"), role="manager"))
        db.add(User(username="till1", password_hash=hash_password("till-password"), role="cashier"))
    context.engine.dispose()


def timed(call: Callable[[], httpx.Response]) -> tuple[int, int]:
    started = time.perf_counter_ns()
    status = call().status_code
    return status, time.perf_counter_ns() - started


def measure(base: str) -> dict[str, float | int]:
    with httpx.Client(base_url=base, timeout=60) as client:

        def attempt(username: str) -> httpx.Response:
            body = {"username": username, "password": "a wrong guess"}
            return client.post("/api/v1/auth/token", json=body)

        known = [timed(lambda: attempt("till1"))[1] for _ in range(4)]
        unknown = [timed(partial(attempt, f"nobody{n}"))[1] for n in range(4)]

        def catalogue() -> int:
            return timed(lambda: client.get("/api/v1/sites/S1/products"))[1]

        idle = [catalogue() for _ in range(40)]
        during: list[int] = []
        done = threading.Event()

        def reader() -> None:
            while not done.is_set():
                during.append(catalogue())

        statuses: Counter[int] = Counter()
        watcher = threading.Thread(target=reader)
        watcher.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            for status in pool.map(lambda _: attempt("boss").status_code, range(GUESSES)):
                statuses[status] += 1
        guessing_s = time.perf_counter() - started
        done.set()
        watcher.join()
    return {
        "known_ms": round(statistics.median(known) / 1e6, 1),
        "unknown_ms": round(statistics.median(unknown) / 1e6, 1),
        "refused_429": statuses[429],
        "wrong_401": statuses[401],
        "5xx": sum(n for status, n in statuses.items() if status >= 500),
        "guessing_s": round(guessing_s, 2),
        "idle_p50_ms": round(percentiles(idle)["p50_ms"], 1),
        "during_p50_ms": round(percentiles(during)["p50_ms"], 1),
        "during_p99_ms": round(percentiles(during)["p99_ms"], 1),
    }


def main() -> None:
    rows = []
    for name, folder, url in each_engine():
        prepare(folder / "state", url)
        env = serve_env(folder / "state", url, PASSPHRASE)
        if os.environ.get("SCENIC_BENCH_SERVER_PATH"):
            env["PYTHONPATH"] = os.environ["SCENIC_BENCH_SERVER_PATH"]
        with cloud_server(env) as base:
            rows.append({"database": name, **measure(base)})
    report(
        "login_guessing",
        f"Login guessing: {GUESSES} wrong passwords at concurrency {CONCURRENCY}",
        rows,
        "known/unknown: median wrong-password answer for an existing and a missing username. "
        "idle/during: the catalogue request (GET /sites/S1/products) before and while guessing.",
    )


if __name__ == "__main__":
    main()
