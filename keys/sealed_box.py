"""Sealing bytes to an X25519 public key (sealed-box style), and opening them with its private key.

A gate seals a face binding to the cloud's face key (keys/face_binding.py), so the embedding
crosses the site broker, the bridge and the cloud broker unreadable; only the cloud, holding
the private key, opens it. Never: reuse an ephemeral key, or open anything without checking
its tag.

The construction is libsodium's ``crypto_box_seal`` idea, built from ``cryptography``'s parts
(X25519, RFC 7748; HKDF-SHA256, RFC 5869; AES-256-GCM): a fresh ephemeral key pair per
message, its public half sent in front; both the AES key and the nonce come from HKDF over the
shared secret, salted with both public keys (so a seal is bound to the recipient it was made
for). The key is used once, so the derived nonce can never repeat under it. ``context`` is the
associated data: the opener must name the same one (the cloud names the site and the node
whose signature it checked), so a seal lifted into another gate's event fails its tag.

Layout, byte by byte::

    0   1   version  0x01
    1   32  ephemeral X25519 public key
    33  ..  AES-256-GCM ciphertext || 16-byte tag

Opening failures raise ``SealError`` with one of the codes in ``SEAL_CODES``.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.errors import Refusal

VERSION = 0x01
PUBLIC_BYTES = 32
TAG_BYTES = 16
OVERHEAD = 1 + PUBLIC_BYTES + TAG_BYTES  # 49 bytes over the plaintext
_INFO = b"scenic sealed box v1"
SEAL_CODES = {
    "seal_truncated": "shorter than a version, an ephemeral key and a tag",
    "seal_version": "an unknown version byte",
    "seal_bad_key": "the ephemeral key is not a usable X25519 point",
    "seal_tampered": "the tag does not verify: another key, another context, or edited bytes",
}


class SealError(Refusal):
    """A sealed message cannot be opened; ``code`` is one of ``SEAL_CODES``."""

    def __init__(self, code: str) -> None:
        super().__init__(code, SEAL_CODES[code])


def raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_from(raw: bytes) -> X25519PublicKey:
    """A recipient key from its 32 raw bytes (``ValueError`` otherwise)."""
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_BYTES:
        raise ValueError("an X25519 public key is 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


def seal(recipient: X25519PublicKey, plaintext: bytes, context: bytes) -> bytes:
    """``plaintext`` sealed to ``recipient``, bound to ``context`` (module docstring)."""
    ephemeral = X25519PrivateKey.generate()
    sender = raw_public(ephemeral.public_key())
    key, nonce = _derive(ephemeral.exchange(recipient), sender, raw_public(recipient))
    return bytes([VERSION]) + sender + AESGCM(key).encrypt(nonce, plaintext, context)


def open_sealed(private: X25519PrivateKey, sealed: bytes, context: bytes) -> bytes:
    """The plaintext of ``sealed``; ``SealError`` if it is not one sealed to this key and
    ``context``."""
    if not isinstance(sealed, bytes) or len(sealed) < OVERHEAD:
        raise SealError("seal_truncated")
    if sealed[0] != VERSION:
        raise SealError("seal_version")
    sender = sealed[1 : 1 + PUBLIC_BYTES]
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(sender))
    except ValueError:  # the all-zero shared secret of a low-order point
        raise SealError("seal_bad_key") from None
    key, nonce = _derive(shared, sender, raw_public(private.public_key()))
    try:
        return AESGCM(key).decrypt(nonce, sealed[1 + PUBLIC_BYTES :], context)
    except InvalidTag:
        raise SealError("seal_tampered") from None


def _derive(shared: bytes, sender: bytes, recipient: bytes) -> tuple[bytes, bytes]:
    okm = HKDF(hashes.SHA256(), 32 + 12, salt=sender + recipient, info=_INFO).derive(shared)
    return okm[:32], okm[32:]
