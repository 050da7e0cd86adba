"""Staff operations over HTTP: a manager reads any order, staff search by order, ticket, phone
and ID number (hashes only) and read an order's story, all audited; users and roles; the TOTP
second factor; the peak and blackout calendar; the audit viewer and its append-only log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cloud.models import AuditEntry, CalendarDay
from cloud.services.orders import LineRequest
from tests.cloud.conftest import now, place_order
from tests.cloud.http_calls import problem
from tests.cloud.site_day import make_day, pay, tickets_of

ID_NUMBER = "11010519491231002X"


def token(api, name, totp=None):
    body = {"username": name, "password": f"{name}-password"}
    if totp:
        body["totp"] = totp
    answer = api.post("/api/v1/auth/token", json=body)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def audited(office, action):
    with office.sessions() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --- reading orders and searching ---------------------------------------------------------


def test_a_manager_reads_any_order_and_the_read_is_audited(api, office):
    order = place_order(office, LineRequest(office.day_ticket, "adult", 2))
    pay(office, order.order_no, order.total_fen)
    answer = api.get(f"/api/v1/orders/{order.order_no}", headers=token(api, "boss"))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["tickets"]) == 2
    (entry,) = audited(office, "read_order")
    assert (entry.actor, entry.target, entry.source) == ("boss", order.order_no, "testclient")


def test_without_a_token_or_staff_an_order_is_still_not_found(api, office):
    order = place_order(office, LineRequest(office.day_ticket, "adult", 1))
    problem(api.get(f"/api/v1/orders/{order.order_no}"), 404, "not_found")


def test_staff_find_an_order_by_phone_without_it_being_stored_or_logged(api, office):
    day = make_day(office)
    answer = api.get(
        "/api/v1/search", params={"by": "phone", "q": "138 0000 0001"}, headers=token(api, "till1")
    )
    assert [o["order_no"] for o in answer.json()] == [day.orders[0]]
    (entry,) = audited(office, "search")
    assert "13800000001" not in str(entry.detail) and entry.target == "search:phone"


def test_staff_find_an_order_by_ticket_number_and_by_order_number(api, office):
    day = make_day(office)
    auth = token(api, "books")
    ticket = tickets_of(office, day.orders[2])[1]
    by_ticket = api.get(
        "/api/v1/search", params={"by": "ticket", "q": ticket.lower()}, headers=auth
    )
    assert [o["order_no"] for o in by_ticket.json()] == [day.orders[2]]
    by_order = api.get("/api/v1/search", params={"by": "order", "q": day.orders[1]}, headers=auth)
    assert by_order.json()[0]["status"] == "paid"


def test_staff_find_a_real_name_order_by_the_holders_id_number(api, office):
    order = place_order(
        office, LineRequest(office.real_name, "adult", 1, holders=[ID_NUMBER.lower()])
    )
    pay(office, order.order_no, order.total_fen)
    found = api.get(
        "/api/v1/search", params={"by": "id", "q": ID_NUMBER}, headers=token(api, "till1")
    )
    assert [o["order_no"] for o in found.json()] == [order.order_no]


def test_an_unreadable_ticket_number_is_a_422(api, office):
    answer = api.get(
        "/api/v1/search", params={"by": "ticket", "q": "not-hex"}, headers=token(api, "till1")
    )
    problem(answer, 422, "bad_search")


# SQLAlchemy 2.1 deprecates Result.tuples(): the story must read rows without it (CI warned)
@pytest.mark.filterwarnings("error::sqlalchemy.exc.SADeprecationWarning")
def test_an_orders_story_tells_payments_entries_refunds_and_audit_in_site_time(api, office):
    day = make_day(office)
    story = api.get(f"/api/v1/orders/{day.orders[0]}/story", headers=token(api, "books")).json()
    assert [p["provider"] for p in story["payments"]] == ["sandbox"]
    assert {t["ticket_no"] for t in story["tickets"]} == set(tickets_of(office, day.orders[0]))
    assert all("text" not in t for t in story["tickets"])  # no usable codes in a story
    uses = [e for e in story["entries"] if e["kind"] == "use"]
    assert [(e["gate"], e["zone"], e["direction"], e["passages"]) for e in uses] == [
        ("G1", 1, "in", 1),
        ("G1", 1, "in", 1),
        ("G2", 2, "out", 1),
    ]
    assert uses[0]["at"].endswith("+08:00") and story["created_at"].endswith("+08:00")
    assert [a["action"] for a in story["audit"]] == ["payment"]
    refunded = api.get(f"/api/v1/orders/{day.orders[3]}/story", headers=token(api, "books")).json()
    assert [(r["kind"], len(r["tickets"])) for r in refunded["refunds"]] == [("refund", 3)]
    assert len(audited(office, "read_order_story")) == 2


# --- users, roles and the second factor ---------------------------------------------------


def test_a_manager_creates_an_auditor_who_can_read_but_not_change(api, office):
    boss = token(api, "boss")
    made = api.post(
        "/api/v1/users",
        json={"username": "eye", "password": "Auditor-pass-2026", "role": "auditor"},
        headers=boss,
    )
    assert made.status_code == 201, made.text
    eye = api.post("/api/v1/auth/token", json={"username": "eye", "password": "Auditor-pass-2026"})
    auth = {"Authorization": f"Bearer {eye.json()['access_token']}"}
    assert api.get("/api/v1/users", headers=auth).status_code == 200
    problem(
        api.patch("/api/v1/users/till1", json={"active": False}, headers=auth), 403, "forbidden"
    )


def test_disabling_a_user_ends_their_sessions_at_once(api, office):
    till = token(api, "till1")
    changed = api.patch("/api/v1/users/till1", json={"active": False}, headers=token(api, "boss"))
    assert changed.json()["sessions_ended"] == 1
    problem(api.get("/api/v1/auth/me", headers=till), 401, "unauthenticated")
    problem(
        api.post("/api/v1/auth/token", json={"username": "till1", "password": "till1-password"}),
        401,
        "bad_credentials",
    )


def test_a_new_role_takes_effect_at_the_next_sign_in(api, office):
    api.patch("/api/v1/users/till1", json={"role": "gate"}, headers=token(api, "boss"))
    assert api.get("/api/v1/auth/me", headers=token(api, "till1")).json()["role"] == "gate"


def test_the_last_manager_cannot_be_disabled(api, office):
    answer = api.patch("/api/v1/users/boss", json={"active": False}, headers=token(api, "boss"))
    problem(answer, 409, "last_manager")


def test_an_unknown_role_is_refused(api, office):
    answer = api.patch("/api/v1/users/till1", json={"role": "king"}, headers=token(api, "boss"))
    problem(answer, 422, "invalid_request")


def enrol(api, office, name):
    auth = token(api, name)
    secret = api.post("/api/v1/auth/second-factor", headers=auth).json()["secret"]
    code = pyotp.TOTP(secret).at(now())
    confirmed = api.post("/api/v1/auth/second-factor/confirm", json={"code": code}, headers=auth)
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


def test_with_a_second_factor_finance_signs_in_only_with_a_fresh_code(api, office):
    secret, _ = enrol(api, office, "books")
    login = {"username": "books", "password": "books-password"}
    problem(api.post("/api/v1/auth/token", json=login), 401, "second_factor_required")
    wrong = "000000" if pyotp.TOTP(secret).at(now()) != "000000" else "111111"
    problem(api.post("/api/v1/auth/token", json={**login, "totp": wrong}), 401, "bad_second_factor")
    api.app.state.context.clock.advance(30)  # the confirming code's step is spent
    code = pyotp.TOTP(secret).at(api.app.state.context.clock.now())
    assert api.post("/api/v1/auth/token", json={**login, "totp": code}).status_code == 200
    problem(api.post("/api/v1/auth/token", json={**login, "totp": code}), 401, "bad_second_factor")


def test_a_recovery_code_signs_in_once(api, office):
    _, codes = enrol(api, office, "boss")
    login = {"username": "boss", "password": "boss-password", "totp": codes[0]}
    assert api.post("/api/v1/auth/token", json=login).status_code == 200
    problem(api.post("/api/v1/auth/token", json=login), 401, "bad_second_factor")


def test_a_cashier_cannot_enrol_a_second_factor(api, office):
    answer = api.post("/api/v1/auth/second-factor", headers=token(api, "till1"))
    problem(answer, 403, "forbidden")


# --- the calendar -------------------------------------------------------------------------


def test_a_peak_day_set_by_api_sells_at_the_peak_price(api, office):
    boss = token(api, "boss")
    marked = api.put(
        f"/api/v1/sites/S1/calendar/{office.day.isoformat()}", json={"peak": True}, headers=boss
    )
    assert marked.status_code == 200, marked.text
    order = place_order(office, LineRequest(office.day_ticket, "adult", 1))
    assert order.total_fen == 12000  # the fixture's peak price
    listed = api.get(
        "/api/v1/sites/S1/calendar",
        params={"from": office.day.isoformat(), "to": office.day.isoformat()},
    ).json()
    prices = {(p["product"], p["price_type"]): p["amount_fen"] for p in listed[0]["prices"]}
    assert (
        listed[0]["peak"] and prices[("DAY", "adult")] == 12000 and prices[("DAY", "child")] == 4000
    )


def test_a_blackout_day_refuses_orders(api, office):
    api.put(
        f"/api/v1/sites/S1/calendar/{office.day.isoformat()}",
        json={"closed": True},
        headers=token(api, "boss"),
    )
    answer = api.post(
        "/api/v1/orders",
        json={"site": "S1", "lines": [{"inventory_id": office.day_ticket, "price_type": "adult",
                                       "quantity": 1}]},
        headers={"Idempotency-Key": "closed-day-1"},
    )  # fmt: skip
    problem(answer, 409, "day_closed")


def test_a_new_peak_price_applies_to_the_next_order(api, office):
    boss = token(api, "boss")
    api.put(
        f"/api/v1/sites/S1/calendar/{office.day.isoformat()}", json={"peak": True}, headers=boss
    )
    set_price = api.put(
        f"/api/v1/products/{office.products['day']}/prices/adult",
        json={"amount_fen": 9000, "peak_amount_fen": 15000},
        headers=boss,
    )
    assert set_price.status_code == 200, set_price.text
    assert place_order(office, LineRequest(office.day_ticket, "adult", 1)).total_fen == 15000
    assert len(audited(office, "set_price")) == 1 and len(audited(office, "set_calendar_day")) == 1


def test_marking_a_day_ordinary_again_removes_it(api, office):
    boss = token(api, "boss")
    url = f"/api/v1/sites/S1/calendar/{office.day.isoformat()}"
    api.put(url, json={"peak": True}, headers=boss)
    api.put(url, json={}, headers=boss)
    with office.sessions() as db:
        assert db.scalar(select(CalendarDay)) is None


# --- the audit viewer ---------------------------------------------------------------------


def test_the_audit_viewer_filters_by_actor_action_and_site_time(api, office):
    make_day(office)
    auth = token(api, "boss")
    api.get("/api/v1/search", params={"by": "order", "q": "1"}, headers=token(api, "till1"))
    found = api.get("/api/v1/audit", params={"actor": "till1", "action": "search"}, headers=auth)
    (entry,) = found.json()["entries"]
    assert entry["target"] == "search:order" and entry["at"].endswith("+08:00")
    local_now = now().astimezone(office_tz()).replace(tzinfo=None)
    later = (local_now + timedelta(hours=1)).isoformat()
    assert api.get("/api/v1/audit", params={"from": later}, headers=auth).json()["entries"] == []
    earlier = (local_now - timedelta(minutes=1)).isoformat()
    assert api.get("/api/v1/audit", params={"from": earlier}, headers=auth).json()["entries"]


def office_tz():
    from tests.cloud.conftest import SITE_TZ

    return SITE_TZ


def test_the_audit_export_reads_back_as_the_viewer_shows(api, office):
    orders = make_day(office).orders
    auth = token(api, "boss")
    prefix = orders[0][:8] + "*"  # every order of the day (numbers start with the date)
    shown = api.get("/api/v1/audit", params={"target": prefix}, headers=auth).json()["entries"]
    assert len(shown) >= len(orders)
    exported = api.get("/api/v1/audit", params={"target": prefix, "format": "csv"}, headers=auth)
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(int(r["id"]), r["action"], r["actor"]) for r in table] == [
        (e["id"], e["action"], e["actor"]) for e in shown
    ]


def test_a_cashier_cannot_read_the_audit_log(api, office):
    problem(api.get("/api/v1/audit", headers=token(api, "till1")), 403, "forbidden")


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_or_delete_audit_entries(api, office, statement):
    token(api, "boss")  # a login: one entry
    with pytest.raises(DBAPIError), office.sessions.begin() as db:
        db.execute(text(statement))
    assert len(audited(office, "login")) == 1


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/reports/sales", {"site": "S1", "from": "0001-01-01", "to": "0001-01-01"}),
        ("/api/v1/reports/sales", {"site": "S1", "from": "9999-12-31", "to": "9999-12-31"}),
        ("/api/v1/sites/S1/calendar", {"from": "0001-01-01", "to": "0001-01-02"}),
        ("/api/v1/audit", {"from": "0001-01-01T00:00:00"}),
        ("/api/v1/audit", {"to": "9999-12-31T23:59:59"}),
    ],
)
def test_days_at_the_ends_of_the_calendar_are_a_422_not_a_crash(api, office, url, params):
    problem(api.get(url, params=params, headers=token(api, "boss")), 422, "bad_range")
