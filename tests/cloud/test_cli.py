"""scenic-cloud as an operator runs it: keys, an admin, a site, the server; one-line errors."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keys.clock import ENVIRONMENT_VARIABLE as CLOCK_AT
from simulators.broker import free_port
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


def one_line_failure(result: subprocess.CompletedProcess[str], code: int) -> None:
    """The CLI rule: exit ``code``, exactly one line on stderr, bilingual, no traceback."""
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and " / " in result.stderr


@pytest.fixture(scope="module")
def keyed(tmp_path_factory) -> dict[str, str]:
    """A cloud state with keys (scenic-cloud keys init) and an SQLite database URL."""
    folder = tmp_path_factory.mktemp("cloud")
    env = {
        **os.environ,
        "SCENIC_STATE_DIR": str(folder / "state"),
        "SCENIC_KEY_PASSPHRASE": "a long cloud passphrase",
        "SCENIC_DB_URL": f"sqlite:///{folder / 'c.sqlite'}",
    }
    assert run("keys", "init", env=env).returncode == 0
    return env


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["migrate", "--db", "foo://bar"], 2, "is not usable"),
        (["migrate", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x"], 1, "unreachable"),
        (["admin", "create", "--username", "x", "--role", "bogus"], 2, "角色无效"),
        (
            [
                "device",
                "add",
                "--site",
                "S1",
                "--node",
                "G1",
                "--public-key",
                "k.pem",
                "--kind",
                "bogus",
            ],
            2,
            "设备类型无效",
        ),
        *(
            (
                ["device", "add", "--site", "S1", "--node", node, "--public-key", "k.pem"],
                2,
                "设备编号无效",
            )
            for node in ("G+1", "cloud", "site-S1")  # not a topic level; another user's name
        ),
        (["partner", "--name", "x", "--scope", "refund"], 2, "未知权限范围"),
        (["batch", "export", "2026112400000000", "--out", "/nonexistent/x.csv"], 2, "not found"),
        (["keys", "retire", "I9"], 2, "No issuer key I9"),
        (["keys", "seal", "paypal", "--from", "x"], 2, "密钥名称无效"),
        (["no-such-command"], 2, "用法有误"),
        (["site", "--code", "S2"], 2, "Missing option"),
    ],
)
def test_each_failure_is_one_bilingual_line_and_a_documented_code(keyed, args, code, words):
    result = run(*args, env=keyed)
    one_line_failure(result, code)
    assert words in result.stderr


def test_the_exit_codes_are_in_the_help(keyed):
    shown = run("--help", env=keyed)
    assert shown.returncode == 0 and "Exit codes / 退出码" in shown.stdout
    assert "3 serve cannot listen" in " ".join(shown.stdout.split())


@pytest.mark.parametrize(
    ("registry", "words"),
    [
        ('{"keys": {"I1": "active", "I2": "active"}}', "active: I1, I2"),
        ('{"keys": {"I1": "signing"}}', "must be"),
        ("not json at all", "must be"),
    ],
)
def test_serve_with_a_bad_or_ambiguous_issuers_json_is_one_line(tmp_path, keyed, registry, words):
    env = {**keyed, "SCENIC_STATE_DIR": str(tmp_path / "state")}
    assert run("keys", "init", env=env).returncode == 0
    (tmp_path / "state" / "keys" / "issuers.json").write_text(registry)
    result = run("serve", "--port", str(free_port()), env=env)
    one_line_failure(result, 2)
    assert "issuers.json" in result.stderr and words in result.stderr


def test_serve_on_a_busy_port_is_one_line_and_exit_3(keyed):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        result = run("serve", "--port", str(holder.getsockname()[1]), env=keyed)
    one_line_failure(result, 3)
    assert "in use" in result.stderr


def test_the_missing_passphrase_advice_names_an_option_serve_has(keyed):
    env = {k: v for k, v in keyed.items() if not k.startswith("SCENIC_KEY_PASSPHRASE")}
    result = run("serve", env=env)
    one_line_failure(result, 2)
    assert "--passphrase-file" in result.stderr
    assert "--passphrase-file" in run("serve", "--help", env=keyed).stdout
    passphrase = Path(keyed["SCENIC_STATE_DIR"]).parent / "passphrase"
    passphrase.write_text("a long cloud passphrase\n")
    passphrase.chmod(0o600)
    with socket.socket() as holder:  # reach the listen step: the passphrase was accepted
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        result = run("serve", "--port", port, "--passphrase-file", str(passphrase), env=env)
    one_line_failure(result, 3)


@pytest.mark.parametrize("command", ["ingest", "downlink"])
def test_an_mqtt_worker_without_a_broker_says_so_within_seconds_and_exits_1(keyed, command):
    env = {**keyed, "SCENIC_BROKER_HOST": "127.0.0.1", "SCENIC_BROKER_PORT": str(free_port())}
    result = run(command, "--connect-timeout", "1", env=env)
    one_line_failure(result, 1)
    assert "did not accept the connection within 1 s" in result.stderr


@pytest.fixture
def festival(tmp_path, office, keyed) -> dict[str, str]:
    """A keyed cloud over the office's catalogue (the batch needs a day with places)."""
    return {**keyed, "SCENIC_DB_URL": str(office.sessions.kw["bind"].url)}


