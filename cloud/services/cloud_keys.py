"""The cloud's key folder (``$SCENIC_STATE_DIR/keys``): what lives in it, and making it once.

Never: replace a key or secret that exists (``keystore.save`` refuses), or write one
unencrypted. Loading them for a running cloud is ``cloud/api/context.py``; rotating issuer
keys is ``services/issuer_keys.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from cloud.services import issuer_keys
from keys import keystore

ROOT_KEY = "root.key"  # signs what the gates trust: keyrings, revocations, time
# Secrets made by init_keys: name -> (file, what it is in messages, bytes).
SECRETS = {
    "data": ("data.secret", "data key", 32),
    "salt": ("holder.secret", "holder salt", 16),
    "sandbox": ("sandbox.secret", "sandbox secret", 32),
}
# Payment-channel secrets an operator brings (scenic-cloud keys seal NAME --from FILE).
CHANNEL_SECRETS = {
    "wechat-merchant": "wechat merchant key",
    "wechat-apiv3": "wechat apiv3 key",
    "alipay-app": "alipay app key",
}


def key_folder(state_dir: Path) -> Path:
    return state_dir / "keys"


def init_keys(state_dir: Path, passphrase: bytes) -> list[Path]:
    """Make the root key (R1), the first issuer key (I1, active in ``issuers.json``) and the
    data, holder and sandbox secrets, each encrypted with ``passphrase``; the paths made.
    Raises ``KeyStoreError`` if any exists already, ``OSError`` if the folder is unwritable."""
    folder = key_folder(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    made = []
    for role, kid in (("root", "R1"), ("issuer", "I1")):
        path = folder / f"{role}.key"
        keystore.save(keystore.generate(role, kid), path, passphrase)
        made.append(path)
    issuer_keys.registry_path(state_dir).write_text('{"keys": {"I1": "active"}}\n')
    for name, what, size in SECRETS.values():
        keystore.save_secret(os.urandom(size), folder / name, passphrase, what)
        made.append(folder / name)
    return made


def check_channel_secret(name: str, secret: bytes) -> None:
    """Refuse what cannot be the secret ``name`` names, before it is sealed: the merchant and
    app keys are PEM private keys (both SDKs take PEM); WeChat's APIv3 key is 32 ASCII
    characters (its AES-256-GCM key). ``KeyStoreError`` says which."""
    what = CHANNEL_SECRETS[name]
    if name == "wechat-apiv3":
        text = secret.strip()
        if len(text) != 32 or not text.isascii() or not text.isalnum():
            raise keystore.KeyStoreError(
                f"{what}: expected the 32-character APIv3 key, got {len(text)} bytes"
            )
        return
    try:
        serialization.load_pem_private_key(secret, password=None)
    except (ValueError, TypeError) as exc:
        raise keystore.KeyStoreError(
            f"{what}: not an unencrypted PEM private key ({exc.__class__.__name__})"
        ) from None


def seal_channel_secret(state_dir: Path, name: str, secret: bytes, passphrase: bytes) -> Path:
    """Store a payment channel's secret (a ``CHANNEL_SECRETS`` name) encrypted, once it looks
    like one (``check_channel_secret``); its path."""
    check_channel_secret(name, secret)
    folder = key_folder(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.secret"
    keystore.save_secret(secret, path, passphrase, CHANNEL_SECRETS[name])
    return path
