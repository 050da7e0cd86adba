"""Issuer key rotation: which keys sign tickets, which still verify them, which are withdrawn.

``keys/issuers.json`` lists the issuer keys by kid with a state: ``active`` (signs new tickets;
exactly one), ``verify`` (signed tickets still on sale or in use: gates keep accepting them)
and ``retired`` (withdrawn: gates refuse its tickets as ``retired_kid``). Each key is its own
encrypted file ``keys/issuer-{KID}.key``.

Every change writes a new root-signed keyring for every site into ``site_documents``; the
downlink service publishes it (retained), and gates apply it only because the root key signed
it and its sequence is newer (keys/keyring.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import Site
from cloud.services.downlink_documents import signed_keyring
from keys import keystore
from keys.keyring import IssuerKey
from keys.keystore import KeyStoreError

STATES = ("active", "verify", "retired")


def registry_path(state_dir: Path) -> Path:
    return state_dir / "keys" / "issuers.json"


def read_registry(state_dir: Path) -> dict[str, str]:
    path = registry_path(state_dir)
    if not path.exists():  # a cloud from before rotation: one key, issuer.key, active
        return {"I1": "active"}
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))["keys"]
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror} / 无法读取签发密钥表") from None
    except (ValueError, KeyError, TypeError):
        keys = None
    if not isinstance(keys, dict) or not all(
        isinstance(kid, str) and state in STATES for kid, state in keys.items()
    ):
        raise KeyStoreError(
            f'{path} must be {{"keys": {{KID: {" | ".join(STATES)}}}}} / 签发密钥表格式有误'
        )
    return dict(keys)


def key_file(state_dir: Path, kid: str) -> Path:
    folder = state_dir / "keys"
    legacy = folder / "issuer.key"
    return legacy if kid == "I1" and legacy.exists() else folder / f"issuer-{kid}.key"


def load_keys(state_dir: Path, passphrase: bytes) -> tuple[keystore.SigningKey, list[IssuerKey]]:
    """The active signing key, and the keyring entries of every key that is not retired."""
    registry = read_registry(state_dir)
    active = [kid for kid, state in registry.items() if state == "active"]
    if len(active) != 1:
        raise Problem(
            Code.NO_ACTIVE_ISSUER,
            registry=str(registry_path(state_dir)),
            active=", ".join(active) or "none",
        )
    keys = {
        kid: keystore.load(key_file(state_dir, kid), passphrase)
        for kid, state in registry.items()
        if state != "retired"
    }
    ring = [IssuerKey(k.kid, k.public_key) for k in keys.values()]
    return keys[active[0]], ring


def rotate(state_dir: Path, passphrase: bytes) -> str:
    """Make the next issuer key active; the old active one keeps verifying."""
    registry = read_registry(state_dir)
    numbers = [int(m.group(1)) for kid in registry if (m := re.match(r"^I(\d+)$", kid))]
    kid = f"I{max(numbers, default=0) + 1}"
    keystore.save(keystore.generate("issuer", kid), key_file(state_dir, kid), passphrase)
    registry = {k: ("verify" if s == "active" else s) for k, s in registry.items()}
    registry[kid] = "active"
    _write(state_dir, registry)
    return kid


def retire(state_dir: Path, kid: str) -> None:
    registry = read_registry(state_dir)
    if kid not in registry:
        raise Problem(Code.UNKNOWN_ISSUER_KEY, kid=kid)
    if registry[kid] == "active":
        raise Problem(Code.ACTIVE_KEY)
    registry[kid] = "retired"
    _write(state_dir, registry)


def keyrings_for_all_sites(
    session: Session, root: keystore.SigningKey, state_dir: Path, passphrase: bytes
) -> dict[str, bytes]:
    """A new root-signed keyring per site, with every key's current state."""
    registry = read_registry(state_dir)
    entries = [
        IssuerKey(
            kid.encode(),
            keystore.load(key_file(state_dir, kid), passphrase).public_key,
            retired=state == "retired",
        )
        for kid, state in sorted(registry.items())
    ]
    return {
        site: signed_keyring(session, root, site, entries)
        for site in session.scalars(select(Site.code))
    }


def _write(state_dir: Path, registry: dict[str, str]) -> None:
    path = registry_path(state_dir)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"keys": registry}, indent=2) + "\n")
    temporary.replace(path)
