"""The visitor's phone: the shop a scanned poster opens (``/shop/{site}``) and the ticket page
that keeps working with no signal (``/t/{order_no}``), with their scripts, styles and service
worker. Pages only: everything they do goes through the JSON API (orders, sandbox/payments,
refunds, changes, api/routes/visitor.py), so limits, hold caps, idempotency and real-name
checks are the API's own, and a page shows nothing its caller could not ask the API for.

Where the order's access token travels (the judgement call of issue 18):

- The ticket link is ``/t/{order_no}#token=...``: the token is in the URL **fragment**, which a
  browser never sends to any server, never puts in a ``Referer`` (and every answer says
  ``Referrer-Policy: no-referrer`` anyway, api/headers.py), and which proxies and access logs
  never see. The page's script reads it and sends it as ``X-Order-Token`` to the API, as any
  API client does.
- The page served at ``/t/{order_no}`` is the same shell for every order and caller, with no
  order data in it: it learns nothing, and tells nothing, without the token. So the service
  worker may cache it, and it opens offline.
- Not a cookie: a cookie scoped to ``/t/{order_no}`` would be sent on every request to that
  path, would have to be set by the server from a token that then crossed the wire in a URL or
  body, and would make the page a credentialed GET (a cross-site request would carry it).
- On the phone, the last answer (codes as PNG data URIs) is kept in ``localStorage`` under the
  order number together with the token it was fetched with; the page shows it offline only
  when the fragment's token is that same token. The phone's own storage is the visitor's: no
  other site can read it (same-origin), and a link without the token shows nothing.

Never: put the token in a path or query (logged, sent as Referer), inline a script (the CSP
allows only this origin's files), or load anything from another host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cloud.api.deps import DB, Context
from cloud.core.errors import Thing, not_found
from cloud.services.shop import shop_view

router = APIRouter(include_in_schema=False)
FOLDER = Path(__file__).parents[1] / "shop"
STATIC = FOLDER / "static"
TEMPLATES = Environment(
    loader=FileSystemLoader(FOLDER / "templates"), autoescape=select_autoescape(["html"])
)
MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Pages and scripts are checked again on every load (they change with a release), and kept by
# the ticket page's service worker for when there is no signal.
REVALIDATE = {"Cache-Control": "no-cache"}
ONLINE_CHANNELS = ("wechat", "alipay", "sandbox")  # cash is taken at the window only


@router.get("/shop/static/{name}", response_class=Response)
def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or path.suffix not in MEDIA or not path.is_file():
        raise not_found(Thing.PAGE)
    return Response(path.read_bytes(), media_type=MEDIA[path.suffix], headers=REVALIDATE)


@router.get("/t/sw.js", response_class=Response)
def service_worker() -> Response:
    """The ticket page's service worker: its scope is ``/t/`` (where it is served from)."""
    body = (STATIC / "sw.js").read_bytes()
    return Response(body, media_type=MEDIA[".js"], headers=REVALIDATE)


@router.get("/shop/{site}", response_class=HTMLResponse)
def shop(
    site: str, ctx: Context, db: DB, product: int | None = Query(default=None, ge=1)
) -> HTMLResponse:
    """The shop for a site; ``?product=ID`` (a product's poster) opens with it chosen."""
    view = shop_view(db, site, ctx.clock.now())
    data: dict[str, Any] = {
        "site": view.site,
        "products": view.products,
        "today": view.today,
        "product": product,
        "channels": [name for name in ONLINE_CHANNELS if name in ctx.providers],
    }
    return _page("shop.html", data, title_zh=view.site["name_zh"], title_en=view.site["name_en"])


@router.get("/t/{order_no}", response_class=HTMLResponse)
def tickets(order_no: str) -> HTMLResponse:
    """The ticket page's shell: the same for everyone; its script fetches the order with the
    token from the link's fragment, or shows the copy kept on the phone."""
    if not order_no.isalnum() or len(order_no) > 32:
        raise not_found(Thing.ORDER)
    return _page("tickets.html", {"order_no": order_no}, title_zh="我的门票", title_en="My tickets")


def _page(template: str, data: dict[str, Any], *, title_zh: str, title_en: str) -> HTMLResponse:
    html = TEMPLATES.get_template(template).render(
        data=data, title_zh=title_zh, title_en=title_en
    )  # the template writes data with |tojson, which escapes < > & ' for a script element
    return HTMLResponse(html, headers=REVALIDATE)
