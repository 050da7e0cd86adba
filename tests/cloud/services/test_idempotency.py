"""Idempotency keys belong to a route and a caller, and a replay needs the same right as the
request: someone who learns a key gets no one else's order token, refund or till."""

from __future__ import annotations

from datetime import timedelta

from tests.cloud.http_calls import bearer, place_order, problem


def test_a_victims_order_key_and_cart_do_not_give_away_the_victims_token(api, office):
    victim = place_order(api, office, key="victim-key-0001")
    replay = place_order(api, office, key="victim-key-0001")  # same key, same cart
    assert replay["order_no"] == victim["order_no"] and replay["access_token"] is None
    problem(api.get(f"/api/v1/orders/{victim['order_no']}"), 404, "not_found")
    mine = {"X-Order-Token": victim["access_token"]}
    assert api.get(f"/api/v1/orders/{victim['order_no']}", headers=mine).status_code == 200


def test_a_refund_replay_without_the_order_token_is_refused(api, office, published):
    order = place_order(api, office, key="refund-victim-01")
    token = {"X-Order-Token": order["access_token"]}
    api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    key = {"Idempotency-Key": "refund-replay-01"}
    url = f"/api/v1/orders/{order['order_no']}/refunds"
    assert api.post(url, headers={**token, **key}, json={}).status_code == 200
    problem(api.post(url, headers=key, json={}), 404, "not_found")  # no credentials
    problem(
        api.post(url, headers={**key, "Authorization": "Bearer stolen"}, json={}),
        401,
        "unauthenticated",
    )
    assert len(published) == 1


def test_two_cashiers_using_the_same_key_each_get_their_own_till(api, office):
    from cloud.models import User
    from tests.stored_passwords import stored_hash

    with office.sessions.begin() as db:
        db.add(User(username="till2", password_hash=stored_hash("till2-password"), role="cashier"))
    key = {"Idempotency-Key": "open-my-till-01"}
    first = api.post(
        "/api/v1/shifts", json={"float_fen": 100}, headers={**bearer(api, "till1"), **key}
    )
    other = api.post(
        "/api/v1/shifts", json={"float_fen": 100}, headers={**bearer(api, "till2"), **key}
    )
    assert first.status_code == other.status_code == 201
    assert first.json()["shift_id"] != other.json()["shift_id"]


def test_a_key_used_on_one_route_is_a_new_request_on_another(api, office):
    boss = {**bearer(api, "boss"), "Idempotency-Key": "manager-key-0001"}
    site = {"code": "S2", "name_zh": "西湖", "name_en": "West Lake"}
    assert api.post("/api/v1/sites", json=site, headers=boss).status_code == 201
    next_day = (office.day + timedelta(days=1)).isoformat()
    stock = {"product_id": office.products["day"], "day": next_day, "capacity": 5}
    made = api.post("/api/v1/inventory", json=stock, headers=boss)
    assert made.status_code == 201, made.text  # not the site's answer, nor a 409
