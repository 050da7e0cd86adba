"""The API as a client speaks it in tests: sign in, buy over HTTP, expect a problem."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def bearer(api: TestClient, name: str) -> dict[str, str]:
    answer = api.post("/api/v1/auth/token", json={"username": name, "password": f"{name}-password"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def place_order(
    api: TestClient,
    office,
    key: str = "order-key-0001",
    quantity: int = 2,
    channel: str = "web",
    **line: Any,
) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": key},
        json={
            "site": "S1",
            "channel": channel,
            "lines": [
                {
                    "inventory_id": office.day_ticket,
                    "price_type": "adult",
                    "quantity": quantity,
                    **line,
                }
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def problem(answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == code and body["message_zh"] and body["message_en"]
    return body
