"""gatectl doctor: every fault an installer can meet is named, with a fix and the exit code of
the worst result. The broker is a real Mosquitto; disk usage, systemctl and the clock are the
doctor's I/O edges (``Probes``), seeded per test."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import typer
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from gate_node.clock import ClockFloor
from keys.clock import ManualClock
from keys.keyring import IssuerKey, sign_keyring
from keys.signed_document import sign_document
from provisioning.cli import app
from provisioning.doctor import Probes, run_doctor
from simulators.broker import PASSWORD, Broker
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state
from tests.mqtt.certificates import authority, issue

pytestmark = pytest.mark.mqtt
GIB = 2**30
HEALTHY_SYSTEMD = "ActiveState=active\nWatchdogUSec=10s\nNRestarts=0\n"


@pytest.fixture
def broker(tmp_path):
    running = Broker(tmp_path / "broker", users=["cloud", "G1"]).start()
    yield running
    running.stop()


def node(tmp_path: Path, root_key, issuer_key, broker: Broker, password: str = PASSWORD, **extra):
    """A node linked to ``broker``, its clock floor saved at TEST_AT."""
    settings = {"host": "127.0.0.1", "port": broker.port, "username": "G1"}
    state = make_state(
        tmp_path / "node",
        root_key,
        issuer_key,
        broker={**settings, **extra.pop("tls", {})},
        **extra,
    )
    secret = state.directory / "broker.password"
    secret.write_text(password)
    secret.chmod(0o600)
    floor = ClockFloor(state.clock_path, ManualClock(TEST_AT))
    floor.advance_to(TEST_AT)
    return state


def publish_retained(broker: Broker, topic: str, raw: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set("cloud", PASSWORD)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.publish(topic, raw, qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def cloud_documents(broker: Broker, root_key, issuer_key, keyring_seq=1, heads=None) -> None:
    """What the cloud's downlink service leaves retained: the keyring and a signed heartbeat."""
    keyring = sign_keyring(
        root_key, [IssuerKey(issuer_key.kid, issuer_key.public_key)], site="S1", seq=keyring_seq
    )
    publish_retained(broker, "scenic/S1/down/keyring", keyring)
    beat = sign_document(root_key, "time", "S1", 1, {"heads": heads or {}}, issued_at=TEST_AT)
    publish_retained(broker, "scenic/S1/down/time", beat)


def probes(**seeded) -> Probes:
    defaults = {
        "clock": ManualClock(TEST_AT),
        "disk_usage": lambda path: (16 * GIB, 2 * GIB, 14 * GIB),
        "run": lambda argv: (0, HEALTHY_SYSTEMD),
        "broker_timeout_s": 5.0,
    }
    return Probes(**{**defaults, **seeded})


def diagnose(state, capsys, probe: Probes) -> tuple[int, dict[str, dict]]:
    with pytest.raises(typer.Exit) as done:
        run_doctor(state.directory, True, probe)
    report = json.loads(capsys.readouterr().out)
    return done.value.exit_code, {check["check"]: check for check in report["checks"]}


def test_a_healthy_node_passes_every_check(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker)
    cloud_documents(broker, root_key, issuer_key)
    code, checks = diagnose(state, capsys, probes())
    assert {name: c["status"] for name, c in checks.items()} == dict.fromkeys(
        ("clock", "broker", "tls", "keyring", "revocations", "disk", "backlog", "service"), "pass"
    )
    assert code == 0


def test_broker_down_is_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker)
    broker.stop()
    code, checks = diagnose(state, capsys, probes())
    assert (
        checks["broker"]["status"] == "fail" and "broker_unreachable" in checks["broker"]["detail"]
    )
    assert "Mosquitto" in checks["broker"]["fix"] and code == 1


def test_a_wrong_broker_password_is_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker, password="not-the-password-at-all")
    code, checks = diagnose(state, capsys, probes())
    assert checks["broker"]["status"] == "fail" and "bad_credentials" in checks["broker"]["detail"]
    assert code == 1


