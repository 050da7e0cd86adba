"""Face data at rest on the gate: the enrolments held and the first-entry bindings, encrypted.

Only embeddings are kept (never an image; disputes.py is the operator's explicit exception).
Each file is AES-256-GCM under a key derived (HKDF-SHA256) from the node's identity key, which
is itself kept encrypted under the node passphrase (keys/keystore.py): an SD card taken out of a
gate yields nothing readable, and a file written by anyone but this node fails its tag.

Layout of one file, byte by byte::

    0   4   magic  b"SFV1"
    4   8   seq    uint64 big-endian: the enrolment document seq held (0 for bindings); read
                   without the key, so the trust record can be compared at start
    12  12  nonce  random
    24  ..  AES-GCM ciphertext || 16-byte tag of the CBOR body; associated data = the file's
                   name and bytes 0-12, so a seq edited or a file swapped for the other fails

What is kept is the current set, re-encrypted on each change, never the documents that built
it: an enrolment removed by a delta is gone from the disk too (right to be forgotten), where
keeping the signed deltas would keep every face ever sent. The tag stands in for the root
signature at rest: only this node's key could have made it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import cbor2
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.face_embedding import embedding_bytes, embedding_from
from keys.face_enrolment import FaceEnrolments
from keys.keystore import SigningKey

MAGIC = b"SFV1"
ENROLMENTS = "faces.enc"
BINDINGS = "face-bindings.enc"
_HEADER = struct.Struct(">4sQ")


class VaultError(Exception):
    """A face file cannot be read: not this node's, edited, or truncated."""


def vault_key(identity: SigningKey, purpose: bytes = b"face vault") -> bytes:
    """A 32-byte key for face data at rest, derived from the node's identity key."""
    raw = identity.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return HKDF(hashes.SHA256(), 32, salt=b"scenic-gates", info=b"scenic " + purpose).derive(raw)


def read_seq(path: Path) -> int | None:
    """The seq in a file's header (no key needed), or None if there is no such file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEADER.size)
    except FileNotFoundError:
        return None
    if len(head) != _HEADER.size or head[:4] != MAGIC:
        return None
    return int(_HEADER.unpack(head)[1])


class FaceVault:
    def __init__(self, directory: Path, key: bytes) -> None:
        self.directory = directory
        self._aead = AESGCM(key)

    def load_enrolments(self) -> FaceEnrolments:
        found = self._read(ENROLMENTS)
        if found is None:
            return FaceEnrolments()
        seq, body = found
        try:
            return FaceEnrolments.from_body(seq, body)
        except ValueError as exc:
            raise VaultError(f"{ENROLMENTS}: {exc}") from None

    def save_enrolments(self, enrolments: FaceEnrolments) -> None:
        self._write(ENROLMENTS, enrolments.seq or 0, enrolments.to_body())

    def load_bindings(self) -> dict[bytes, np.ndarray]:
        found = self._read(BINDINGS)
        if found is None:
            return {}
        _, body = found
        try:
            return {bytes(h): embedding_from(e) for h, e in body}
        except (TypeError, ValueError) as exc:
            raise VaultError(f"{BINDINGS}: {exc}") from None

    def save_bindings(self, bindings: dict[bytes, np.ndarray]) -> None:
        self._write(BINDINGS, 0, [[h, embedding_bytes(e)] for h, e in bindings.items()])

    def _read(self, name: str) -> tuple[int, Any] | None:
        path = self.directory / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(data) < _HEADER.size + 12 + 16 or data[:4] != MAGIC:
            raise VaultError(f"{name} is not a face vault file")
        seq = int(_HEADER.unpack(data[: _HEADER.size])[1])
        nonce = data[_HEADER.size : _HEADER.size + 12]
        try:
            plain = self._aead.decrypt(
                nonce, data[_HEADER.size + 12 :], name.encode() + data[: _HEADER.size]
            )
        except InvalidTag:
            raise VaultError(f"{name} was not written by this node's key (edited?)") from None
        return seq, cbor2.loads(plain)

    def _write(self, name: str, seq: int, body: object) -> None:
        header = _HEADER.pack(MAGIC, seq)
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, cbor2.dumps(body), name.encode() + header)
        path = self.directory / name
        temporary = path.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        temporary.write_bytes(header + nonce + sealed)
        temporary.replace(path)
