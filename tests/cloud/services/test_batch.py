"""Festival batches: all places or none, every ticket signed, a crashed batch resumes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cloud.core.errors import Problem
from cloud.models import Inventory, Ticket
from cloud.services import batch as batch_module
from cloud.services.batch import batch_tickets, issue_batch, resume_batch
from keys.keyring import IssuerKey, Keyring
from keys.ticket import verify_ticket
from tests.cloud.conftest import now


def batch(office, inventory_id, count, **extra):
    """An organiser's batch of ``count`` adult tickets on ``inventory_id``; ``extra`` goes to
    ``issue_batch`` (``now``, else the tests' instant; ``progress``)."""
    return issue_batch(
        office.sessions,
        office.issuer,
        inventory_id=inventory_id,
        price_type="adult",
        count=count,
        actor="organiser",
        **{"now": now(), **extra},
    )


def count_tickets(office) -> int:
    with office.sessions() as db:
        return db.scalar(select(func.count()).select_from(Ticket)) or 0


def test_a_batch_takes_its_places_and_signs_every_ticket(office, issuer_key):
    seen = []
    made = batch(office, office.day_ticket, 900, progress=seen.append)
    assert made.issued == 900 and seen[-1] == 900
    with office.sessions() as db:
        assert db.get(Inventory, office.day_ticket).taken == 900
    ring = Keyring([IssuerKey(issuer_key.kid, issuer_key.public_key)])
    codes = list(batch_tickets(office.sessions, made.order_no))
    assert len({number for number, _ in codes}) == 900
    assert all(verify_ticket(text, ring).valid for _, text in codes[:50])


def test_a_batch_larger_than_what_is_left_takes_nothing(office):
    with pytest.raises(Problem) as info:
        batch(office, office.timed_9, 51)
    assert info.value.code == "sold_out" and count_tickets(office) == 0


def test_a_batch_that_crashed_halfway_resumes_without_duplicates(office, monkeypatch):
    monkeypatch.setattr(batch_module, "CHUNK", 100)

    def crash_after_two_chunks(done: int) -> None:
        if done >= 200:
            raise KeyboardInterrupt  # the operator's terminal died

    with pytest.raises(KeyboardInterrupt):
        batch(office, office.day_ticket, 450, progress=crash_after_two_chunks)
    assert count_tickets(office) == 200
    with office.sessions() as db:
        from cloud.models import Order

        order_no = db.scalar(select(Order.order_no))
    assert resume_batch(office.sessions, office.issuer, order_no=order_no, now=now()).issued == 450
    assert count_tickets(office) == 450


def test_real_name_products_are_not_issued_in_batches(office):
    with pytest.raises(Problem) as info:
        batch(office, office.real_name, 10)
    assert info.value.code == "real_name_batch"


def test_annual_passes_are_not_issued_in_batches_and_take_no_place(office):
    """Not real-name, still refused: a batch would make annual tickets that are no passes
    (no holder to renew, link to a member or bind a face to)."""
    from cloud.models import Inventory
    from cloud.services.catalogue import add_inventory, add_product

    with office.sessions.begin() as db:
        fields = {"site": "S1", "code": "ANNUAL-OPEN", "name_zh": "年卡", "name_en": "Annual",
                  "kind": "annual", "validity_days": 365, "entries": 0}  # fmt: skip
        product = add_product(db, fields, [{"price_type": "adult", "amount_fen": 30000}])
        annual = add_inventory(
            db, product.id, office.day, 100, slot_start=None, slot_end=None, warn_percent=80,
            stop_percent=100, today=office.day - timedelta(days=7),
        ).id  # fmt: skip
    with pytest.raises(Problem) as info:
        batch(office, annual, 10)
    assert info.value.code == "annual_batch"
    assert count_tickets(office) == 0
    with office.sessions() as db:
        assert db.get(Inventory, annual).taken == 0


def test_a_batch_order_number_starts_with_the_site_date_not_the_utc_date(office):
    from datetime import UTC, datetime

    evening_utc = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # already the 25th in Shanghai
    made = batch(office, office.day_ticket, 1, now=evening_utc)
    assert made.order_no.startswith("20261125"), made.order_no


def test_a_batch_can_be_found_again_and_an_online_order_is_not_a_batch(office):
    from cloud.services.batch import find_batch

    made = batch(office, office.day_ticket, 3)
    assert find_batch(office.sessions, made.order_no).issued == 3
    with pytest.raises(Problem) as info:
        find_batch(office.sessions, "20261124" + "0" * 10)
    assert info.value.code == "not_found"
