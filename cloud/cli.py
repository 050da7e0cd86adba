"""scenic-cloud: the cloud's command line: migrate the database, serve the API (and expire unpaid
holds), run the MQTT workers, register gate nodes, keys, staff, partners, festival batches.

Thin typer commands over cloud/ services. Errors are one line on stderr (English / 中文,
keys/cli_exit.py), never a traceback; the exit codes are in EXIT_CODES (shown by --help).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn, TextIO

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.config import ConfigError, Settings
from cloud.core.errors import Problem
from cloud.db import make_engine, session_factory
from cloud.migrate import upgrade
from cloud.models import Device
from cloud.mqtt.broker_client import BrokerClient
from cloud.mqtt.ingest_worker import IngestWorker
from cloud.services.ingest import Ingest
from keys import clock, keystore, topics
from keys.cli_exit import EXIT_FAILED, EXIT_USAGE, run_app
from keys.cli_exit import fail as fail_with
from keys.clock import from_environment
from keys.keystore import KeyStoreError

EXIT_NO_LISTEN = 3
EXIT_CODES = (
    "Exit codes / 退出码: 0 done; 1 failed at run time (database or broker unreachable, an "
    "output file cannot be written, an unexpected error); 2 usage or configuration error "
    "(arguments, database URL, keys, passphrase, issuers.json, a refusal such as sold out); "
    "3 serve cannot listen on its address (port in use or not permitted)."
)

app = typer.Typer(
    help="Scenic-area ticket office cloud. 景区票务云端。",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
devices = typer.Typer(help="Gate node registry. 闸机设备登记。", no_args_is_help=True)
app.add_typer(devices, name="device")
keys_app = typer.Typer(help="The cloud's keys and secrets. 云端密钥。", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
admin = typer.Typer(help="Staff accounts. 员工账号。", no_args_is_help=True)
app.add_typer(admin, name="admin")
holds_app = typer.Typer(help="Unpaid orders' holds. 未支付订单的占座。", no_args_is_help=True)
app.add_typer(holds_app, name="holds")
batches = typer.Typer(help="Festival batches. 批量出票。", no_args_is_help=True)
app.add_typer(batches, name="batch")

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (else $SCENIC_DB_URL)")]
ConnectTimeout = Annotated[
    float, typer.Option(help="Seconds to wait for the broker at start before exit 1", min=0.1)
]
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        help=f"File (mode 0600) holding the cloud passphrase; else "
        f"${keystore.PASSPHRASE_FILE_ENV} or ${keystore.PASSPHRASE_ENV}"
    ),
]


def fail(message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    fail_with("scenic-cloud", message, code, zh)


def _settings(db: str | None, sandbox: bool | None = None) -> Settings:
    """The environment's settings, with the command line's ``--db`` and ``--sandbox`` over
    them (refused like the environment's own: one line, exit 2)."""
    try:
        settings = Settings.from_env()
        if db:
            settings = replace(settings, db_url=db)
        if sandbox is not None:
            settings = replace(settings, sandbox=sandbox)
    except ConfigError as exc:
        fail(str(exc), zh="配置有误")
    return settings


def _where(db_url: str) -> str:
    """A database URL without its credentials, for messages."""
    return db_url.split("@")[-1]


@contextmanager
def _database(settings: Settings) -> Iterator[None]:
    """Database trouble as one line: an unusable URL is a usage error (2), an unreachable or
    failing database a run-time one (1)."""
    try:
        yield
    except ArgumentError as exc:  # includes NoSuchModuleError: foo:// is no dialect
        fail(
            f"database URL {_where(settings.db_url)!r} is not usable ({exc}); "
            "e.g. sqlite:///cloud.sqlite or postgresql+psycopg://user@host/db",
            zh="数据库地址无效",
        )
    except OperationalError as exc:
        fail(f"database unreachable: {exc.orig}", EXIT_FAILED, zh="数据库无法连接")


def _passphrase(passphrase_file: Path | None, *, creating: bool = False) -> bytes:
    try:
        return keystore.passphrase_from(passphrase_file, creating=creating)
    except KeyStoreError as exc:
        fail(str(exc))


@app.command()
def migrate(db: DbOption = None) -> None:
    """Apply database migrations. 升级数据库结构。"""
    settings = _settings(db)
    with _database(settings):
        upgrade(settings.db_url)
    typer.echo(f"database at head: {_where(settings.db_url)}")


@app.command()
def ingest(
    worker_id: Annotated[str, typer.Option(help="Unique per worker (its MQTT session)")] = "1",
    root_key: Annotated[Path | None, typer.Option(help="Root key file (signs acks)")] = None,
    db: DbOption = None,
    batch_max: Annotated[int, typer.Option(help="Events per transaction at most")] = 500,
    connect_timeout: ConnectTimeout = 5.0,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Run one ingest worker until SIGTERM; run several for more throughput. 事件入库。"""

    def worker(settings: Settings, root: keystore.SigningKey, engine: Engine) -> BrokerClient:
        clock = from_environment()
        ingest = Ingest(engine, session_factory(engine), settings.site_timezone, clock)
        return IngestWorker(
            ingest,
            root,
            settings.broker_host,
            settings.broker_port,
            worker_id,
            settings.broker_username,
            settings.broker_password,
            batch_max=batch_max,
            clock=clock,
        )

    _serve(db, root_key, worker, connect_timeout, passphrase_file)


@app.command()
def downlink(
    root_key: Annotated[Path | None, typer.Option(help="Root key file (signs documents)")] = None,
    db: DbOption = None,
    time_every: Annotated[float, typer.Option(help="Seconds between signed time")] = 60.0,
    connect_timeout: ConnectTimeout = 5.0,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Answer gates' requests, track their links, publish signed time. 下行服务。"""
    from cloud.mqtt.downlink_service import DownlinkService

    def service(settings: Settings, root: keystore.SigningKey, engine: Engine) -> BrokerClient:
        return DownlinkService(
            session_factory(engine),
            root,
            settings.broker_host,
            settings.broker_port,
            settings.broker_username,
            settings.broker_password,
            time_every_s=time_every,
            clock=from_environment(),
        )

    _serve(db, root_key, service, connect_timeout, passphrase_file)


def _serve(
    db: str | None,
    root_key: Path | None,
    make: Callable[[Settings, keystore.SigningKey, Engine], BrokerClient],
    connect_timeout: float,
    passphrase_file: Path | None,
) -> None:
    """Run one MQTT service of the cloud until SIGTERM/SIGINT, with JSON logs. A broker that
    does not accept the connection within ``connect_timeout`` seconds is one line and exit 1
    (systemd restarts the unit); once connected, paho reconnects by itself."""
    from keys import logs

    settings = _settings(db)
    root = _root_key(root_key, settings, passphrase_file)
    with _database(settings):
        engine = make_engine(settings.db_url)
    logs.setup()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = make(settings, root, engine)
    unreachable = threading.Event()

    def watch_connection() -> None:
        if not service.connected.wait(connect_timeout) and not stop.is_set():
            unreachable.set()
            stop.set()

    threading.Thread(target=watch_connection, daemon=True).start()
    try:
        service.run(stop)
    finally:
        engine.dispose()
    if unreachable.is_set():
        fail(
            f"broker {settings.broker_host}:{settings.broker_port} did not accept the "
            f"connection within {connect_timeout:g} s (not running, wrong address or "
            "credentials; see SCENIC_BROKER_HOST, SCENIC_BROKER_PORT)",
            EXIT_FAILED,
            zh="无法连接消息服务器",
        )


@contextmanager
def _transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on the configured database, migrated first; the engine is closed after.
    An unreachable database is one line and exit 1; a refusal from the services, exit 2."""
    with _database(settings):
        engine = make_engine(settings.db_url)
        try:
            upgrade(settings.db_url)
            with session_factory(engine).begin() as session:
                yield session
        except Problem as exc:
            fail(f"{exc.en} / {exc.zh}")
        finally:
            engine.dispose()


def _root_key(
    path: Path | None, settings: Settings, passphrase_file: Path | None
) -> keystore.SigningKey:
    key_path = path or settings.state_dir / "keys" / "root.key"
    try:
        return keystore.load(key_path, _passphrase(passphrase_file))
    except KeyStoreError as exc:
        missing = path is None and not key_path.exists()
        fail(f"{exc}" + (" (run: scenic-cloud keys init)" if missing else ""))


DEVICE_KINDS = ("tripod", "wing", "swing", "handheld")  # the gate kinds of gate_node/state.py


@devices.command("add")
def device_add(
    site: Annotated[str, typer.Option(help="Site id")],
    node: Annotated[str, typer.Option(help="Node id")],
    public_key: Annotated[Path, typer.Option(help="The node's identity public key (PEM)")],
    kind: Annotated[str, typer.Option(help="tripod | wing | swing | handheld")] = "tripod",
    zone: Annotated[int, typer.Option(help="Zone id")] = 0,
    db: DbOption = None,
) -> None:
    """Register a gate node's identity key. 登记闸机公钥。"""
    if kind not in DEVICE_KINDS:
        fail(f"kind must be one of {', '.join(DEVICE_KINDS)}", zh="设备类型无效")
    if not (topics.valid_name(site) and topics.valid_node(node)):  # topic levels; node: username
        fail(
            "site and node must be 1-32 letters, digits, - or _ (a node not cloud or site-...)",
            zh="景区或设备编号无效",
        )
    settings = _settings(db)
    try:
        key = keystore.load_public_pem(public_key)
    except KeyStoreError as exc:
        fail(str(exc))
    try:
        with _transaction(settings) as session:
            session.add(
                Device(
                    site=site, node=node, kind=kind, zone=zone, public_key=keystore.raw_public(key)
                )
            )
    except IntegrityError:
        fail(f"node {node} of site {site} is already registered / 设备已登记")
    typer.echo(f"registered {site}/{node} ({kind}), key {keystore.fingerprint(key)}")


def _clock() -> clock.Clock:
    """The machine's clock, or ``$SCENIC_CLOCK_AT`` (keys/clock.py) for a demo at a set hour."""
    try:
        return clock.from_environment()
    except ValueError as exc:
        fail(str(exc))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port", min=0, max=65535)] = 8000,
    db: DbOption = None,
    expire_every: Annotated[
        float | None,
        typer.Option(help="Seconds between hold expiry passes; 0: off (else settings, 30)"),
    ] = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Turn on the sandbox payment channel (tickets without money: demos and tests; "
            "refused with SCENIC_ENV=production). Also SCENIC_SANDBOX=1",
        ),
    ] = False,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Run the HTTP API (migrations applied first); unpaid holds expire while it runs.
    启动票务服务。

    The issuer key follows keys/issuers.json: after `scenic-cloud keys rotate`, new tickets
    carry the new kid without a restart."""
    import uvicorn

    from cloud.api.app import create_app
    from cloud.api.context import from_settings
    from cloud.mqtt.api_publisher import ApiPublisher
    from cloud.services.holds import Expirer
    from keys import logs

    settings = _settings(db, sandbox=sandbox or None)
    every = settings.hold_expiry_every_s if expire_every is None else expire_every
    if every < 0:
        fail("--expire-every must not be negative / 间隔不能为负")
    wall = _clock()
    passphrase = _passphrase(passphrase_file)
    try:
        with _database(settings):
            upgrade(settings.db_url)
            context = from_settings(settings, passphrase, wall)
    except KeyStoreError as exc:
        missing = not (settings.state_dir / "keys" / "root.key").exists()
        fail(f"{exc}" + (" (run: scenic-cloud keys init)" if missing else ""))
    except Problem as exc:  # issuers.json names no single active key
        fail(f"{exc.en} / {exc.zh}")
    except ConfigError as exc:  # channels.json
        fail(str(exc))
    listening = _listen(host, port)
    logs.setup()
    publisher = ApiPublisher(settings)  # refunds and changes reach the gates at once
    context.publish, context.clock = publisher, wall
    expirer = Expirer(context.sessions, wall.now, every) if every > 0 else None
    if expirer is not None:
        expirer.start()
    # proxy_headers=False: the app alone decides whom to believe (SCENIC_TRUSTED_PROXIES,
    # cloud/api/client.py); uvicorn's own handling trusts 127.0.0.1 by default.
    config = uvicorn.Config(create_app(context), log_config=None, proxy_headers=False)
    logging.getLogger("cloud").info("serving on http://%s:%d", host, listening.getsockname()[1])
    try:
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        if expirer is not None:
            expirer.stop()
        publisher.close()
        listening.close()


def _listen(host: str, port: int) -> socket.socket:
    """Bind the API's socket here, so a busy port is one line and EXIT_NO_LISTEN rather than
    uvicorn's log lines; uvicorn then serves on this socket."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        listening = socket.socket(family, kind, proto)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}", EXIT_NO_LISTEN, zh="无法监听该地址")
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(2048)
    except OSError as exc:
        listening.close()
        busy = " (another process holds it; try --port)" if exc.errno == errno.EADDRINUSE else ""
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror}{busy}",
            EXIT_NO_LISTEN,
            zh="端口已被占用或无权监听",
        )
    return listening


