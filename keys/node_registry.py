"""The site's gate nodes and their identity keys, signed by the root key.

Gates sign their events with their own key (made on the device at provisioning). The cloud
keeps the registry; each gate receives it as a root-signed document of type ``nodes`` so it
can check the uses its peers gossip. Body::

    {"nodes": {"G1": h'<32-byte Ed25519 public key>', ...}}

A node that is decommissioned disappears from the next registry and its gossip is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.cose import Signer
from keys.keystore import raw_public
from keys.signed_document import DocumentError, SignedDocument, sign_document

DOC_TYPE = "nodes"


class NodeRegistry:
    """The site's gate nodes and their public keys, from a root-signed ``nodes`` document.

    A node not in it is unknown: its gossip is never believed."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey] | None = None, seq: int = 0) -> None:
        self._keys = dict(keys or {})
        self.seq = seq

    def key_of(self, node: str) -> Ed25519PublicKey | None:
        return self._keys.get(node)

    def __len__(self) -> int:
        return len(self._keys)

    @classmethod
    def from_document(cls, document: SignedDocument) -> NodeRegistry:
        body = document.body
        nodes = body.get("nodes") if isinstance(body, dict) else None
        if not isinstance(nodes, dict):
            raise DocumentError("malformed", "nodes body needs a nodes map")
        keys = {}
        for node, public in nodes.items():
            if not isinstance(node, str) or not isinstance(public, bytes) or len(public) != 32:
                raise DocumentError("malformed", "nodes entries are node id -> 32-byte key")
            keys[node] = Ed25519PublicKey.from_public_bytes(public)
        return cls(keys, document.seq)


def sign_node_registry(
    root: Signer,
    *,
    site: str,
    seq: int,
    nodes: Mapping[str, Ed25519PublicKey],
    issued_at: datetime | None = None,
) -> bytes:
    body = {"nodes": {node: raw_public(key) for node, key in nodes.items()}}
    return sign_document(root, DOC_TYPE, site, seq, body, issued_at)
