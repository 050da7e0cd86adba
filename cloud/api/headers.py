"""Security headers on every answer of the API, and no caching of anything that could carry a
token, an order, a ticket or its QR code.

Never: send HSTS over plain HTTP (a site reached by address on its LAN would be unreachable
once a browser had seen it over TLS elsewhere), or let a shared cache keep an answer.

- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, and a CSP with
  ``frame-ancestors 'none'`` (plus ``X-Frame-Options: DENY`` for old browsers) everywhere.
- The CSP is ``default-src 'none'`` for the API and the printable ticket page (its styles are
  inline, its QR codes inline SVG). The docs pages (Swagger UI, ReDoc, served from this
  process: fastapi-offline) get ``'self'`` plus ``'unsafe-inline'`` for scripts and styles:
  Swagger UI is started by an inline script FastAPI writes, and the page shows no one's input
  but our own OpenAPI text. ReDoc runs a web worker from a blob.
- ``Strict-Transport-Security`` only when the request came over TLS (client.came_over_tls).
- ``Cache-Control: no-store`` on everything but the docs' static files, unless a route set its
  own: availability and tokens alike change from one request to the next.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.api.client import came_over_tls
from cloud.core.config import IpNetwork

DOCS_STATIC = "/static-offline-docs"  # fastapi-offline's default mount
DOCS_PAGES = ("/docs", "/redoc", DOCS_STATIC)
API_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# --- the visitor's phone: /shop and /t pages run their own scripts (no inline script, no
# other host) and the ticket page registers a service worker (api/routes/shop.py) ---
SHOP_PAGES = ("/shop/", "/t/")
SHOP_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# The dashboard (cloud/dashboard/): its own script, styles and inline SVG; its live stream and
# forms go to this origin only. No inline script or style attribute anywhere on it.
DASHBOARD = "/dashboard"
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=31536000"  # one year; no includeSubDomains: other hosts of the site may be HTTP


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer. The trusted proxies are
    the app's context's (``app.state.context.api``), read per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path.startswith(DOCS_PAGES)
        shop = path.startswith(SHOP_PAGES)
        dashboard = path == DASHBOARD or path.startswith(DASHBOARD + "/")
        tls = came_over_tls(scope, _trusted_proxies(scope))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers["Content-Security-Policy"] = (
                    DOCS_POLICY
                    if docs
                    else SHOP_POLICY
                    if shop
                    else DASHBOARD_POLICY
                    if dashboard
                    else API_POLICY
                )
                if tls:
                    headers["Strict-Transport-Security"] = HSTS
                if not path.startswith(DOCS_STATIC) and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


def _trusted_proxies(scope: Scope) -> tuple[IpNetwork, ...]:
    context = getattr(scope["app"].state, "context", None) if "app" in scope else None
    return context.api.trusted_proxies if context is not None else ()
