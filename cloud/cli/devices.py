"""scenic-cloud device: the gate node registry (services/devices.py).

Never: write the registry itself; the service decides what may be registered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloud.cli.common import DbOption, fail, refused, settings_from, transaction
from cloud.core.errors import Problem
from cloud.services import devices
from keys import keystore
from keys.keystore import KeyStoreError

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
