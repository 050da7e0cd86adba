"""An OTA's own codes, redeemable offline at our gates once, like our own tickets.

Design (the simplest sound one we found): registering an OTA code makes the cloud issue one of
our ordinary signed tickets, bound to the code by its holder claim, and list the pair in the
site's root-signed card index (keys/card_index.py, document ``cards``)::

    code_ref = holder_ref(site holder salt, "ota", code text)   (keys/holder.py: HMAC, 8 bytes)
    card index entry: [code_ref, our ticket's text]

A gate that reads a code without our ``J1`` prefix computes its ``code_ref`` and, if the index
has it, decides on our ticket as if it had been scanned (gate_node/decision/engine.py): the
signature, validity, zones and revocations are those of our ticket; the use goes into the
ledger under our ticket's id, so the second scan is refused as used, at that gate and (through
the peer gossip of uses) at its peers. The index vouches only for "this OTA code stands for
that ticket"; the gate trusts it because the root key signed it. Nothing about the OTA's own
format needs to be known, and an OTA code never seen by the cloud opens nothing.

Alternatives rejected: trusting the OTA's own signature at the gate (a key per OTA to pin and
revoke on every gate, and their formats to parse); a bare list of code hashes (a second kind of
ticket with its own rules for validity, zones and refunds).

Rules: one code per ticket (no group tickets: a code is one person), 4-200 printable
characters, never starting with our prefix (``J1``), unique per site (its ref, so a code
differing only in case is the same code: holder_ref normalises it). The code's text is never
stored: only its keyed hash.

The pair enters the card index like a real-name ticket (services/card_index.py: the ticket's
holder reference is the code's), in the transaction that issues the ticket, and leaves it on a
refund; the downlink service publishes the change to the gates as a root-signed delta.

Never: publish or sign a card index here (one sequence of card documents per site, kept by
services/card_index.py, or gates would lose real-name cards to an OTA snapshot).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import ChannelAccount, ChannelCode, OrderItem, Ticket
from keys.holder import holder_ref
from keys.ticket import PREFIX

KIND = "ota"


def code_ref(salt: bytes, code: str) -> bytes:
    return holder_ref(salt, KIND, code)


def check_code(code: str) -> None:
    text = code.strip()
    if not 4 <= len(text) <= 200 or not text.isprintable() or text.upper().startswith(PREFIX):
        raise Problem(Code.BAD_OTA_CODE)


def bind(
    session: Session,
    account: ChannelAccount,
    items: list[OrderItem],
    codes: list[str],
    salt: bytes,
) -> None:
    """Give each ticket-to-be of ``items`` one of ``codes`` as its holder reference."""
    tickets = sum(item.quantity for item in items)
    if len(codes) != tickets or any(item.group_ticket or item.holders for item in items):
        raise Problem(Code.OTA_CODES_COUNT, tickets=tickets)
    for code in codes:
        check_code(code)
    refs = [code_ref(salt, code) for code in codes]
    if len(set(refs)) != len(refs) or session.scalar(
        select(ChannelCode.id).where(
            ChannelCode.site == account.site, ChannelCode.code_ref.in_(refs)
        )
    ):
        raise Problem(Code.DUPLICATE_OTA_CODE)
    given = iter(refs)
    for item in items:
        item.holders = [{"ref": next(given).hex()} for _ in range(item.quantity)]


def record(
    session: Session,
    account: ChannelAccount,
    tickets: list[Ticket],
    codes: list[str] | None,
    salt: bytes,
    now: datetime,
) -> dict[int, str]:
    """Store which ticket each registered code stands for; ticket id -> code text."""
    if codes is None:
        return {}
    wanted = {code_ref(salt, code): code for code in codes}
    bound: dict[int, str] = {}
    for ticket in tickets:
        if ticket.holder_ref not in wanted:
            continue
        session.add(
            ChannelCode(
                account_id=account.id,
                site=account.site,
                code_ref=ticket.holder_ref,
                ticket_id=ticket.id,
                registered_at=now,
            )
        )
        bound[ticket.id] = wanted[ticket.holder_ref]
    try:
        session.flush()
    except IntegrityError:  # a concurrent registration of the same code won
        raise Problem(Code.DUPLICATE_OTA_CODE) from None
    return bound
