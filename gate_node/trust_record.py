"""The node's signed memory of what it has applied, so a state directory rolled back is refused.

Every file in the state directory that the cloud signs (keyring, revocations, cards, nodes,
config) is re-verified at each start, but a signature says only that the root key once signed
it, not that it is the newest. Deleting the revocation snapshot, or copying last month's
keyring back, leaves files that verify: a refunded ticket would work again, a retired issuer
key would come back. So the node keeps ``trust.cose``: a signed document
(keys/signed_document.py) of type ``node_state``, signed by the node's own identity key
(``node.key``), body::

    {"node": "G1", "root": "<pinned root fingerprint>",
     "seqs": {"keyring": 3, "revocations": 41, "config": 2, ...}}

``seqs`` is the highest seq of each document type the node has ever applied; the record's own
seq counts its rewrites. ``NodeState`` rewrites it after every applied document and compares
at every start (``find_problems``). Over the downlink, a document not newer than the one held
is refused as before (``stale_sequence``: brokers redeliver retained documents, no alarm); one
newer than held but older than remembered, which only a rollback on disk lets through, is
refused as ``rolled_back`` with an alarm.

What the lane does then (gate_node/state.py, gate_node/assembly.py):

- ``root_replaced`` (root.pem is not the key pinned in node.json), ``pin_edited`` (node.json's
  pin is not the one in the record), ``record_missing``, ``record_forged``: nothing the node
  would verify can be believed, so ``gate-node run`` refuses to start (exit 2, after an alarm
  is written to the outbox). Repair: put the right root.pem back, or provision the node again.
- ``rolled_back`` (a document older than remembered, or missing): the node starts with the lane
  held closed, every credential refused with ``state_untrusted``, so a ticket it knew to be
  revoked is never admitted. The downlink still runs and accepts a document of that type only
  at or beyond the remembered seq (for revocations: a snapshot; the node asks for one); once
  every type has caught up, the lane opens by itself. Offline, copy the newest signed file
  back (or one the cloud exports) and restart.

What this protects against: a careless copy or a restore of some files from an old backup;
someone with write access to the SD card or the state directory but not the node key (they can
delete or swap files, edit node.json, even replace node.key with a key of their own, but
cannot sign a record that the node's real key verifies: at ``run`` the node key is decrypted
with the passphrase from its systemd credential, and the record is checked under it).

What not: anyone who can read the passphrase (root on the Pi can do anything); a restore of
the *whole* directory, record included, from one old backup (it is consistent with itself;
the cloud's newer documents bring it forward on the next downlink, and until then it decides
with the old lists); the clock floor (gate_node/clock.py) and the ledger are not covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.cose import Signer
from keys.signed_document import DocumentError, sign_document, verify_document

RECORD_FILE = "trust.cose"
DOC_TYPE = "node_state"

FATAL = frozenset({"root_replaced", "pin_edited", "record_missing", "record_forged"})
"""Problems no downlink can mend: the node does not serve until an installer repairs it."""


@dataclass(frozen=True, slots=True)
class TrustProblem:
    code: str
    detail: str

    @property
    def fatal(self) -> bool:
        return self.code in FATAL


@dataclass
class TrustRecord:
    """The node's own signed record of the newest seq it has applied per document type.

    Never trusted unless the node key verifies it; what it remembers only goes up."""

    node: str
    root: str
    seqs: dict[str, int] = field(default_factory=dict)
    seq: int = 0

    def remembered(self, doc_type: str) -> int | None:
        return self.seqs.get(doc_type)


def read_record(directory: Path, node_key: Ed25519PublicKey, site: str) -> TrustRecord:
    """The record, verified under ``node_key``; ``TrustError`` says why it cannot be used."""
    path = directory / RECORD_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TrustError("record_missing", f"{RECORD_FILE} is missing") from None
    except OSError as exc:
        raise TrustError("record_missing", f"cannot read {RECORD_FILE}: {exc.strerror}") from None
    try:
        document = verify_document(raw, node_key, doc_type=DOC_TYPE, site=site)
    except DocumentError as exc:
        raise TrustError("record_forged", f"{RECORD_FILE}: {exc}") from None
    body = document.body
    seqs = body.get("seqs") if isinstance(body, dict) else None
    if not (
        isinstance(body, dict)
        and isinstance(body.get("node"), str)
        and isinstance(body.get("root"), str)
        and isinstance(seqs, dict)
        and all(isinstance(k, str) and _uint(v) for k, v in seqs.items())
    ):
        raise TrustError("record_forged", f"{RECORD_FILE}: body needs node, root and seqs")
    return TrustRecord(body["node"], body["root"], dict(seqs), document.seq)


def write_record(
    directory: Path, signer: Signer, site: str, record: TrustRecord, issued_at: datetime
) -> None:
    """Sign and store ``record`` (its seq already raised by the caller), atomically.
    ``issued_at``: the newest applied document's, so the record never reads a clock."""
    body = {"node": record.node, "root": record.root, "seqs": dict(sorted(record.seqs.items()))}
    raw = sign_document(signer, DOC_TYPE, site, record.seq, body, issued_at)
    temporary = directory / (RECORD_FILE + ".tmp")
    temporary.write_bytes(raw)
    temporary.replace(directory / RECORD_FILE)


def find_problems(
    record: TrustRecord | TrustError,
    *,
    node: str,
    root_fingerprint: str,
    pinned_fingerprint: str | None,
    held: dict[str, int | None],
) -> list[TrustProblem]:
    """Everything that makes the state directory older than, or other than, the record says."""
    problems = []
    if root_fingerprint != pinned_fingerprint:
        problems.append(
            TrustProblem(
                "root_replaced",
                f"root.pem is {root_fingerprint}, node.json pins {pinned_fingerprint}",
            )
        )
    if isinstance(record, TrustError):
        return [*problems, TrustProblem(record.code, record.detail)]
    if record.node != node:
        problems.append(TrustProblem("record_forged", f"record is for node {record.node}"))
    if record.root != pinned_fingerprint:
        problems.append(
            TrustProblem(
                "pin_edited", f"node.json pins {pinned_fingerprint}, the record {record.root}"
            )
        )
    for doc_type, remembered in sorted(record.seqs.items()):
        have = held.get(doc_type)
        if have is None or have < remembered:
            problems.append(
                TrustProblem(
                    "rolled_back",
                    f"{doc_type}: holds seq {have if have is not None else 'none'}, "
                    f"applied {remembered} before",
                )
            )
    return problems


class TrustError(Exception):
    """The record itself cannot be used (``code``: record_missing or record_forged)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
