"""gatectl enrol: a fresh Pi becomes a trusted gate from a one-time token and the cloud's URL.

Never: let the identity key leave the device (only its public half is sent), write anything the
root key has not signed into the node's state, or leave a directory that looks enrolled but is
not.

Steps (``enrol_node``):

1. The identity key (Ed25519) is made on the device and saved encrypted (0600) in a staging
   folder beside the state directory (``<state>.enrolling/identity.key``).
2. Its public key goes to ``POST /api/v1/devices/enrol`` with the token. The bundle holds the
   root public key, root-signed documents and the broker password (cloud/services/enrolment.py).
3. The root fingerprint is shown; the installer confirms it against ``scenic-cloud keys
   fingerprint`` (or the dashboard), or a script passes ``--expect-fingerprint``. A mismatch
   stops here (exit 4): someone between the Pi and the cloud could have swapped the root key.
4. Every document is verified against that root key; the ``enrolment`` document must name this
   node and carry this device's own public key (exit 5 otherwise: altered in transit).
5. The node is built in ``<state>.enrolling/node`` through provisioning/node_init.py and
   gate_node's own ``apply_*`` (which verify again), then renamed to the state directory in one
   step. Only then is the staging folder removed.

Run again after a failure, it resumes: the same identity key asks again (the cloud lets the Pi
that took a token fetch its bundle again while the token lives) and a half-built node is
rebuilt. A refused token or a fingerprint mismatch rolls everything back.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from gate_node.config import NodeStateError
from gate_node.readers.frames import FrameSourceError, ImageFiles
from gate_node.readers.qr import QrDecoder
from gate_node.state import write_atomic
from keys import keystore
from keys.cli_options import passphrase_file_option
from keys.clock import SYSTEM, Clock, from_environment
from keys.keystore import KeyStoreError
from keys.signed_document import DocumentError, SignedDocument, verify_document
from provisioning import enrol_progress
from provisioning.errors import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_FINGERPRINT,
    EXIT_TAMPERED,
    EXIT_TOKEN,
    EXIT_USAGE,
    ProvisioningError,
)
from provisioning.node_init import create_node, remove_contents

SOFTWARE_VERSION = "0.1.0"
TOKEN_REFUSALS = {"bad_enrolment_token", "enrolment_token_expired", "enrolment_token_used"}
CLOUD_FILE = "cloud.json"  # where the node remembers its cloud (for decommission)


@dataclass(frozen=True)
class Enrolled:
    site: str
    node: str
    root_fingerprint: str
    node_fingerprint: str
    state_dir: Path
    broker: dict[str, Any] | None


def staging_of(state_dir: Path) -> Path:
    return state_dir.with_name(state_dir.name + ".enrolling")


def normal_fingerprint(text: str) -> str:
    return "".join(text.split()).lower()


def enrol_node(
    cloud: str,
    token: str,
    state_dir: Path,
    passphrase: bytes,
    *,
    expect_fingerprint: str | None = None,
    confirm: Callable[[str], bool] = lambda fingerprint: False,
    clock: Clock = SYSTEM,
    timeout_s: float = 20.0,
    step: Callable[..., None] = enrol_progress.quiet,
) -> Enrolled:
    """Enrol this device (module doc); ``ProvisioningError`` says what failed and its exit.
    ``step(name, **values)`` hears each step as it starts (provisioning/enrol_progress.py)."""
    if (state_dir / "node.json").exists():
        raise ProvisioningError(
            "already_enrolled",
            f"{state_dir} already holds a node (gatectl decommission it first)",
            "该目录已有节点，请先注销",
            EXIT_USAGE,
        )
    if state_dir.exists() and any(state_dir.iterdir()):
        raise ProvisioningError(
            "not_empty", f"{state_dir} is not empty", "状态目录不为空", EXIT_USAGE
        )
    staging = staging_of(state_dir)
    staging.mkdir(parents=True, exist_ok=True)
    staging.chmod(0o700)
    made = staging / "identity.key"
    step("identity_again" if made.exists() else "identity_new")
    key = _identity(made, passphrase, clock)
    public = keystore.raw_public(key.public_key)
    step("cloud", cloud=cloud)
    bundle = _ask(cloud, token, public, timeout_s, staging)
    try:
        root = keystore.public_from_pem(str(bundle["root_public_key"]).encode())
    except (KeyStoreError, KeyError) as exc:
        raise _tampered(f"root key: {exc}") from None
    fingerprint = keystore.fingerprint(root)
    wanted = expect_fingerprint or (fingerprint if confirm(fingerprint) else None)
    if wanted is None or normal_fingerprint(wanted) != normal_fingerprint(fingerprint):
        shutil.rmtree(staging, ignore_errors=True)
        raise ProvisioningError(
            "fingerprint_mismatch",
            f"root key fingerprint {fingerprint} is not the one expected; nothing was written",
            "根密钥指纹不符，未写入任何内容",
            EXIT_FINGERPRINT,
        )
    step("verify")
    documents = _verified(bundle, root, public)
    enrolment = documents["enrolment"].body
    config = {
        "site": documents["enrolment"].site,
        "node": enrolment["node"],
        "kind": enrolment["kind"],
        "zone": enrolment["zone"],
        "direction": enrolment["direction"],
        "broker": (
            {k: enrolment["broker"][k] for k in ("host", "port", "username")}
            if enrolment["broker"]
            else None
        ),
    }
    built = staging / "node"
    step("build")
    remove_contents(built, True)  # a half-built node from an earlier try
    try:
        state = create_node(
            built,
            config,
            str(bundle["root_public_key"]).encode(),
            documents["keyring"].raw,
            documents["revocations"].raw if "revocations" in documents else None,
            passphrase,
            identity=key,
            clock=clock,
        )
        state.apply_config(documents["config"].raw)
        state.apply_nodes(documents["nodes"].raw)
        if "cards" in documents:
            state.apply_cards(documents["cards"].raw)
        if bundle.get("broker_password"):
            path = built / "broker.password"
            path.touch(mode=0o600)
            path.write_text(str(bundle["broker_password"]))
        write_atomic(built / CLOUD_FILE, json.dumps({"url": cloud}).encode())
    except (NodeStateError, DocumentError) as exc:
        remove_contents(built, True)
        raise _tampered(str(exc)) from None
    if state_dir.exists():
        state_dir.rmdir()  # empty (checked above): the rename takes its place
    built.rename(state_dir)  # the one step after which the node is enrolled
    shutil.rmtree(staging, ignore_errors=True)
    return Enrolled(
        config["site"],
        config["node"],
        fingerprint,
        keystore.fingerprint(key.public_key),
        state_dir,
        config["broker"],
    )


def _identity(path: Path, passphrase: bytes, clock: Clock) -> keystore.SigningKey:
    """The key an earlier try made (resume), else a new one saved encrypted (0600)."""
    try:
        if path.exists():
            return keystore.load(path, passphrase)
        key = keystore.generate("node", "N1")
        keystore.save(key, path, passphrase, clock)
        return key
    except KeyStoreError as exc:
        raise ProvisioningError(
            "identity_key", str(exc), "节点身份密钥不可用", EXIT_USAGE
        ) from None


def _ask(cloud: str, token: str, public: bytes, timeout_s: float, staging: Path) -> dict[str, Any]:
    url = cloud.rstrip("/") + "/api/v1/devices/enrol"
    body = {
        "token": token.strip(),
        "public_key": public.hex(),
        "software_version": SOFTWARE_VERSION,
    }
    try:
        answer = httpx.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise ProvisioningError(
            "cloud_unreachable",
            f"cannot reach the cloud at {cloud} ({type(exc).__name__}); check the network and "
            "run again to resume",
            "无法连接云端，请检查网络后重试（可继续上次进度）",
        ) from None
    try:
        result: dict[str, Any] = answer.json()
    except ValueError:
        result = {}
    if answer.status_code == 200 and isinstance(result, dict):
        return result
    code = str(result.get("code", f"http_{answer.status_code}"))
    en = str(result.get("message_en", f"the cloud answered {answer.status_code}"))
    zh = str(result.get("message_zh", "云端拒绝了请求"))
    if code in TOKEN_REFUSALS:
        shutil.rmtree(staging, ignore_errors=True)
        raise ProvisioningError(code, en, zh, EXIT_TOKEN)
    raise ProvisioningError(code, en, zh, EXIT_FAILED)


def _verified(bundle: dict[str, Any], root: Any, public: bytes) -> dict[str, SignedDocument]:
    """Every document of the bundle, verified against ``root`` for the bundle's site."""
    site = bundle.get("site")
    raw = bundle.get("documents")
    if not isinstance(site, str) or not isinstance(raw, dict):
        raise _tampered("the bundle has no site or documents")
    found: dict[str, SignedDocument] = {}
    for doc_type in ("enrolment", "config", "keyring", "nodes", "revocations", "cards"):
        text = raw.get(doc_type)
        if text is None:
            if doc_type in ("revocations", "cards"):
                continue
            raise _tampered(f"the bundle lacks its {doc_type} document")
        try:
            found[doc_type] = verify_document(
                base64.b64decode(text, validate=True), root, doc_type=doc_type, site=site
            )
        except (DocumentError, ValueError) as exc:
            raise _tampered(f"{doc_type}: {exc}") from None
    body = found["enrolment"].body
    if (
        not isinstance(body, dict)
        or body.get("node_key") != public
        or body.get("node") != bundle.get("node")
    ):
        raise _tampered("the enrolment document is not for this device's key")
    return found