def taken(office) -> int:
    from cloud.models import Inventory

    with office.sessions() as db:
        stock = db.get(Inventory, office.day_ticket)
        assert stock is not None
        return stock.taken


def batch(env, office, out: Path, count: int = 5) -> subprocess.CompletedProcess[str]:
    return run(
        *("issue-batch", "--inventory-id", str(office.day_ticket), "--count", str(count)),
        *("--out", str(out)),
        env=env,
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_issue_batch_writes_a_private_csv_that_batch_export_writes_again(
    tmp_path, office, festival
):
    made = batch(festival, office, tmp_path / "codes.csv")
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "codes.csv").stat().st_mode & 0o777 == 0o600
    order_no = re.search(r"order (\d+): 5 tickets", made.stdout).group(1)
    again = run("batch", "export", order_no, "--out", str(tmp_path / "again.csv"), env=festival)
    assert again.returncode == 0, again.stderr
    first = (tmp_path / "codes.csv").read_text().splitlines()
    assert len(first) == 6 and (tmp_path / "again.csv").read_text().splitlines() == first
    assert (tmp_path / "again.csv").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_issue_batch_refuses_to_overwrite_a_file_and_takes_no_places(tmp_path, office, festival):
    (tmp_path / "codes.csv").write_text("the codes of yesterday's batch\n")
    refused = batch(festival, office, tmp_path / "codes.csv")
    one_line_failure(refused, 2)
    assert "refusing to overwrite" in refused.stderr
    assert (tmp_path / "codes.csv").read_text() == "the codes of yesterday's batch\n"
    assert taken(office) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_issue_batch_that_cannot_write_its_output_takes_no_places(tmp_path, office, festival):
    refused = batch(festival, office, tmp_path / "no-such-folder" / "codes.csv")
    one_line_failure(refused, 1)
    assert "cannot create" in refused.stderr and taken(office) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refused_batch_leaves_no_empty_file(tmp_path, office, festival):
    refused = batch(festival, office, tmp_path / "codes.csv", count=5000)  # 1,000 places left
    one_line_failure(refused, 2)
    assert not (tmp_path / "codes.csv").exists() and taken(office) == 0


