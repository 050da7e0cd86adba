"""The cloud's key folder (``$SCENIC_STATE_DIR/keys``): what lives in it, and making it once.

Never: replace a key or secret that exists (``keystore.save`` refuses), or write one
unencrypted. Loading them for a running cloud is ``cloud/api/context.py``; rotating issuer
keys is ``services/issuer_keys.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cloud.services import issuer_keys
from keys import keystore

ROOT_KEY = "root.key"  # signs what the gates trust: keyrings, revocations, time
# X25519: gates seal first-entry face bindings to its public half, which the root-signed
# config publishes (``face_key``); only the cloud opens them (keys/face_binding.py).
FACE_KEY = ("face.secret", "face binding key")
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
    made.append(init_face_key(state_dir, passphrase))
    return made


def init_face_key(state_dir: Path, passphrase: bytes) -> Path:
    """Make the face binding key (``init_keys`` does; ``scenic-cloud keys face-init`` for an
    install made before it), encrypted with ``passphrase``; its path. ``KeyStoreError`` if it
    exists: a new key would strand every binding sealed to the old one."""
    folder = key_folder(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FACE_KEY[0]
    raw = X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    keystore.save_secret(raw, path, passphrase, FACE_KEY[1])
    return path


def load_face_key(state_dir: Path, passphrase: bytes) -> X25519PrivateKey | None:
    """The face binding key, or None if this install has none yet (gates then keep their
    bindings local); ``KeyStoreError`` if it exists but cannot be read."""
    path = key_folder(state_dir) / FACE_KEY[0]
    if not path.exists():
        return None
    return X25519PrivateKey.from_private_bytes(keystore.load_secret(path, passphrase, FACE_KEY[1]))


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
