"""scenic-cloud keys: make the cloud's keys, bring a payment channel's secret in, rotate and
retire issuer keys (services/cloud_keys.py, services/issuer_keys.py).

Never: print a key or secret, or replace one that exists. After a change of issuer keys a new
keyring is signed for every site; the downlink service publishes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cloud.cli.common import (
    DbOption,
    PassphraseFile,
    fail,
    load_root_key,
    passphrase,
    refused,
    root_key_path,
    settings_from,
    transaction,
    wall_clock,
)
from cloud.core.errors import Problem
from cloud.services import cloud_keys, issuer_keys
from cloud.services import downlink_documents as documents
from keys import keystore
from keys.cli_exit import EXIT_FAILED
from keys.keystore import KeyStoreError
from keys.sealed_box import raw_public

app = typer.Typer(help="The cloud's keys and secrets. 云端密钥。", no_args_is_help=True)


@app.command("init")
def keys_init(passphrase_file: PassphraseFile = None) -> None:
    """Make the root and issuer keys, the data, holder and sandbox secrets and the face
    binding key (encrypted)."""
    settings = settings_from(None)
    secret = passphrase(passphrase_file, creating=True)
    try:
        made = cloud_keys.init_keys(settings.state_dir, secret)
    except KeyStoreError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot create {exc.filename}: {exc.strerror}", EXIT_FAILED, zh="无法创建文件")
    for path in made:
        typer.echo(f"made {path}")


@app.command("face-init")
def keys_face_init(db: DbOption = None, passphrase_file: PassphraseFile = None) -> None:
    """Make the face binding key on an install made before it (refuses if it exists), and
    sign every site's config again with its public half; the downlink service publishes
    them, so gates seal first-entry face bindings to it. 生成人脸绑定密钥。"""
    settings = settings_from(db)
    secret = passphrase(passphrase_file)
    try:
        path = cloud_keys.init_face_key(settings.state_dir, secret)
        face = cloud_keys.load_face_key(settings.state_dir, secret)
        root = keystore.load(root_key_path(settings), secret)
    except KeyStoreError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot create {exc.filename}: {exc.strerror}", EXIT_FAILED, zh="无法创建文件")
    assert face is not None
    typer.echo(f"made {path}")
    with transaction(settings) as session:
        sites = documents.configs_with_face_key(
            session, root, raw_public(face.public_key()), wall_clock().now()
        )
    typer.echo(f"site configs signed with the face key: {len(sites)}")


@app.command("seal")
def keys_seal(
    name: Annotated[str, typer.Argument(help="wechat-merchant | wechat-apiv3 | alipay-app")],
    source: Annotated[
        Path, typer.Option("--from", help="File holding the secret (then delete it)")
    ],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Bring a payment channel's secret in, encrypted with the cloud passphrase. 导入支付密钥。"""
    if name not in cloud_keys.CHANNEL_SECRETS:
        fail(f"name must be one of {', '.join(cloud_keys.CHANNEL_SECRETS)}", zh="密钥名称无效")
    settings = settings_from(None)
    try:
        secret = source.read_bytes()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}", zh="无法读取文件")
    try:
        cloud_keys.seal_channel_secret(
            settings.state_dir, name, secret, passphrase(passphrase_file)
        )
    except KeyStoreError as exc:
        fail(str(exc), zh="不是有效的密钥文件")
    typer.echo(f"sealed {name}; now delete {source}")


@app.command("rotate")
def keys_rotate(db: DbOption = None, passphrase_file: PassphraseFile = None) -> None:
    """A new issuer key signs from now on (a running serve follows it); the old one keeps
    verifying. 轮换签发密钥。"""
    change_issuers(db, passphrase_file, issuer_keys.rotate)


@app.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help="The issuer kid to withdraw, e.g. I1")],
    db: DbOption = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Withdraw an issuer key: gates refuse its tickets (retired_kid). 停用签发密钥。"""

    def retire(state: Path, _passphrase: bytes) -> str:
        issuer_keys.retire(state, kid)
        return kid

    change_issuers(db, passphrase_file, retire)


def change_issuers(
    db: str | None, passphrase_file: Path | None, change: Callable[[Path, bytes], str]
) -> None:
    """Apply ``change`` (state folder, passphrase -> the kid it concerns) to the issuer keys,
    then sign a new keyring for every site; the downlink service publishes them."""
    settings = settings_from(db)
    secret = passphrase(passphrase_file)
    try:
        kid = change(settings.state_dir, secret)
        root = keystore.load(root_key_path(settings), secret)
    except KeyStoreError as exc:
        fail(str(exc))
    except Problem as exc:
        refused(exc)
    with transaction(settings) as session:
        sites = issuer_keys.keyrings_for_all_sites(session, root, settings.state_dir, secret)
    states = issuer_keys.read_registry(settings.state_dir)
    summary = ", ".join(f"{k} {s}" for k, s in sorted(states.items()))
    typer.echo(f"{kid}: issuer keys now {summary}; keyrings signed for {len(sites)} site(s)")


@app.command("fingerprint")
def keys_fingerprint(passphrase_file: PassphraseFile = None) -> None:
    """The root key's fingerprint, to compare with what gatectl enrol shows. 根密钥指纹。"""
    settings = settings_from(None)
    root = load_root_key(None, settings, passphrase_file)
    typer.echo(keystore.fingerprint(root.public_key))
