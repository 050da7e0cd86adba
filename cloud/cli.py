"""scenic-cloud: the cloud's command line: migrate the database, run ingest workers, register
gate nodes, serve the API, expire unpaid holds. (admin and issuing arrive with the sales core.)

Thin typer commands over cloud/ services. Errors are one line on stderr (English / 中文).
Exit codes: 0 done; 1 failed at run time (database or broker unreachable); 2 usage or
configuration error.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from cloud.core.config import ConfigError, Settings
from cloud.core.errors import Problem
from cloud.db import make_engine, session_factory
from cloud.migrate import upgrade
from cloud.models import Device
from cloud.mqtt.broker_client import BrokerClient
from cloud.mqtt.ingest_worker import IngestWorker
from cloud.services.ingest import Ingest
from keys import clock, keystore
from keys.clock import from_environment
from keys.keystore import KeyStoreError

EXIT_FAILED, EXIT_USAGE = 1, 2

app = typer.Typer(
    help="Scenic-area ticket office cloud. 景区票务云端。",
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

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (else $SCENIC_DB_URL)")]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"scenic-cloud: {message}", err=True)
    raise typer.Exit(code)


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
        fail(str(exc))
    return settings


@app.command()
def migrate(db: DbOption = None) -> None:
    """Apply database migrations. 升级数据库结构。"""
    settings = _settings(db)
    try:
        upgrade(settings.db_url)
    except OperationalError as exc:
        fail(f"database unreachable: {exc.orig} / 数据库无法连接", EXIT_FAILED)
    typer.echo(f"database at head: {settings.db_url.split('@')[-1]}")


@app.command()
def ingest(
    worker_id: Annotated[str, typer.Option(help="Unique per worker (its MQTT session)")] = "1",
    root_key: Annotated[Path | None, typer.Option(help="Root key file (signs acks)")] = None,
    db: DbOption = None,
    batch_max: Annotated[int, typer.Option(help="Events per transaction at most")] = 500,
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

    _serve(db, root_key, worker)


@app.command()
def downlink(
    root_key: Annotated[Path | None, typer.Option(help="Root key file (signs documents)")] = None,
    db: DbOption = None,
    time_every: Annotated[float, typer.Option(help="Seconds between signed time")] = 60.0,
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

    _serve(db, root_key, service)


def _serve(
    db: str | None,
    root_key: Path | None,
    make: Callable[[Settings, keystore.SigningKey, Engine], BrokerClient],
) -> None:
    """Run one MQTT service of the cloud until SIGTERM/SIGINT, with JSON logs."""
    from keys import logs

    logs.setup()
    settings = _settings(db)
    root = _root_key(root_key, settings)
    engine = make_engine(settings.db_url)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    make(settings, root, engine).run(stop)
    engine.dispose()


@contextmanager
def _transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on the configured database, migrated first; the engine is closed after.
    An unreachable database is one line and exit 1; a refusal from the services, exit 2."""
    engine = make_engine(settings.db_url)
    try:
        upgrade(settings.db_url)
        with session_factory(engine).begin() as session:
            yield session
    except OperationalError as exc:
        fail(f"database unreachable: {exc.orig} / 数据库无法连接", EXIT_FAILED)
    except Problem as exc:
        fail(f"{exc.en} / {exc.zh}")
    finally:
        engine.dispose()