@pytest.mark.parametrize(
    ("channels", "words"),
    [("{not json", "is not valid JSON"), ('{"wechat": {}}', "lacks the field 'mchid'")],
)
def test_serve_with_a_bad_channels_json_is_one_line(tmp_path, keyed, channels, words):
    env = {**keyed, "SCENIC_STATE_DIR": str(tmp_path / "state")}
    assert run("keys", "init", env=env).returncode == 0
    (tmp_path / "state" / "channels.json").write_text(channels)
    result = run("serve", "--port", str(free_port()), env=env)
    one_line_failure(result, 2)
    assert words in result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_batch_that_stopped_half_way_is_resumed_by_the_number_it_announced(
    tmp_path, office, festival
):
    from cloud.services.batch import issue_batch
    from tests.conftest import TEST_AT

    class PowerCut(Exception):
        pass

    def cut(done: int) -> None:
        raise PowerCut  # the places are taken and the order recorded; no ticket yet

    announced: list[str] = []
    with pytest.raises(PowerCut):
        issue_batch(
            office.sessions,
            office.issuer,
            inventory_id=office.day_ticket,
            price_type="adult",
            count=5,
            actor="test",
            now=TEST_AT,
            progress=cut,
            when_ordered=announced.append,
        )
    (order_no,) = announced
    partial = run("batch", "export", order_no, "--out", str(tmp_path / "partial.csv"), env=festival)
    assert partial.returncode == 1 and "incomplete batch: 0 of 5" in partial.stderr
    assert f"batch resume {order_no}" in partial.stderr
    resumed = run("batch", "resume", order_no, "--out", str(tmp_path / "all.csv"), env=festival)
    assert resumed.returncode == 0, resumed.stderr
    assert len((tmp_path / "all.csv").read_text().splitlines()) == 6  # header and 5 codes
    assert taken(office) == 5  # the places were taken once
    again = run("batch", "resume", order_no, "--out", str(tmp_path / "again.csv"), env=festival)
    assert again.returncode == 0 and "(0 new)" in again.stdout


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://someone:secret@db.example/x", "driver that is not installed"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:///{folder}/words.txt", "cannot be used: file is not a database"),
        ("sqlite:////proc/no-such-folder/c.sqlite", "cannot be made"),
    ],
)
@pytest.mark.parametrize("command", [["migrate"], ["holds", "expire"]])
def test_a_database_that_cannot_be_used_is_named_in_one_line(keyed, tmp_path, url, words, command):
    (tmp_path / "words.txt").write_text("this is a shopping list, not a database\n" * 50)
    result = run(*command, "--db", url.format(folder=tmp_path), env=keyed)
    one_line_failure(result, 2)
    assert words in result.stderr
    assert "secret" not in result.stderr  # a password in the URL never reaches the screen


def test_sealing_a_file_that_is_not_a_key_is_refused(keyed, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("call the bank on monday\n")
    for name in ("wechat-merchant", "alipay-app", "wechat-apiv3"):
        result = run("keys", "seal", name, "--from", str(notes), env=keyed)
        one_line_failure(result, 2)
        assert "key" in result.stderr


def test_a_real_merchant_key_and_apiv3_key_are_sealed(keyed, tmp_path):
    pem = tmp_path / "merchant.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    apiv3 = tmp_path / "apiv3.txt"
    apiv3.write_text("0123456789abcdefABCDEF0123456789\n")
    assert run("keys", "seal", "wechat-merchant", "--from", str(pem), env=keyed).returncode == 0
    assert run("keys", "seal", "wechat-apiv3", "--from", str(apiv3), env=keyed).returncode == 0


def test_keys_init_makes_the_face_key_and_face_init_makes_it_once_for_an_older_install(
    tmp_path,
):
    from cloud.services.cloud_keys import load_face_key

    env = {
        **os.environ,
        "SCENIC_STATE_DIR": str(tmp_path / "state"),
        "SCENIC_KEY_PASSPHRASE": "a long cloud passphrase",
    }
    assert run("keys", "init", env=env).returncode == 0
    face = tmp_path / "state" / "keys" / "face.secret"
    assert face.stat().st_mode & 0o777 == 0o600
    assert load_face_key(tmp_path / "state", b"a long cloud passphrase") is not None
    made_before = face.read_bytes()
    again = run("keys", "face-init", env=env)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert face.read_bytes() == made_before
    face.unlink()  # an install made before face bindings
    assert load_face_key(tmp_path / "state", b"a long cloud passphrase") is None
    made = run("keys", "face-init", env=env)
    assert made.returncode == 0 and "face.secret" in made.stdout, made.stderr
    assert "site configs signed with the face key: 0" in made.stdout
    assert load_face_key(tmp_path / "state", b"a long cloud passphrase") is not None
