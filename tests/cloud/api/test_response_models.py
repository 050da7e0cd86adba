"""Every JSON answer of the API has a response model, so /docs shows what comes back and a
client can be generated from the schema; only answers that are not JSON go without one."""

from __future__ import annotations

import typing
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from cloud.api.app import create_app
from cloud.api.routes.reports import XLSX

# Routes whose answer is not JSON, and what it is instead. Nothing else belongs here.
NOT_JSON = {
    "/api/v1/tickets/{ticket_no}/qr.{kind}": "a PNG or SVG image of the code",
    "/docs": "the Swagger UI page (HTML)",
    "/docs/oauth2-redirect": "the Swagger UI's redirect page (HTML)",
    "/redoc": "the ReDoc page (HTML)",
}


def _app() -> FastAPI:
    # The routes need only the channel names (the sandbox's are mounted when it is on).
    channels = SimpleNamespace(
        providers=dict.fromkeys(("cash", "sandbox")), api=SimpleNamespace(trusted_proxies=())
    )
    return create_app(channels)  # type: ignore[arg-type]


def _api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(full path, route) for every FastAPI route, those of included routers too (FastAPI
    0.165 keeps those behind a lazy wrapper; older versions list them flat)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined]
    except ImportError:
        return [(r.path, r) for r in app.routes if isinstance(r, APIRoute)]
    return [
        (context.path, context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def _is_model(annotation: object) -> bool:
    """A pydantic model, or a list of one."""
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _answers_json(route: APIRoute) -> bool:
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value
    return issubclass(response_class, JSONResponse) and route.status_code != 204


def test_every_json_answer_of_the_api_has_a_response_model():
    routes = _api_routes(_app())
    assert len(routes) > 20  # the walk reached the included routers
    missing = [
        f"{sorted(route.methods)} {path}"
        for path, route in routes
        if path not in NOT_JSON and _answers_json(route) and not _is_model(route.response_model)
    ]
    assert missing == []


def test_the_list_of_answers_that_are_not_json_names_only_routes_that_exist():
    paths = {path for path, _ in _api_routes(_app())}
    assert set(NOT_JSON) <= paths


def test_the_report_and_audit_exports_show_their_file_types_in_the_schema():
    paths = _app().openapi()["paths"]
    report = paths["/api/v1/reports/{name}"]["get"]["responses"]["200"]["content"]
    audit = paths["/api/v1/audit"]["get"]["responses"]["200"]["content"]
    assert set(report) == {"application/json", "text/csv", XLSX}
    assert set(audit) == {"application/json", "text/csv"}
