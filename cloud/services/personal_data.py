"""Personal data at rest: ID numbers and contacts encrypted, with a blind reference for lookups.

AES-256-GCM (cryptography) with the site's data key; each value gets a random 12-byte nonce,
stored with it (nonce || ciphertext || tag). ``blind_ref`` is an HMAC of the normalised value,
so "has this phone bought this today?" can be asked without decrypting anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class PersonalData:
    """Seals and opens personal data with the site's data key; blind references for lookups.

    Never stores or logs a value in clear: only the sealed value and its blind reference."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the data key must be 32 bytes")
        self._aead = AESGCM(key)
        self._ref_key = hashlib.sha256(b"blind-ref:" + key).digest()
        self._token_key = hashlib.sha256(b"order-token:" + key).digest()

    def seal(self, value: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), None)

    def open(self, sealed: bytes) -> str:
        return self._aead.decrypt(sealed[:12], sealed[12:], None).decode()

    def derived_token(self, message: str) -> str:
        """A secret token derived from ``message`` (an order's access token from its number
        and the buyer's Idempotency-Key): recomputable, so it is never stored in clear."""
        digest = hmac.new(self._token_key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def blind_ref(self, value: str) -> str:
        normalised = value.strip().lower().replace(" ", "")
        return hmac.new(self._ref_key, normalised.encode(), hashlib.sha256).hexdigest()[:32]
