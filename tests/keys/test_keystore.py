"""Private keys: encrypted at rest, refused when others can read them, never in a repr."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization

from keys import keystore
from keys.keystore import KeyStoreError


def _raw_private(key):
    return key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_a_saved_key_is_encrypted_and_private(tmp_path, passphrase_env):
    key = keystore.generate("issuer", "I1")
    path = tmp_path / "issuer.key"
    keystore.save(key, path, passphrase_env.encode())
    content = path.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in content
    assert _raw_private(key) not in content and _raw_private(key).hex().encode() not in content
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = keystore.load(path, passphrase_env.encode())
    assert _raw_private(loaded) == _raw_private(key) and loaded.kid == b"I1"


def test_a_key_readable_by_others_is_refused(tmp_path, passphrase_env):
    path = tmp_path / "k.key"
    keystore.save(keystore.generate("root", "R1"), path, passphrase_env.encode())
    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        keystore.load(path, passphrase_env.encode())


def test_a_wrong_passphrase_says_so_without_a_traceback_worth_of_detail(tmp_path, passphrase_env):
    path = tmp_path / "k.key"
    keystore.save(keystore.generate("root", "R1"), path, passphrase_env.encode())
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        keystore.load(path, b"not the passphrase")


def test_an_existing_key_is_never_overwritten(tmp_path, passphrase_env):
    path = tmp_path / "k.key"
    keystore.save(keystore.generate("root", "R1"), path, passphrase_env.encode())
    before = path.read_bytes()
    with pytest.raises(KeyStoreError, match="overwrite"):
        keystore.save(keystore.generate("root", "R1"), path, passphrase_env.encode())
    assert path.read_bytes() == before


def test_passphrase_comes_from_env_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv(keystore.PASSPHRASE_ENV, raising=False)
    with pytest.raises(KeyStoreError, match="no passphrase"):
        keystore.passphrase_from(None)
    secret = tmp_path / "pass"
    secret.write_text("from a file, twelve+\n")
    secret.chmod(0o640)
    with pytest.raises(KeyStoreError, match="readable by others"):
        keystore.passphrase_from(secret)
    secret.chmod(0o600)
    assert keystore.passphrase_from(secret) == b"from a file, twelve+"


def test_a_short_passphrase_is_refused_for_new_keys(monkeypatch):
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "short")
    with pytest.raises(KeyStoreError, match="at least"):
        keystore.passphrase_from(None, creating=True)


def test_an_edited_key_file_is_detected(tmp_path, passphrase_env):
    import json

    path = tmp_path / "k.key"
    keystore.save(keystore.generate("issuer", "I1"), path, passphrase_env.encode())
    doc = json.loads(path.read_text())
    doc["public_key"] = "00" * 32
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyStoreError, match="does not match"):
        keystore.load(path, passphrase_env.encode())


@pytest.mark.parametrize("kid", ["", "TOOLONG", "I-1", "密钥"])
def test_kids_are_one_to_four_letters_or_digits(kid):
    with pytest.raises(KeyStoreError):
        keystore.kid_bytes(kid)


def test_a_signing_key_never_shows_its_secret():
    key = keystore.generate("issuer", "I1")
    assert _raw_private(key).hex() not in repr(key)
    assert "private" not in repr(key).lower()


def test_symmetric_secrets_are_sealed_at_rest_and_bound_to_their_purpose(tmp_path, passphrase_env):
    secret = bytes(range(32))
    path = tmp_path / "data.secret"
    keystore.save_secret(secret, path, passphrase_env.encode(), "data key")
    assert secret.hex() not in path.read_text() and os.stat(path).st_mode & 0o777 == 0o600
    assert keystore.load_secret(path, passphrase_env.encode(), "data key") == secret
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        keystore.load_secret(path, b"not it", "data key")
    with pytest.raises(KeyStoreError, match="not a holder salt file"):
        keystore.load_secret(path, passphrase_env.encode(), "holder salt")


@pytest.mark.parametrize(
    "weak",
    [
        "changeme",
        "password",
        "changemechangeme",
        "Password1234!",
        "secret-secret",
        "aaaaaaaaaaaaaa",
        "123456789012",
        "qwertyuiopasdf",
        "121212121212",
    ],
)
def test_a_placeholder_or_keyboard_run_passphrase_is_refused_for_new_keys(monkeypatch, weak):
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, weak)
    with pytest.raises(KeyStoreError, match="口令"):
        keystore.passphrase_from(None, creating=True)
    assert keystore.passphrase_from(None) == weak.encode()  # existing keys still open


def test_a_passphrase_of_unrelated_words_is_accepted_for_new_keys(monkeypatch):
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "correct horse battery staple")
    assert keystore.passphrase_from(None, creating=True) == b"correct horse battery staple"


def test_a_kid_with_a_trailing_newline_is_refused():
    with pytest.raises(KeyStoreError, match="kid"):
        keystore.kid_bytes("I1\n")
