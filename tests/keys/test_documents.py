"""Root-signed documents, keyrings and revocation lists: applied only when signed and newer."""

from __future__ import annotations

from datetime import date

import pytest

from keys import keystore
from keys.keyring import IssuerKey, Keyring, sign_keyring
from keys.revocation import RevocationList, SequenceGap, sign_revocations
from keys.signed_document import DocumentError, require_newer, sign_document, verify_document


def _revocations(root, seq, kind, revoked, site="S1"):
    return verify_document(
        sign_revocations(root, site=site, seq=seq, kind=kind, revoked=revoked),
        root.public_key,
        doc_type="revocations",
        site="S1",
    )


def test_keyring_signed_by_the_root_loads(root_key, issuer_key):
    raw = sign_keyring(
        root_key, [IssuerKey(issuer_key.kid, issuer_key.public_key)], site="S1", seq=5
    )
    ring = Keyring.load(raw, root_key.public_key, "S1")
    assert ring.kids == ["I1"] and ring.seq == 5


def test_keyring_signed_by_any_other_key_is_refused(root_key, issuer_key):
    impostor = keystore.generate("root", "R1")
    raw = sign_keyring(
        impostor, [IssuerKey(issuer_key.kid, issuer_key.public_key)], site="S1", seq=5
    )
    with pytest.raises(DocumentError) as info:
        Keyring.load(raw, root_key.public_key, "S1")
    assert info.value.code == "bad_signature"


def test_keyring_for_another_site_is_refused_but_one_for_all_sites_is_accepted(
    root_key, issuer_key
):
    issuers = [IssuerKey(issuer_key.kid, issuer_key.public_key)]
    with pytest.raises(DocumentError) as info:
        Keyring.load(sign_keyring(root_key, issuers, site="S2", seq=1), root_key.public_key, "S1")
    assert info.value.code == "wrong_site"
    assert Keyring.load(sign_keyring(root_key, issuers, site="*", seq=1), root_key.public_key, "S1")


def test_a_document_of_another_type_is_refused(root_key):
    raw = sign_document(root_key, "config", "S1", 1, {"lanes": 2})
    with pytest.raises(DocumentError) as info:
        verify_document(raw, root_key.public_key, doc_type="keyring", site="S1")
    assert info.value.code == "wrong_type"


def test_a_tampered_document_is_refused(root_key):
    raw = bytearray(sign_document(root_key, "config", "S1", 1, {"lanes": 2}))
    raw[-70] ^= 0x40
    with pytest.raises(DocumentError):
        verify_document(bytes(raw), root_key.public_key, doc_type="config", site="S1")


def test_replayed_or_older_sequence_numbers_are_refused(root_key):
    doc = verify_document(
        sign_document(root_key, "config", "S1", 7, {}),
        root_key.public_key,
        doc_type="config",
        site="S1",
    )
    require_newer(doc, 6)
    for held in (7, 8):
        with pytest.raises(DocumentError) as info:
            require_newer(doc, held)
        assert info.value.code == "stale_sequence"


def test_keyring_entries_must_be_well_formed(root_key):
    raw = sign_document(
        root_key, "keyring", "S1", 1, {"issuers": [{"kid": b"I1", "public_key": b"x"}]}
    )
    with pytest.raises(DocumentError) as info:
        Keyring.load(raw, root_key.public_key, "S1")
    assert info.value.code == "malformed"


def test_snapshot_then_delta_revokes_both_sets(root_key):
    revoked = RevocationList()
    revoked.apply(_revocations(root_key, 1, "snapshot", {b"A" * 8: date(2026, 12, 1)}))
    revoked.apply(_revocations(root_key, 2, "delta", {b"B" * 8: date(2026, 12, 2)}))
    assert revoked.is_revoked(b"A" * 8) and revoked.is_revoked(b"B" * 8)
    assert not revoked.is_revoked(b"C" * 8)
    assert revoked.seq == 2 and len(revoked) == 2


def test_a_delta_after_a_gap_asks_for_what_is_missing_and_changes_nothing(root_key):
    revoked = RevocationList()
    revoked.apply(_revocations(root_key, 1, "snapshot", {}))
    with pytest.raises(SequenceGap) as info:
        revoked.apply(_revocations(root_key, 4, "delta", {b"B" * 8: date(2026, 12, 2)}))
    assert info.value.missing_from == 2
    assert revoked.seq == 1 and not revoked.is_revoked(b"B" * 8)


def test_a_delta_with_nothing_held_is_a_gap_from_zero(root_key):
    with pytest.raises(SequenceGap) as info:
        RevocationList().apply(_revocations(root_key, 3, "delta", {}))
    assert info.value.missing_from == 0


def test_a_replayed_delta_is_stale(root_key):
    revoked = RevocationList()
    revoked.apply(_revocations(root_key, 1, "snapshot", {}))
    delta = _revocations(root_key, 2, "delta", {b"B" * 8: date(2026, 12, 2)})
    revoked.apply(delta)
    with pytest.raises(DocumentError) as info:
        revoked.apply(delta)
    assert info.value.code == "stale_sequence"


def test_an_older_snapshot_cannot_unrevoke(root_key):
    revoked = RevocationList()
    old = _revocations(root_key, 1, "snapshot", {})
    revoked.apply(_revocations(root_key, 2, "snapshot", {b"A" * 8: date(2026, 12, 1)}))
    with pytest.raises(DocumentError):
        revoked.apply(old)
    assert revoked.is_revoked(b"A" * 8)


def test_a_newer_snapshot_lets_a_gate_that_was_away_catch_up(root_key):
    revoked = RevocationList()
    revoked.apply(_revocations(root_key, 1, "snapshot", {}))
    revoked.apply(_revocations(root_key, 9, "snapshot", {b"Z" * 8: date(2026, 12, 1)}))
    assert revoked.seq == 9 and revoked.is_revoked(b"Z" * 8)


def test_entries_for_expired_tickets_are_pruned(root_key):
    revoked = RevocationList()
    revoked.apply(
        _revocations(
            root_key, 1, "snapshot", {b"A" * 8: date(2026, 11, 23), b"B" * 8: date(2026, 11, 24)}
        )
    )
    assert revoked.prune(today=date(2026, 11, 24)) == 1
    assert not revoked.is_revoked(b"A" * 8) and revoked.is_revoked(b"B" * 8)


def test_a_hundred_thousand_revocations_load_and_answer(root_key):
    entries = {i.to_bytes(8, "big"): date(2026, 12, 31) for i in range(100_000)}
    revoked = RevocationList()
    revoked.apply(_revocations(root_key, 1, "snapshot", entries))
    assert len(revoked) == 100_000
    assert revoked.is_revoked((99_999).to_bytes(8, "big"))
    assert not revoked.is_revoked((100_000).to_bytes(8, "big"))
