"""Keyrings: which issuer keys a gate accepts tickets from, signed by the root key.

A keyring document (type ``keyring``, keys/signed_document.py) has the body::

    {"issuers": [{"kid": h'4931', "public_key": h'<32 bytes>', "retired": false}, ...]}

Rotation: the cloud makes a new issuer key with a new kid and signs with it from then on; the
old entry stays in the keyring, so tickets already sold keep working until they expire. Only
then (or at once, if the old key leaked) is it marked ``retired``: its tickets are refused
with ``retired_kid``, which tells staff "this is a withdrawn key", not "forged". A kid that is
in no keyring is ``unknown_kid``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.cose import Signer
from keys.keystore import raw_public
from keys.reasons import Reason
from keys.signed_document import DocumentError, SignedDocument, sign_document, verify_document

DOC_TYPE = "keyring"


@dataclass(frozen=True, slots=True)
class IssuerKey:
    kid: bytes
    public_key: Ed25519PublicKey
    retired: bool = False

    @property
    def kid_text(self) -> str:
        return self.kid.decode("ascii", "replace")


class Keyring:
    """Issuer keys by kid, and the root-signed document they came from (if any)."""

    def __init__(self, issuers: Iterable[IssuerKey], seq: int = 0) -> None:
        self._by_kid = {key.kid: key for key in issuers}
        self.seq = seq

    def lookup(self, kid: bytes) -> IssuerKey | Reason:
        """The key for ``kid``, or the reason it cannot be used."""
        key = self._by_kid.get(kid)
        if key is None:
            return Reason.UNKNOWN_KID
        if key.retired:
            return Reason.RETIRED_KID
        return key

    @property
    def kids(self) -> list[str]:
        return sorted(k.kid_text for k in self._by_kid.values())

    def describe(self) -> list[dict[str, object]]:
        return [
            {"kid": k.kid_text, "retired": k.retired, "public_key": raw_public(k.public_key).hex()}
            for k in sorted(self._by_kid.values(), key=lambda k: k.kid)
        ]

    @classmethod
    def from_document(cls, document: SignedDocument) -> Keyring:
        body = document.body
        entries = body.get("issuers") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise DocumentError("malformed", "keyring body needs an issuers list")
        keys = [_issuer_from_entry(entry) for entry in entries]
        if len({k.kid for k in keys}) != len(keys):
            raise DocumentError("malformed", "keyring lists a kid twice")
        return cls(keys, seq=document.seq)

    @classmethod
    def load(cls, raw: bytes, root_public_key: Ed25519PublicKey, site: str | None) -> Keyring:
        """Verify a keyring document against the pinned root key and read it."""
        return cls.from_document(
            verify_document(raw, root_public_key, doc_type=DOC_TYPE, site=site)
        )


def sign_keyring(
    root: Signer,
    issuers: Iterable[IssuerKey],
    *,
    site: str,
    seq: int,
    issued_at: datetime | None = None,
) -> bytes:
    body = {
        "issuers": [
            {"kid": k.kid, "public_key": raw_public(k.public_key), "retired": k.retired}
            for k in issuers
        ]
    }
    return sign_document(root, DOC_TYPE, site, seq, body, issued_at)


def _issuer_from_entry(entry: object) -> IssuerKey:
    if not isinstance(entry, dict):
        raise DocumentError("malformed", "keyring entry is not a map")
    kid, public, retired = entry.get("kid"), entry.get("public_key"), entry.get("retired", False)
    if not isinstance(kid, bytes) or not 1 <= len(kid) <= 4:
        raise DocumentError("malformed", "keyring entry kid must be 1-4 bytes")
    if not isinstance(public, bytes) or len(public) != 32:
        raise DocumentError("malformed", "keyring entry public_key must be 32 bytes")
    if not isinstance(retired, bool):
        raise DocumentError("malformed", "keyring entry retired must be true or false")
    return IssuerKey(kid, Ed25519PublicKey.from_public_bytes(public), retired)
