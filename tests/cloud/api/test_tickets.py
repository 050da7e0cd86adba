"""A buyer's tickets over HTTP (routes/tickets.py): the printable page and its codes."""

from __future__ import annotations

from tests.cloud.http_calls import place_order, problem


def test_the_order_prints_as_a_page_with_each_ticket_and_its_code(api, office):
    order = place_order(api, office, key="print-key-0001")
    token = {"X-Order-Token": order["access_token"]}
    api.post(f"/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    page = api.get(f"/api/v1/orders/{order['order_no']}/print", headers=token)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('class="ticket"') == 2 and page.text.count("<svg") == 2
    assert "测试景区" in page.text and "Day ticket" in page.text
    problem(api.get(f"/api/v1/orders/{order['order_no']}/print"), 404, "not_found")
