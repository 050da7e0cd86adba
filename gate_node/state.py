"""A node's state directory: everything a gate needs to decide offline, and nothing secret in clear.

Layout (provisioning/ makes it: ``gatectl enrol`` from the cloud, or ``gatectl init`` for a
standalone node; this module only opens, verifies and updates it)::

    node.json          TinyDB, human-readable: tables "config" (site, node, kind, zone, rules,
                       pin map, readers), "pinned" (root key fingerprint), "documents" (which
                       signed documents are held, their seq and time)
    root.pem           the pinned root public key: the only key this node trusts on its own
    keyring.cose       root-signed keyring of issuer keys
    revocations/       root-signed snapshot and the deltas applied after it, as received
    node.key           this node's identity key (Ed25519, encrypted, 0600)
    holder.salt        the site's holder salt (hex, 0600) for real-name and card checks
    cards.cose         root-signed card index snapshot: ID/RFID holder references -> tickets
    cards/             the card index deltas applied after that snapshot, as received
    faces.enc          face enrolments held (embeddings only), AES-GCM under a key from node.key
    face-bindings.enc  faces bound at a multi-day pass's first entry, the same way
                       (gate_node/face/vault.py; face-disputes/ only if the operator enables it)
    nodes.cose         root-signed registry of the site's nodes and keys (peer gossip)
    config.cose        the root-signed config document last applied (its settings win over
                       node.json's at every start; its ``face_key`` is the cloud's key that
                       first-entry face bindings are sealed to, ``cloud_face_key``)
    trust.cose         signed by node.key: the highest seq of every document applied and the
                       pinned root fingerprint (gate_node/trust_record.py)
    uplink.json        the MQTT session counter (births and wills)
    ledger.sqlite      uses and refusals (gate_node/ledger.py)
    clock.json         the clock floor (gate_node/clock.py)

Configuration fields and what the cloud may change of them are gate_node/config.py.
``NodeState.open`` re-verifies every signed document against the pinned root key on each start,
so a file edited on the SD card is refused rather than believed, and compares what it holds
with trust.cose, so a file rolled back, deleted or replaced is noticed: ``problems`` lists what
it found (gate_node/trust_record.py says what the lane does then). Errors are
``NodeStateError`` with a message an installer can act on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tinydb import TinyDB

from gate_node.config import (
    KINDS,
    NodeConfig,
    NodeStateError,
    face_key_of,
    parse_salt,
    validate_config,
    with_settings,
)
from gate_node.face.vault import ENROLMENTS, FaceVault, VaultError, read_seq, vault_key
from gate_node.trust_record import (
    TrustError,
    TrustProblem,
    TrustRecord,
    find_problems,
    read_record,
    write_record,
)
from keys import keystore
from keys.card_index import DOC_TYPE as CARDS
from keys.card_index import CardIndex
from keys.clock import SYSTEM, Clock, site_today
from keys.face_enrolment import DOC_TYPE as FACES
from keys.face_enrolment import FaceEnrolments
from keys.keyring import Keyring
from keys.keystore import KeyStoreError
from keys.node_registry import DOC_TYPE as NODES
from keys.node_registry import NodeRegistry
from keys.revocation import DOC_TYPE as REVOCATIONS
from keys.revocation import RevocationList
from keys.signed_document import DocumentError, SignedDocument, require_newer, verify_document

__all__ = ["KINDS", "NodeConfig", "NodeState", "NodeStateError", "validate_config", "write_atomic"]


class NodeState:
    """An opened, verified state directory."""

    def __init__(
        self,
        directory: Path,
        config: NodeConfig,
        root: Ed25519PublicKey,
        keyring: Keyring,
        revocations: RevocationList,
        documents: dict[str, Any],
        cards: CardIndex,
        holder_salt: bytes | None,
    ) -> None:
        self.directory = directory
        self.config = config
        self.local_config = config
        """node.json's own configuration (the installer's), which each root-signed config
        document is laid over afresh: a setting the site stops sending returns to this gate's
        own value, not to the one an earlier document gave."""
        self.root = root
        self.keyring = keyring
        self.revocations = revocations
        self.documents = documents
        self.cards = cards
        self.holder_salt = holder_salt
        self.nodes = NodeRegistry()
        self.faces = FaceEnrolments()
        """Loaded at ``unlock`` (they are encrypted under the node key); until then only the
        seq in faces.enc's header is known (``_faces_on_disk``), for the trust check."""
        self.face_bindings: dict[bytes, Any] = {}
        self.cloud_face_key: bytes | None = None
        """The cloud's X25519 face key (raw 32 bytes) from the root-signed config: first-entry
        bindings are sealed to it (keys/face_binding.py); None, they stay on this gate."""
        self._faces_on_disk = read_seq(directory / ENROLMENTS)
        self._vault: FaceVault | None = None
        self.config_seq: int | None = None
        self.pinned_root: str | None = None
        self.trust: TrustRecord | TrustError = TrustError("record_missing", "not read yet")
        self.problems: list[TrustProblem] = []
        self.trust_note: str | None = None
        self._signer: keystore.SigningKey | None = None

    @property
    def ledger_path(self) -> Path:
        return self.directory / "ledger.sqlite"

    @property
    def clock_path(self) -> Path:
        return self.directory / "clock.json"

    @classmethod
    def open(cls, directory: Path, clock: Clock = SYSTEM) -> NodeState:
        """Open and re-verify ``directory``; ``clock`` gives the site's today for pruning."""
        if not (directory / "node.json").exists():
            raise NodeStateError(
                f"{directory} is not a node state directory (run gatectl enrol or gatectl init)"
            )
        try:
            with TinyDB(directory / "node.json") as db:
                docs = db.table("config").all()
                held = {d["type"]: d for d in db.table("documents").all()}
                pins = db.table("pinned").all()
        except (TypeError, KeyError, AttributeError):  # valid JSON, but not TinyDB's shape
            raise NodeStateError(
                f"{directory}/node.json is not a node document (tables config, documents, "
                "pinned); restore it or provision the node again (gatectl)"
            ) from None
        if len(docs) != 1:
            raise NodeStateError(f"{directory}/node.json must hold exactly one config document")
        config = local = validate_config(dict(docs[0]))
        try:
            root = keystore.load_public_pem(directory / "root.pem")
        except KeyStoreError as exc:
            raise NodeStateError(f"keyring cannot be trusted: {exc}") from None
        held_config = _read_signed(directory / "config.cose", root, "config", config.site)
        if held_config is not None:
            try:
                config = with_settings(config, held_config)
            except DocumentError as exc:
                raise NodeStateError(f"config.cose cannot be applied: {exc}") from None
        try:
            keyring = Keyring.load((directory / "keyring.cose").read_bytes(), root, config.site)
        except (KeyStoreError, DocumentError, OSError) as exc:
            raise NodeStateError(f"keyring cannot be trusted: {exc}") from None
        revocations = _load_revocations(directory / "revocations", root, config, clock)
        cards = _load_cards(directory, root, config.site)
        held_nodes = _read_signed(directory / "nodes.cose", root, NODES, config.site)
        nodes = NodeRegistry.from_document(held_nodes) if held_nodes else NodeRegistry()
        salt = None
        if (directory / "holder.salt").exists():
            try:
                salt = parse_salt(
                    keystore.read_secret_file(directory / "holder.salt", "holder salt")
                )
            except KeyStoreError as exc:
                raise NodeStateError(str(exc)) from None
        state = cls(directory, config, root, keyring, revocations, held, cards, salt)
        state.local_config = local
        state.nodes = nodes
        state.config_seq = held_config.seq if held_config else None
        if held_config is not None:
            try:
                state.cloud_face_key = face_key_of(held_config)
            except DocumentError as exc:
                raise NodeStateError(f"config.cose cannot be applied: {exc}") from None
        state.pinned_root = pins[0].get("root_fingerprint") if len(pins) == 1 else None
        try:
            node_public = keystore.read_public(directory / "node.key")
        except KeyStoreError as exc:
            node_public = None
            state.trust = TrustError("record_forged", f"node.key: {exc}")
        state.check_trust(node_public)
        return state

    def held_seqs(self) -> dict[str, int | None]:
        """The seq of each signed document type this directory holds now."""
        return {
            "keyring": self.keyring.seq,
            REVOCATIONS: self.revocations.seq,
            CARDS: self.cards.seq,
            FACES: self.faces.seq if self._vault is not None else self._faces_on_disk,
            NODES: self.nodes.seq if len(self.nodes) else None,
            "config": self.config_seq,
        }

    def check_trust(self, node_public: Ed25519PublicKey | None) -> list[TrustProblem]:
        """Compare what is held with the signed record (verified under ``node_public``)."""
        if node_public is not None:
            try:
                self.trust = read_record(self.directory, node_public, self.config.site)
            except TrustError as exc:
                self.trust = exc
        self.problems = find_problems(
            self.trust,
            node=self.config.node,
            root_fingerprint=keystore.fingerprint(self.root),
            pinned_fingerprint=self.pinned_root,
            held=self.held_seqs(),
        )
        return self.problems

    def remembered(self, doc_type: str) -> int | None:
        """The highest seq of ``doc_type`` this node has applied, by its signed record."""
        return self.trust.remembered(doc_type) if isinstance(self.trust, TrustRecord) else None

    @property
    def untrusted(self) -> str | None:
        """Why the lane must stay closed (one line, codes first), or None when it may open."""
        if not self.problems:
            return None
        return "; ".join(f"{p.code}: {p.detail}" for p in self.problems)

    def unlock(self, node_key: keystore.SigningKey) -> None:
        """Take the decrypted identity key: the record is checked under it (a node.key file
        swapped for another key cannot vouch for a record), and documents can be applied."""
        self._signer = node_key
        self._vault = FaceVault(self.directory, vault_key(node_key))
        try:
            self.faces = self._vault.load_enrolments()
            self.face_bindings = self._vault.load_bindings()
        except VaultError as exc:
            # Unreadable face data is dropped, not believed: if the record remembers face
            # enrolments, the check below holds the lane closed until a snapshot comes.
            self.faces, self.face_bindings = FaceEnrolments(), {}
            self.trust_note = f"face data unreadable: {exc}"
        self.check_trust(node_key.public_key)

    def next_session(self) -> int:
        """Count this start of the node's MQTT session (births and wills carry it)."""
        path = self.directory / "uplink.json"
        try:
            session = int(json.loads(path.read_text())["session"]) + 1
        except (OSError, ValueError, KeyError, TypeError):
            session = 1
        write_atomic(path, json.dumps({"session": session}).encode())
        return session

    def broker_password(self) -> str | None:
        """The node's MQTT password (broker.password, 0600), if the broker wants one."""
        path = self.directory / "broker.password"
        if not path.exists():
            return None
        try:
            return keystore.read_secret_file(path, "broker password").decode().strip()
        except KeyStoreError as exc:
            raise NodeStateError(str(exc)) from None

    def identity(self, passphrase: bytes) -> keystore.SigningKey:
        """This node's identity key (signs its events), decrypted."""
        try:
            key = keystore.load(self.directory / "node.key", passphrase)
        except KeyStoreError as exc:
            raise NodeStateError(f"node identity key: {exc}") from None
        self.unlock(key)
        return key

    def apply_keyring(self, raw: bytes) -> SignedDocument:
        """A newer root-signed keyring (issuer key added, rotated or retired)."""
        document = self._verified(raw, "keyring")
        require_newer(document, self.keyring.seq)
        self.keyring = Keyring.from_document(document)
        write_atomic(self.directory / "keyring.cose", raw)
        self._note_document(document)
        return document

    def apply_nodes(self, raw: bytes) -> SignedDocument:
        """A newer registry of the site's gate nodes and their keys (for peer gossip)."""
        document = self._verified(raw, NODES)
        require_newer(document, self.nodes.seq if len(self.nodes) else None)
        self.nodes = NodeRegistry.from_document(document)
        write_atomic(self.directory / "nodes.cose", raw)
        self._note_document(document)
        return document

    def apply_config(self, raw: bytes) -> SignedDocument:
        """Rules the cloud sets for this node (grace, gaps, real-name check, holder salt)."""
        document = self._verified(raw, "config")
        require_newer(document, self.config_seq)
        config = with_settings(self.local_config, document)
        face_key = face_key_of(document)
        body = document.body if isinstance(document.body, dict) else {}
        salt = body.get("holder_salt")
        if salt is not None:
            if not isinstance(salt, bytes) or len(salt) < 16:
                raise DocumentError("malformed", "holder_salt must be at least 16 bytes")
            path = self.directory / "holder.salt"
            path.touch(mode=0o600)
            path.write_text(salt.hex())
            self.holder_salt = salt
        write_atomic(self.directory / "config.cose", raw)  # laid over node.json at each start
        self.config = config
        self.config_seq = document.seq
        self.cloud_face_key = face_key
        self._note_document(document)
        return document

    def apply_faces(self, raw: bytes) -> list[bytes]:
        """Verify and apply a face enrolment snapshot or delta, keep the result encrypted.
        Returns the holders whose first-entry bindings here must go: those no longer enrolled
        (right to be forgotten) and those enrolled now (the cloud's face, the site-wide first
        binding, replaces whatever this gate bound)."""
        document = self._verified(raw, FACES)
        assert self._vault is not None  # _verified needs the node key, unlock sets the vault
        gone = self.faces.apply(document)
        self._vault.save_enrolments(self.faces)
        replaced = [h for h in self.face_bindings if h in self.faces.entries]
        drop = set(gone) | set(replaced)
        if drop & set(self.face_bindings):
            self.save_face_bindings({h: e for h, e in self.face_bindings.items() if h not in drop})
        self._note_document(document)
        return [*gone, *(h for h in replaced if h not in gone)]

    def save_face_bindings(self, bindings: dict[bytes, Any]) -> None:
        """Keep first-entry face bindings (encrypted); needs the node key."""
        if self._vault is None:
            raise NodeStateError("face bindings need the node key (NodeState.identity)")
        self.face_bindings = dict(bindings)
        self._vault.save_bindings(self.face_bindings)

    @property
    def unlocked(self) -> bool:
        """The identity key is in memory (documents can be applied, face data read)."""
        return self._signer is not None

    def face_key(self, purpose: bytes) -> bytes:
        """A key for face data at rest (disputes), derived from the node key."""
        if self._signer is None:
            raise NodeStateError("face data needs the node key (NodeState.identity)")
        return vault_key(self._signer, purpose)

    def apply_cards(self, raw: bytes) -> SignedDocument:
        """Verify and apply a card index snapshot or delta (keys/card_index.py), then keep it:
        a snapshot replaces cards.cose and clears cards/, a delta is added to cards/."""
        document = self._verified(raw, CARDS)
        self.cards.apply(document)
        folder = self.directory / "cards"
        folder.mkdir(exist_ok=True)
        body = document.body if isinstance(document.body, dict) else {}
        if body.get("kind") == "delta":
            write_atomic(folder / f"{document.seq:012d}-delta.cose", raw)
        else:
            for old in folder.glob("*.cose"):
                old.unlink()
            write_atomic(self.directory / "cards.cose", raw)
        self._note_document(document)
        return document

    def apply_revocations(self, raw: bytes) -> SignedDocument:
        """Verify and apply a revocation document, then keep it (snapshot replaces the folder)."""
        document = self._verified(raw, REVOCATIONS)
        self.revocations.apply(document)
        folder = self.directory / "revocations"
        kind = document.body["kind"]
        if kind == "snapshot":
            for old in folder.glob("*.cose"):
                old.unlink()
        write_atomic(folder / f"{document.seq:012d}-{kind}.cose", raw)
        self._note_document(document)
        return document

    def _verified(self, raw: bytes, doc_type: str) -> SignedDocument:
        """Verify a downlink document and refuse one older than any this node has applied.

        One not newer than what is held is left to the type's own check (``stale_sequence``,
        no alarm: brokers redeliver retained documents). ``rolled_back`` is for the gap a
        rollback on disk opens: newer than held, older than remembered."""
        if self._signer is None:
            raise NodeStateError("applying documents needs the node key (NodeState.identity)")
        if isinstance(self.trust, TrustError) or any(p.fatal for p in self.problems):
            raise DocumentError("state_untrusted", self.untrusted or "no trust record")
        document = verify_document(raw, self.root, doc_type=doc_type, site=self.config.site)
        remembered, held = self.remembered(doc_type), self.held_seqs().get(doc_type)
        newer_than_held = held is None or document.seq > held
        if remembered is not None and newer_than_held and document.seq < remembered:
            raise DocumentError(
                "rolled_back", f"{doc_type} seq {document.seq} < {remembered} applied before"
            )
        return document

    def _note_document(self, document: SignedDocument) -> None:
        self._remember(document)
        self.documents[document.doc_type] = {"type": document.doc_type, "seq": document.seq}
        with TinyDB(self.directory / "node.json") as db:
            table = db.table("documents")
            table.remove(lambda d: d.get("type") == document.doc_type)
            table.insert(
                {
                    "type": document.doc_type,
                    "seq": document.seq,
                    "issued_at": document.issued_at.isoformat(),
                }
            )

    def _remember(self, document: SignedDocument) -> None:
        """Raise the record's seq for this type and re-sign it, then look again."""
        assert self._signer is not None and isinstance(self.trust, TrustRecord)
        record = self.trust
        record.seqs[document.doc_type] = max(document.seq, record.seqs.get(document.doc_type, 0))
        record.seq += 1
        write_record(self.directory, self._signer, self.config.site, record, document.issued_at)
        self.check_trust(None)


