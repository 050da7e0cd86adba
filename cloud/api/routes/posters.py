"""QR posters for the entrance, for a manager to print: a site's shop, or one product's.

``GET /api/v1/sites/{site}/poster.png`` (or ``.pdf``), ``?paper=a4|a3``, ``?product=ID``. The
code holds the public shop address (``SCENIC_PUBLIC_BASE_URL``, else the address this request
came to). When the CJK font (``SCENIC_POSTER_FONT``) is missing the poster is English only and
the answer says so in ``X-Poster-Font: missing`` (services/posters.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from cloud.api.deps import DB, Context, Staff, role
from cloud.core.errors import Thing, not_found
from cloud.models import Product, Site
from cloud.services.posters import KINDS, PosterText, make_poster, shop_url

router = APIRouter(prefix="/api/v1", tags=["posters"])
Manager = Annotated[Staff, Depends(role("manager"))]


@router.get("/sites/{site}/poster.{kind}", response_class=Response)
def poster(
    site: str,
    kind: str,
    request: Request,
    ctx: Context,
    db: DB,
    _: Manager,
    paper: Annotated[str, Query(pattern="^(a4|a3)$")] = "a4",
    product: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    if kind not in KINDS:
        raise not_found(Thing.PAGE)
    place = db.get(Site, site)
    if place is None:
        raise not_found(Thing.SITE)
    subtitle = ("门票", "Tickets")
    if product is not None:
        item = db.get(Product, product)
        if item is None or item.site != place.code or not item.active:
            raise not_found(Thing.PRODUCT)
        subtitle = (item.name_zh, item.name_en)
    base = ctx.shop.public_base_url or str(request.base_url).rstrip("/")
    text = PosterText(place.name_zh, place.name_en, *subtitle, shop_url(base, place.code, product))
    made = make_poster(text, kind, paper, ctx.shop.poster_font)
    name = f"poster-{place.code}{f'-{product}' if product else ''}-{paper}.{kind}"
    headers = {
        "Content-Disposition": f'inline; filename="{name}"',
        "X-Poster-Font": "ok" if made.font else "missing",
    }
    return Response(made.body, media_type=made.media_type, headers=headers)
