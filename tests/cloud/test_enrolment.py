"""Enrolment tokens, the enrolment bundle, replacing and decommissioning, over the HTTP API
(SQLite and PostgreSQL). The node side (gatectl) is tests/provisioning/."""

from __future__ import annotations

import base64

from sqlalchemy import select

from cloud.core.security import token_hash
from cloud.models import AuditEntry, Device, DeviceKey, EnrolmentToken
from cloud.services.enrolment import decommission_message
from keys import keystore
from keys.signed_document import verify_document

TOKENS = "/api/v1/devices/tokens"
ENROL = "/api/v1/devices/enrol"


def staff(api, name: str) -> dict[str, str]:
    answer = api.post("/api/v1/auth/token", json={"username": name, "password": f"{name}-password"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def new_token(api, node: str = "G1", **extra) -> str:
    answer = api.post(
        TOKENS, json={"site": "S1", "node": node, "zone": 1, **extra}, headers=staff(api, "boss")
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def enrol(api, token: str, key: keystore.SigningKey, **headers: str):
    public = keystore.raw_public(key.public_key).hex()
    return api.post(ENROL, json={"token": token, "public_key": public}, headers=headers)


def test_an_enrolment_token_is_kept_only_as_its_hash(api, office):
    token = new_token(api)
    with office.sessions() as db:
        row = db.scalars(select(EnrolmentToken)).one()
    assert row.token_hash == token_hash(token) and token.encode() not in row.token_hash


def test_a_cashier_cannot_make_enrolment_tokens(api):
    answer = api.post(TOKENS, json={"site": "S1", "node": "G1"}, headers=staff(api, "till1"))
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"


def test_a_token_for_a_site_that_does_not_exist_is_refused(api):
    answer = api.post(TOKENS, json={"site": "NOPE", "node": "G1"}, headers=staff(api, "boss"))
    assert answer.status_code == 404 and answer.json()["code"] == "unknown_site"


def test_a_site_holds_at_most_twenty_open_tokens(api):
    for number in range(20):
        new_token(api, f"G{number}")
    answer = api.post(TOKENS, json={"site": "S1", "node": "G99"}, headers=staff(api, "boss"))
    assert answer.status_code == 429 and answer.json()["code"] == "too_many_tokens"


def test_the_bundle_is_root_signed_and_bound_to_the_node_key(api, office):
    key = keystore.generate("node", "N1")
    answer = enrol(api, new_token(api), key)
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    root = keystore.public_from_pem(bundle["root_public_key"].encode())
    assert bundle["root_fingerprint"] == keystore.fingerprint(office.root.public_key)
    for doc_type in ("enrolment", "config", "keyring", "nodes"):
        raw = base64.b64decode(bundle["documents"][doc_type])
        verify_document(raw, root, doc_type=doc_type, site="S1")
    enrolment = verify_document(
        base64.b64decode(bundle["documents"]["enrolment"]), root, doc_type="enrolment", site="S1"
    )
    assert enrolment.body["node_key"] == keystore.raw_public(key.public_key)
    assert enrolment.body["node"] == "G1" and enrolment.body["zone"] == 1
    config = verify_document(
        base64.b64decode(bundle["documents"]["config"]), root, doc_type="config", site="S1"
    )
    assert len(config.body["holder_salt"]) >= 16


def test_a_used_token_is_refused_to_another_key(api):
    token = new_token(api)
    assert enrol(api, token, keystore.generate("node", "N1")).status_code == 200
    again = enrol(api, token, keystore.generate("node", "N1"))
    assert again.status_code == 409 and again.json()["code"] == "enrolment_token_used"


def test_the_same_key_may_fetch_its_bundle_again_while_the_token_lives(api, office):
    token, key = new_token(api), keystore.generate("node", "N1")
    assert enrol(api, token, key).status_code == 200
    assert enrol(api, token, key).status_code == 200
    with office.sessions() as db:
        assert len(db.scalars(select(DeviceKey)).all()) == 1


def test_an_expired_token_is_refused(api):
    token = new_token(api)
    api.app.state.context.clock.advance(minutes=31)
    answer = enrol(api, token, keystore.generate("node", "N1"))
    assert answer.status_code == 410 and answer.json()["code"] == "enrolment_token_expired"


def test_wrong_tokens_from_one_address_are_locked_out(api):
    key = keystore.generate("node", "N1")
    codes = [enrol(api, f"WRONG{n:020d}", key).status_code for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_enrolment_is_audited_with_the_key_and_the_address(api, office):
    enrol(api, new_token(api), keystore.generate("node", "N1"))
    with office.sessions() as db:
        actions = {e.action: e for e in db.scalars(select(AuditEntry))}
    assert "enrolment_token_created" in actions
    assert actions["device_enrolled"].target == "S1/G1" and actions["device_enrolled"].source


def test_a_replaced_pi_keeps_its_gate_position_and_the_old_key_is_kept_as_replaced(api, office):
    old, new = keystore.generate("node", "N1"), keystore.generate("node", "N1")
    enrol(api, new_token(api), old)
    assert enrol(api, new_token(api), new).status_code == 200
    with office.sessions() as db:
        device = db.scalars(select(Device)).one()
        states = [k.state for k in db.scalars(select(DeviceKey).order_by(DeviceKey.id))]
    assert device.public_key == keystore.raw_public(new.public_key) and device.status == "active"
    assert states == ["replaced", "enrolled"]


def test_a_node_decommissions_itself_with_its_own_signature(api, office):
    key = keystore.generate("node", "N1")
    enrol(api, new_token(api), key)
    signature = key.sign(decommission_message("S1", "G1")).hex()
    answer = api.post(
        "/api/v1/devices/decommission", json={"site": "S1", "node": "G1", "signature": signature}
    )
    assert answer.status_code == 204, answer.text
    with office.sessions() as db:
        assert db.scalars(select(Device)).one().status == "revoked"
        assert db.scalars(select(DeviceKey)).one().state == "decommissioned"


def test_a_decommission_signed_by_another_key_is_refused(api):
    enrol(api, new_token(api), keystore.generate("node", "N1"))
    stranger = keystore.generate("node", "N1").sign(decommission_message("S1", "G1")).hex()
    answer = api.post(
        "/api/v1/devices/decommission", json={"site": "S1", "node": "G1", "signature": stranger}
    )
    assert answer.status_code == 403 and answer.json()["code"] == "bad_node_signature"
