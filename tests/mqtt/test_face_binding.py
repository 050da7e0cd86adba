"""A face bound at the first entry becomes the site's, over a real Mosquitto (issue 15): a
real-name annual pass sold online enters at gate G1, which binds the face and reports it
sealed on its ``face`` topic (through broker/acl); the ingest worker keeps it and publishes
the signed delta; gate G2 then refuses another face with the same QR and admits the owner."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from cloud.db import make_engine, session_factory
from cloud.models import FaceEnrolment, Inventory, Price, Product
from cloud.services.face_binding import BindingKeys
from cloud.services.personal_data import PersonalData
from gate_node.readers.credentials import Credential
from keys.clock import SYSTEM
from keys.reasons import Reason
from keys.sealed_box import raw_public
from keys.signed_document import sign_document
from tests import face_photos as photos
from tests.conftest import TEST_AT
from tests.gate_node.test_face_lane import camera
from tests.mqtt.conftest import RunningWorker, wait_until
from tests.mqtt.test_card_index import SALT, VALID_ID, buy, office  # noqa: F401 (fixture)
from tests.mqtt.test_link import TODAY, Lane

pytestmark = pytest.mark.mqtt

FACE_KEY = X25519PrivateKey.generate()


def face_lane(site, node: str) -> Lane:
    """A registered node made a face lane by a root-signed config naming the cloud's face key
    (as enrolment gives it), started on the broker with its embedder ready."""
    site.add_node(node)
    settings = {"real_name_check": "face", "face": {"liveness": "off"}}
    body = {
        "settings": settings,
        "holder_salt": SALT,
        "face_key": raw_public(FACE_KEY.public_key()),
    }
    site.nodes[node].apply_config(sign_document(site.root, "config", "S1", 1, body, TEST_AT))
    lane = Lane(site, node)
    assert lane.node.service.engine.faces.embedder.wait_ready(120)
    return lane


def show(lane: Lane, tmp_path, text: str, frame, name: str) -> Reason:
    """The QR, then ``frame`` at the face camera: the lane's decision."""
    service = lane.node.service
    service.face_capture = camera(tmp_path, name, [frame] * 5)
    service.repeats.hold_s = 0
    before = len(service.decisions)
    service.reads.put(Credential("qr", text))

    def answered() -> bool:
        SYSTEM.sleep(0.005)  # real time for the face worker
        return len(service.decisions) > before and not service.face_busy

    assert wait_until(answered, timeout=60, step=lane.step)
    return service.decisions[-1].reason


def real_name_annual(site, office) -> str:  # noqa: F811 (the fixture)
    engine = make_engine(site.url)
    with session_factory(engine).begin() as db:
        product = Product(
            site="S1",
            code="ANNUAL-RN",
            name_zh="实名年卡",
            name_en="Real-name annual pass",
            kind="annual",
            validity_days=365,
            entries=0,
            entries_per_day=1,
            real_name=True,
        )
        db.add(product)
        db.flush()
        db.add(Price(product_id=product.id, price_type="adult", amount_fen=30000))
        stock = Inventory(product_id=product.id, day=TODAY, capacity=10)
        db.add(stock)
        db.flush()
        office.stock["annual_rn"] = stock.id
    engine.dispose()
    order, _ = buy(office, "annual_rn", "order-annual-face-1", holders=[VALID_ID])
    return str(order["tickets"][0]["text"])


def test_a_face_bound_at_one_gate_is_the_one_every_gate_checks(
    site,
    service,
    office,  # noqa: F811 (the fixture)
    tmp_path,
):
    keys = BindingKeys(FACE_KEY, site.root, PersonalData(bytes(32)))
    worker = RunningWorker(site, "faces", faces=keys)
    first, second = face_lane(site, "G1"), face_lane(site, "G2")
    try:
        text = real_name_annual(site, office)
        assert show(first, tmp_path, text, photos.hopper_frame(), "a1") is Reason.OK
        for _ in range(30):
            first.step()
        faces_at = [lane.node.service.link[1].applied for lane in (first, second)]

        def everywhere() -> bool:
            first.step()
            return all(applied["faces"] >= 1 for applied in faces_at)

        assert wait_until(everywhere, timeout=30, step=second.step), "no faces delta arrived"
        assert worker.worker.totals.faces == {"bound": 1}
        engine = make_engine(site.url)
        with session_factory(engine)() as db:
            row = db.scalars(select(FaceEnrolment)).one()
        engine.dispose()
        assert (row.source, row.bound_by) == ("gate", "G1")
        assert first.node.state.face_bindings == {}  # the site's binding replaced its own
        second.clock.advance(24 * 3600)  # the next day: one entry a day, G1's was today
        refused = show(second, tmp_path, text, photos.astronaut_frame(), "b1")
        assert refused is Reason.FACE_BELOW_THRESHOLD
        assert show(second, tmp_path, text, photos.hopper_frame(), "b2") is Reason.OK
        assert all(e.kind != "face_bind" for e in second.node.service.ledger.pending_events())
    finally:
        first.close()
        second.close()
        worker.stop()
