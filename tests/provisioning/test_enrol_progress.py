"""gatectl enrol says what it is waiting for, one bilingual line per step, on stdout and never
in --json mode; the failure stays the only line on stderr."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from provisioning import enrol_progress
from provisioning.cli import app
from simulators.broker import free_port

PASSPHRASE = "a long test passphrase"


def test_each_step_line_is_numbered_and_in_both_languages():
    assert enrol_progress.line("cloud", cloud="https://tickets.example") == (
        "[2/4] asking the cloud at https://tickets.example / 正在连接云端 https://tickets.example"
    )
    assert enrol_progress.line("identity_again").startswith("[1/4] using the identity key")
    assert enrol_progress.line("build").startswith("[4/4] ")


def enrol(tmp_path, *extra: str):
    cloud = f"http://127.0.0.1:{free_port()}"  # nobody listens: the round trip fails
    args = ["enrol", "--cloud", cloud, "--token", "ABCDEFGHJKMNPQ", "--state-dir"]
    args += [str(tmp_path / "gate"), "--expect-fingerprint", "00", *extra]
    env = {"SCENIC_KEY_PASSPHRASE": PASSPHRASE}
    return cloud, CliRunner().invoke(app, args, env=env)


def test_enrol_tells_the_installer_each_step_before_it_waits_on_it(tmp_path):
    cloud, done = enrol(tmp_path)
    assert done.exit_code == 1
    assert done.stdout.splitlines() == [
        "[1/4] making this device's identity key / 正在生成本机身份密钥",
        f"[2/4] asking the cloud at {cloud} / 正在连接云端 {cloud}",
    ]
    assert done.stderr.count("\n") == 1 and "cannot reach the cloud" in done.stderr


def test_enrol_run_again_says_it_reuses_the_identity_key(tmp_path):
    enrol(tmp_path)
    _, again = enrol(tmp_path)
    assert again.stdout.splitlines()[0].startswith("[1/4] using the identity key made on the last")


def test_enrol_json_prints_one_object_and_no_step_lines(tmp_path):
    _, done = enrol(tmp_path, "--json")
    assert done.exit_code == 1
    assert json.loads(done.stdout)["code"] == "cloud_unreachable"
