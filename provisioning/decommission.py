"""gatectl decommission: retire this node: tell the cloud, then wipe the node's secrets.

Never: wipe before the cloud has answered (unless ``--offline``: then a manager must retire the
node in the cloud, ``scenic-cloud device decommission``), or remove the ledger (the uses it
recorded are history, not secrets).

The request is signed with the node's identity key (``decommission_message`` of
cloud/services/enrolment.py, restated here: provisioning talks to the cloud only over HTTP), so
nobody else can retire it. The cloud revokes the key (its later events are refused by ingest),
removes its broker login and re-signs the node registry. Then node.key, broker.password,
holder.salt, trust.cose and node.json go: the directory no longer opens as a node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from gate_node.state import NodeState, NodeStateError
from keys import keystore
from keys.cli_options import passphrase_file_option
from keys.clock import from_environment
from keys.keystore import KeyStoreError
from provisioning.enrol import CLOUD_FILE
from provisioning.errors import EXIT_FAILED, EXIT_USAGE, ProvisioningError

SECRETS = ("node.key", "broker.password", "holder.salt", "trust.cose", "node.json")


def decommission_message(site: str, node: str) -> bytes:
    """What the node signs (the cloud checks the same bytes)."""
    return b"scenic-decommission/1\x00" + f"{site}\x00{node}".encode()


def decommission_node(
    state_dir: Path, passphrase: bytes, cloud: str | None, offline: bool = False
) -> tuple[str, str]:
    """Retire the node in ``state_dir``; (site, node)."""
    try:
        state = NodeState.open(state_dir, from_environment())
        key = state.identity(passphrase)
    except (NodeStateError, KeyStoreError) as exc:
        raise ProvisioningError("node_state", str(exc), "节点状态不可用", EXIT_USAGE) from None
    site, node = state.config.site, state.config.node
    if not offline:
        url = cloud or _remembered_cloud(state_dir)
        signature = key.sign(decommission_message(site, node))
        try:
            answer = httpx.post(
                url.rstrip("/") + "/api/v1/devices/decommission",
                json={"site": site, "node": node, "signature": signature.hex()},
                timeout=20,
            )
        except httpx.HTTPError as exc:
            raise ProvisioningError(
                "cloud_unreachable",
                f"cannot reach the cloud at {url} ({type(exc).__name__}); nothing was wiped",
                "无法连接云端，未清除任何内容",
            ) from None
        if answer.status_code != 204:
            try:
                problem = answer.json()
            except ValueError:
                problem = {}
            if problem.get("code") != "not_enrolled":  # retired already: wipe all the same
                raise ProvisioningError(
                    str(problem.get("code", answer.status_code)),
                    str(problem.get("message_en", f"the cloud answered {answer.status_code}")),
                    str(problem.get("message_zh", "云端拒绝了请求")),
                    EXIT_FAILED,
                )
    for name in SECRETS:
        (state_dir / name).unlink(missing_ok=True)
    return site, node


def _remembered_cloud(state_dir: Path) -> str:
    try:
        return str(json.loads((state_dir / CLOUD_FILE).read_text())["url"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ProvisioningError(
            "no_cloud", "give --cloud (this node does not know its cloud)", "请给出 --cloud"
        ) from None


def command(
    state_dir: Annotated[Path, typer.Option("--state-dir", help="The node's state directory")],
    cloud: Annotated[str | None, typer.Option(help="The cloud's URL (default: enrol's)")] = None,
    offline: Annotated[
        bool, typer.Option(help="Wipe without telling the cloud (retire it there by hand)")
    ] = False,
    passphrase_file: Annotated[
        Path | None, passphrase_file_option("the passphrase for node.key")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts")] = False,
) -> None:
    """Retire this node: the cloud revokes it, then its secrets are wiped. 注销闸机。"""
    try:
        try:
            secret = keystore.passphrase_from(passphrase_file)
        except KeyStoreError as exc:
            raise ProvisioningError("passphrase", str(exc), "口令不可用", EXIT_USAGE) from None
        site, node = decommission_node(state_dir, secret, cloud, offline)
    except ProvisioningError as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "code": exc.code, "message": exc.message}))
        typer.echo(f"gatectl: {exc.message} / {exc.zh}", err=True)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps({"ok": True, "site": site, "node": node}))
        return
    typer.echo(f"decommissioned {site}/{node}; secrets wiped / 已注销并清除密钥")