@holds_app.command("expire")
def holds_expire(
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Expire unpaid orders past their hold once, giving their places back (for a timer when
    several workers serve; serve does it too). 释放超时未支付订单的名额。"""
    import json

    from cloud.services.holds import sweep

    settings = _settings(db)
    wall = _clock()
    engine = make_engine(settings.db_url)
    try:
        expired = sweep(session_factory(engine), wall.now)
    except OperationalError as exc:
        fail(f"database unreachable: {exc.orig} / 数据库无法连接", EXIT_FAILED)
    finally:
        engine.dispose()
    if json_out:
        typer.echo(json.dumps({"expired": expired}))
    else:
        typer.echo(f"expired {expired} unpaid order(s) / 已释放{expired}个超时订单")


@app.command("site")
def site_add(
    code: Annotated[str, typer.Option(help="Site code, e.g. S1")],
    name_zh: Annotated[str, typer.Option(help="Chinese name")],
    name_en: Annotated[str, typer.Option(help="English name")],
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Asia/Shanghai",
    db: DbOption = None,
) -> None:
    """Add a site (景区) so products and gates can belong to it."""
    from cloud.services.sites import add_site

    with _transaction(_settings(db)) as session:
        add_site(session, code, name_zh, name_en, timezone)
    typer.echo(f"site {code} ({name_zh} / {name_en}, {timezone}) added")


@app.command("issue-batch")
def issue_batch_command(
    inventory_id: Annotated[int, typer.Option(help="Day (and slot) to issue for")],
    count: Annotated[int, typer.Option(help="How many tickets")],
    out: Annotated[
        Path, typer.Option(help="CSV of ticket numbers and QR texts to create (mode 0600)")
    ],
    price_type: Annotated[str, typer.Option(help="Price type")] = "adult",
    actor: Annotated[str, typer.Option(help="Who asked (audit log)")] = "operator",
    db: DbOption = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Issue a festival batch with a progress bar, and write the codes to a CSV. 批量出票。

    The CSV is created before any place is taken (an existing file is never overwritten) and
    holds valid tickets, so it is mode 0600. `scenic-cloud batch export` writes it again."""

    from rich.progress import Progress

    from cloud.api.context import from_settings
    from cloud.services.batch import issue_batch

    settings = _settings(db)
    passphrase = _passphrase(passphrase_file)
    try:
        with _database(settings):
            context = from_settings(settings, passphrase)
    except KeyStoreError as exc:
        fail(str(exc))
    except Problem as exc:
        fail(f"{exc.en} / {exc.zh}")
    handle = _create_csv(out)
    try:
        with Progress() as bar, _database(settings):
            task = bar.add_task("issuing / 出票", total=count)
            batch = issue_batch(
                context.sessions,
                context.issuer,
                inventory_id=inventory_id,
                price_type=price_type,
                count=count,
                actor=actor,
                now=from_environment().now(),
                progress=lambda done: bar.update(task, completed=done),
            )
    except Problem as exc:
        handle.close()
        out.unlink()  # nothing was taken: leave no empty file behind
        fail(f"{exc.en} / {exc.zh}")
    except BaseException:
        handle.close()
        out.unlink()
        raise
    _write_codes(handle, context.sessions, batch.order_no, out)
    typer.echo(f"order {batch.order_no}: {batch.issued} tickets -> {out}")


@batches.command("export")
def batch_export(
    order_no: Annotated[str, typer.Argument(help="The batch's order number")],
    out: Annotated[Path, typer.Option(help="CSV to create (mode 0600, never overwritten)")],
    db: DbOption = None,
) -> None:
    """Write a batch's codes again from the database (every ticket's text is stored). 重新导出。"""
    from cloud.services.batch import find_batch

    settings = _settings(db)
    with _database(settings):
        engine = make_engine(settings.db_url)
        upgrade(settings.db_url)
        sessions = session_factory(engine)
        try:
            batch = find_batch(sessions, order_no)
        except Problem as exc:
            fail(f"{exc.en}: {order_no} / {exc.zh}")
        _write_codes(_create_csv(out), sessions, order_no, out)
    engine.dispose()
    typer.echo(f"order {order_no}: {batch.issued} tickets -> {out}")


def _create_csv(path: Path) -> TextIO:
    """Create ``path`` for ticket codes: new (never overwrite), mode 0600, or one line."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(
            f"{path} exists; refusing to overwrite it (export again with a new name: "
            "scenic-cloud batch export ORDER --out FILE)",
            zh="文件已存在，不会覆盖",
        )
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror}", EXIT_FAILED, zh="无法创建文件")
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def _write_codes(handle: TextIO, sessions: sessionmaker[Session], order_no: str, out: Path) -> None:
    import csv

    from cloud.services.batch import batch_tickets

    try:
        with handle:
            writer = csv.writer(handle)
            writer.writerow(["ticket_no", "qr_text"])
            writer.writerows(batch_tickets(sessions, order_no))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        fail(
            f"cannot write {out}: {exc.strerror}; the tickets are issued: "
            f"scenic-cloud batch export {order_no} --out FILE",
            EXIT_FAILED,
            zh="写入失败，票已出，可重新导出",
        )


@app.command("partner")
def partner_add(
    name: Annotated[str, typer.Option(help="Partner system, e.g. parking, hotel-pms")],
    scope: Annotated[list[str] | None, typer.Option(help="What it may do: verify")] = None,
    db: DbOption = None,
) -> None:
    """Make an API key for a partner system; shown once, stored hashed. 合作方接口密钥。"""
    from cloud.core.security import new_token, token_hash
    from cloud.models import ApiKey

    scopes = sorted(set(scope or ["verify"]))
    unknown = set(scopes) - {"verify"}
    if unknown:
        fail(f"unknown scope(s): {', '.join(sorted(unknown))}; known: verify", zh="未知权限范围")
    key = new_token()
    with _transaction(_settings(db)) as session:
        session.add(ApiKey(partner=name, key_hash=token_hash(key), scopes=scopes))
    typer.echo(f"API key for {name} ({', '.join(scopes)}), shown once / 仅显示一次:")
    typer.echo(key)


@keys_app.command("init")
def keys_init(passphrase_file: PassphraseFile = None) -> None:
    """Make the root and issuer keys and the data, holder and sandbox secrets (encrypted)."""
    from cloud.api.context import init_keys

    settings = _settings(None)
    passphrase = _passphrase(passphrase_file, creating=True)
    try:
        made = init_keys(settings.state_dir, passphrase)
    except KeyStoreError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot create {exc.filename}: {exc.strerror}", EXIT_FAILED, zh="无法创建文件")
    for path in made:
        typer.echo(f"made {path}")


@keys_app.command("seal")
def keys_seal(
    name: Annotated[str, typer.Argument(help="wechat-merchant | wechat-apiv3 | alipay-app")],
    source: Annotated[
        Path, typer.Option("--from", help="File holding the secret (then delete it)")
    ],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Bring a payment channel's secret in, encrypted with the cloud passphrase. 导入支付密钥。"""
    from cloud.api.context import CHANNEL_SECRETS

    if name not in CHANNEL_SECRETS:
        fail(f"name must be one of {', '.join(CHANNEL_SECRETS)}", zh="密钥名称无效")
    settings = _settings(None)
    try:
        secret = source.read_bytes()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}", zh="无法读取文件")
    try:
        (settings.state_dir / "keys").mkdir(parents=True, exist_ok=True)
        keystore.save_secret(
            secret,
            settings.state_dir / "keys" / f"{name}.secret",
            _passphrase(passphrase_file),
            CHANNEL_SECRETS[name],
        )
    except KeyStoreError as exc:
        fail(str(exc))
    typer.echo(f"sealed {name}; now delete {source}")


