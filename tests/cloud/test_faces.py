"""Face enrolment through the API (routes/faces.py), and end to end: a real-name ticket sold
with a photo, enrolled, published, and admitted at a face lane; the same QR with another face
refused. Photos are real (tests/face_photos.py), sent as JPEG the way a phone uploads them."""

from __future__ import annotations

import base64
import struct
import sys
import tracemalloc
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from cloud.models import AuditEntry, FaceEnrolment
from gate_node.assembly import make_engine
from gate_node.clock import ClockFloor
from gate_node.downlink import Downlink
from keys import face_embedding, topics
from keys.clock import ManualClock
from keys.face_embedding import embedding_bytes
from keys.reasons import Reason
from keys.signed_document import verify_document
from tests import face_photos as photos
from tests.cloud.http_calls import bearer, problem
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state

VALID_ID = "11010519491231002X"
OTHER_ID = "110101199003074477"


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def sell_real_name(
    api, office, key="face-order-0001", holder=VALID_ID
) -> tuple[dict[str, str], str, dict]:
    """Buy and pay one real-name ticket through the API: (token header, order no, ticket)."""
    answer = api.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": key},
        json={
            "site": "S1",
            "channel": "web",
            "lines": [
                {
                    "inventory_id": office.real_name,
                    "price_type": "adult",
                    "quantity": 1,
                    "holders": [holder],
                }
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    order = answer.json()
    token = {"X-Order-Token": order["access_token"]}
    paid = api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    assert paid.json()["result"] == "paid", paid.text
    read = api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()
    return token, order["order_no"], read["tickets"][0]


def enrol(api, token, order_no, ticket_no, image: bytes) -> Any:
    return api.post(
        f"/api/v1/orders/{order_no}/tickets/{ticket_no}/face",
        headers=token,
        json={"photo": base64.b64encode(image).decode()},
    )


def faces_sent(published) -> list[bytes]:
    return [raw for site, kind, raw in published if kind == "faces" and site == "S1"]


def face_gate(tmp_path, root_key, issuer_key, **face) -> Downlink:
    state = make_state(
        tmp_path / "gate", root_key, issuer_key, real_name_check="face", face=face or None
    )
    engine = make_engine(state, ManualClock(TEST_AT))
    return Downlink(state, engine, ClockFloor(state.clock_path), lambda what: None)


# --- the API ------------------------------------------------------------------------------------


def test_a_buyer_enrols_a_face_and_only_the_sealed_embedding_is_kept(api, office, published):
    token, order_no, ticket = sell_real_name(api, office)
    photo = jpeg(photos.astronaut())
    answer = enrol(api, token, order_no, ticket["ticket_no"], photo)
    assert answer.status_code == 201, answer.text
    with office.sessions() as db:
        row = db.scalars(select(FaceEnrolment)).one()
        assert row.source == "purchase" and row.embedding_sealed is not None
        sealed = bytes(row.embedding_sealed)
    assert embedding_bytes(photos.embedding("astronaut"))[:32] not in sealed
    assert photo[100:200] not in sealed
    (raw,) = faces_sent(published)
    document = verify_document(raw, office.root.public_key, doc_type="faces", site="S1")
    assert document.seq == 1 and document.body["kind"] == "snapshot"


def test_every_access_to_an_enrolment_is_audited(api, office):
    token, order_no, ticket = sell_real_name(api, office)
    enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.astronaut()))
    cashier = bearer(api, "till1")
    assert api.get(f"/api/v1/faces/{ticket['ticket_no']}", headers=cashier).status_code == 200
    assert api.delete(f"/api/v1/faces/{ticket['ticket_no']}", headers=cashier).status_code == 200
    with office.sessions() as db:
        actions = [
            (e.action, e.actor, e.target)
            for e in db.scalars(select(AuditEntry).where(AuditEntry.action.like("face.%")))
        ]
    number = ticket["ticket_no"].upper()
    assert actions == [
        ("face.enrol", "buyer", number),
        ("face.read", "till1", number),
        ("face.delete", "till1", number),
    ]


