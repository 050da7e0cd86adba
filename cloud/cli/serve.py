"""scenic-cloud migrate and serve: the database schema, and the HTTP API with its hold expiry.

Never: hold API logic (cloud/api/) or let uvicorn decide whom to believe about client
addresses. The listening socket is bound here, so a busy port is one line and
``EXIT_NO_LISTEN`` rather than uvicorn's log lines.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Annotated

import typer

from cloud.cli.common import (
    EXIT_NO_LISTEN,
    DbOption,
    PassphraseFile,
    database,
    fail,
    keys_missing_hint,
    passphrase,
    refused,
    settings_from,
    wall_clock,
    where,
)
from cloud.core.config import ConfigError
from cloud.core.errors import Problem
from cloud.migrate import upgrade
from keys.keystore import KeyStoreError


def migrate(db: DbOption = None) -> None:
    """Apply database migrations. 升级数据库结构。"""
    settings = settings_from(db)
    with database(settings):
        upgrade(settings.db_url)
    typer.echo(f"database at head: {where(settings.db_url)}")


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

    settings = settings_from(db, sandbox=sandbox or None)
    every = settings.hold_expiry_every_s if expire_every is None else expire_every
    if every < 0:
        fail("--expire-every must not be negative / 间隔不能为负")
    wall = wall_clock()
    secret = passphrase(passphrase_file)
    try:
        with database(settings):
            upgrade(settings.db_url)
            context = from_settings(settings, secret, wall)
    except KeyStoreError as exc:
        fail(f"{exc}{keys_missing_hint(settings)}")
    except Problem as exc:  # issuers.json names no single active key
        refused(exc)
    except ConfigError as exc:  # channels.json
        fail(str(exc))
    listening = listen(host, port)
    logs.setup()
    publisher = ApiPublisher(settings)  # refunds and changes reach the gates at once
    context.publish, context.clock = publisher, wall
    expirer = Expirer(context.sessions, wall.now, every) if every > 0 else None
    if expirer is not None:
        expirer.start()
    # proxy_headers=False: the app alone decides whom to believe (SCENIC_TRUSTED_PROXIES,
    # cloud/api/client.py); uvicorn's own handling trusts 127.0.0.1 by default.
    # timeout_graceful_shutdown: the dashboard's live streams never end by themselves, so a
    # stop waits at most this long for them before closing them.
    config = uvicorn.Config(
        create_app(context), log_config=None, proxy_headers=False, timeout_graceful_shutdown=3
    )
    bound = listening.getsockname()[1]
    logging.getLogger("cloud").info("serving on http://%s:%d", host, bound)
    typer.echo(f"dashboard / 管理看板: http://{host}:{bound}/dashboard")
    try:
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        if expirer is not None:
            expirer.stop()
        publisher.close()
        listening.close()


def listen(host: str, port: int) -> socket.socket:
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
