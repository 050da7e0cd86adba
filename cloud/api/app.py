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

from cloud.api.context import CloudContext
from cloud.api.headers import SecurityHeaders
from cloud.api.input_guard import InputGuard
from cloud.api.routes import (
    auth,
    catalog,
    channel,  # issue 17
    members,  # issue 17
    orders,
    payments,
    reconciliation,  # issue 17
    refunds,
    sandbox,
    tickets,
    verify,
)
from cloud.core.errors import Code, Problem, framework_problem

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
    for module in (auth, catalog, orders, payments, refunds, tickets, verify):
        app.include_router(module.router)
    app.include_router(reconciliation.router)  # issue 17
    app.include_router(channel.router)  # issue 17
    app.include_router(members.router)  # issue 17
    if "sandbox" in context.providers:  # tickets without money: only if the operator said so
        app.include_router(sandbox.router)

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

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
