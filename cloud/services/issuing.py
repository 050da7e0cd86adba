"""Issuing tickets for a paid order: one signed code per ticket (一票一码), or one per group.

Claims come from the product and the place bought (keys/claims.py): the visit day (or first
day) and ``validity_days``, the time slot for timed entry, entries in total and per day,
zones, the price type, and for real-name products the holder reference (never the ID number),
which also enters the site's card index for the gates (services/card_index.py).
The issuer key is decrypted once at start (keys/keystore.py) and kept in memory only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import Inventory, Order, OrderItem, Product, Ticket
from cloud.services import card_index
from keys.claims import PriceType, TicketClaims
from keys.keystore import SigningKey
from keys.ticket import issue_ticket


@dataclass(frozen=True)
class Issuer:
    """The key that signs tickets now, and the salt that turns an ID number into a holder
    reference. Held in memory only; never written out or logged."""

    key: SigningKey
    holder_salt: bytes

    @property
    def kid(self) -> str:
        return self.key.kid.decode("ascii")


def claims_for(
    product: Product,
    stock: Inventory,
    item: OrderItem,
    people: int,
    holder: bytes | None,
    ticket_id: bytes,
) -> TicketClaims:
    last_day = stock.day + timedelta(days=max(1, product.validity_days) - 1)
    return TicketClaims(
        ticket_id=ticket_id,
        product=product.id,
        valid_from=stock.day,
        valid_until=last_day,
        slot_start=stock.slot_start if stock.has_slot else None,
        slot_end=stock.slot_end if stock.has_slot else None,
        entries=product.entries,
        entries_per_day=product.entries_per_day,
        zones=tuple(product.zones) if product.zones else None,
        group_size=people,
        holder=holder,
        price_type=PriceType[item.price_type.upper()]
        if item.price_type.upper() in PriceType.__members__
        else None,
    )


def issue_for_order(session: Session, order: Order, issuer: Issuer, now: datetime) -> list[Ticket]:
    """Make the tickets of a paid order (idempotent: an order that has tickets gets no more)."""
    existing = session.scalars(select(Ticket).where(Ticket.order_id == order.id)).all()
    if existing:
        return list(existing)
    tickets = []
    for item in session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)):
        product = session.get(Product, item.product_id)
        stock = session.get(Inventory, item.inventory_id)
        assert product is not None and stock is not None
        codes = 1 if item.group_ticket else item.quantity
        people = item.quantity if item.group_ticket else 1
        holders = [bytes.fromhex(h["ref"]) for h in item.holders or []]
        for index in range(codes):
            holder = holders[index] if index < len(holders) else None
            tickets.append(
                make_ticket(session, issuer, order, item, product, stock, people, holder, now)
            )
    return tickets


def make_ticket(
    session: Session,
    issuer: Issuer,
    order: Order,
    item: OrderItem,
    product: Product,
    stock: Inventory,
    people: int,
    holder: bytes | None,
    now: datetime,
    days: tuple[date, date] | None = None,
) -> Ticket:
    """One signed code. ``days`` (first, last) overrides the validity the place gives: an
    annual pass's renewal runs on from the old expiry (services/annual_passes.py)."""
    ticket_id = os.urandom(8)
    claims = claims_for(product, stock, item, people, holder, ticket_id)
    if days is not None:
        claims = replace(claims, valid_from=days[0], valid_until=days[1])
    assert not isinstance(claims.valid_until, datetime)
    assert not isinstance(claims.valid_from, datetime)
    ticket = Ticket(
        ticket_id=ticket_id,
        order_id=order.id,
        item_id=item.id,
        product_id=product.id,
        inventory_id=stock.id,
        status="valid",
        people=people,
        unit_fen=item.unit_fen * people,
        valid_from=claims.valid_from,
        valid_until=claims.valid_until,
        holder_ref=holder,
        kid=issuer.kid,
        text=issue_ticket(issuer.key, claims),
        issued_at=now,
    )
    session.add(ticket)
    card_index.enter_ticket(session, order.site, ticket)  # real-name: the ID card opens it
    return ticket
