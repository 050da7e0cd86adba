"""Making a node's state directory from scratch: the one place a fresh gate gets its trust.

Never: open or update a directory that holds a node (gate_node/state.py does that), or leave a
half-made one behind: whatever fails, the directory is removed (or emptied, if it existed) so
it can never look initialised when it is not.

``create_node`` takes everything as verified-to-be bytes (the root public key as PEM, the
root-signed keyring and revocation list) and, optionally, an identity key made beforehand
(``gatectl enrol`` makes the key first, since its public half goes to the cloud with the
token). ``initialise`` is the standalone form with files an installer brought
(``gatectl init``). Both pin the root key, write the keyring, make or save the encrypted
identity key, and sign the first trust record (gate_node/trust_record.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from gate_node.config import NodeStateError, config_doc, parse_salt, validate_config
from gate_node.state import NodeState, write_atomic
from gate_node.trust_record import TrustRecord, write_record
from keys import keystore
from keys.clock import SYSTEM, Clock
from keys.keyring import Keyring
from keys.keystore import KeyStoreError
from keys.signed_document import DocumentError, verify_document


def read_salt_file(path: Path) -> bytes:
    """A holder salt handed over by the cloud or the installer (hex in a 0600 file)."""
    try:
        return parse_salt(keystore.read_secret_file(path, "holder salt file"))
    except KeyStoreError as exc:
        raise NodeStateError(str(exc)) from None


def initialise(
    directory: Path,
    config_doc: dict[str, Any],
    root_pub: Path,
    keyring_file: Path,
    revocations_file: Path | None,
    passphrase: bytes,
    holder_salt: bytes | None = None,
    clock: Clock = SYSTEM,
) -> NodeState:
    """Create a state directory from scratch (refuses an existing one); ``clock`` dates it."""
    try:
        root_pem = root_pub.read_bytes()
        raw_keyring = keyring_file.read_bytes()
        raw_revocations = revocations_file.read_bytes() if revocations_file else None
    except OSError as exc:
        raise NodeStateError(f"cannot read {exc.filename}: {exc.strerror}") from None
    return create_node(
        directory,
        config_doc,
        root_pem,
        raw_keyring,
        raw_revocations,
        passphrase,
        holder_salt=holder_salt,
        clock=clock,
    )


def create_node(
    directory: Path,
    config: dict[str, Any],
    root_pem: bytes,
    raw_keyring: bytes,
    raw_revocations: bytes | None,
    passphrase: bytes,
    *,
    holder_salt: bytes | None = None,
    identity: keystore.SigningKey | None = None,
    clock: Clock = SYSTEM,
) -> NodeState:
    """Create ``directory`` (new or empty) holding a node that pins ``root_pem``; returns the
    state opened and unlocked with its identity key (``identity``, else a new one)."""
    checked = validate_config(config)
    if holder_salt is not None and len(holder_salt) < 16:
        raise NodeStateError("the holder salt must be at least 16 bytes (32 hex digits)")
    if (directory / "node.json").exists():
        raise NodeStateError(f"{directory} already holds a node; remove it first to re-initialise")
    try:
        root = keystore.public_from_pem(root_pem)
        keyring_doc = verify_document(raw_keyring, root, doc_type="keyring", site=checked.site)
        keyring = Keyring.from_document(keyring_doc)
    except (KeyStoreError, DocumentError) as exc:
        raise NodeStateError(f"keyring cannot be trusted: {exc}") from None
    if directory.exists() and any(directory.iterdir()):
        raise NodeStateError(f"{directory} is not empty; give an empty or new directory")
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        (directory / "revocations").mkdir(exist_ok=True)
        write_atomic(directory / "root.pem", root_pem)
        write_atomic(directory / "keyring.cose", raw_keyring)
        key = identity or keystore.generate("node", "N1")
        keystore.save(key, directory / "node.key", passphrase, clock)
        if holder_salt is not None:
            salt_path = directory / "holder.salt"
            salt_path.touch(mode=0o600)
            salt_path.write_text(holder_salt.hex())
        with TinyDB(directory / "node.json", indent=2, ensure_ascii=False) as db:
            db.table("config").insert(config_doc(checked))
            db.table("pinned").insert(
                {
                    "root_fingerprint": keystore.fingerprint(root),
                    "node_fingerprint": keystore.fingerprint(key.public_key),
                    "pinned_at": clock.now().isoformat(timespec="seconds"),
                }
            )
            db.table("documents").insert({"type": "keyring", "seq": keyring.seq})
        record = TrustRecord(checked.node, keystore.fingerprint(root), {"keyring": keyring.seq})
        write_record(directory, key, checked.site, record, keyring_doc.issued_at)
        state = NodeState.open(directory, clock)
        state.unlock(key)
        if raw_revocations is not None:
            try:
                state.apply_revocations(raw_revocations)
            except DocumentError as exc:
                raise NodeStateError(f"revocations cannot be applied: {exc}") from None
        return state
    except BaseException:
        remove_contents(directory, created)
        raise


def remove_contents(directory: Path, remove_directory: bool) -> None:
    """Undo a half-made node: remove ``directory`` or, if it existed before, empty it."""
    if remove_directory:
        shutil.rmtree(directory, ignore_errors=True)
        return
    if not directory.exists():
        return
    for child in directory.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