def test_a_broker_not_vouched_for_by_the_pinned_ca_is_named(tmp_path, root_key, issuer_key, capsys):
    ca = authority(tmp_path / "pki")
    cert, key = issue(ca, tmp_path / "pki", "broker", server=True)
    tls_broker = Broker(tmp_path / "tls-broker", users=["G1"], tls=(ca.pem, cert, key)).start()
    try:
        other = authority(tmp_path / "other", "Another CA")
        state = node(
            tmp_path,
            root_key,
            issuer_key,
            tls_broker,
            tls={"port": tls_broker.tls_port, "tls_ca": str(other.pem)},
        )
        code, checks = diagnose(state, capsys, probes())
    finally:
        tls_broker.stop()
    assert "tls_untrusted_broker" in checks["broker"]["detail"] and code == 1


def test_a_stale_keyring_is_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker)
    cloud_documents(broker, root_key, issuer_key, keyring_seq=7)  # the node holds seq 1
    code, checks = diagnose(state, capsys, probes())
    assert checks["keyring"]["status"] == "fail" and "stale" in checks["keyring"]["detail"]
    assert code == 1


def test_revocations_the_node_missed_are_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker)
    cloud_documents(broker, root_key, issuer_key, heads={"revocations": 3})
    code, checks = diagnose(state, capsys, probes())
    assert checks["revocations"]["status"] == "fail"
    assert "revocations None < 3" in checks["revocations"]["detail"] and code == 1


def test_a_full_disk_is_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker)
    cloud_documents(broker, root_key, issuer_key)
    full = probes(disk_usage=lambda path: (16 * GIB, 16 * GIB - 50 * 2**20, 50 * 2**20))
    code, checks = diagnose(state, capsys, full)
    assert checks["disk"]["status"] == "fail" and "50 MB free" in checks["disk"]["detail"]
    assert code == 1


def test_a_clock_behind_the_floor_is_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker)
    cloud_documents(broker, root_key, issuer_key)
    behind = probes(clock=ManualClock(TEST_AT - timedelta(days=3)))
    code, checks = diagnose(state, capsys, behind)
    assert checks["clock"]["status"] == "fail" and "3 days behind" in checks["clock"]["detail"]
    assert "timedatectl" in checks["clock"]["fix"] and code == 1


def test_a_missing_camera_is_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker, camera="file:/nowhere/frame.png")
    cloud_documents(broker, root_key, issuer_key)
    code, checks = diagnose(state, capsys, probes())
    assert checks["camera"]["status"] == "fail" and "camera missing" in checks["camera"]["detail"]
    assert code == 1


def test_a_stopped_service_is_named(tmp_path, root_key, issuer_key, broker, capsys):
    state = node(tmp_path, root_key, issuer_key, broker)
    cloud_documents(broker, root_key, issuer_key)
    stopped = probes(run=lambda argv: (0, "ActiveState=failed\nWatchdogUSec=10s\n"))
    code, checks = diagnose(state, capsys, stopped)
    assert checks["service"]["status"] == "fail" and "failed" in checks["service"]["detail"]
    assert code == 1


def test_a_service_without_its_watchdog_is_a_warning_exit_3(
    tmp_path, root_key, issuer_key, broker, capsys
):
    state = node(tmp_path, root_key, issuer_key, broker)
    cloud_documents(broker, root_key, issuer_key)
    no_watchdog = probes(run=lambda argv: (0, "ActiveState=active\nWatchdogUSec=0\n"))
    code, checks = diagnose(state, capsys, no_watchdog)
    assert checks["service"]["status"] == "warn" and "watchdog off" in checks["service"]["detail"]
    assert code == 3


def test_no_node_state_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["doctor", "--state-dir", str(tmp_path / "none")])
    assert result.exit_code == 2 and "not a node state directory" in result.output
