"""Face enrolment for real-name tickets: at purchase (the buyer, with the order token) or at the
window (a cashier); deletion by either; status for staff. Every call is audited by the service.

The photo travels base64 in a JSON body (``{"photo": "..."}``), JPEG or PNG: a JSON body keeps
the API's input guard simple (bounded at 1 MiB, NUL-free; a multipart file would carry NUL
bytes), and 1 MiB of base64 holds a 750 kB photo, more than a face at 1280 px needs. Only its
embedding is kept (services/face_enrolment.py). The signed delta is published to the site's
gates once the change is committed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel

from cloud.api.context import CloudContext
from cloud.api.deps import Context, Source, Staff, role
from cloud.api.order_views import owned_order
from cloud.api.pass_schemas import FacePhotoIn
from cloud.core.errors import Thing, not_found
from cloud.models import Order
from cloud.services import face_enrolment
from cloud.services.face_enrolment import Published, Who

router = APIRouter(prefix="/api/v1", tags=["faces"])


class FacePublished(BaseModel):
    """An enrolment or a deletion committed and its signed delta sent to the site's gates."""

    ticket_no: str
    site: str
    published: str  # the downlink document type: "faces"


class FaceStatus(BaseModel):
    ticket_no: str
    enrolled: bool
    enrolled_at: str  # ISO 8601, UTC


Cashier = Annotated[Staff, Depends(role("cashier"))]


@router.post(
    "/orders/{order_no}/tickets/{ticket_no}/face", status_code=201, response_model=FacePublished
)
def enrol_at_purchase(
    order_no: str,
    ticket_no: str,
    body: FacePhotoIn,
    ctx: Context,
    address: Source,
    x_order_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    data = body.image()
    with ctx.sessions.begin() as db:
        order = owned_order(db, order_no, x_order_token)
        ticket = _ticket_of_order(db, order, ticket_no)
        published = face_enrolment.enrol(
            db,
            ctx.root,
            ctx.pd,
            ticket,
            order.site,
            data,
            "purchase",
            Who("buyer", address),
            ctx.clock.now(),
        )
    return _sent(ctx, published, ticket_no)


@router.delete("/orders/{order_no}/tickets/{ticket_no}/face", response_model=FacePublished)
def forget_by_buyer(
    order_no: str,
    ticket_no: str,
    ctx: Context,
    address: Source,
    x_order_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    with ctx.sessions.begin() as db:
        order = owned_order(db, order_no, x_order_token)
        ticket = _ticket_of_order(db, order, ticket_no)
        published = face_enrolment.forget(
            db, ctx.root, ctx.pd, ticket, order.site, Who("buyer", address), ctx.clock.now()
        )
    return _sent(ctx, published, ticket_no)


@router.post("/faces/{ticket_no}", status_code=201, response_model=FacePublished)
def enrol_at_window(
    ticket_no: str, body: FacePhotoIn, ctx: Context, address: Source, who: Cashier
) -> dict[str, Any]:
    data = body.image()
    with ctx.sessions.begin() as db:
        ticket = face_enrolment.ticket_of(db, ticket_no)
        site = _site_of(db, ticket.order_id)
        published = face_enrolment.enrol(
            db,
            ctx.root,
            ctx.pd,
            ticket,
            site,
            data,
            "window",
            Who(who.username, address),
            ctx.clock.now(),
        )
    return _sent(ctx, published, ticket_no)


@router.get("/faces/{ticket_no}", response_model=FaceStatus)
def enrolment_status(ticket_no: str, ctx: Context, address: Source, who: Cashier) -> dict[str, Any]:
    with ctx.sessions.begin() as db:
        ticket = face_enrolment.ticket_of(db, ticket_no)
        site = _site_of(db, ticket.order_id)
        when = face_enrolment.status(db, ticket, site, Who(who.username, address), ctx.clock.now())
    return {"ticket_no": ticket_no.upper(), "enrolled": True, "enrolled_at": when.isoformat()}


@router.delete("/faces/{ticket_no}", response_model=FacePublished)
def forget_at_window(ticket_no: str, ctx: Context, address: Source, who: Cashier) -> dict[str, Any]:
    with ctx.sessions.begin() as db:
        ticket = face_enrolment.ticket_of(db, ticket_no)
        site = _site_of(db, ticket.order_id)
        published = face_enrolment.forget(
            db, ctx.root, ctx.pd, ticket, site, Who(who.username, address), ctx.clock.now()
        )
    return _sent(ctx, published, ticket_no)


def _ticket_of_order(db: Any, order: Order, ticket_no: str) -> Any:
    ticket = face_enrolment.ticket_of(db, ticket_no)
    if ticket.order_id != order.id:
        raise not_found(Thing.TICKET)
    return ticket


def _site_of(db: Any, order_id: int) -> str:
    order = db.get(Order, order_id)
    if order is None:
        raise not_found(Thing.ORDER)
    return str(order.site)


def _sent(ctx: CloudContext, published: Published, ticket_no: str) -> dict[str, Any]:
    """Publish the committed delta to the site's gates; the answer names ticket and seq."""
    ctx.publish(published.site, "faces", published.document)
    return {"ticket_no": ticket_no.upper(), "site": published.site, "published": "faces"}
