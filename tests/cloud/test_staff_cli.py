"""scenic-cloud admin and calendar: accounts created, listed, given a role, disabled; peak and
blackout days set and shown; every refusal one line and exit 2; changes audited as the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.db import make_engine, session_factory
from cloud.models import AuditEntry
from simulators.databases import sqlite_database

TOOL = str(Path(sys.executable).with_name("scenic-cloud"))


@pytest.fixture
def url(tmp_path):
    return sqlite_database(tmp_path)


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCENIC_DB_URL": url, "SCENIC_ADMIN_PASSWORD": "Quiet-lake-2026"}
    return subprocess.run([TOOL, *args], capture_output=True, text=True, env=env, timeout=120)


def users(url):
    listed = run("admin", "list", "--json", url=url)
    assert listed.returncode == 0, listed.stderr
    return {u["username"]: u for u in json.loads(listed.stdout)}


def test_an_installer_account_is_created_given_a_role_and_disabled(url):
    assert run("admin", "create", "--username", "boss", url=url).returncode == 0
    assert (
        run("admin", "create", "--username", "fix", "--role", "installer", url=url).returncode == 0
    )
    assert users(url)["fix"] == {
        "username": "fix",
        "role": "installer",
        "active": True,
        "second_factor": False,
    }
    assert run("admin", "set-role", "--username", "fix", "--role", "gate", url=url).returncode == 0
    assert run("admin", "disable", "--username", "fix", url=url).returncode == 0
    assert users(url)["fix"]["role"] == "gate" and not users(url)["fix"]["active"]
    engine = make_engine(url)
    with session_factory(engine)() as db:
        actions = [
            e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.actor == "cli"))
        ]
    engine.dispose()
    assert actions == ["create_user", "create_user", "change_user", "change_user"]


def test_disabling_the_last_manager_is_refused_in_one_line(url):
    run("admin", "create", "--username", "boss", url=url)
    refused = run("admin", "disable", "--username", "boss", url=url)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "最后一位管理员" in refused.stderr and "Traceback" not in refused.stderr


def test_an_unknown_user_or_role_is_one_line_and_exit_2(url):
    assert run("admin", "disable", "--username", "ghost", url=url).returncode == 2
    bad = run("admin", "create", "--username", "x", "--role", "king", url=url)
    assert bad.returncode == 2 and "auditor" in bad.stderr


def test_peak_and_blackout_days_are_set_and_shown_with_their_prices(url):
    run("site", "--code", "S1", "--name-zh", "景区", "--name-en", "Scenic", url=url)
    assert (
        run("calendar", "set", "--site", "S1", "--day", "2026-12-24", "--peak", url=url).returncode
        == 0
    )
    assert (
        run(
            "calendar", "set", "--site", "S1", "--day", "2026-12-25", "--closed", url=url
        ).returncode
        == 0
    )
    shown = run("calendar", "show", "--site", "S1", "--from", "2026-12-01", "--to", "2026-12-31",
                "--json", url=url)  # fmt: skip
    assert [(d["day"], d["peak"], d["closed"]) for d in json.loads(shown.stdout)] == [
        ("2026-12-24", True, False),
        ("2026-12-25", False, True),
    ]
    bad = run("calendar", "set", "--site", "S1", "--day", "24/12", url=url)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
