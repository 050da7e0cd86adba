"""A real Mosquitto for tests, benchmarks and the demo, from the shipped configuration.

broker/site.conf is used as it is, with only what must differ on a test machine rewritten: the
listener port and address, and the paths of the persistence directory, password and ACL files
(the ACL is broker/acl with its SITE placeholder filled in, as an installer does). Each test
that kills or pauses a broker gets its own.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a-long-test-password"
ADMIN = "provisioner"  # the dynamic-security admin of a dynsec broker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(
        self,
        folder: Path,
        users: list[str] | None = None,
        autosave_interval: int | None = None,
        site: str = "S1",
        dynsec: bool = False,
        extra_conf: str = "",
        tls: tuple[Path, Path, Path] | None = None,
        require_certificate: bool = False,
    ) -> None:
        """``site``: the site whose gates this broker serves (broker/acl's SITE). ``dynsec``:
        load the dynamic-security plugin (broker/dynsec.conf) with the admin ``ADMIN``, so the
        cloud can make node logins at run time (cloud/mqtt/broker_logins.py). ``extra_conf``:
        lines appended to the configuration (a bridge, say). ``tls``: (CA, broker certificate,
        broker key) PEM files: broker/tls.conf is added as a second listener on ``tls_port``;
        ``require_certificate`` turns on its client certificates."""
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data").mkdir(exist_ok=True)
        conf = (ROOT / "broker/site.conf").read_text()
        conf = conf.replace("listener 1883 0.0.0.0", f"listener {self.port} 127.0.0.1")
        conf = conf.replace("/var/lib/mosquitto/", f"{folder / 'data'}/")
        acl = (ROOT / "broker/acl").read_text().replace("SITE", site)
        (folder / "acl").write_text(acl)
        conf = conf.replace("/etc/mosquitto/scenic/acl", str(folder / "acl"))
        conf = conf.replace("/etc/mosquitto/scenic/passwd", str(folder / "passwd"))
        if autosave_interval is not None:
            conf = conf.replace("autosave_interval 5", f"autosave_interval {autosave_interval}")
        self.users = users or []
        passwd = folder / "passwd"
        passwd.write_text("")
        for user in self.users:
            subprocess.run(
                ["mosquitto_passwd", "-b", str(passwd), user, PASSWORD],
                check=True,
                capture_output=True,
            )
        passwd.chmod(0o600)
        # Started as root, mosquitto would switch to the "mosquitto" user, who cannot read a
        # test's private temporary folder: stay the user running the tests.
        extra = f"\nuser {getpass.getuser()}\nlog_dest file {folder / 'broker.log'}\n{extra_conf}\n"
        if dynsec:
            state = folder / "data" / "dynamic-security.json"
            state.unlink(missing_ok=True)
            subprocess.run(
                ["mosquitto_ctrl", "dynsec", "init", str(state), ADMIN, PASSWORD],
                check=True,
                capture_output=True,
            )
            plugin = (ROOT / "broker/dynsec.conf").read_text()
            extra += plugin.replace("/var/lib/mosquitto/", f"{folder / 'data'}/")
        if tls is not None:
            extra += "\n" + _tls_listener(self.tls_port or 0, *tls, require_certificate)
        (folder / "mosquitto.conf").write_text(conf + extra)

    def start(self) -> Broker:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops this in order
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    log = (self.folder / "broker.log").read_text(errors="replace")
                    raise RuntimeError(f"mosquitto exited: {log[-2000:]}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self) -> None:
        """kill -9: no goodbye, no final save."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _tls_listener(port: int, ca: Path, cert: Path, key: Path, require_certificate: bool) -> str:
    """broker/tls.conf with the port and file paths of this machine."""
    conf = (ROOT / "broker/tls.conf").read_text()
    conf = conf.replace("listener 8883 0.0.0.0", f"listener {port} 127.0.0.1")
    conf = conf.replace("/etc/mosquitto/scenic/ca.crt", str(ca))
    conf = conf.replace("/etc/mosquitto/scenic/broker.crt", str(cert))
    conf = conf.replace("/etc/mosquitto/scenic/broker.key", str(key))
    if require_certificate:
        conf = conf.replace("# require_certificate true", "require_certificate true")
    return conf