def test_a_photo_without_a_face_is_refused_with_its_reason(api, office):
    token, order_no, ticket = sell_real_name(api, office)
    answer = enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.landscape()))
    assert problem(answer, 422, "face_photo_refused")["reason"] == "face_none"


def test_a_photo_with_two_faces_is_refused_with_its_reason(api, office):
    token, order_no, ticket = sell_real_name(api, office)
    answer = enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.two_faces()))
    assert problem(answer, 422, "face_photo_refused")["reason"] == "face_several"


def test_a_file_that_is_not_a_photo_is_unreadable(api, office):
    token, order_no, ticket = sell_real_name(api, office)
    answer = enrol(api, token, order_no, ticket["ticket_no"], b"GIF89a not really")
    problem(answer, 422, "face_photo_unreadable")


def test_a_photo_too_large_to_decode_is_refused_by_its_header_before_decoding(api, office):
    """A one-colour PNG of 4200x4200 is 17 kB; decoded it would be 53 MB (a 16000x16000 one,
    250 kB, made the cloud allocate 768 MB and spend 4 s before it was refused)."""
    token, order_no, ticket = sell_real_name(api, office)
    bomb = _one_colour_png(4200, 4200)
    tracemalloc.start()
    try:
        answer = enrol(api, token, order_no, ticket["ticket_no"], bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    problem(answer, 422, "face_photo_unreadable")
    assert peak < 20_000_000, peak  # the bitmap (4200 * 4200 * 3 bytes) was never made


def _one_colour_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress((b"\x00" * (width + 1)) * height, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_a_ticket_without_a_holder_cannot_have_a_face(api, office):
    from tests.cloud.http_calls import place_order

    order = place_order(api, office, quantity=1)
    token = {"X-Order-Token": order["access_token"]}
    api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    ticket = api.get(f"/api/v1/orders/{order['order_no']}", headers=token).json()["tickets"][0]
    answer = enrol(api, token, order["order_no"], ticket["ticket_no"], jpeg(photos.astronaut()))
    problem(answer, 409, "face_not_real_name")


def test_without_the_order_token_nobody_enrols_a_face(api, office):
    _, order_no, ticket = sell_real_name(api, office)
    answer = enrol(api, {"X-Order-Token": "guess"}, order_no, ticket["ticket_no"], b"\xff\xd8\xff")
    problem(answer, 404, "not_found")


def test_without_the_face_extra_the_cloud_refuses_enrolment_with_a_code(api, office, monkeypatch):
    token, order_no, ticket = sell_real_name(api, office)
    face_embedding.load.cache_clear()
    monkeypatch.setitem(sys.modules, "face_recognition", None)
    try:
        answer = enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.astronaut()))
    finally:
        face_embedding.load.cache_clear()
    problem(answer, 409, "face_engine_unavailable")


def test_deleting_an_enrolment_twice_says_it_is_not_enrolled(api, office):
    token, order_no, ticket = sell_real_name(api, office)
    enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.astronaut()))
    url = f"/api/v1/orders/{order_no}/tickets/{ticket['ticket_no']}/face"
    assert api.delete(url, headers=token).status_code == 200
    problem(api.delete(url, headers=token), 404, "face_not_enrolled")


# --- end to end ---------------------------------------------------------------------------------


def test_a_real_name_ticket_sold_with_a_photo_is_admitted_at_a_face_lane(
    api, office, published, tmp_path, root_key, issuer_key
):
    token, order_no, ticket = sell_real_name(api, office)
    enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.astronaut()))
    lane = face_gate(tmp_path, root_key, issuer_key)
    for raw in faces_sent(published):
        lane.handle(topics.down("S1", "faces").name, raw)
    assert lane.applied["faces"] == 1
    engine = lane.engine
    at = TEST_AT + (office.day - TEST_AT.date())  # the visit day, same hour
    pending = engine.decide(ticket["text"], at)
    assert pending.reason is Reason.FACE_REQUIRED
    decision = engine.confirm_face(pending, photos.blinking(), at)
    assert decision.grant, decision
    engine.admit(decision, at)


