"""Private keys on disk: always encrypted, never readable by others, never from the command line.

A key file is a small JSON document, so an operator can see what it is without a passphrase::

    {"format": "scenic-key/1", "role": "issuer", "kid": "I1", "created": "...",
     "public_key": "<64 hex digits, raw Ed25519>",
     "private_key": "-----BEGIN ENCRYPTED PRIVATE KEY----- ..."}

The private half is PKCS#8 encrypted with the passphrase (cryptography's
``BestAvailableEncryption``: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC). The passphrase
comes from the ``SCENIC_KEY_PASSPHRASE`` environment variable or a passphrase file; a
command-line argument would be visible to every user in ``ps`` and in shell history, so there
is none. Key files and passphrase files that group or others can read are refused, like ssh
refuses a private key with loose permissions. Files are created 0600 with O_EXCL, so an
existing key is never overwritten by accident.

Roles: ``root`` signs downlink documents (keyrings, revocations, config) and is pinned on each
gate; ``issuer`` signs tickets; ``node`` is a gate's own identity for its uplink events.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.clock import SYSTEM, Clock
from keys.errors import KeysError

FORMAT = "scenic-key/1"
ROLES = ("root", "issuer", "node")
PASSPHRASE_ENV = "SCENIC_KEY_PASSPHRASE"
PASSPHRASE_FILE_ENV = "SCENIC_KEY_PASSPHRASE_FILE"  # e.g. a systemd credential: %d/node-passphrase
MIN_PASSPHRASE = 12
_KID = re.compile(r"[A-Za-z0-9]{1,4}")  # whole match: "I1\n" is no kid


class KeyStoreError(KeysError):
    """A key or passphrase cannot be used; the message says what to do, and never a secret."""


def kid_bytes(kid: str) -> bytes:
    """A kid as written by people ("I1") to the bytes in the envelope; 1-4 letters or digits."""
    if not _KID.fullmatch(kid):
        raise KeyStoreError(
            f"kid {kid!r} must be 1-4 letters or digits, e.g. I1 / 密钥编号须为1-4位字母或数字"
        )
    return kid.encode("ascii")


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, first 16 bytes, for reading aloud at installation."""
    digest = hashlib.sha256(raw_public(public_key)).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(path: Path) -> Ed25519PublicKey:
    """A pinned public key from a PEM file; refuses anything but Ed25519."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(
            f"cannot read public key {path}: {exc.strerror} / 无法读取公钥文件"
        ) from None
    return public_from_pem(data, str(path))


def public_from_pem(data: bytes, where: str = "the key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes (``where`` names them in the error)."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyStoreError(f"{where} is not a PEM public key / 不是PEM公钥文件") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyStoreError(f"{where} is not an Ed25519 public key / 不是Ed25519公钥")
    return key


@dataclass(frozen=True)
class SigningKey:
    """A decrypted private key in memory, with the kid it signs under."""

    kid: bytes
    role: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    def __repr__(self) -> str:  # never print key material, even by accident in a log
        return f"SigningKey(kid={self.kid!r}, role={self.role!r})"


def generate(role: str, kid: str) -> SigningKey:
    if role not in ROLES:
        raise KeyStoreError(f"role must be one of {', '.join(ROLES)} / 密钥角色无效")
    return SigningKey(kid_bytes(kid), role, Ed25519PrivateKey.generate())


def passphrase_from(passphrase_file: Path | None, *, creating: bool = False) -> bytes:
    """The passphrase from a 0600 file (given, or named by $SCENIC_KEY_PASSPHRASE_FILE), else
    from $SCENIC_KEY_PASSPHRASE."""
    if passphrase_file is None and os.environ.get(PASSPHRASE_FILE_ENV):
        passphrase_file = Path(os.environ[PASSPHRASE_FILE_ENV])
    if passphrase_file is not None:
        text = read_secret_file(passphrase_file, "passphrase file").decode("utf-8")
        text = text.rstrip("\r\n")
    else:
        text = os.environ.get(PASSPHRASE_ENV, "")
        if not text:
            raise KeyStoreError(
                f"no passphrase: give --passphrase-file, or set {PASSPHRASE_FILE_ENV} or "
                f"{PASSPHRASE_ENV} / 未提供口令：请使用 --passphrase-file，或设置 "
                f"{PASSPHRASE_FILE_ENV} 或 {PASSPHRASE_ENV}"
            )
    if creating:
        check_new_passphrase(text)
    return text.encode("utf-8")


def read_public(path: Path) -> Ed25519PublicKey:
    """The public half named in a key file, read without the passphrase. It proves nothing
    by itself (the file may have been swapped): only ``load`` binds it to the private key."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(doc["public_key"]))
    except OSError as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyStoreError(f"{path} is not a {FORMAT} key file") from None


# Words that make up placeholder passphrases ("changeme", "password123", "secretsecret"): a
# passphrase of nothing but these, digits and punctuation protects no key.
_PLACEHOLDER_WORDS = (
    "change",
    "me",
    "this",
    "it",
    "pass",
    "word",
    "phrase",
    "passwd",
    "secret",
    "default",
    "example",
    "sample",
    "test",
    "admin",
    "root",
    "scenic",
    "letmein",
    "welcome",
    "qwerty",
    "key",
)
_PLACEHOLDER = re.compile("(?:" + "|".join(_PLACEHOLDER_WORDS) + ")+")
_RUNS = ("0123456789" * 3, "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm" * 2)
MIN_DISTINCT = 6


