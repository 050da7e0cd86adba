"""Hand-built envelopes for tests: well signed but wrong in one chosen way.

Signing uses the real issuer key, so each test reaches the check it means to reach (the
signature check comes before the claims are parsed).
"""

from __future__ import annotations

from typing import Any

import cbor2

from keys.base45 import b45encode
from keys.cose import sig_structure
from keys.keystore import SigningKey
from keys.ticket import PREFIX


def envelope(
    signer: SigningKey,
    claims: Any,
    *,
    protected: Any = None,
    unprotected: Any = None,
    tag: int | None = 18,
    raw_payload: bytes | None = None,
) -> bytes:
    header = {1: -8, 4: signer.kid} if protected is None else protected
    protected_bytes = header if isinstance(header, bytes) else cbor2.dumps(header)
    payload = raw_payload if raw_payload is not None else cbor2.dumps(claims)
    signature = signer.sign(sig_structure(protected_bytes, payload))
    body = [protected_bytes, unprotected or {}, payload, signature]
    return cbor2.dumps(cbor2.CBORTag(tag, body) if tag is not None else body)


def text(raw: bytes) -> str:
    return PREFIX + b45encode(raw)