def test_the_same_qr_with_another_face_is_refused_at_the_face_lane(
    api, office, published, tmp_path, root_key, issuer_key
):
    token, order_no, ticket = sell_real_name(api, office)
    enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.astronaut()))
    lane = face_gate(tmp_path, root_key, issuer_key, liveness="off")
    for raw in faces_sent(published):
        lane.handle(topics.down("S1", "faces").name, raw)
    at = TEST_AT + (office.day - TEST_AT.date())
    pending = lane.engine.decide(ticket["text"], at)
    refused = lane.engine.confirm_face(pending, [photos.hopper_frame()], at)
    assert refused.reason is Reason.FACE_BELOW_THRESHOLD
    assert lane.engine.confirm_face(pending, [photos.astronaut_frame()], at).grant


def test_a_deletion_through_the_api_reaches_the_gate(
    api, office, published, tmp_path, root_key, issuer_key
):
    token, order_no, ticket = sell_real_name(api, office)
    enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.astronaut()))
    api.delete(f"/api/v1/orders/{order_no}/tickets/{ticket['ticket_no']}/face", headers=token)
    lane = face_gate(tmp_path, root_key, issuer_key, liveness="off")
    for raw in faces_sent(published):
        lane.handle(topics.down("S1", "faces").name, raw)
    assert lane.applied["faces"] == 2 and len(lane.state.faces) == 0
    at = TEST_AT + (office.day - TEST_AT.date())
    pending = lane.engine.decide(ticket["text"], at)
    refused = lane.engine.confirm_face(pending, [photos.astronaut_frame()], at)
    assert refused.reason is Reason.FACE_NO_MATCH


@pytest.mark.parametrize("who", ["till1", "boss"])
def test_staff_enrol_a_face_at_the_window(api, office, published, who):
    _, _, ticket = sell_real_name(api, office)
    answer = api.post(
        f"/api/v1/faces/{ticket['ticket_no']}",
        headers=bearer(api, who),
        json={"photo": base64.b64encode(jpeg(photos.astronaut())).decode()},
    )
    assert answer.status_code == 201, answer.text
    assert len(faces_sent(published)) == 1


def test_finance_staff_cannot_see_or_enrol_faces(api, office):
    _, _, ticket = sell_real_name(api, office)
    answer = api.get(f"/api/v1/faces/{ticket['ticket_no']}", headers=bearer(api, "books"))
    problem(answer, 403, "forbidden")


def test_a_gate_that_missed_a_delta_catches_up_from_a_snapshot(
    api, office, published, tmp_path, root_key, issuer_key
):
    from cloud.services import face_enrolment

    first = sell_real_name(api, office, key="face-order-0001")
    second = sell_real_name(api, office, key="face-order-0002", holder=OTHER_ID)
    for token, order_no, ticket in (first, second):
        enrol(api, token, order_no, ticket["ticket_no"], jpeg(photos.astronaut()))
    lane = face_gate(tmp_path, root_key, issuer_key, liveness="off")
    requests: list[dict[str, object]] = []
    lane.request = requests.append
    sent = faces_sent(published)
    lane.handle(topics.down("S1", "faces").name, sent[0])
    api.delete(f"/api/v1/orders/{first[1]}/tickets/{first[2]['ticket_no']}/face", headers=first[0])
    lane.handle(topics.down("S1", "faces").name, faces_sent(published)[-1])  # seq 3 after 1
    assert requests == [{"want": "faces", "from": 2}]
    with office.sessions.begin() as db:
        raw = face_enrolment.snapshot(db, office.root, office.pd, "S1", TEST_AT)
    assert raw is not None
    lane.handle(topics.down_node("S1", "G1", "faces").name, raw)
    assert lane.state.faces.seq == 3 and len(lane.state.faces) == 1
