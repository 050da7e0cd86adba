"""Answering a partner shown a code: would a gate of the site admit it now? Never records a use.

The answer comes from the same rules the gates decide with (keys/rules.py), in the same order:
signature (keys/ticket.py) -> revoked (here: the ticket's status, refunded or changed, which is
what the gates' revocation list is built from) -> validity window -> time slot -> zone (only
when the partner names one) -> earlier uses. The earlier uses are the entries the gates have
reported (``gate_events`` of kind ``use``, direction in), less the passages they gave back
(``rollback`` events: nobody came through), exactly what a gate's ledger counts as prior uses.

What the cloud cannot know, it does not pretend to: a use a gate has recorded but not yet
reported (offline, or its outbox still sending) is not here, so a partner may be told ``ok``
for a ticket a gate has just admitted. The gate's own answer is the one that opens a lane.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import GateEventRecord, Order, Site, Ticket
from cloud.models.base import as_utc
from keys.keyring import Keyring
from keys.reasons import Reason
from keys.rules import PriorUse, SlotGrace, check_terms, check_uses
from keys.ticket import verify_ticket

DEFAULT_TIMEZONE = "Asia/Shanghai"  # a ticket whose order names no known site


@dataclass(frozen=True)
class Verification:
    """The answer for one code: its ticket number (None if it did not verify), the reason
    (``Reason.OK`` when a gate would admit it), and the earlier entries that count."""

    ticket_no: str | None
    reason: Reason
    prior: tuple[PriorUse, ...] = ()

    @property
    def valid(self) -> bool:
        return self.reason is Reason.OK

    @property
    def first_used_at(self) -> datetime | None:
        return self.prior[0].at if self.prior else None


def verify_code(
    session: Session,
    code: str,
    keyring: Keyring,
    now: datetime,
    zone: int | None = None,
    grace: SlotGrace | None = None,
    min_gap: timedelta = timedelta(0),
) -> Verification:
    """Verify ``code`` as of ``now`` (aware) for an entry, as a gate of the ticket's site would.

    ``zone``: the zone the partner stands in, or None to leave zones unchecked. ``grace`` and
    ``min_gap`` are the site's rules for timed slots and for the gap between entries (the
    gates' defaults, keys/rules.py ``SlotGrace()`` and none, unless the caller knows better).
    """
    result = verify_ticket(code, keyring)
    claims = result.claims
    if claims is None:
        return Verification(None, result.reason)
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_id == claims.ticket_id))
    if ticket is None:
        return Verification(claims.ticket_no, Reason.REVOKED)  # signed by us, never sold
    site = session.get(Site, session.scalar(select(Order.site).where(Order.id == ticket.order_id)))
    prior = tuple(prior_uses(session, site.code if site else None, claims.ticket_id))
    if ticket.status != "valid":
        return Verification(claims.ticket_no, Reason.REVOKED, prior)
    local_now = now.astimezone(ZoneInfo(site.timezone if site else DEFAULT_TIMEZONE))
    refusal = check_terms(claims, local_now, grace or SlotGrace(), zone) or check_uses(
        claims, prior, local_now, min_gap
    )
    return Verification(claims.ticket_no, refusal or Reason.OK, prior)


def prior_uses(session: Session, site: str | None, ticket_id: bytes) -> list[PriorUse]:
    """The entries the gates of ``site`` reported with this ticket that still count, oldest
    first: as gate_node/ledger.py ``prior_uses``, from the events instead of the ledger.

    Event data is whatever a registered gate signed; a field of the wrong type is read as its
    default (one passage granted, none given back), never cast in SQL, where it would fail the
    whole request.
    """
    number = ticket_id.hex().upper()
    query = select(GateEventRecord.node, GateEventRecord.at, GateEventRecord.data).where(
        GateEventRecord.kind == "use", GateEventRecord.data["ticket"].as_string() == number
    )
    if site is not None:
        query = query.where(GateEventRecord.site == site)
    entries = [
        (node, as_utc(at), data)
        for node, at, data in session.execute(query.order_by(GateEventRecord.at))
        if data.get("dir", "in") == "in"
    ]
    if not entries:
        return []
    uses = {(node, data.get("use")) for node, _, data in entries}
    given_back = _given_back(session, site, uses, since=entries[0][1])
    prior = []
    for node, at, data in entries:
        granted = _count(data.get("granted"), 1)
        passages = granted - min(granted, given_back[(node, data.get("use"))])
        if passages > 0:
            prior.append(PriorUse(at, node, passages))
    return prior


def _given_back(
    session: Session, site: str | None, uses: set[tuple[str, object]], since: datetime
) -> dict[tuple[str, object], int]:
    """Passages given back per (node, use seq) by the nodes' rollback events. A rollback
    comes after its use, so only those nodes' rollbacks since the earliest use are read."""
    given: dict[tuple[str, object], int] = defaultdict(int)
    query = select(GateEventRecord.node, GateEventRecord.data).where(
        GateEventRecord.kind == "rollback",
        GateEventRecord.node.in_({node for node, _ in uses}),
        GateEventRecord.at >= since,
    )
    if site is not None:
        query = query.where(GateEventRecord.site == site)
    for node, data in session.execute(query):
        if (node, data.get("use")) in uses:
            given[(node, data.get("use"))] += _count(data.get("unused"), 0)
    return given


def _count(value: object, default: int) -> int:
    """A non-negative count from event data, or ``default`` if it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default
