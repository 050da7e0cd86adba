"""gatectl against a real cloud (``scenic-cloud serve`` on SQLite), a real Mosquitto with
dynamic security and a real ingest worker: a gate enrolled with no hand-copied file admits a
ticket sold online and its entry reaches the cloud; every way enrolment can fail is one line
and its exit code; a man in the middle is caught; a decommissioned node is shut out."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, func, select

from cloud.models import GateEventRecord
from gate_node.state import NodeState
from keys import keystore
from keys.clock import ENVIRONMENT_VARIABLE as CLOCK_AT
from keys.signed_document import sign_document, verify_document
from simulators.broker import free_port
from simulators.enrolled_site import BIN, EnrolledSite, enrolled_site
from simulators.node_thread import InProcessGate as Gate
from simulators.site import SITE, _buy
from tests.conftest import TEST_AT
from tests.mqtt.conftest import wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
PASSPHRASE = b"a long test passphrase"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[EnrolledSite]:
    with enrolled_site(tmp_path_factory.mktemp("enrolled"), PASSPHRASE) as running:
        yield running


def one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The CLI rule: exit ``code``, one bilingual line on stderr, no traceback."""
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "/ " in done.stderr
    return done.stderr


def enrol_args(token: str, state_dir: Path, fingerprint: str, *extra: str) -> list[str]:
    return [
        "enrol",
        "--token",
        token,
        "--state-dir",
        str(state_dir),
        "--expect-fingerprint",
        fingerprint,
        *extra,
    ]


def test_an_enrolled_gate_admits_a_ticket_sold_online_and_its_entry_reaches_the_cloud(
    site, tmp_path
):
    result = site.enrol("G1", tmp_path / "gate")
    assert result["ok"] and result["root_fingerprint"] == site.fingerprint()
    state = NodeState.open(tmp_path / "gate")
    assert not state.problems and state.holder_salt is not None
    assert (tmp_path / "gate" / "node.key").stat().st_mode & 0o077 == 0
    gate = Gate(state, state.identity(PASSPHRASE))
    try:
        _, (ticket,) = _buy(site.api, site.stock, "enrol-e2e-0001")
        decision = gate.visit(ticket["text"], 1)
        assert decision.grant, decision
        engine = create_engine(site.db_url)
        try:
            entries = select(func.count()).select_from(GateEventRecord)
            with engine.connect() as db:
                assert wait_until(lambda: db.scalar(entries.where(GateEventRecord.node == "G1")))
        finally:
            engine.dispose()
    finally:
        gate.close()


def test_a_decommissioned_node_cannot_publish_any_more(site, tmp_path):
    site.enrol("G2", tmp_path / "gate")
    password = (tmp_path / "gate" / "broker.password").read_text()
    assert connect_as(site, "G2", password) is None
    done = site.gatectl("decommission", "--state-dir", str(tmp_path / "gate"), "--json")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "gate" / "node.key").exists()
    assert connect_as(site, "G2", password) is not None


def connect_as(site: EnrolledSite, node: str, password: str) -> int | None:
    """Connect with a node's login; None if accepted, else the broker's reason code."""
    answer: list[int | None] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gate-{SITE}-{node}")
    client.username_pw_set(node, password)
    client.on_connect = lambda c, u, f, reason, p: answer.append(
        reason.value if reason.is_failure else None
    )
    client.connect("127.0.0.1", site.broker.port)
    client.loop_start()
    try:
        assert wait_until(lambda: bool(answer), 10)
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0]


def test_a_wrong_token_is_one_line_exit_3_and_leaves_nothing(site, tmp_path):
    done = site.gatectl(*enrol_args("NOTATOKEN234567", tmp_path / "gate", site.fingerprint()))
    assert "token" in one_line(done, 3)
    assert not (tmp_path / "gate").exists() and not (tmp_path / "gate.enrolling").exists()


def test_a_token_used_by_another_device_is_refused(site, tmp_path):
    token = site.token("G3")
    first = site.gatectl(*enrol_args(token, tmp_path / "one", site.fingerprint()))
    assert first.returncode == 0, first.stderr
    again = site.gatectl(*enrol_args(token, tmp_path / "two", site.fingerprint()))
    assert "used" in one_line(again, 3)