def check_new_passphrase(text: str, minimum: int = MIN_PASSPHRASE) -> None:
    """Refuse a passphrase for new keys that is short, a placeholder or a keyboard run
    (``KeyStoreError`` with a bilingual reason). Existing keys open with whatever they were
    made with; only ``passphrase_from(..., creating=True)`` asks this."""
    if len(text) < minimum:
        raise KeyStoreError(
            f"passphrase must have at least {minimum} characters / 口令至少需要{minimum}个字符"
        )
    lowered = text.lower()
    letters = "".join(c for c in lowered if c.isalpha())
    if not letters or _PLACEHOLDER.fullmatch(letters):
        raise KeyStoreError(
            "passphrase looks like a placeholder (changeme, password, secret, digits); "
            "use several unrelated words / 口令过于简单（类似默认口令），请使用几个无关的词"
        )
    if len(set(lowered)) < MIN_DISTINCT or any(lowered in run for run in _RUNS):
        raise KeyStoreError(
            "passphrase repeats or runs along the keyboard; use several unrelated words "
            "/ 口令为重复或连续字符，请使用几个无关的词"
        )


def save(key: SigningKey, path: Path, passphrase: bytes, clock: Clock = SYSTEM) -> None:
    """Write the key encrypted, mode 0600; refuse to overwrite. ``clock`` dates it."""
    encrypted = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    ).decode("ascii")
    doc = {
        "format": FORMAT,
        "role": key.role,
        "kid": key.kid.decode("ascii"),
        "created": clock.now().isoformat(timespec="seconds"),
        "public_key": raw_public(key.public_key).hex(),
        "private_key": encrypted,
    }
    _write_new(path, json.dumps(doc, indent=2) + "\n")


def load(path: Path, passphrase: bytes) -> SigningKey:
    """Read and decrypt a key file; refuse loose permissions and wrong passphrases."""
    _refuse_loose_permissions(path, "key file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyStoreError(
            f"cannot read key file {path}: {exc.strerror} / 无法读取密钥文件"
        ) from None
    except ValueError:
        raise KeyStoreError(f"{path} is not a key file (not JSON) / 不是密钥文件") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("role") not in ROLES:
        raise KeyStoreError(f"{path} is not a {FORMAT} key file / 不是密钥文件")
    try:
        private = serialization.load_pem_private_key(doc["private_key"].encode(), passphrase)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise KeyStoreError(f"cannot decrypt {path}: wrong passphrase / 口令错误") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyStoreError(f"{path} does not hold an Ed25519 key / 不是Ed25519密钥")
    key = SigningKey(kid_bytes(str(doc.get("kid", ""))), doc["role"], private)
    if raw_public(key.public_key).hex() != doc.get("public_key"):
        raise KeyStoreError(
            f"{path}: public key does not match the private key (file edited?) / 公私钥不匹配"
        )
    return key


SECRET_FORMAT = "scenic-secret/1"


def save_secret(secret: bytes, path: Path, passphrase: bytes, what: str) -> None:
    """A symmetric secret (data key, holder salt, channel secret) encrypted at rest: scrypt
    (n=2**15, r=8, p=1) derives an AES-256-GCM key from the passphrase. 0600, never overwritten."""
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_secret_key(passphrase, salt)).encrypt(nonce, secret, what.encode())
    doc = {
        "format": SECRET_FORMAT,
        "what": what,
        "kdf": "scrypt",
        "salt": salt.hex(),
        "nonce": nonce.hex(),
        "sealed": sealed.hex(),
    }
    _write_new(path, json.dumps(doc, indent=2) + "\n")


def load_secret(path: Path, passphrase: bytes, what: str) -> bytes:
    """Decrypt a secret written by ``save_secret``; refuses loose permissions."""
    _refuse_loose_permissions(path, what)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != SECRET_FORMAT or doc.get("what") != what:
            raise KeyStoreError(f"{path} is not a {what} file / 文件格式不符")
        key = _secret_key(passphrase, bytes.fromhex(doc["salt"]))
        return AESGCM(key).decrypt(
            bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["sealed"]), what.encode()
        )
    except OSError as exc:
        raise KeyStoreError(f"cannot read {what} {path}: {exc.strerror} / 无法读取文件") from None
    except InvalidTag:
        raise KeyStoreError(f"cannot decrypt {path}: wrong passphrase / 口令错误") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyStoreError(f"{path} is not a {what} file / 文件格式不符") from None


def _secret_key(passphrase: bytes, salt: bytes) -> bytes:
    return hashlib.scrypt(
        passphrase, salt=salt, n=2**15, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32
    )


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` 0600 with ``text``, durably; never replace an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyStoreError(
            f"{path} exists; refusing to overwrite a key / 密钥文件已存在"
        ) from None
    except OSError as exc:
        raise KeyStoreError(f"cannot create {path}: {exc.strerror} / 无法创建文件") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def read_secret_file(path: Path, what: str) -> bytes:
    """A secret's bytes from a file nobody else can read (else ``KeyStoreError``)."""
    _refuse_loose_permissions(path, what)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read {what} {path}: {exc.strerror} / 无法读取文件") from None


def _refuse_loose_permissions(path: Path, what: str) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise KeyStoreError(f"cannot read {what} {path}: {exc.strerror} / 无法读取文件") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(
            f"{what} {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path} / 文件权限过宽"
        )