def _read_signed(
    path: Path, root: Ed25519PublicKey, doc_type: str, site: str
) -> SignedDocument | None:
    if not path.exists():
        return None
    try:
        return verify_document(path.read_bytes(), root, doc_type=doc_type, site=site)
    except DocumentError as exc:
        raise NodeStateError(f"{path.name} cannot be trusted: {exc}") from None


def _load_cards(directory: Path, root: Ed25519PublicKey, site: str) -> CardIndex:
    """The card index snapshot (cards.cose) and the deltas after it (cards/), re-verified."""
    cards = CardIndex()
    held = _read_signed(directory / "cards.cose", root, CARDS, site)
    if held is None:
        return cards
    cards.apply(held)
    for path in sorted((directory / "cards").glob("*.cose")):
        try:
            cards.apply(verify_document(path.read_bytes(), root, doc_type=CARDS, site=site))
        except DocumentError as exc:
            raise NodeStateError(f"{path} cannot be trusted: {exc}") from None
    return cards


def _load_revocations(
    folder: Path, root: Ed25519PublicKey, config: NodeConfig, clock: Clock
) -> RevocationList:
    revocations = RevocationList()
    for path in sorted(folder.glob("*.cose")):
        try:
            revocations.apply(
                verify_document(path.read_bytes(), root, doc_type=REVOCATIONS, site=config.site)
            )
        except DocumentError as exc:
            raise NodeStateError(f"{path} cannot be trusted: {exc}") from None
    # Pruning by the system clock is safe: decisions use max(system clock, floor), never less,
    # so a ticket whose entry is pruned here is refused as expired anyway.
    revocations.prune(site_today(clock, config.timezone))
    return revocations


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file)."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
