"""A cloud, a broker with dynamic security, and gates enrolled by ``gatectl`` as an installer
would: for the end-to-end provisioning test and bench/enrol_time.py.

Nothing is copied by hand: the cloud's keys come from ``keys init``, the catalogue from its API
(simulators/site.py's helpers), each token from ``POST /api/v1/devices/tokens``, the root
fingerprint from ``scenic-cloud keys fingerprint``, and the node's state directory, identity
key, broker login and documents from ``gatectl enrol`` run as a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cloud.services.cloud_keys import init_keys
from keys import keystore
from simulators.broker import ADMIN, PASSWORD, Broker
from simulators.cloud_server import cloud_server
from simulators.ingest_processes import IngestProcesses
from simulators.site import SITE, DayStock, _catalogue, _cloud_env, _manager, _sign_in

BIN = Path(sys.executable).parent


@dataclass
class EnrolledSite:
    folder: Path
    api: str
    env: dict[str, str]
    broker: Broker
    staff: dict[str, str]
    stock: DayStock
    db_url: str
    passphrase: bytes

    def fingerprint(self) -> str:
        """The root fingerprint as the cloud's operator reads it off their own console."""
        done = subprocess.run(
            [str(BIN / "scenic-cloud"), "keys", "fingerprint"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def token(self, node: str, zone: int = 1) -> str:
        answer = httpx.post(
            f"{self.api}/api/v1/devices/tokens",
            json={"site": SITE, "node": node, "zone": zone},
            headers=self.staff,
        )
        answer.raise_for_status()
        return str(answer.json()["token"])

    def gatectl(self, *args: str, cloud: str | None = None) -> subprocess.CompletedProcess[str]:
        """``gatectl`` as the installer runs it (``--cloud`` this site's API unless given)."""
        env = {**os.environ, "SCENIC_KEY_PASSPHRASE": self.passphrase.decode()}
        command = [str(BIN / "gatectl"), *args]
        if args and args[0] == "enrol":
            command += ["--cloud", cloud or self.api]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )

    def enrol(self, node: str, state_dir: Path) -> dict[str, Any]:
        """Token, then ``gatectl enrol --json`` with the fingerprint the cloud shows."""
        done = self.gatectl(
            "enrol",
            "--token",
            self.token(node),
            "--state-dir",
            str(state_dir),
            "--expect-fingerprint",
            self.fingerprint(),
            "--json",
        )
        if done.returncode != 0:
            raise RuntimeError(f"gatectl enrol failed: {done.stderr.strip()}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result


@contextmanager
def enrolled_site(folder: Path, passphrase: bytes, ingest: bool = True) -> Iterator[EnrolledSite]:
    """Cloud (``serve`` on SQLite, with the dynsec admin), broker and, if ``ingest``, one
    ingest worker; stopped in reverse on leaving."""
    cloud_state = folder / "cloud"
    init_keys(cloud_state, passphrase)
    url = f"sqlite:///{cloud_state / 'cloud.sqlite'}"
    with ExitStack() as cleanup:
        broker = Broker(folder / "broker", users=["cloud"], site=SITE, dynsec=True).start()
        cleanup.callback(broker.stop)
        env = {
            **_cloud_env(cloud_state, url, broker.port, passphrase),
            "SCENIC_BROKER_ADMIN_USERNAME": ADMIN,
            "SCENIC_BROKER_ADMIN_PASSWORD": PASSWORD,
        }
        api = cleanup.enter_context(cloud_server(env))
        staff = _sign_in(api, _manager(env))
        stock = _catalogue(api, staff)
        if ingest:
            root = keystore.load(cloud_state / "keys" / "root.key", passphrase)
            workers = IngestProcesses(
                folder / "ingest", root, passphrase, url, broker.port, password=PASSWORD
            )
            cleanup.callback(workers.stop_all)
            workers.start("1")
        yield EnrolledSite(folder, api, env, broker, staff, stock, url, passphrase)
