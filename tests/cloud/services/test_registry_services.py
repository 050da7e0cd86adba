"""The registry services the CLI and the API share (services/devices.py, partners.py,
staff.py): each refusal has its stable code, and a refused write leaves nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cloud.core.errors import Problem
from cloud.core.security import check_password, token_hash
from cloud.db import make_engine, session_factory
from cloud.models import ApiKey, Device, User
from cloud.services.devices import register_device
from cloud.services.partners import create_api_key
from cloud.services.staff import create_user

KEY = bytes(range(32))


@pytest.fixture
def sessions(db_url):
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def refusal(sessions, write) -> Problem:
    with pytest.raises(Problem) as raised, sessions.begin() as session:
        write(session)
    return raised.value


def count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_node_registered_twice_is_refused_as_duplicate_device(sessions):
    with sessions.begin() as session:
        register_device(session, "S1", "G1", "tripod", 1, KEY)
    again = refusal(sessions, lambda s: register_device(s, "S1", "G1", "wing", 2, KEY))
    assert again.code == "duplicate_device"
    assert count(sessions, Device) == 1


def test_a_gate_kind_the_node_does_not_know_is_refused_as_bad_device_kind(sessions):
    bad = refusal(sessions, lambda s: register_device(s, "S1", "G1", "turnstile", 0, KEY))
    assert bad.code == "bad_device_kind" and "tripod" in bad.en
    assert count(sessions, Device) == 0


def test_a_partner_key_is_kept_only_as_its_hash_with_the_scopes_asked(sessions):
    with sessions.begin() as session:
        made = create_api_key(session, "parking", ["verify", "verify"])
    with sessions() as session:
        row = session.scalars(select(ApiKey)).one()
    assert row.key_hash == token_hash(made.key)
    assert (row.partner, row.scopes, made.scopes) == ("parking", ["verify"], ["verify"])


def test_a_partner_scope_nobody_checks_is_refused_as_unknown_scope(sessions):
    bad = refusal(sessions, lambda s: create_api_key(s, "pos", ["verify", "refund"]))
    assert bad.code == "unknown_scope" and "refund" in bad.en
    assert count(sessions, ApiKey) == 0


def test_a_staff_account_signs_in_with_its_password_and_a_taken_name_is_refused(sessions):
    with sessions.begin() as session:
        create_user(session, "boss", "a long admin password", "manager")
    again = refusal(sessions, lambda s: create_user(s, "boss", "another long one", "cashier"))
    assert again.code == "duplicate_user"
    with sessions() as session:
        user = session.scalars(select(User)).one()
    assert (user.role, check_password("a long admin password", user.password_hash)) == (
        "manager",
        True,
    )


@pytest.mark.parametrize(
    ("password", "role", "code"),
    [("short", "manager", "weak_password"), ("a long admin password", "root", "bad_role")],
)
def test_a_staff_account_with_a_short_password_or_unknown_role_is_never_made(
    sessions, password, role, code
):
    bad = refusal(sessions, lambda s: create_user(s, "x", password, role))
    assert bad.code == code
    assert count(sessions, User) == 0


@pytest.mark.parametrize("username", ["", "   ", "two words", "tab\there", "x" * 65])
def test_a_staff_account_needs_a_real_username(office, username):
    from cloud.core.errors import Code
    from cloud.services.staff import create_user

    with pytest.raises(Problem) as refused, office.sessions.begin() as db:
        create_user(db, username, "a long enough horse battery", "manager")
    assert refused.value.code == Code.BAD_USERNAME


@pytest.mark.parametrize("password", ["password12", "aaaaaaaaaaaa", "changeme1234", "1234567890"])
def test_a_staff_password_that_is_a_placeholder_or_a_run_is_refused(office, password):
    from cloud.core.errors import Code
    from cloud.services.staff import create_user

    with pytest.raises(Problem) as refused, office.sessions.begin() as db:
        create_user(db, "till7", password, "cashier")
    assert refused.value.code == Code.GUESSABLE_PASSWORD
