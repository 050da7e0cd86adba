"""One entry point that decides: a credential read at a lane -> a ``Decision`` with a reason.

Order of checks (cheapest and most fundamental first; each refusal is final):
envelope and signature (keys/) -> revocation list -> validity window -> time slot -> zone ->
earlier uses at this gate and its peers (ledger). The rules themselves live in keys/rules.py,
shared with the cloud's partner verification, so both answer a ticket the same way.
``decide`` only reads; ``admit`` writes the use to the ledger and must return before the lane
is told to open. Neither raises for anything a visitor can present: every path ends in a
``Reason`` (keys/reasons.py).

Exits (direction ``out``) do not consume entries; with ``exit_requires_entry`` a ticket with
no entry on record is refused as ``not_inside`` (anti-passback for re-entry tickets).

Real-name tickets (实名制, a ``holder`` claim): a lane whose ``real_name_check`` is ``id_card``
answers ``id_required`` to the QR alone, and ``confirm_holder`` then grants only for the ID
card whose holder reference matches; ``face`` answers ``face_required`` (to the QR, and to an
ID card alone: 人证合一, the card's holder must be the one at the gate) and ``confirm_face``
then grants only when the face in the camera is the holder's (gate_node/face/check.py: against
the root-signed enrolment, or the face bound at a multi-day pass's first entry here; that
binding is reported through ``when_face_bound``, sealed, and the cloud sends the site's first
binding back to every gate as an enrolment). An ID
card or RFID card presented alone is looked up in the root-signed card index
(keys/card_index.py), a face alone in the enrolments (``decide_face``, 1:N), and the tickets
found there are decided as if scanned, the holder already proven by the card or face.
An OTA's own code (not our ``J1`` prefix) is looked up the same way, as kind ``ota``: the
cloud issued one of our tickets bound to it (cloud/services/ota_codes.py), so it is used up,
revoked and shared with peer gates exactly like the ticket it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from gate_node.ledger import Ledger
from keys.card_index import CardIndex
from keys.claims import TicketClaims
from keys.holder import holder_ref, matches
from keys.keyring import Keyring
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.rules import PriorUse, SlotGrace, check_terms, check_uses
from keys.ticket import verify_ticket

if TYPE_CHECKING:
    import numpy as np

    from gate_node.face.check import FaceCheck, FaceResult


FaceBound = Callable[[bytes, "np.ndarray", TicketClaims, datetime], None]
"""``Engine.when_face_bound``: (holder, embedding, claims, now) of a first-entry binding."""


@dataclass(frozen=True)
class SiteRules:
    """The site's rules for every lane (from the node's signed configuration)."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    slot_grace: SlotGrace = field(default_factory=SlotGrace)
    min_gap: timedelta = timedelta(0)
    exit_requires_entry: bool = False
    real_name_check: str = "none"  # none | id_card | face


@dataclass(frozen=True)
class LaneContext:
    """Where the engine decides: this node, the zone its lane admits to, the way it faces."""

    node: str
    zone: int
    direction: str = "in"  # in | out


@dataclass(frozen=True)
class Decision:
    """The answer for one credential: a reason (``OK`` grants) and, when granting, how many
    may pass. Plain data: making one changes nothing; only ``Engine.admit`` records a use.
    ``earlier`` names the use that refused it (time and gate, for the lane display)."""

    reason: Reason
    passages: int = 0
    claims: TicketClaims | None = None
    earlier: PriorUse | None = None
    detail: str = ""

    @property
    def grant(self) -> bool:
        return self.reason is Reason.OK

    @property
    def ticket_no(self) -> str | None:
        return self.claims.ticket_no if self.claims else None

    def message(self, tz: ZoneInfo) -> tuple[str, str]:
        """What the lane display shows, zh-CN and English; an earlier use names time and gate."""
        text = self.reason.text
        if self.earlier is None:
            return text.zh, text.en
        when = self.earlier.at.astimezone(tz).strftime("%m-%d %H:%M")
        return (
            f"{text.zh}（{when} 于 {self.earlier.node}）",
            f"{text.en} ({when} at {self.earlier.node})",
        )


