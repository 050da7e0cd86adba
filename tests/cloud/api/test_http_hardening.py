"""What every HTTP answer says about itself (security headers, no caching of secrets), the docs
served without the internet, and whose word is taken for the client's address."""

from __future__ import annotations

import ipaddress
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.api.app import create_app
from cloud.api.client import client_address
from cloud.core.config import ApiSettings
from cloud.models import AuditEntry
from tests.cloud.conftest import api_context
from tests.cloud.http_calls import place_order, problem

PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


def app_behind(office, proxies=PROXIES):
    context = api_context(office)
    context.api = ApiSettings(trusted_proxies=proxies)
    return create_app(context)


def test_every_answer_carries_the_security_headers_and_no_hsts_over_http(api, office):
    for answer in (
        api.get("/healthz"),
        api.get("/api/v1/sites/S1/products"),
        api.get("/api/v1/nowhere"),
        api.post("/api/v1/auth/token", json={"username": "x", "password": "y"}),
    ):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in answer.headers


def test_orders_tickets_and_qr_codes_are_never_cached(api, office):
    order = place_order(api, office, key="no-store-0001")
    token = {"X-Order-Token": order["access_token"]}
    paid = api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    read = api.get(f"/api/v1/orders/{order['order_no']}", headers=token)
    number = read.json()["tickets"][0]["ticket_no"]
    qr = api.get(f"/api/v1/tickets/{number}/qr.png", headers=token)
    page = api.get(f"/api/v1/orders/{order['order_no']}/print", headers=token)
    signed_in = api.post(
        "/api/v1/auth/token", json={"username": "boss", "password": "boss-password"}
    )
    for answer in (paid, read, qr, page, signed_in):
        assert answer.status_code == 200, answer.text
        assert answer.headers["Cache-Control"] == "no-store"


def test_hsts_only_when_the_request_came_over_tls(office):
    app = app_behind(office)
    assert (
        "Strict-Transport-Security"
        in TestClient(app, base_url="https://testserver").get("/healthz").headers
    )
    forwarded = {"X-Forwarded-Proto": "https"}
    from_anyone = TestClient(app, client=("203.0.113.5", 5000)).get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" not in from_anyone.headers
    from_proxy = TestClient(app, client=("10.1.2.3", 5000)).get("/healthz", headers=forwarded)
    assert from_proxy.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_docs_load_nothing_from_another_host(api):
    for path in ("/docs", "/redoc"):
        page = api.get(path)
        assert page.status_code == 200
        assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page.text), page.text
        assert "https://" not in page.text and "http://" not in page.text
        assets = re.findall(r"(?:src|href)=[\"']([^\"']+)[\"']", page.text)
        assert assets
        for asset in assets:
            assert asset.startswith("/"), asset
            assert api.get(asset).status_code == 200, asset
        assert "script-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert api.get("/openapi.json").status_code == 200


def test_forwarded_for_from_an_untrusted_client_is_ignored_in_the_audit_log(office):
    client = TestClient(app_behind(office), client=("203.0.113.5", 5000))
    spoofed = {"X-Forwarded-For": "192.0.2.1"}
    answer = client.post(
        "/api/v1/auth/token", json={"username": "x", "password": "y"}, headers=spoofed
    )
    problem(answer, 401, "bad_credentials")
    with office.sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    assert entry.source == "203.0.113.5"


def test_a_trusted_proxy_names_the_client_and_nothing_left_of_it_counts(office):
    client = TestClient(app_behind(office), client=("10.0.0.2", 5000))
    chain = {"X-Forwarded-For": "192.0.2.66, 198.51.100.7, 10.0.0.9"}
    client.post("/api/v1/auth/token", json={"username": "x", "password": "y"}, headers=chain)
    with office.sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    assert entry.source == "198.51.100.7"  # 192.0.2.66 is only what the client claimed


def scope(peer: str, *forwarded: str) -> dict:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 1234), "headers": headers}


def test_the_client_address_rules():
    assert client_address(scope("203.0.113.5", "1.2.3.4"), ()) == "203.0.113.5"
    assert client_address(scope("203.0.113.5", "1.2.3.4"), PROXIES) == "203.0.113.5"
    assert client_address(scope("10.0.0.1"), PROXIES) == "10.0.0.1"
    assert client_address(scope("10.0.0.1", "1.2.3.4", "10.0.0.7"), PROXIES) == "1.2.3.4"
    assert client_address(scope("10.0.0.1", "10.0.0.8, 10.0.0.7"), PROXIES) == "10.0.0.8"
    assert client_address(scope("10.0.0.1", "1.2.3.4, not-an-ip"), PROXIES) == "10.0.0.1"
    assert client_address(scope("10.0.0.1", "2001:db8::1"), PROXIES) == "2001:db8::1"
    assert client_address({"headers": []}, PROXIES) == "?"


def test_trusted_proxies_come_from_the_environment():
    from cloud.core.config import ConfigError

    settings = ApiSettings.from_env({"SCENIC_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert ApiSettings.from_env({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match="SCENIC_TRUSTED_PROXIES"):
        ApiSettings.from_env({"SCENIC_TRUSTED_PROXIES": "the load balancer"})
