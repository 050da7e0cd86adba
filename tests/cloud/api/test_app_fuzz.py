"""Property testing of the HTTP API from its own OpenAPI schema (schemathesis): whatever a
client sends, the answer is never a 5xx: bad input is a 4xx problem, and nothing crashes.

Schemathesis's own pytest plugin does not work with pytest 9 here, so the test draws cases
from its Hypothesis strategies directly, one parametrised test per API operation.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.api.app import create_app
from tests.cloud.conftest import api_context


def _operations() -> list[str]:
    # The schema needs only the channel names (the sandbox's routes are mounted when it is on).
    channels = SimpleNamespace(
        providers=dict.fromkeys(("cash", "sandbox")), api=SimpleNamespace(trusted_proxies=())
    )
    app: FastAPI = create_app(channels)  # type: ignore[arg-type]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok().label for result in schema.get_all_operations()]


@pytest.fixture(params=["sqlite"])  # the API is the same on both engines; fuzz one
def db_url(request, tmp_path):
    from simulators.databases import sqlite_database

    return sqlite_database(tmp_path)


@pytest.fixture
def api_schema(office):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(api_context(office)))


@pytest.mark.parametrize("label", _operations())
@given(data=st.data())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_request_makes_the_api_fail(api_schema, label, data):
    operation = next(r.ok() for r in api_schema.get_all_operations() if r.ok().label == label)
    case = data.draw(operation.as_strategy())
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
