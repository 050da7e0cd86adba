"""The FastAPI application: routes, and every refusal as problem JSON (never a bare traceback).

``create_app(context)`` takes a built CloudContext (api/context.py), so tests and the demo run
the same app with their own databases and keys. OpenAPI docs are served at /docs and /redoc,
their scripts from this process (fastapi-offline), not a CDN: a site may have no internet.
Every answer gets the security headers of api/headers.py.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from cloud.api.context import CloudContext
from cloud.api.headers import SecurityHeaders
from cloud.api.input_guard import InputGuard
from cloud.api.routes import (
    audit_log,
    auth,
    calendar,
    cards,  # card index and RFID binding (issue 14)
    catalog,
    channel,  # distributors and OTAs (issue 17)
    dashboard,  # the manager's dashboard (issue 19)
    devices,  # provisioning (issue 14)
    faces,  # face enrolment (issue 15)
    gate_settings,  # per-site gate settings, published as the signed config document
    members,  # members, coupons, flash sales (issue 17)
    orders,
    passes,  # annual passes and their renewal (issue 17)
    payments,
    reconciliation,  # 自动对账 (issue 17)
    refunds,
    reports,
    revshare,  # package revenue shares with partner attractions (issue 17)
    sandbox,
    search,
    tickets,
    users,
    verify,
)
from cloud.api.routes import posters as visitor_posters  # the visitor's phone (issue 18)
from cloud.api.routes import shop as visitor_pages
from cloud.api.routes import visitor as visitor_api
from cloud.api.schemas import Health
from cloud.core.errors import Code, Problem, framework_problem
from cloud.dashboard.render import STATIC as DASHBOARD_STATIC

log = logging.getLogger("cloud.api")
PROBLEM = "application/problem+json"


def create_app(context: CloudContext) -> FastAPI:
    app = FastAPIOffline(
        title="Scenic ticket office / 景区票务",
        version="0.1.0",
        description="Tickets, orders, payments, refunds and verification. "
        "Money in integer fen; errors are problem JSON with a stable "
        "code and zh-CN/English messages. "
        f"Payment channels live here: {', '.join(sorted(context.providers))}.",
    )
    app.state.context = context
    app.add_middleware(InputGuard)  # inside SecurityHeaders: its refusals get the headers too
    app.add_middleware(SecurityHeaders)
    for module in (
        auth,
        cards,
        catalog,
        orders,
        payments,
        refunds,
        tickets,
        verify,
        devices,
        faces,
    ):
        app.include_router(module.router)
    app.include_router(gate_settings.router)
    for module in (reports, search, users, calendar, audit_log):  # staff operations (issue 19)
        app.include_router(module.router)
    # --- dashboard: pages, live updates and its own CSS/JS (no CDN) ---
    app.include_router(dashboard.router)
    app.mount("/dashboard/static", StaticFiles(directory=DASHBOARD_STATIC), name="dashboard-static")
    for module in (reconciliation, channel, members, revshare, passes):  # issue 17
        app.include_router(module.router)
    if "sandbox" in context.providers:  # tickets without money: only if the operator said so
        app.include_router(sandbox.router)
    for module in (visitor_pages, visitor_api, visitor_posters):  # the visitor's phone
        app.include_router(module.router)

    @app.exception_handler(Problem)
    async def problem(_: Request, exc: Problem) -> JSONResponse:
        return JSONResponse(
            exc.body(), status_code=exc.status, media_type=PROBLEM, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"where": "", "problem": "invalid"}
        refusal = Problem(
            Code.INVALID_REQUEST, where=first["where"], problem=first["problem"], errors=errors
        )
        return JSONResponse(refusal.body(), status_code=refusal.status, media_type=PROBLEM)

    @app.exception_handler(HTTPException)
    async def http(_: Request, exc: HTTPException) -> JSONResponse:
        body = framework_problem(exc.status_code, str(exc.detail))
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        refusal = Problem(Code.INTERNAL_ERROR)
        return JSONResponse(refusal.body(), status_code=refusal.status, media_type=PROBLEM)

    @app.get("/healthz", include_in_schema=False, response_model=Health)
    def healthz() -> Health:
        return Health(status="ok")

    return app