class Engine:
    """The gate's decision engine: a credential in, a ``Decision`` out, by the shared ticket
    rules (keys/rules.py) against this node's keyring, revocations and ledger.

    Works with no network: everything it needs is on the node. Never raises for what a
    visitor presents (every path ends in a reason), never lets ``decide`` write, and never
    grants while ``closed`` (a state directory it cannot trust)."""

    def __init__(
        self,
        keyring: Keyring,
        revocations: RevocationList,
        ledger: Ledger,
        rules: SiteRules,
        lane: LaneContext,
        cards: CardIndex | None = None,
        holder_salt: bytes | None = None,
        faces: FaceCheck | None = None,
    ) -> None:
        self.keyring = keyring
        self.revocations = revocations
        self.ledger = ledger
        self.rules = rules
        self.lane = lane
        # not `cards or ...`: an empty index is falsy, and the downlink fills the one given
        self.cards = cards if cards is not None else CardIndex()
        self.holder_salt = holder_salt
        self.faces = faces
        """None: the node has no face check set up, every face answer is ``face_unavailable``."""
        self.when_face_bound: FaceBound | None = None
        """Called with (holder, embedding, claims, now) right after a first-entry binding here
        (gate_node/assembly.py: seal it to the cloud's face key and queue it in the outbox, so
        the site's first binding wins at every gate). Must not raise."""
        self.closed: str | None = None
        """Why the lane is held closed (the state directory was rolled back or replaced,
        gate_node/trust_record.py): every ticket is refused with ``state_untrusted``."""

    def decide(self, payload: str, now: datetime, holder_proven: bool = False) -> Decision:
        """Decide on a QR payload as of ``now`` (aware); reads the ledger, writes nothing."""
        verification = verify_ticket(payload, self.keyring)
        if verification.reason is Reason.BAD_PREFIX and self._registered("ota", payload):
            return self.decide_card("ota", payload.rstrip("\r\n"), now)
        if verification.claims is None:
            return Decision(verification.reason, detail=verification.detail)
        return self._decide_claims(verification.claims, now, holder_proven)

    def decide_card(self, kind: str, value: str, now: datetime) -> Decision:
        """An ID card (``id_card``) or RFID card (``rfid``) presented alone.

        An ID card must also be the ticket's holder (its claim). An RFID card bound to an
        annual pass is not the pass's holder credential (that is the member's ID): the
        root-signed card index entry is the binding, so the holder claim is not compared."""
        if self.holder_salt is None:
            return Decision(Reason.UNKNOWN_CARD, detail="no holder salt configured")
        reference = holder_ref(self.holder_salt, kind, value)
        decision = self._decide_held(
            reference,
            self.cards.tickets_for(reference),
            now,
            Reason.UNKNOWN_CARD,
            holder_is_reference=kind != "rfid",
        )
        if decision.grant and kind == "id_card" and self.rules.real_name_check == "face":
            # 人证合一: the card proves whose ticket it is, the face that its holder is here
            return Decision(Reason.FACE_REQUIRED, claims=decision.claims)
        return decision

    def decide_face(self, frames: Iterable[np.ndarray], now: datetime) -> Decision:
        """A face presented alone (刷脸入园, 1:N): the tickets of the nearest enrolment."""
        if self.faces is None or not self.faces.available:
            return Decision(Reason.FACE_UNAVAILABLE)
        return self.identified(self.faces.identify(frames), now)

    def identified(self, found: FaceResult, now: datetime) -> Decision:
        """The decision on a 1:N face read (``FaceCheck.identify``), which the lane may have
        made on its face worker: only this part reads the ledger."""
        assert self.faces is not None
        if not found.ok or found.holder is None:
            decision = Decision(found.reason, detail=found.detail)
        else:
            decision = self._decide_held(found.holder, found.tickets, now, Reason.FACE_NO_MATCH)
        self.faces.keep_for_disputes(found, now, decision.reason.value)
        return decision

    def confirm_face(
        self, pending: Decision, frames: Iterable[np.ndarray], now: datetime
    ) -> Decision:
        """The face after a ``face_required`` answer (1:1): grant only for the holder's face.

        A multi-day pass (an annual pass sold online) with no enrolment for its holder binds
        the face seen at its first admitted entry; later entries must match that face."""
        refusal = self.face_refusal(pending)
        if refusal is not None:
            return refusal
        assert self.faces is not None and pending.claims is not None
        assert pending.claims.holder is not None
        return self.confirmed(pending, self.faces.verify(pending.claims.holder, frames), now)

    def face_refusal(self, pending: Decision) -> Decision | None:
        """The answer to a ``face_required`` decision that needs no face read (no holder on
        the ticket, no face check here), or None: the face must be read."""
        claims = pending.claims
        if claims is None or claims.holder is None:
            return Decision(Reason.FACE_NO_MATCH, claims=claims)
        if self.faces is None or not self.faces.available:
            return Decision(Reason.FACE_UNAVAILABLE, claims=claims)
        return None

    def confirmed(self, pending: Decision, found: FaceResult, now: datetime) -> Decision:
        """The decision on a 1:1 face read (``FaceCheck.verify`` of the pending ticket's
        holder), which the lane may have made on its face worker: the ledger, the first-entry
        binding and the dispute image are handled here, on the lane's thread."""
        claims = pending.claims
        assert self.faces is not None and claims is not None and claims.holder is not None
        binds = (
            found.reason is Reason.FACE_NO_MATCH
            and found.embedding is not None
            and claims.valid_until > claims.valid_from
        )
        if not found.ok and not binds:
            decision = Decision(found.reason, claims=claims, detail=found.detail)
        else:
            decision = self._decide_claims(claims, now, holder_proven=True)
            if decision.grant and binds and found.embedding is not None:
                self.faces.bind(claims.holder, found.embedding)
                if self.when_face_bound is not None:
                    self.when_face_bound(claims.holder, found.embedding, claims, now)
        self.faces.keep_for_disputes(found, now, decision.reason.value)
        return decision

    def _decide_held(
        self,
        reference: bytes,
        texts: Sequence[str],
        now: datetime,
        none_found: Reason,
        holder_is_reference: bool = True,
    ) -> Decision:
        """The tickets a card or face points at, each decided as if scanned with the holder
        proven; the first that grants, else the first refusal. ``holder_is_reference``: the
        ticket's holder claim must be ``reference`` (an ID card, a face); an RFID card's
        binding is the signed card index entry itself, so its holder is not compared."""
        decisions = []
        for text in texts:
            decision = self.decide(text, now, holder_proven=True)
            if (
                holder_is_reference
                and decision.claims
                and decision.claims.holder not in (None, reference)
            ):
                decision = Decision(Reason.HOLDER_MISMATCH, claims=decision.claims)
            if decision.grant:
                return decision
            decisions.append(decision)
        return decisions[0] if decisions else Decision(none_found)

    def _registered(self, kind: str, value: str) -> bool:
        if self.holder_salt is None or not value.strip():
            return False
        return bool(
            self.cards.tickets_for(holder_ref(self.holder_salt, kind, value.rstrip("\r\n")))
        )

    def confirm_holder(self, pending: Decision, id_number: str, now: datetime) -> Decision:
        """The ID card swiped after an ``id_required`` answer: grant only for its holder."""
        claims = pending.claims
        if claims is None or claims.holder is None or self.holder_salt is None:
            return Decision(Reason.HOLDER_MISMATCH, claims=claims)
        if not matches(self.holder_salt, claims.holder, "id_card", id_number):
            return Decision(Reason.HOLDER_MISMATCH, claims=claims)
        return self._decide_claims(claims, now, holder_proven=True)

    def _decide_claims(self, claims: TicketClaims, now: datetime, holder_proven: bool) -> Decision:
        if self.closed is not None:
            return Decision(Reason.STATE_UNTRUSTED, claims=claims, detail=self.closed)
        local_now = now.astimezone(self.rules.timezone)
        refusal = (
            Reason.REVOKED if self.revocations.is_revoked(claims.ticket_id) else None
        ) or check_terms(claims, local_now, self.rules.slot_grace, self.lane.zone)
        if refusal:
            return Decision(refusal, claims=claims)
        prior = self.ledger.prior_uses(claims.ticket_id)
        if self.lane.direction == "out":
            if self.rules.exit_requires_entry and not prior:
                return Decision(Reason.NOT_INSIDE, claims=claims)
            return Decision(Reason.OK, passages=claims.group_size, claims=claims)
        refusal = check_uses(claims, prior, local_now, self.rules.min_gap)
        if refusal:
            return Decision(refusal, claims=claims, earlier=prior[-1] if prior else None)
        if claims.holder is not None and not holder_proven:
            if self.rules.real_name_check == "id_card":
                return Decision(Reason.ID_REQUIRED, claims=claims)
            if self.rules.real_name_check == "face":
                return Decision(Reason.FACE_REQUIRED, claims=claims)
        return Decision(Reason.OK, passages=claims.group_size, claims=claims)

    def admit(self, decision: Decision, now: datetime) -> int:
        """Record the use durably; returns its sequence number. Only then open the lane."""
        if not decision.grant or decision.claims is None:
            raise ValueError("only a granting decision can be admitted")
        claims = decision.claims
        return self.ledger.record_use(
            claims.ticket_id, now, self.lane.direction, decision.passages, claims.entries
        )

    def refuse(self, decision: Decision, now: datetime) -> None:
        """Record a refusal with its reason (refusals are evidence too)."""
        ticket_id = decision.claims.ticket_id if decision.claims else None
        self.ledger.record_denial(now, decision.reason.value, ticket_id)