def test_an_expired_token_is_refused(site, tmp_path):
    made = subprocess.run(
        [str(BIN / "scenic-cloud"), "device", "token", "--site", SITE, "--node", "G4", "--json"],
        env={**site.env, CLOCK_AT: TEST_AT.isoformat()},  # days before the server's now
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    done = site.gatectl(*enrol_args(token, tmp_path / "gate", site.fingerprint(), "--json"))
    assert "expired" in one_line(done, 3)
    assert json.loads(done.stdout)["code"] == "enrolment_token_expired"


def test_an_unreachable_cloud_is_one_line_exit_1(site, tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = site.gatectl(
        *enrol_args(site.token("G5"), tmp_path / "gate", site.fingerprint()), cloud=nowhere
    )
    assert "cannot reach the cloud" in one_line(done, 1)
    assert not (tmp_path / "gate" / "node.json").exists()


def test_a_fingerprint_other_than_the_clouds_stops_enrolment_with_exit_4(site, tmp_path):
    done = site.gatectl(*enrol_args(site.token("G6"), tmp_path / "gate", "00" * 16))
    assert "fingerprint" in one_line(done, 4)
    assert not (tmp_path / "gate").exists()


def test_the_chinese_half_of_every_failure_line_is_there(site, tmp_path):
    done = site.gatectl(*enrol_args("NOTATOKEN234567", tmp_path / "gate", site.fingerprint()))
    assert "令牌" in one_line(done, 3)


class Tamper:
    """A man in the middle between gatectl and the cloud, rewriting the enrolment bundle."""

    def __init__(self, upstream: str, rewrite) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(upstream, rewrite))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _handler(upstream: str, rewrite):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = httpx.post(
                    upstream + self.path,
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                data = rewrite(answer.json()) if answer.status_code == 200 else answer.json()
                out = json.dumps(data).encode()
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()


def test_a_config_changed_in_transit_is_detected_and_nothing_is_written(site, tmp_path):
    def change_zone(bundle):
        raw = bytearray(base64.b64decode(bundle["documents"]["enrolment"]))
        raw[-70] ^= 0x01  # a byte of the signed payload (the signature is the last 64)
        bundle["documents"]["enrolment"] = base64.b64encode(bytes(raw)).decode()
        return bundle

    proxy = Tamper(site.api, change_zone)
    try:
        done = site.gatectl(
            *enrol_args(site.token("G7"), tmp_path / "gate", site.fingerprint()), cloud=proxy.url
        )
    finally:
        proxy.close()
    assert "verification" in one_line(done, 5)
    assert not (tmp_path / "gate" / "node.json").exists()


def test_a_root_key_swapped_in_transit_is_caught_by_its_fingerprint(site, tmp_path):
    mallory = keystore.generate("root", "R1")
    real_root = keystore.public_from_pem(
        httpx.get(f"{site.api}/api/v1/devices/root").json()["public_key"].encode()
    )

    def swap_root(bundle):
        for doc_type, text in bundle["documents"].items():
            if text is None:
                continue
            held = verify_document(base64.b64decode(text), real_root, doc_type=doc_type, site=SITE)
            forged = sign_document(
                mallory, doc_type, held.site, held.seq, held.body, issued_at=held.issued_at
            )
            bundle["documents"][doc_type] = base64.b64encode(forged).decode()
        bundle["root_public_key"] = keystore.public_pem(mallory.public_key)
        bundle["root_fingerprint"] = keystore.fingerprint(mallory.public_key)
        return bundle

    proxy = Tamper(site.api, swap_root)
    try:
        done = site.gatectl(
            *enrol_args(site.token("G8"), tmp_path / "gate", site.fingerprint()), cloud=proxy.url
        )
    finally:
        proxy.close()
    assert keystore.fingerprint(mallory.public_key) in one_line(done, 4)
    assert not (tmp_path / "gate").exists()


def test_gatectl_help_documents_the_exit_codes():
    done = subprocess.run(
        [str(BIN / "gatectl"), "enrol", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0 and "4 root key fingerprint" in done.stdout


def test_a_token_read_from_a_photo_of_its_qr_code_enrols(site, tmp_path):
    made = subprocess.run(
        [
            *(str(BIN / "scenic-cloud"), "device", "token", "--site", SITE, "--node", "G9"),
            *("--qr", str(tmp_path / "token.png"), "--json"),
        ],
        env=site.env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    done = site.gatectl(
        "enrol",
        "--token-qr",
        str(tmp_path / "token.png"),
        "--state-dir",
        str(tmp_path / "gate"),
        "--expect-fingerprint",
        site.fingerprint(),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["node"] == "G9"


def test_an_enrolment_cut_off_half_way_resumes_with_the_same_identity_key(site, tmp_path):
    token = site.token("G10")
    first = site.gatectl(
        *enrol_args(token, tmp_path / "gate", site.fingerprint()),
        cloud=f"http://127.0.0.1:{free_port()}",
    )
    one_line(first, 1)
    staged = tmp_path / "gate.enrolling" / "identity.key"
    made_first = keystore.fingerprint(keystore.load(staged, PASSPHRASE).public_key)
    again = site.gatectl(*enrol_args(token, tmp_path / "gate", site.fingerprint(), "--json"))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["node_fingerprint"] == made_first
    assert not (tmp_path / "gate.enrolling").exists()


def test_a_tampered_bundle_leaves_nothing_and_the_same_token_works_over_a_clean_path(
    site, tmp_path
):
    def drop_keyring(bundle):
        bundle["documents"]["keyring"] = None
        return bundle

    token = site.token("G11")
    proxy = Tamper(site.api, drop_keyring)
    try:
        done = site.gatectl(
            *enrol_args(token, tmp_path / "gate", site.fingerprint()), cloud=proxy.url
        )
    finally:
        proxy.close()
    one_line(done, 5)
    assert not (tmp_path / "gate" / "node.json").exists()
    again = site.gatectl(*enrol_args(token, tmp_path / "gate", site.fingerprint()))
    assert again.returncode == 0, again.stderr
    assert not NodeState.open(tmp_path / "gate").problems
    steps = [line[:5] for line in again.stdout.splitlines()]  # the steps it went through
    assert steps == ["[1/4]", "[2/4]", "[3/4]", "[4/4]", "enrol"], again.stdout
    assert "using the identity key made on the last try" in again.stdout


def test_gate_node_init_points_to_gatectl():
    done = subprocess.run(
        [str(BIN / "gate-node"), "init", "--state-dir", "x"], capture_output=True, text=True
    )
    assert "gatectl init" in one_line(done, 2)


def run_in_terminal(site: EnrolledSite, args: list[str], answer: str) -> tuple[int, str]:
    """Run gatectl on a real pseudo-terminal, answer its question, return (exit, screen)."""
    import pty
    import select

    main_fd, terminal = pty.openpty()
    env = {**os.environ, "SCENIC_KEY_PASSPHRASE": PASSPHRASE.decode(), "TERM": "dumb"}
    process = subprocess.Popen(
        [str(BIN / "gatectl"), *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    screen, answered = b"", False
    while process.poll() is None or select.select([main_fd], [], [], 0)[0]:
        ready, _, _ = select.select([main_fd], [], [], 30)
        if not ready:
            break
        try:
            screen += os.read(main_fd, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not answered and b"[y/N]" in screen:
            os.write(main_fd, answer.encode() + b"\n")
            answered = True
    os.close(main_fd)
    return process.wait(30), screen.decode(errors="replace")


def test_the_installer_confirms_the_fingerprint_on_the_terminal(site, tmp_path):
    args = ["enrol", "--cloud", site.api, "--token", site.token("G12")]
    code, screen = run_in_terminal(site, [*args, "--state-dir", str(tmp_path / "gate")], "y")
    assert code == 0, screen
    assert site.fingerprint() in screen and "enrolled" in screen


def test_an_installer_who_says_no_stops_enrolment_with_exit_4(site, tmp_path):
    args = ["enrol", "--cloud", site.api, "--token", site.token("G13")]
    code, screen = run_in_terminal(site, [*args, "--state-dir", str(tmp_path / "gate")], "n")
    assert code == 4, screen
    assert not (tmp_path / "gate").exists()


def test_a_manager_retires_a_broken_node_from_the_cloud_console(site, tmp_path):
    site.enrol("G14", tmp_path / "gate")
    password = (tmp_path / "gate" / "broker.password").read_text()
    done = subprocess.run(
        [str(BIN / "scenic-cloud"), "device", "decommission", "--site", SITE, "--node", "G14"],
        env=site.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert connect_as(site, "G14", password) is not None
    listed = subprocess.run(
        [str(BIN / "scenic-cloud"), "device", "list", "--site", SITE],
        env=site.env,
        capture_output=True,
        text=True,
    )
    rows = {row["node"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert rows["G14"]["state"] == "decommissioned"
