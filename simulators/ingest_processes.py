"""``scenic-cloud ingest`` workers as real processes, to start, kill -9 and restart.

Used by the fault tests, the benchmarks and the demo: the workers are the product's own
command, configured through the environment as systemd would (EnvironmentFile), with the root
key in an encrypted file and its passphrase in the environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from keys import keystore

BIN = Path(sys.executable).parent


class IngestProcesses:
    def __init__(
        self,
        folder: Path,
        root: keystore.SigningKey,
        passphrase: bytes,
        db_url: str,
        broker_port: int,
        username: str = "cloud",
        password: str = "",
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = folder / "root.key"
        if not self.key.exists():
            keystore.save(root, self.key, passphrase)
        self.env = {
            **os.environ,
            "SCENIC_KEY_PASSPHRASE": passphrase.decode(),
            "SCENIC_DB_URL": db_url,
            "SCENIC_BROKER_PORT": str(broker_port),
            "SCENIC_BROKER_USERNAME": username,
            "SCENIC_BROKER_PASSWORD": password,
        }
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._log = open(folder / "workers.log", "ab")  # noqa: SIM115 (closed in stop_all)

    def start(self, worker_id: str) -> None:
        self.workers[worker_id] = subprocess.Popen(
            [
                str(BIN / "scenic-cloud"),
                "ingest",
                "--worker-id",
                worker_id,
                "--root-key",
                str(self.key),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops this in order
        )

    def kill(self, worker_id: str) -> None:
        process = self.workers[worker_id]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        self._log.close()
