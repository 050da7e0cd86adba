"""The permission matrix: every role x every endpoint of the app, allowed or 403, from one table.

``MATRIX`` below is the decision for every route the app serves. A route missing from it (a
new endpoint nobody decided about) fails ``test_every_route_has_a_decision``; a route whose
``role(...)`` admits other roles than the table says fails ``test_each_route_admits_the_roles_
the_table_names``; and each endpoint is called over HTTP by a signed-in member of staff of
every role, expecting 403 exactly for the roles the table leaves out.

Kinds of decision:
- a frozenset of roles: staff of these roles only (a manager is admitted everywhere);
- ``PUBLIC``: anyone, signed in or not (catalogue, docs, the visitor's own order with its
  token, payment platforms' notifications, the sandbox);
- ``SIGNED_IN``: any member of staff (who am I, log out, my password);
- ``PARTNER``: a partner system's API key; a staff token is no key (401, not 403);
- ``MEMBER``: a member's own session (``X-Member-Token``, from signing in with a code): public
  as far as staff roles go, and a staff token is no member session (401 for every role, not
  403: no role of staff opens a member's profile, orders or points through these routes);
- ``BROWSER``: the dashboard's pages, behind its own cookie session and CSRF token: a bearer
  token is no session there (never a page or a change; sent to sign in). Which roles see and
  act on it is tested through its sign-in form in tests/cloud/test_dashboard_http.py
  (managers act, finance and auditors look, anyone else is refused).
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from cloud.api.app import create_app
from cloud.models import User
from cloud.models.accounts import ROLES
from cloud.services.orders import LineRequest
from tests.cloud.conftest import api_context, place_order
from tests.cloud.site_day import pay, tickets_of
from tests.conftest import TEST_AT
from tests.stored_passwords import stored_hash

PUBLIC = "public"
SIGNED_IN = "signed in"
PARTNER = "partner"
BROWSER = "browser"
MEMBER = "member"
ALL = frozenset(ROLES)


def roles(*names: str) -> frozenset[str]:
    return frozenset(("manager", *names))


MATRIX: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    # staff sign-in
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("POST", "/api/v1/auth/password"): SIGNED_IN,
    ("DELETE", "/api/v1/auth/users/{username}/sessions"): roles(),
    ("POST", "/api/v1/auth/second-factor"): roles("finance"),
    ("POST", "/api/v1/auth/second-factor/confirm"): roles("finance"),
    # users and roles
    ("GET", "/api/v1/users"): roles("auditor"),
    ("POST", "/api/v1/users"): roles(),
    ("PATCH", "/api/v1/users/{username}"): roles(),
    ("POST", "/api/v1/users/{username}/second-factor/reset"): roles(),
    # catalogue and calendar
    ("POST", "/api/v1/sites"): roles(),
    ("GET", "/api/v1/sites/{site}/products"): PUBLIC,
    ("GET", "/api/v1/products/{product_id}/availability"): PUBLIC,
    ("POST", "/api/v1/products"): roles(),
    ("POST", "/api/v1/inventory"): roles(),
    ("GET", "/api/v1/sites/{site}/calendar"): PUBLIC,
    ("PUT", "/api/v1/sites/{site}/calendar/{day}"): roles(),
    # per-site gate settings: manager only (roles() with no other role)
    ("GET", "/api/v1/sites/{site}/gate-settings"): roles(),
    ("PUT", "/api/v1/sites/{site}/gate-settings"): roles(),
    ("PUT", "/api/v1/products/{product_id}/prices/{price_type}"): roles(),
    # orders: a buyer with the order's token, or these staff
    ("POST", "/api/v1/orders"): PUBLIC,
    ("GET", "/api/v1/orders/{order_no}"): roles("cashier", "finance"),
    ("GET", "/api/v1/orders/{order_no}/print"): PUBLIC,
    ("GET", "/api/v1/tickets/{ticket_no}/qr.{kind}"): PUBLIC,
    ("POST", "/api/v1/orders/{order_no}/payments"): PUBLIC,
    ("POST", "/api/v1/payments/{provider_name}/notify"): PUBLIC,
    ("POST", "/api/v1/sandbox/pay/{order_no}"): PUBLIC,
    ("POST", "/api/v1/orders/{order_no}/refunds"): roles("cashier"),
    ("POST", "/api/v1/tickets/{ticket_no}/change"): roles("cashier"),
    # the till
    ("POST", "/api/v1/shifts"): roles("cashier"),
    ("POST", "/api/v1/shifts/close"): roles("cashier"),
    ("POST", "/api/v1/orders/{order_no}/cash"): roles("cashier"),
    ("POST", "/api/v1/refunds/retry"): roles("finance"),
    # partners
    ("POST", "/api/v1/verify"): PARTNER,
    # reports, search, audit
    ("GET", "/api/v1/reports/{name}"): roles("finance", "auditor"),
    ("GET", "/api/v1/search"): roles("finance", "cashier", "auditor", "gate"),
    ("GET", "/api/v1/orders/{order_no}/story"): roles("finance", "cashier", "auditor"),
    ("GET", "/api/v1/audit"): roles("auditor"),
    # cards and faces bound to tickets at the window (issues 14, 15)
    ("POST", "/api/v1/tickets/{ticket_no}/cards"): roles("cashier"),
    ("POST", "/api/v1/faces/{ticket_no}"): roles("cashier"),
    ("GET", "/api/v1/faces/{ticket_no}"): roles("cashier"),
    ("DELETE", "/api/v1/faces/{ticket_no}"): roles("cashier"),
    # the buyer's own face, with the order's token
    ("POST", "/api/v1/orders/{order_no}/tickets/{ticket_no}/face"): PUBLIC,
    ("DELETE", "/api/v1/orders/{order_no}/tickets/{ticket_no}/face"): PUBLIC,
    # gates and their enrolment (issue 14): the gate proves itself with its one-time token or
    # its own signature, not a staff role
    ("POST", "/api/v1/devices/tokens"): roles("installer"),
    ("GET", "/api/v1/devices"): roles("installer"),
    ("POST", "/api/v1/devices/{site}/{node}/decommission"): roles(),
    ("POST", "/api/v1/devices/enrol"): PUBLIC,
    ("POST", "/api/v1/devices/decommission"): PUBLIC,
    ("GET", "/api/v1/devices/root"): PUBLIC,
    # the visitor's phone (issue 18): pages, and its order's cards and quotes with the token
    ("GET", "/shop/static/{name}"): PUBLIC,
    ("GET", "/shop/{site}"): PUBLIC,
    ("GET", "/t/sw.js"): PUBLIC,
    ("GET", "/t/{order_no}"): PUBLIC,
    ("GET", "/api/v1/orders/{order_no}/cards"): PUBLIC,
    ("GET", "/api/v1/tickets/{ticket_no}/quote"): PUBLIC,
    ("GET", "/api/v1/sites/{site}/poster.{kind}"): roles(),
    # the manager's dashboard (issue 19): cookie sessions, see BROWSER above
    ("GET", "/dashboard"): BROWSER,
    ("GET", "/dashboard/login"): PUBLIC,
    ("POST", "/dashboard/login"): BROWSER,
    ("POST", "/dashboard/logout"): BROWSER,
    ("POST", "/dashboard/language"): BROWSER,
    ("POST", "/dashboard/alarms/{alarm_id}/acknowledge"): BROWSER,
    ("GET", "/dashboard/live"): BROWSER,
    ("GET", "/dashboard/passes"): BROWSER,
    ("POST", "/dashboard/passes/{product_id}/rule"): BROWSER,
    # reconciliation with the payment channels (issue 17): finance
    ("POST", "/api/v1/reconciliation/statements"): roles("finance"),
    ("GET", "/api/v1/reconciliation/mismatches"): roles("finance"),
    ("POST", "/api/v1/reconciliation/mismatches/{mismatch_id}/resolve"): roles("finance"),
    ("POST", "/api/v1/reconciliation/days/{channel}/{day}/close"): roles("finance"),
    # distributors and OTAs (issue 17): the channel with its own key; finance keeps accounts
    ("GET", "/api/v1/channel/account"): PARTNER,
    ("POST", "/api/v1/channel/orders"): PARTNER,
    ("POST", "/api/v1/channel/orders/{order_no}/refunds"): PARTNER,
    ("POST", "/api/v1/channels"): roles("finance"),
    ("PUT", "/api/v1/channels/{code}/terms/{product_id}"): roles("finance"),
    ("POST", "/api/v1/channels/{code}/topups"): roles("finance"),
    ("POST", "/api/v1/channels/{code}/statements/{day}"): roles("finance"),
    ("GET", "/api/v1/channels/{code}/statements/{day}/csv"): roles("finance"),
    ("POST", "/api/v1/channels/{code}/statements/{day}/confirm"): roles("finance"),
    # package revenue shares with partner attractions (套票分账, issue 17): finance
    ("POST", "/api/v1/attractions"): roles("finance"),
    ("GET", "/api/v1/attractions/{code}"): roles("finance"),
    ("PUT", "/api/v1/products/{product_id}/shares"): roles("finance"),
    ("GET", "/api/v1/products/{product_id}/shares"): roles("finance"),
    ("POST", "/api/v1/attractions/{code}/statements/{day}"): roles("finance"),
    ("GET", "/api/v1/attractions/{code}/statements/{day}/csv"): roles("finance"),
    ("POST", "/api/v1/attractions/{code}/statements/{day}/confirm"): roles("finance"),
    # members (issue 17): sign-up and sign-in by a code, then their own session (MEMBER)
    ("POST", "/api/v1/members/codes"): PUBLIC,
    ("POST", "/api/v1/members/sessions"): PUBLIC,
    ("GET", "/api/v1/members/me"): MEMBER,
    ("PUT", "/api/v1/members/me"): MEMBER,
    ("DELETE", "/api/v1/members/me"): MEMBER,
    ("GET", "/api/v1/members/me/export"): MEMBER,
    ("POST", "/api/v1/members/me/orders"): MEMBER,
    ("POST", "/api/v1/members/me/points/{order_no}"): MEMBER,
    ("POST", "/api/v1/flash-sales/{sale_id}/orders"): MEMBER,
    # staff look a member up (audited); a manager sets up offers
    ("GET", "/api/v1/members/{member_id}"): roles("cashier", "finance"),
    # annual passes (issue 17): the member's own, and the window's (audited)
    ("GET", "/api/v1/members/me/passes"): MEMBER,
    ("POST", "/api/v1/members/me/passes/{pass_id}/renewals"): MEMBER,
    ("GET", "/api/v1/passes"): roles("cashier"),
    ("POST", "/api/v1/passes/{pass_id}/renewals"): roles("cashier"),
    ("PUT", "/api/v1/passes/{pass_id}/member"): roles("cashier"),
    ("POST", "/api/v1/passes/{pass_id}/face"): roles("cashier"),
    ("GET", "/api/v1/products/{product_id}/pass-rule"): roles(),
    ("PUT", "/api/v1/products/{product_id}/pass-rule"): roles(),
    ("POST", "/api/v1/flash-sales"): roles(),
    ("POST", "/api/v1/coupons"): roles(),
}


def served_routes(app) -> list[APIRoute]:
    """Every APIRoute the app serves, through included routers (FastAPI may wrap them)."""

    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)

    return list(walk(app.routes))


def declared_roles(dependant) -> frozenset[str] | None:
    for dependency in dependant.dependencies:
        allowed = getattr(dependency.call, "allowed_roles", None)
        if allowed is not None:
            return frozenset(allowed)
        inner = declared_roles(dependency)
        if inner is not None:
            return inner
    return None


def endpoints(app) -> list[tuple[str, str, APIRoute]]:
    return [(m, r.path, r) for r in served_routes(app) for m in sorted(r.methods)]


@pytest.fixture
def db_url(tmp_path):
    """Who may call what does not depend on the engine: SQLite only."""
    from simulators.databases import sqlite_database

    return sqlite_database(tmp_path)


@pytest.fixture
def app(office):
    return create_app(api_context(office))


def test_every_route_has_a_decision(app):
    served = {(m, p) for m, p, _ in endpoints(app)}
    assert not served - MATRIX.keys(), "routes without a decision in MATRIX"
    assert not MATRIX.keys() - served, "MATRIX names routes the app does not serve"


def test_each_route_admits_the_roles_the_table_names(app):
    for method, path, route in endpoints(app):
        expected = MATRIX[(method, path)]
        declared = declared_roles(route.dependant)
        if declared is not None:
            assert declared == expected, f"{method} {path}"
        else:  # no role(...): public, any staff, a partner, or checked in the route
            assert isinstance(expected, str) or path in CHECKED_IN_ROUTE, f"{method} {path}"


# Routes that take a buyer's token or staff and check the role themselves (no role(...)).
CHECKED_IN_ROUTE = {
    "/api/v1/orders/{order_no}",
    "/api/v1/orders/{order_no}/refunds",
    "/api/v1/tickets/{ticket_no}/change",
}


@pytest.fixture
def signed_in(app, office):
    """A bearer header per role: a session opened as sign-in opens one (signing in over HTTP
    is tested in test_auth.py; here it would cost six scrypt checks a route)."""
    from fastapi.testclient import TestClient

    from cloud.core.config import ApiSettings
    from cloud.services import staff_sessions

    client = TestClient(app, raise_server_exceptions=False)
    headers = {}
    with office.sessions.begin() as db:
        for role in ROLES:
            user = User(username=f"{role}1", password_hash=stored_hash(f"{role}1-password"),
                        role=role)  # fmt: skip
            db.add(user)
            db.flush()
            started = staff_sessions.start(db, user.id, ApiSettings(), TEST_AT)
            headers[role] = {"Authorization": f"Bearer {started.token}"}
    return client, headers


def fill(path: str, office, order_no: str, ticket_no: str) -> str:
    values = {
        "{username}": "ghost",
        "{node}": "G1",
        "{site}": "S1",
        "{product_id}": "1",
        "{day}": office.day.isoformat(),
        "{price_type}": "adult",
        "{order_no}": order_no,
        "{ticket_no}": ticket_no,
        "{kind}": "png",
        "{provider_name}": "sandbox",
        "{name}": "sales",
        "{alarm_id}": "1",
        "{mismatch_id}": "1",
        "{channel}": "wechat",
        "{code}": "fliggy",
        "{member_id}": "1",
        "{sale_id}": "1",
    }
    for name, value in values.items():
        path = path.replace(name, value)
    return path


QUERIES = {
    "/api/v1/reports/{name}": {"site": "S1", "from": "2026-12-01", "to": "2026-12-02"},
    "/api/v1/search": {"by": "order", "q": "1"},
    "/api/v1/sites/{site}/calendar": {"from": "2026-12-01", "to": "2026-12-02"},
    "/api/v1/reconciliation/statements": {"channel": "wechat", "day": "2026-12-01"},
}
BODIES = {  # valid bodies where the route looks at the body before the caller's role
    "/api/v1/orders/{order_no}/refunds": {},
    "/api/v1/tickets/{ticket_no}/change": {"inventory_id": 1},
}


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_each_role_is_allowed_or_refused_403_as_the_matrix_says(signed_in, office, endpoint):
    client, headers = signed_in
    method, path = endpoint
    expected = MATRIX[endpoint]
    order = place_order(office, LineRequest(office.day_ticket, "adult", 1))
    pay(office, order.order_no, order.total_fen)
    url = fill(path, office, order.order_no, tickets_of(office, order.order_no)[0])
    for role in ROLES:
        answer = client.request(
            method,
            url,
            headers=headers[role],
            params=QUERIES.get(path),
            json=BODIES.get(path, {}) if method in ("POST", "PUT", "PATCH") else None,
            follow_redirects=expected != BROWSER,  # "sign in first" is the answer there
        )
        allowed = expected in (PUBLIC, SIGNED_IN) or (
            isinstance(expected, frozenset) and role in expected
        )
        if expected in (PARTNER, MEMBER):  # a staff token is neither a key nor a member
            assert answer.status_code == 401, (role, answer.text)
            assert answer.json()["code"] == "unauthenticated", (role, answer.text)
        elif expected == BROWSER:  # a bearer token opens no page and changes nothing there
            if path == "/dashboard/live":  # the stream says "signed out" and ends
                assert answer.text.startswith("event: signed_out"), (role, answer.text)
            else:
                assert answer.status_code in (303, 401, 403, 422), (role, answer.status_code)
            session = re.search(r"scenic_dashboard=([^;]*)", answer.headers.get("set-cookie", ""))
            assert session is None or session.group(1) in ("", '""'), role  # cleared, never set
        elif allowed:
            assert answer.status_code != 403, (role, answer.text)
            assert answer.status_code < 500, (role, answer.text)
        else:
            assert answer.status_code == 403, (role, answer.status_code, answer.text)
            assert answer.json()["code"] == "forbidden"


def test_an_auditor_may_only_read():
    writes = [
        (method, path)
        for (method, path), allowed in MATRIX.items()
        if isinstance(allowed, frozenset) and "auditor" in allowed and method != "GET"
    ]
    assert writes == []