def _root_key(path: Path | None, settings: Settings) -> keystore.SigningKey:
    key_path = path or settings.state_dir / "keys" / "root.key"
    try:
        return keystore.load(key_path, keystore.passphrase_from(None))
    except KeyStoreError as exc:
        fail(str(exc))


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
    port: Annotated[int, typer.Option(help="Port")] = 8000,
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
) -> None:
    """Run the HTTP API (migrations applied first); unpaid holds expire while it runs.
    启动票务服务。"""
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
    try:
        upgrade(settings.db_url)
        context = from_settings(settings, keystore.passphrase_from(None), from_environment())
    except KeyStoreError as exc:
        missing = not (settings.state_dir / "keys" / "root.key").exists()
        fail(f"{exc}" + (" (run: scenic-cloud keys init)" if missing else ""))
    except OperationalError as exc:
        fail(f"database unreachable: {exc.orig} / 数据库无法连接", EXIT_FAILED)
    logs.setup()
    publisher = ApiPublisher(settings)  # refunds and changes reach the gates at once
    context.publish, context.clock = publisher, wall
    expirer = Expirer(context.sessions, wall.now, every) if every > 0 else None
    if expirer is not None:
        expirer.start()
    try:
        # proxy_headers=False: the app alone decides whom to believe (SCENIC_TRUSTED_PROXIES,
        # cloud/api/client.py); uvicorn's own handling trusts 127.0.0.1 by default.
        uvicorn.run(create_app(context), host=host, port=port, log_config=None, proxy_headers=False)
    finally:
        if expirer is not None:
            expirer.stop()
        publisher.close()


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
    out: Annotated[Path, typer.Option(help="CSV of ticket numbers and QR texts to write")],
    price_type: Annotated[str, typer.Option(help="Price type")] = "adult",
    actor: Annotated[str, typer.Option(help="Who asked (audit log)")] = "operator",
) -> None:
    """Issue a festival batch with a progress bar, and write the codes to a CSV. 批量出票。"""
    import csv

    from rich.progress import Progress

    from cloud.api.context import from_settings
    from cloud.services.batch import batch_tickets, issue_batch

    settings = _settings(None)
    try:
        context = from_settings(settings, keystore.passphrase_from(None))
    except KeyStoreError as exc:
        fail(str(exc))
    with Progress() as bar:
        task = bar.add_task("issuing / 出票", total=count)
        try:
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
            fail(f"{exc.en} / {exc.zh}")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket_no", "qr_text"])
        writer.writerows(batch_tickets(context.sessions, batch.order_no))
    typer.echo(f"order {batch.order_no}: {batch.issued} tickets -> {out}")


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
        fail(f"unknown scope(s): {', '.join(sorted(unknown))}; known: verify")
    key = new_token()
    with _transaction(_settings(db)) as session:
        session.add(ApiKey(partner=name, key_hash=token_hash(key), scopes=scopes))
    typer.echo(f"API key for {name} ({', '.join(scopes)}), shown once / 仅显示一次:")
    typer.echo(key)


@keys_app.command("init")
def keys_init() -> None:
    """Make the root and issuer keys and the data, holder and sandbox secrets (encrypted)."""
    from cloud.api.context import init_keys

    settings = _settings(None)
    try:
        made = init_keys(settings.state_dir, keystore.passphrase_from(None, creating=True))
    except KeyStoreError as exc:
        fail(str(exc))
    for path in made:
        typer.echo(f"made {path}")


@keys_app.command("seal")
def keys_seal(
    name: Annotated[str, typer.Argument(help="wechat-merchant | wechat-apiv3 | alipay-app")],
    source: Annotated[
        Path, typer.Option("--from", help="File holding the secret (then delete it)")
    ],
) -> None:
    """Bring a payment channel's secret in, encrypted with the cloud passphrase. 导入支付密钥。"""
    from cloud.api.context import CHANNEL_SECRETS

    if name not in CHANNEL_SECRETS:
        fail(f"name must be one of {', '.join(CHANNEL_SECRETS)}")
    settings = _settings(None)
    try:
        secret = source.read_bytes()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}")
    try:
        (settings.state_dir / "keys").mkdir(parents=True, exist_ok=True)
        keystore.save_secret(
            secret,
            settings.state_dir / "keys" / f"{name}.secret",
            keystore.passphrase_from(None),
            CHANNEL_SECRETS[name],
        )
    except KeyStoreError as exc:
        fail(str(exc))
    typer.echo(f"sealed {name}; now delete {source}")


@keys_app.command("rotate")
def keys_rotate(db: DbOption = None) -> None:
    """A new issuer key signs from now on; the old one keeps verifying. 轮换签发密钥。"""
    from cloud.services import issuer_keys

    _change_issuers(db, lambda state, passphrase: issuer_keys.rotate(state, passphrase))


@keys_app.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help="The issuer kid to withdraw, e.g. I1")],
    db: DbOption = None,
) -> None:
    """Withdraw an issuer key: gates refuse its tickets (retired_kid). 停用签发密钥。"""
    from cloud.services import issuer_keys

    def retire(state: Path, passphrase: bytes) -> str:
        issuer_keys.retire(state, kid)
        return kid

    _change_issuers(db, retire)


def _change_issuers(db: str | None, change: Callable[[Path, bytes], str]) -> None:
    """Apply a change to the issuer keys, then sign a new keyring for every site; the
    downlink service publishes them."""
    from cloud.services import issuer_keys

    settings = _settings(db)
    try:
        passphrase = keystore.passphrase_from(None)
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
        fail(f"role must be one of {', '.join(ROLES)}")
    password = os.environ.get("SCENIC_ADMIN_PASSWORD") or getpass.getpass("password / 密码: ")
    if len(password) < MIN_PASSWORD:
        fail(f"the password needs at least {MIN_PASSWORD} characters / 密码过短")
    try:
        with _transaction(_settings(db)) as session:
            session.add(User(username=username, password_hash=hash_password(password), role=role))
    except IntegrityError:
        fail(f"user {username} exists / 用户已存在")
    typer.echo(f"{role} {username} created")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app()


if __name__ == "__main__":
    main()
