"""scenic-keys as an operator runs it: real processes, real files, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSPHRASE = "a long test passphrase"
TOOL = str(Path(sys.executable).with_name("scenic-keys"))


def run(*args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None):
    environment = {**os.environ, "SCENIC_KEY_PASSPHRASE": PASSPHRASE, **(env or {})}
    return subprocess.run(
        [TOOL, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Root and issuer keys, their public PEMs and a keyring, made through the CLI."""
    d = tmp_path_factory.mktemp("site")
    assert run("new", "--role", "root", "--kid", "R1", "--out", "root.key", cwd=d).returncode == 0
    assert run("new", "--role", "issuer", "--kid", "I1", "--out", "i1.key", cwd=d).returncode == 0
    for name in ("root", "i1"):
        result = run("export-public", "--key", f"{name}.key", cwd=d)
        assert result.returncode == 0 and "fingerprint" in result.stderr
        (d / f"{name}.pem").write_text(result.stdout)
    made = run(
        "keyring",
        "--root",
        "root.key",
        "--issuer",
        "i1.pem:I1",
        "--out",
        "ring.cose",
        "--site",
        "S1",
        cwd=d,
    )
    assert made.returncode == 0, made.stderr
    return d


def issue(site: Path, claims: dict) -> str:
    result = run("issue", "--key", "i1.key", "--claims", "-", cwd=site, stdin=json.dumps(claims))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


DAY = {"ticket_id": "0123456789abcdef", "product": 12, "valid_from": "2026-11-24"}


def test_issue_then_verify_prints_one_json_line_and_exits_0(site):
    ticket = issue(site, DAY)
    result = run("verify", "--keyring", "ring.cose", "--root-pub", "root.pem", ticket, cwd=site)
    assert result.returncode == 0
    row = json.loads(result.stdout)
    assert row["valid"] and row["reason"] == "ok" and row["kid"] == "I1"
    assert row["claims"]["ticket_id"] == "0123456789ABCDEF"


def test_verify_from_stdin_answers_each_line_and_exits_3_if_any_is_bad(site):
    ticket = issue(site, DAY)
    result = run(
        "verify",
        "--keyring",
        "ring.cose",
        "--root-pub",
        "root.pem",
        "-",
        cwd=site,
        stdin=f"{ticket}\nJ1QQQ\nhttps://example.com\n",
    )
    assert result.returncode == 3
    reasons = [json.loads(line)["reason"] for line in result.stdout.splitlines()]
    assert reasons == ["ok", "truncated", "bad_prefix"]


def test_verify_with_the_wrong_root_is_a_usage_error_in_one_line(site):
    result = run("verify", "--keyring", "ring.cose", "--root-pub", "i1.pem", "J1", cwd=site)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "bad_signature" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_retired_issuer_makes_its_tickets_invalid(site):
    ticket = issue(site, DAY)
    made = run(
        "keyring",
        "--root",
        "root.key",
        "--issuer",
        "i1.pem:I1",
        "--retired",
        "I1",
        "--out",
        "retired.cose",
        cwd=site,
    )
    assert made.returncode == 0, made.stderr
    result = run("verify", "--keyring", "retired.cose", "--root-pub", "root.pem", ticket, cwd=site)
    assert result.returncode == 3 and json.loads(result.stdout)["reason"] == "retired_kid"


def test_bad_claims_are_refused_with_the_field_named(site):
    result = run(
        "issue",
        "--key",
        "i1.key",
        "--claims",
        "-",
        cwd=site,
        stdin=json.dumps({**DAY, "colour": "red"}),
    )
    assert result.returncode == 2 and "colour" in result.stderr and "Traceback" not in result.stderr


def test_qr_prints_version_and_level_and_writes_the_file(site):
    ticket = issue(site, DAY)
    for name in ("t.png", "t.svg"):
        result = run("qr", ticket, "--out", name, cwd=site)
        assert result.returncode == 0, result.stderr
        assert "version 6" in result.stdout and (site / name).stat().st_size > 200


def test_qr_refuses_an_unknown_format(site):
    result = run("qr", "J1ABC", "--out", "t.gif", cwd=site)
    assert result.returncode == 2 and "png" in result.stderr


def test_no_passphrase_is_a_clear_error(site):
    env = {**os.environ}
    env.pop("SCENIC_KEY_PASSPHRASE", None)
    result = subprocess.run(
        [TOOL, "export-public", "--key", "i1.key"],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "SCENIC_KEY_PASSPHRASE" in result.stderr


def test_new_refuses_to_overwrite(site):
    result = run("new", "--role", "root", "--kid", "R1", "--out", "root.key", cwd=site)
    assert result.returncode == 1 and "overwrite" in result.stderr


def test_revocation_documents_can_be_made(site):
    result = run(
        "revocations",
        "--root",
        "root.key",
        "--site",
        "S1",
        "--seq",
        "1",
        "--revoke",
        "0123456789abcdef:2026-11-24",
        "--out",
        "rev.cose",
        cwd=site,
    )
    assert result.returncode == 0 and (site / "rev.cose").exists()


def test_usage_errors_exit_2():
    assert subprocess.run([TOOL, "issue"], capture_output=True, timeout=60).returncode == 2


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["issue"], 2, "Missing option '--key'"),
        (["no-such-command"], 2, "No such command"),
        (["qr", "J1ABC", "--out", "t.png", "--scale", "99"], 2, "--scale"),
        (["qr", "J1ABC", "--out", "t.gif"], 2, "仅支持"),
        (["qr", "J1ABC", "--out", "no-such-folder/t.png"], 1, "cannot write"),
        (["new", "--role", "boss", "--kid", "B1", "--out", "b.key"], 2, "密钥角色无效"),
        (["issue", "--key", "i1.key", "--claims", "missing.json"], 2, "无法读取票面信息"),
        (["verify", "J1ABC", "--keyring", "missing.cose", "--root-pub", "root.pem"], 2, "公钥环"),
        (["keyring", "--root", "root.key", "--issuer", "i1.pem", "--out", "k"], 2, "PUB.pem:KID"),
    ],
)
def test_each_failure_is_one_bilingual_line_and_a_documented_code(site, args, code, words):
    result = run(*args, cwd=site)
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert words in result.stderr and " / " in result.stderr


def test_the_exit_codes_are_in_the_help(site):
    shown = run("--help", cwd=site)
    assert shown.returncode == 0 and "Exit codes / 退出码" in shown.stdout