@keys_app.command("rotate")
def keys_rotate(db: DbOption = None, passphrase_file: PassphraseFile = None) -> None:
    """A new issuer key signs from now on (a running serve follows it); the old one keeps
    verifying. 轮换签发密钥。"""
    from cloud.services import issuer_keys

    _change_issuers(
        db, passphrase_file, lambda state, passphrase: issuer_keys.rotate(state, passphrase)
    )


@keys_app.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help="The issuer kid to withdraw, e.g. I1")],
    db: DbOption = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Withdraw an issuer key: gates refuse its tickets (retired_kid). 停用签发密钥。"""
    from cloud.services import issuer_keys

    def retire(state: Path, passphrase: bytes) -> str:
        issuer_keys.retire(state, kid)
        return kid

    _change_issuers(db, passphrase_file, retire)


def _change_issuers(
    db: str | None, passphrase_file: Path | None, change: Callable[[Path, bytes], str]
) -> None:
    """Apply a change to the issuer keys, then sign a new keyring for every site; the
    downlink service publishes them."""
    from cloud.services import issuer_keys

    settings = _settings(db)
    passphrase = _passphrase(passphrase_file)
    try:
        kid = change(settings.state_dir, passphrase)
        root = keystore.load(settings.state_dir / "keys" / "root.key", passphrase)
    except KeyStoreError as exc:
        fail(str(exc))
    except Problem as exc:
        fail(f"{exc.en} / {exc.zh}")
    with _transaction(settings) as session:
        sites = issuer_keys.keyrings_for_all_sites(session, root, settings.state_dir, passphrase)
    states = issuer_keys.read_registry(settings.state_dir)
    summary = ", ".join(f"{k} {s}" for k, s in sorted(states.items()))
    typer.echo(f"{kid}: issuer keys now {summary}; keyrings signed for {len(sites)} site(s)")


@admin.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="Login name")],
    role: Annotated[str, typer.Option(help="manager | finance | cashier")] = "manager",
    db: DbOption = None,
) -> None:
    """Create a staff account; the password comes from $SCENIC_ADMIN_PASSWORD or a prompt."""
    import getpass
    import os

    from cloud.core.security import MIN_PASSWORD, hash_password
    from cloud.models import User
    from cloud.models.accounts import ROLES

    if role not in ROLES:
        fail(f"role must be one of {', '.join(ROLES)}", zh="角色无效")
    password = os.environ.get("SCENIC_ADMIN_PASSWORD") or getpass.getpass("password / 密码: ")
    if len(password) < MIN_PASSWORD:
        fail(f"the password needs at least {MIN_PASSWORD} characters / 密码至少{MIN_PASSWORD}位")
    try:
        with _transaction(_settings(db)) as session:
            session.add(User(username=username, password_hash=hash_password(password), role=role))
    except IntegrityError:
        fail(f"user {username} exists / 用户已存在")
    typer.echo(f"{role} {username} created")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    run_app(
        app,
        "scenic-cloud",
        {KeyStoreError: (EXIT_USAGE, "密钥无法使用"), ConfigError: (EXIT_USAGE, "配置有误")},
    )


if __name__ == "__main__":
    main()
