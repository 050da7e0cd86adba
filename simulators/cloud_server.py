"""``scenic-cloud serve`` as a real process on a free port, for the demo, benches and tests.

Waits until ``/healthz`` answers, and fails with the reason if the server exits first (bad
keys, unreachable database) instead of waiting forever. Stops it on leaving the context.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from simulators.broker import free_port


def serve_env(state: Path, db_url: str, passphrase: str) -> dict[str, str]:
    """This process's environment with the cloud's state folder, database and key passphrase."""
    return {
        **os.environ,
        "SCENIC_STATE_DIR": str(state),
        "SCENIC_DB_URL": db_url,
        "SCENIC_KEY_PASSPHRASE": passphrase,
    }


def post_json(
    api: str, path: str, body: dict[str, Any], headers: dict[str, str], idempotency_key: str
) -> dict[str, Any]:
    """POST ``body`` to ``/api/v1/<path>`` as a client of the running API (``headers`` say
    who, ``idempotency_key`` which attempt); its JSON answer, or RuntimeError with the path,
    status and problem, so a demo or bench set-up fails saying which step was refused."""
    answer = httpx.post(
        f"{api}/api/v1/{path}", json=body, headers={**headers, "Idempotency-Key": idempotency_key}
    )
    if answer.status_code >= 400:
        raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text}")
    result: dict[str, Any] = answer.json()
    return result


@contextmanager
def cloud_server(
    env: dict[str, str], timeout: float = 60.0, port: int | None = None
) -> Iterator[str]:
    """Run the API with ``env`` (SCENIC_STATE_DIR, SCENIC_DB_URL, ...) and the sandbox payment
    channel on (the demo and the benches pay through it), on ``port`` (default: a free one);
    yields its base URL."""
    port = port or free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("scenic-cloud")),
            "serve",
            "--sandbox",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # Ctrl-C reaches the demo, which stops this in order
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"scenic-cloud serve exited: {error.strip()}")
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"scenic-cloud serve did not answer on {base} within {timeout:.0f} s"
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