def _tampered(detail: str) -> ProvisioningError:
    return ProvisioningError(
        "bundle_not_trusted",
        f"what the cloud sent failed verification against the root key ({detail}); "
        "nothing was written",
        "云端下发内容未通过根密钥校验，未写入任何内容",
        EXIT_TAMPERED,
    )


def token_from_image(image: Path) -> str:
    """The token in a photo of its QR code, read by the gate's own QR reader."""
    try:
        frame = ImageFiles([image]).read()
    except FrameSourceError as exc:
        raise ProvisioningError("no_qr", str(exc), "无法读取图片", EXIT_USAGE) from None
    codes = QrDecoder().decode(frame) if frame is not None else []
    if not codes:
        raise ProvisioningError(
            "no_qr", f"no QR code found in {image}", "图片中未找到二维码", EXIT_USAGE
        )
    return codes[0]


def command(
    cloud: Annotated[str, typer.Option(help="The cloud's URL, e.g. https://tickets.example")],
    state_dir: Annotated[Path, typer.Option("--state-dir", help="Where the node will live")],
    token: Annotated[str | None, typer.Option(help="The one-time enrolment token")] = None,
    token_qr: Annotated[
        Path | None, typer.Option(help="A photo of the token's QR code instead")
    ] = None,
    expect_fingerprint: Annotated[
        str | None, typer.Option(help="The root fingerprint the cloud shows (for scripts)")
    ] = None,
    passphrase_file: Annotated[
        Path | None, passphrase_file_option("the passphrase for the identity key")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts")] = False,
) -> None:
    """Enrol this device as a gate: identity key, root key, signed config. 闸机入网。"""
    started = SYSTEM.monotonic()
    try:
        if (token is None) == (token_qr is None):
            raise ProvisioningError(
                "usage", "give --token or --token-qr", "请给出 --token 或 --token-qr", EXIT_USAGE
            )
        if expect_fingerprint is None and not sys.stdin.isatty():
            raise ProvisioningError(
                "usage",
                "no terminal to confirm the root fingerprint: give --expect-fingerprint",
                "无终端确认根密钥指纹，请给出 --expect-fingerprint",
                EXIT_USAGE,
            )
        text = token if token is not None else token_from_image(token_qr)  # type: ignore[arg-type]
        try:
            secret = keystore.passphrase_from(passphrase_file, creating=True)
        except KeyStoreError as exc:
            raise ProvisioningError("passphrase", str(exc), "口令不可用", EXIT_USAGE) from None

        def confirm(fingerprint: str) -> bool:
            typer.echo(f"root key fingerprint / 根密钥指纹: {fingerprint}")
            return typer.confirm(
                "Does it match `scenic-cloud keys fingerprint`? / 与云端显示的一致吗？"
            )

        done = enrol_node(
            cloud,
            text,
            state_dir,
            secret,
            expect_fingerprint=expect_fingerprint,
            confirm=confirm,
            clock=from_environment(),
            step=enrol_progress.quiet if as_json else enrol_progress.printer(typer.echo),
        )
    except ProvisioningError as exc:
        if as_json:
            typer.echo(
                json.dumps(
                    {"ok": False, "code": exc.code, "message": exc.message, "message_zh": exc.zh},
                    ensure_ascii=False,
                )
            )
        typer.echo(f"gatectl: {exc.message} / {exc.zh}", err=True)
        raise typer.Exit(exc.exit_code) from None
    seconds = round(SYSTEM.monotonic() - started, 2)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": True,
                    "site": done.site,
                    "node": done.node,
                    "root_fingerprint": done.root_fingerprint,
                    "node_fingerprint": done.node_fingerprint,
                    "state_dir": str(done.state_dir),
                    "broker": done.broker,
                    "seconds": seconds,
                }
            )
        )
        return
    typer.echo(
        f"enrolled {done.site}/{done.node} in {seconds} s; node key {done.node_fingerprint}; "
        f"start it with: gate-node run --state-dir {done.state_dir} / 入网完成"
    )


command.__doc__ = (command.__doc__ or "") + "\n\n" + EXIT_CODES
