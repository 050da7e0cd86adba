"""The sandbox payment channel (tickets without money) is off unless the operator turns it on,
and a production configuration refuses to start with it on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.api.app import create_app
from cloud.api.context import from_settings
from cloud.core.config import ConfigError, Settings
from cloud.services.cloud_keys import init_keys
from simulators.databases import sqlite_database

PASSPHRASE = b"a long cloud passphrase"
TOOL = str(Path(sys.executable).with_name("scenic-cloud"))


def app_for(tmp_path: Path, **env: str) -> TestClient:
    state = tmp_path / "state"
    init_keys(state, PASSPHRASE)
    settings = Settings.from_env(
        {"SCENIC_STATE_DIR": str(state), "SCENIC_DB_URL": sqlite_database(tmp_path), **env}
    )
    return TestClient(create_app(from_settings(settings, PASSPHRASE)))


def test_the_app_from_a_production_config_has_no_sandbox_checkout_or_channel(tmp_path):
    api = app_for(tmp_path, SCENIC_ENV="production")
    checkout = api.post("/api/v1/sandbox/pay/ANY", headers={"X-Order-Token": "x"})
    assert (
        checkout.status_code == 404 and checkout.json()["message_en"] == "page not found"
    )  # no route
    notify = api.post("/api/v1/payments/sandbox/notify", content=b"{}")
    assert notify.status_code == 404 and notify.json()["message_en"] == "payment channel not found"
    schema = api.get("/openapi.json").json()
    assert not any("sandbox" in path for path in schema["paths"])
    assert "channels live here: cash." in schema["info"]["description"]


def test_the_sandbox_is_off_by_default_and_on_only_when_asked(tmp_path):
    off = app_for(tmp_path / "off")
    assert off.post("/api/v1/sandbox/pay/ANY").json()["message_en"] == "page not found"
    on = app_for(tmp_path / "on", SCENIC_SANDBOX="1")
    assert on.post("/api/v1/sandbox/pay/ANY").json()["message_en"] == "order not found"
    schema = on.get("/openapi.json").json()
    assert "/api/v1/sandbox/pay/{order_no}" in schema["paths"]
    assert "cash, sandbox" in schema["info"]["description"]


@pytest.mark.parametrize("value", ["1", "true", "on"])
def test_a_production_config_with_the_sandbox_on_cannot_be_made(value):
    with pytest.raises(ConfigError, match="SCENIC_ENV=production"):
        Settings.from_env({"SCENIC_ENV": "production", "SCENIC_SANDBOX": value})


def test_an_unclear_switch_or_environment_is_refused():
    with pytest.raises(ConfigError, match="SCENIC_SANDBOX"):
        Settings.from_env({"SCENIC_SANDBOX": "maybe"})
    with pytest.raises(ConfigError, match="SCENIC_ENV"):
        Settings.from_env({"SCENIC_ENV": "prod"})


def test_serve_with_the_sandbox_in_production_refuses_to_start_in_one_line(tmp_path):
    env = {
        **os.environ,
        "SCENIC_STATE_DIR": str(tmp_path / "state"),
        "SCENIC_KEY_PASSPHRASE": PASSPHRASE.decode(),
        "SCENIC_ENV": "production",
    }
    env.pop("SCENIC_SANDBOX", None)
    for extra, flag in (({"SCENIC_SANDBOX": "1"}, []), ({}, ["--sandbox"])):
        result = subprocess.run(
            [TOOL, "serve", *flag], capture_output=True, text=True, env={**env, **extra}, timeout=60
        )
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "SCENIC_ENV=production" in result.stderr and "生产环境" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_site_time_zone_that_does_not_exist_is_refused_naming_it():
    from cloud.core.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="Bogus/X"):
        Settings.from_env({"SCENIC_SITE_TIMEZONE": "Bogus/X"})
