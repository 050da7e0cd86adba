"""scenic-cloud as an operator runs it: keys, an admin, a site, the server; one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from keys.clock import ENVIRONMENT_VARIABLE as CLOCK_AT
from simulators.cloud_server import cloud_server
from tests.conftest import TEST_AT

TOOL = str(Path(sys.executable).with_name("scenic-cloud"))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOOL, *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_fresh_cloud_from_keys_to_a_serving_api(tmp_path):
    env = {
        **os.environ,
        CLOCK_AT: TEST_AT.isoformat(),
        "SCENIC_STATE_DIR": str(tmp_path / "state"),
        "SCENIC_KEY_PASSPHRASE": "a long cloud passphrase",
        "SCENIC_ADMIN_PASSWORD": "a long admin password",
    }
    env.pop("SCENIC_DB_URL", None)
    assert run("keys", "init", env=env).returncode == 0
    again = run("keys", "init", env=env)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert run("admin", "create", "--username", "boss", env=env).returncode == 0
    short = run("admin", "create", "--username", "x", env={**env, "SCENIC_ADMIN_PASSWORD": "s"})
    assert short.returncode == 2 and "password" in short.stderr
    site = run("site", "--code", "S1", "--name-zh", "景区", "--name-en", "Site", env=env)
    assert site.returncode == 0, site.stderr
    bad = run("site", "--code", "S 1", "--name-zh", "x", "--name-en", "x", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    with cloud_server(env) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            json={"username": "boss", "password": "a long admin password"},
        )
        assert token.status_code == 200 and token.json()["role"] == "manager"


def test_serve_without_a_passphrase_says_so_in_one_line(tmp_path):
    env = {**os.environ, "SCENIC_STATE_DIR": str(tmp_path / "state")}
    env.pop("SCENIC_KEY_PASSPHRASE", None)
    env.pop("SCENIC_DB_URL", None)
    result = run("serve", env=env)
    assert result.returncode == 2 and "SCENIC_KEY_PASSPHRASE" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_partner_key_is_shown_once_and_works(tmp_path):
    env = {
        **os.environ,
        CLOCK_AT: TEST_AT.isoformat(),
        "SCENIC_STATE_DIR": str(tmp_path / "state"),
        "SCENIC_DB_URL": f"sqlite:///{tmp_path / 'c.sqlite'}",
    }
    made = run("partner", "--name", "parking", env=env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    from sqlalchemy import create_engine, text

    from cloud.core.security import token_hash

    engine = create_engine(env["SCENIC_DB_URL"])
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT key_hash, scopes FROM api_keys")).one()
    engine.dispose()
    assert bytes(stored[0]) == token_hash(key) and key not in str(stored)
    refused = run("partner", "--name", "x", "--scope", "refund", env=env)
    assert refused.returncode == 2 and "unknown scope" in refused.stderr
