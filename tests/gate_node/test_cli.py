"""gate-node as an installer and a tester run it: real processes, JSON out, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import cv2
import pytest

from keys import keystore
from keys.claims import TicketClaims
from keys.clock import ENVIRONMENT_VARIABLE as CLOCK_AT
from keys.keyring import IssuerKey, sign_keyring
from keys.ticket import issue_ticket
from simulators.camera import ticket_frame
from tests.conftest import TEST_AT

TOOL = str(Path(sys.executable).with_name("gate-node"))
GATECTL = str(Path(sys.executable).with_name("gatectl"))  # init is provisioning's
ENV = {
    **os.environ,
    "SCENIC_KEY_PASSPHRASE": "a long test passphrase",
    "GPIOZERO_PIN_FACTORY": "mock",
    CLOCK_AT: TEST_AT.isoformat(),  # the processes' clock, never the machine's hour
}
DAY = datetime(2026, 11, 24).date()


def run(*args, stdin="", env=None):
    return subprocess.run(
        [GATECTL if args[0] == "init" else TOOL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=60,
    )


def init_node(folder, root_key, issuer_key, kind: str, zone: int, *extra: str):
    """gate-node init as an installer types it, with a root PEM and a keyring beside it."""
    (folder / "root.pem").write_text(keystore.public_pem(root_key.public_key))
    (folder / "ring.cose").write_bytes(
        sign_keyring(root_key, [IssuerKey(issuer_key.kid, issuer_key.public_key)], site="S1", seq=1)
    )
    made = run(
        "init",
        "--state-dir",
        str(folder / "st"),
        "--site",
        "S1",
        "--node",
        "G1",
        "--kind",
        kind,
        "--zone",
        str(zone),
        "--root-pub",
        str(folder / "root.pem"),
        "--keyring",
        str(folder / "ring.cose"),
        *extra,
    )
    assert made.returncode == 0, made.stderr


@pytest.fixture
def site(tmp_path, root_key, issuer_key):
    init_node(tmp_path, root_key, issuer_key, "wing", 2)
    return tmp_path


def text(issuer_key, number=1, **extra):
    return issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=bytes([number]) * 8, product=1, valid_from=DAY, valid_until=DAY, **extra
        ),
    )


def verify(site, *args, stdin=""):
    return run(
        "verify", "--state-dir", str(site / "st"), "--at", "2026-11-24T10:00", *args, stdin=stdin
    )


def test_verify_grants_prints_json_and_records_nothing_without_commit(site, issuer_key):
    for _ in range(2):
        result = verify(site, "--payload", text(issuer_key))
        assert result.returncode == 0
        row = json.loads(result.stdout)
        assert row["decision"] == "grant" and row["ticket_id"] == "01" * 8


def test_commit_records_the_use_so_the_second_scan_is_refused(site, issuer_key):
    assert verify(site, "--commit", "--payload", text(issuer_key)).returncode == 0
    again = verify(site, "--payload", text(issuer_key))
    assert again.returncode == 3 and json.loads(again.stdout)["reason"] == "already_used"
    status = run("status", "--state-dir", str(site / "st"), "--json")
    assert json.loads(status.stdout)["ledger"]["uses"] == 1


def test_stdin_payloads_are_decided_in_order_like_a_queue_at_the_gate(site, issuer_key):
    lines = "\n".join(
        [text(issuer_key, 3), text(issuer_key, 3), "garbage", text(issuer_key, 4, zones=(9,))]
    )
    result = verify(site, "--commit", "--payload", "-", stdin=lines)
    assert result.returncode == 3
    reasons = [json.loads(line)["reason"] for line in result.stdout.splitlines()]
    assert reasons == ["ok", "already_used", "bad_prefix", "wrong_zone"]


def test_verify_reads_a_photo_of_a_phone_screen(site, issuer_key):
    cv2.imwrite(str(site / "phone.png"), ticket_frame(text(issuer_key), invert=True, angle=20))
    result = verify(site, "--image", str(site / "phone.png"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_photo_without_a_code_is_empty(site):
    cv2.imwrite(str(site / "blank.png"), ticket_frame("x")[:10, :10])
    result = verify(site, "--image", str(site / "blank.png"))
    assert result.returncode == 3 and json.loads(result.stdout)["reason"] == "empty"


def test_at_decides_as_of_another_day(site, issuer_key):
    result = run(
        "verify",
        "--state-dir",
        str(site / "st"),
        "--at",
        "2026-11-25T00:00:01+08:00",
        "--payload",
        text(issuer_key),
    )
    assert json.loads(result.stdout)["reason"] == "expired"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["verify", "--state-dir", "/nonexistent", "--payload", "x"], "not a node state"),
        (["verify", "--state-dir", "{st}"], "exactly one of"),
        (["verify", "--state-dir", "{st}", "--payload", "x", "--at", "noon"], "ISO"),
        (
            [
                "init",
                "--state-dir",
                "{st}",
                "--site",
                "S1",
                "--node",
                "G1",
                "--kind",
                "tripod",
                "--zone",
                "1",
                "--root-pub",
                "{root}",
                "--keyring",
                "{root}",
            ],
            "already holds",
        ),
    ],
)
def test_usage_and_config_errors_are_one_line_and_exit_2(site, args, words):
    filled = [a.format(st=site / "st", root=site / "root.pem") for a in args]
    result = run(*filled)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_status_reports_the_node(site):
    result = run("status", "--state-dir", str(site / "st"))
    assert result.returncode == 0 and "wing" in result.stdout and "I1" in result.stdout


def test_run_serves_until_sigterm_then_exits_cleanly(site):
    process = subprocess.Popen(
        [TOOL, "run", "--state-dir", str(site / "st")],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = json.loads(process.stdout.readline())
    assert first["msg"] == "serving"
    process.terminate()
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert any(json.loads(line)["msg"] == "stopping" for line in out.splitlines())


def test_a_gate_booting_at_1970_decides_at_its_clock_floor(site, issuer_key):
    state_clock = site / "st" / "clock.json"
    state_clock.write_text(json.dumps({"floor": datetime(2026, 11, 24, 2, tzinfo=UTC).isoformat()}))
    booted = {**ENV, CLOCK_AT: "1970-01-01T00:00:00+00:00"}  # a Pi without a real-time clock
    result = run(
        "verify", "--state-dir", str(site / "st"), "--payload", text(issuer_key), env=booted
    )
    assert json.loads(result.stdout)["reason"] == "ok"  # 10:00 on DAY at the site, not 1970


def test_an_id_card_alone_is_checked_against_the_signed_card_index(tmp_path, root_key, issuer_key):
    from keys.card_index import sign_card_index
    from keys.holder import holder_ref

    salt = bytes(range(16))
    (tmp_path / "salt").write_text(salt.hex())
    (tmp_path / "salt").chmod(0o600)
    init_node(
        tmp_path,
        root_key,
        issuer_key,
        "swing",
        1,
        "--holder-salt-file",
        str(tmp_path / "salt"),
        "--real-name-check",
        "id_card",
    )
    reference = holder_ref(salt, "id_card", "11010519491231002X")
    ticket = issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=b"\x0a" * 8, product=1, valid_from=DAY, valid_until=DAY, holder=reference
        ),
    )
    (tmp_path / "st" / "cards.cose").write_bytes(
        sign_card_index(root_key, site="S1", seq=1, entries={reference: [ticket]})
    )
    at = ["--state-dir", str(tmp_path / "st"), "--at", "2026-11-24T10:00"]
    found = run("verify", *at, "--id-card", "11010519491231002x")
    assert found.returncode == 0, found.stdout + found.stderr
    misread = run("verify", *at, "--id-card", "110105194912310021")
    assert json.loads(misread.stdout)["reason"] == "unreadable_card"
    qr_only = run("verify", *at, "--payload", ticket)
    assert json.loads(qr_only.stdout)["reason"] == "id_required"


def test_a_salt_file_others_can_read_is_refused(site, tmp_path):
    (tmp_path / "salt").write_text("00" * 16)
    (tmp_path / "salt").chmod(0o644)
    result = run(
        "init",
        "--state-dir",
        str(tmp_path / "other"),
        "--site",
        "S1",
        "--node",
        "G2",
        "--kind",
        "tripod",
        "--zone",
        "1",
        "--root-pub",
        str(site / "root.pem"),
        "--keyring",
        str(site / "ring.cose"),
        "--holder-salt-file",
        str(tmp_path / "salt"),
    )
    assert result.returncode == 2 and "chmod 600" in result.stderr


def one_line_failure(result, code: int) -> None:
    """The CLI rule: exit ``code``, exactly one line on stderr, bilingual, no traceback."""
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "/ " in result.stderr


@pytest.mark.parametrize("command", ["status", "run", "verify"])
def test_a_broken_node_json_is_one_line_not_a_json_traceback(site, command):
    (site / "st" / "node.json").write_text('{"config": {')  # cut short mid-write
    extra = ["--payload", "x"] if command == "verify" else []
    result = run(command, "--state-dir", str(site / "st"), *extra)
    one_line_failure(result, 2)
    assert "node.json is not valid JSON" in result.stderr


@pytest.mark.parametrize("content", ["[]", '{"config": []}', '"node"'])
def test_a_node_json_of_the_wrong_shape_is_one_line_too(site, content):
    (site / "st" / "node.json").write_text(content)
    result = run("status", "--state-dir", str(site / "st"))
    one_line_failure(result, 2)
    assert "node.json" in result.stderr


def test_verify_with_a_missing_photo_says_no_such_file_without_opencv_warnings(site):
    result = run("verify", "--state-dir", str(site / "st"), "--image", str(site / "missing.png"))
    one_line_failure(result, 2)
    assert "no such file" in result.stderr and "WARN" not in result.stderr


def test_an_unknown_camera_is_refused_at_init_not_at_run(tmp_path, root_key, issuer_key):
    (tmp_path / "root.pem").write_text(keystore.public_pem(root_key.public_key))
    (tmp_path / "ring.cose").write_bytes(
        sign_keyring(root_key, [IssuerKey(issuer_key.kid, issuer_key.public_key)], site="S1", seq=1)
    )
    result = run(
        *("init", "--state-dir", str(tmp_path / "st"), "--site", "S1", "--node", "G1"),
        *("--kind", "tripod", "--zone", "1", "--root-pub", str(tmp_path / "root.pem")),
        *("--keyring", str(tmp_path / "ring.cose"), "--camera", "bogus"),
    )
    one_line_failure(result, 2)
    assert "camera 'bogus'" in result.stderr and not (tmp_path / "st").exists()


def test_no_gpio_off_a_pi_is_one_line_without_fallback_warnings(site):
    env = {k: v for k, v in ENV.items() if k != "GPIOZERO_PIN_FACTORY"}
    result = subprocess.run(
        [TOOL, "run", "--state-dir", str(site / "st")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    one_line_failure(result, 1)
    assert "GPIOZERO_PIN_FACTORY=mock" in result.stderr and "Falling back" not in result.stderr


def test_a_usage_error_is_one_line_not_a_usage_box():
    result = run("status")
    one_line_failure(result, 2)
    assert "--state-dir" in result.stderr


def test_status_on_a_new_node_is_a_table_and_says_none_yet_for_the_clock(site):
    table = run("status", "--state-dir", str(site / "st"))
    assert table.returncode == 0, table.stderr
    assert "clock floor / 时钟下限" in table.stdout and "none yet / 尚无" in table.stdout
    assert "2000-01-01" not in table.stdout and "{" not in table.stdout
    report = json.loads(run("status", "--state-dir", str(site / "st"), "--json").stdout)
    assert report["clock_floor"] is None and report["keyring"]["kids"] == ["I1"]


def test_run_off_a_pi_on_the_mock_board_admits_a_ticket_and_exits_quietly(
    tmp_path, root_key, issuer_key
):
    """README: GPIOZERO_PIN_FACTORY=mock runs the lane off a Pi. The unwired fire loop must
    read intact (else fire_alarm, nobody admitted), and zxing-cpp must not print nanobind
    leak lines at exit."""
    (tmp_path / "cam").mkdir()
    ticket = issue_ticket(
        issuer_key,
        TicketClaims(
            ticket_id=b"\x0b" * 8,
            product=1,
            valid_from=datetime(2020, 1, 1).date(),  # valid whatever the machine's date
            valid_until=datetime(2099, 12, 31).date(),
        ),
    )
    cv2.imwrite(str(tmp_path / "cam" / "ticket.png"), ticket_frame(ticket))
    init_node(tmp_path, root_key, issuer_key, "tripod", 1, "--camera", f"dir:{tmp_path / 'cam'}")
    process = subprocess.Popen(
        [TOOL, "run", "--state-dir", str(tmp_path / "st")],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    guard = threading.Timer(60, process.terminate)  # a lane that never decides fails, not hangs
    guard.start()
    seen = []
    for line in process.stdout:  # the one photo gives one decision, then the camera is idle
        seen.append(json.loads(line))
        if seen[-1]["msg"] in ("grant", "deny"):
            break
    guard.cancel()
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert seen[-1]["msg"] == "grant", seen
    assert not any(entry.get("alarm") == "fire_alarm" for entry in seen), seen
    assert err == "", err
