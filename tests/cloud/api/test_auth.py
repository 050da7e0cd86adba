"""Staff sign-in as a guesser and as a forgetful cashier meet it: throttled per username and per
address in the database, sessions that end (lifetime, idle, logout, revocation, new password),
and an audit log that never keeps a password typed into the username field."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.api.app import create_app
from cloud.models import AuditEntry, LoginThrottle, User
from cloud.services import login_throttle
from keys.clock import ManualClock
from tests.cloud.conftest import api_context
from tests.cloud.http_calls import bearer, problem
from tests.stored_passwords import stored_hash

START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app(office, clock):
    context = api_context(office)
    context.clock = clock
    with office.sessions.begin() as db:
        for name, role in (("boss", "manager"), ("till1", "cashier")):
            db.add(User(username=name, password_hash=stored_hash(f"{name}-password"), role=role))
    return create_app(context)


@pytest.fixture
def api(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def sign_in(api: TestClient, name: str, password: str | None = None):
    return api.post(
        "/api/v1/auth/token", json={"username": name, "password": password or f"{name}-password"}
    )


def token_of(api: TestClient, name: str) -> dict[str, str]:
    answer = sign_in(api, name)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_five_wrong_passwords_lock_the_username_and_even_the_right_one_waits(api, clock):
    for _ in range(5):
        problem(sign_in(api, "till1", "wrong password"), 401, "bad_credentials")
    refused = sign_in(api, "till1")
    problem(refused, 429, "too_many_attempts")
    assert refused.headers["Retry-After"] == "30"
    clock.advance(30)
    assert sign_in(api, "till1").status_code == 200


def test_the_back_off_doubles_with_every_failure_after_the_limit(api, clock):
    for _ in range(5):
        sign_in(api, "till1", "wrong password")
    clock.advance(30)
    problem(sign_in(api, "till1", "wrong again"), 401, "bad_credentials")
    assert sign_in(api, "till1").headers["Retry-After"] == "60"


def test_a_refused_attempt_is_not_hashed_counted_or_audited(api, office, clock):
    for _ in range(5):
        sign_in(api, "till1", "wrong password")
    for _ in range(10):
        problem(sign_in(api, "till1", "guess"), 429, "too_many_attempts")
    with office.sessions() as db:
        failed = db.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed")).all()
        counts = db.scalars(
            select(LoginThrottle.failures).where(LoginThrottle.scope == "user")
        ).all()
    assert len(failed) == 5 and counts == [5]  # the ten knocks changed nothing
    clock.advance(30)
    assert sign_in(api, "till1").status_code == 200  # the lock did not grow


def test_one_address_guessing_many_usernames_is_throttled_and_others_are_not(app, clock):
    guesser = TestClient(app, client=("198.51.100.9", 40000))
    for number in range(20):
        problem(sign_in(guesser, f"user{number}", "x"), 401, "bad_credentials")
    problem(sign_in(guesser, "boss"), 429, "too_many_attempts")
    elsewhere = TestClient(app, client=("198.51.100.10", 40000))
    assert sign_in(elsewhere, "boss").status_code == 200


def test_concurrent_guesses_cannot_slip_past_the_limit(office):
    """Thirty simultaneous attempts at one username: five are let through to the password
    check, the rest are refused, on both engines (the count is one conditional UPDATE)."""
    results: list[dict] = []
    barrier = threading.Barrier(30)

    def attempt() -> None:
        barrier.wait()
        with office.sessions.begin() as db:
            results.append(login_throttle.admit(db, {"user": "u-ref"}, START))

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count({}) == 5 and len(results) == 30  # {}: nothing locked, go ahead


def test_a_password_typed_as_the_username_is_not_kept(api, office):
    problem(sign_in(api, "till1-password", "till1-password"), 401, "bad_credentials")
    with office.sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
        subjects = db.scalars(select(LoginThrottle.subject)).all()
    assert entry.actor == "(unknown user)"
    assert not any("till1-password" in subject for subject in subjects)


def test_a_known_username_with_a_wrong_password_is_audited_by_name(api, office):
    problem(sign_in(api, "boss", "wrong"), 401, "bad_credentials")
    with office.sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    assert entry.actor == "boss"


def test_logout_ends_this_session_only(api):
    first, second = token_of(api, "till1"), token_of(api, "till1")
    assert api.post("/api/v1/auth/logout", headers=first).status_code == 204
    problem(api.get("/api/v1/auth/me", headers=first), 401, "unauthenticated")
    assert api.get("/api/v1/auth/me", headers=second).json()["username"] == "till1"


def test_a_manager_ends_every_session_of_a_user(api):
    sessions = [token_of(api, "till1"), token_of(api, "till1")]
    problem(api.delete("/api/v1/auth/users/boss/sessions", headers=sessions[0]), 403, "forbidden")
    ended = api.delete("/api/v1/auth/users/till1/sessions", headers=token_of(api, "boss"))
    assert ended.status_code == 200 and ended.json() == {"ended": 2}
    for headers in sessions:
        problem(api.get("/api/v1/auth/me", headers=headers), 401, "unauthenticated")


def test_a_new_password_ends_every_session_and_the_old_one_stops_working(api):
    other, mine = token_of(api, "till1"), token_of(api, "till1")
    wrong = {"current_password": "not it", "new_password": "a brand new password"}
    problem(api.post("/api/v1/auth/password", json=wrong, headers=mine), 401, "bad_credentials")
    change = {"current_password": "till1-password", "new_password": "a brand new password"}
    assert api.post("/api/v1/auth/password", json=change, headers=mine).status_code == 204
    for headers in (other, mine):
        problem(api.get("/api/v1/auth/me", headers=headers), 401, "unauthenticated")
    problem(sign_in(api, "till1"), 401, "bad_credentials")
    assert sign_in(api, "till1", "a brand new password").status_code == 200


def test_a_session_ends_when_idle_and_after_its_lifetime(api, clock):
    till = token_of(api, "till1")
    clock.advance(29 * 60)
    assert api.get("/api/v1/auth/me", headers=till).status_code == 200
    clock.advance(31 * 60)  # 31 idle minutes since that use
    problem(api.get("/api/v1/auth/me", headers=till), 401, "unauthenticated")
    busy = token_of(api, "till1")
    for _ in range(8 * 3 - 1):  # used every 20 minutes, for 7 h 40 min
        clock.advance(20 * 60)
        assert api.get("/api/v1/auth/me", headers=busy).status_code == 200
    clock.advance(20 * 60)  # 8 h after sign-in
    problem(api.get("/api/v1/auth/me", headers=busy), 401, "unauthenticated")


def test_the_session_lifetime_is_configurable():
    from cloud.core.config import ApiSettings, ConfigError

    settings = ApiSettings.from_env(
        {"SCENIC_SESSION_HOURS": "4", "SCENIC_SESSION_IDLE_MINUTES": "0"}
    )
    assert (settings.session_hours, settings.session_idle_minutes) == (4, 0)
    assert ApiSettings.from_env({}).session_hours == 8
    with pytest.raises(ConfigError, match="SCENIC_SESSION_HOURS"):
        ApiSettings.from_env({"SCENIC_SESSION_HOURS": "72"})


def test_sign_in_answers_say_when_the_session_ends(api):
    body = sign_in(api, "boss").json()
    assert datetime.fromisoformat(body["expires_at"]) == START + timedelta(hours=8)


def test_roles_decide_who_does_what(api, office):
    product = {
        "site": "S1",
        "code": "NEW",
        "name_zh": "新票",
        "name_en": "New",
        "kind": "day",
        "prices": [{"price_type": "adult", "amount_fen": 5000}],
    }
    problem(api.post("/api/v1/products", json=product), 401, "unauthenticated")
    problem(
        api.post("/api/v1/products", json=product, headers=bearer(api, "till1")), 403, "forbidden"
    )
    made = api.post("/api/v1/products", json=product, headers=bearer(api, "boss"))
    assert made.status_code == 201 and made.json()["prices"][0]["amount_fen"] == 5000
    problem(
        api.post("/api/v1/products", json=product, headers=bearer(api, "boss")),
        409,
        "duplicate_code",
    )


def test_failed_sign_ins_are_audited_with_the_connecting_address(api, office):
    problem(
        api.post(
            "/api/v1/auth/token",
            json={"username": "boss", "password": "wrong"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        ),
        401,
        "bad_credentials",
    )
    with office.sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    # No proxy is trusted by default, so what the client wrote in X-Forwarded-For is ignored.
    assert entry.actor == "boss" and entry.source == "testclient"
