"""scenic-cloud device: the gate node registry (services/devices.py).

Never: write the registry itself; the service decides what may be registered.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import segno
import typer

from cloud.api.context import provisioning
from cloud.cli.common import (
    DbOption,
    PassphraseFile,
    fail,
    load_root_key,
    refused,
    settings_from,
    transaction,
    wall_clock,
)
from cloud.core.errors import Problem
from cloud.mqtt.broker_logins import BrokerLogins
from cloud.services import devices, enrolment
from keys import keystore
from keys.keystore import KeyStoreError
from keys.qr import render

app = typer.Typer(help="Gate node registry. 闸机设备登记。", no_args_is_help=True)


@app.command("add")
def device_add(
    site: Annotated[str, typer.Option(help="Site id")],
    node: Annotated[str, typer.Option(help="Node id")],
    public_key: Annotated[Path, typer.Option(help="The node's identity public key (PEM)")],
    kind: Annotated[str, typer.Option(help="tripod | wing | swing | handheld")] = "tripod",
    zone: Annotated[int, typer.Option(help="Zone id")] = 0,
    db: DbOption = None,
) -> None:
    """Register a gate node's identity key. 登记闸机公钥。"""
    try:
        devices.check_kind(kind)  # before anything is read: the cheapest mistakes first
        devices.check_ids(site, node)
    except Problem as exc:
        refused(exc)
    settings = settings_from(db)
    try:
        key = keystore.load_public_pem(public_key)
    except KeyStoreError as exc:
        fail(str(exc))
    with transaction(settings) as session:
        devices.register_device(session, site, node, kind, zone, keystore.raw_public(key))
    typer.echo(f"registered {site}/{node} ({kind}), key {keystore.fingerprint(key)}")


# --- provisioning (issue 14) -------------------------------------------------------------------
@app.command("token")
def device_token(
    site: Annotated[str, typer.Option(help="Site id")],
    node: Annotated[str, typer.Option(help="Gate position (node id), e.g. G1")],
    kind: Annotated[str, typer.Option(help="tripod | wing | swing | handheld")] = "tripod",
    zone: Annotated[int, typer.Option(help="Zone id the lane admits to")] = 0,
    direction: Annotated[str, typer.Option(help="in | out")] = "in",
    qr: Annotated[
        Path | None, typer.Option(help="Also write the token as a QR (.png/.svg)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts")] = False,
    db: DbOption = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """A one-time enrolment token for a gate position, as text and QR. 生成闸机安装令牌。"""
    settings = settings_from(db)
    root = load_root_key(None, settings, passphrase_file)
    with transaction(settings) as session:
        made = enrolment.create_token(
            session,
            settings.provisioning,
            site=site,
            node=node,
            kind=kind,
            zone=zone,
            direction=direction,
            actor="cli",
            source="local",
            now=wall_clock().now(),
        )
    fingerprint = keystore.fingerprint(root.public_key)
    if qr is not None:
        try:
            render(made.token, qr)
        except (ValueError, OSError) as exc:
            fail(f"cannot write {qr}: {exc}", zh="无法写入二维码文件")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "token": made.token,
                    "site": site,
                    "node": node,
                    "expires_at": made.expires_at.isoformat(),
                    "root_fingerprint": fingerprint,
                }
            )
        )
        return
    typer.echo(f"token / 令牌: {made.token}")
    typer.echo(f"for / 用于: {site}/{node}, until / 有效至 {made.expires_at.isoformat()}")
    typer.echo(f"root fingerprint / 根密钥指纹: {fingerprint}")
    if sys.stdout.isatty():
        segno.make(made.token, error="m").terminal(compact=True)


@app.command("list")
def device_list(
    site: Annotated[str | None, typer.Option(help="Only this site")] = None,
    db: DbOption = None,
) -> None:
    """The device registry as JSON lines. 设备登记列表。"""
    settings = settings_from(db)
    with transaction(settings) as session:
        rows = enrolment.registry(session, site)
    for row in rows:
        typer.echo(json.dumps(row, ensure_ascii=False))


@app.command("decommission")
def device_decommission(
    site: Annotated[str, typer.Option(help="Site id")],
    node: Annotated[str, typer.Option(help="Node id")],
    db: DbOption = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Retire a node that cannot retire itself: key revoked, broker login removed. 注销闸机。"""
    settings = settings_from(db)
    root = load_root_key(None, settings, passphrase_file)
    logins = provisioning(settings)["broker_logins"]
    with transaction(settings) as session:
        enrolment.decommission(
            session,
            root,
            logins if isinstance(logins, BrokerLogins) else None,
            site=site,
            node=node,
            signature=None,
            actor="cli",
            source="local",
            now=wall_clock().now(),
        )
    typer.echo(f"decommissioned {site}/{node}")
