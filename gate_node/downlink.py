"""What comes down from the cloud and from peer gates, applied only when signed and newer.

``Downlink.handle(topic, payload)`` is called from the node loop (never paho's thread) for
each message uplink.py received (topics as keys/topics.py reads them):

- ``scenic/{site}/down/{type}`` and ``scenic/{site}/down/node/{node}/{type}``: a root-signed
  document of that type (keyring, revocations, cards, faces, nodes, config, time). It is verified
  against the pinned root key and refused if unsigned, signed by anyone else, for another site,
  of another type than its topic says, or not newer than what the node holds. A revocation
  or card index delta that does not follow the held sequence makes the node ask for what it
  misses; so does a signed ``time`` heartbeat whose ``heads`` name a sequence beyond the one
  held (a quiet gate that missed the last delta learns it is behind without waiting for the
  next one).
- ``scenic/{site}/down/node/{node}/ack``: the cloud's root-signed acknowledgement of stored
  events; only then do they leave the outbox (uplink.py).
- ``scenic/{site}/uses``: a peer gate's signed use or rollback, verified against the signed
  node registry, merged into the ledger; a ticket then used beyond its allowance raises a
  double-entry alarm (it happens only when gates were partitioned).

A topic outside that contract, or of another site, is refused as ``bad_topic``. Every refusal
is logged with its reason and counted; nothing raises out of ``handle``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from gate_node.clock import ClockFloor
from gate_node.decision.engine import Engine
from gate_node.ledger import DoubleEntry, Use
from gate_node.state import NodeState
from keys import topics
from keys.card_index import DOC_TYPE as CARDS
from keys.gate_event import read_node, verify_event
from keys.logs import event
from keys.revocation import DOC_TYPE as REVOCATIONS
from keys.revocation import SequenceGap
from keys.signed_document import DocumentError, require_newer, verify_document

log = logging.getLogger("gate_node.downlink")


class Downlink:
    """Applies what comes down to the node: root-signed documents, the cloud's acks, peers'
    uses; ``applied`` and ``refused`` count each kind by outcome.

    Never applies anything unsigned, for another site, or not newer than what the node holds,
    and never raises out of ``handle``: a refusal is logged and counted (module docstring)."""

    def __init__(
        self,
        state: NodeState,
        engine: Engine,
        clock: ClockFloor,
        request: Callable[[dict[str, Any]], None],
        acknowledged: Callable[[list[int]], None] = lambda seqs: None,
    ) -> None:
        self.state = state
        self.engine = engine
        self.clock = clock
        self.request = request
        self.acknowledged = acknowledged
        self.applied: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.behind: Counter[str] = Counter()  # heartbeats that showed a list ahead of ours
        self._time_seq: int | None = None

    def handle(self, topic: str, payload: bytes) -> None:
        parsed = topics.parse(topic)
        if parsed is None or parsed.site != self.state.config.site:
            self.refused["bad_topic"] += 1
            log.warning(
                "refused downlink", extra={"fields": {"topic": topic[:200], "code": "bad_topic"}}
            )
            return
        try:
            if parsed.kind is topics.Kind.USES:
                self._peer(payload)
            elif parsed.kind is topics.Kind.DOWN or (
                parsed.kind is topics.Kind.DOWN_NODE and parsed.node == self.state.config.node
            ):
                assert parsed.doc_type is not None  # every downlink kind carries one
                self._document(parsed.doc_type, payload)
        except SequenceGap as gap:
            self.refused["sequence_gap"] += 1
            self.request({"want": gap.doc_type, "from": gap.missing_from})
            event(
                log,
                "sequence gap: asked for more",
                want=gap.doc_type,
                missing_from=gap.missing_from,
            )
        except DocumentError as exc:
            self.refused[exc.code] += 1
            if exc.code == "rolled_back":  # older than a document already applied: replayed
                self.engine.ledger.record_alarm(
                    self.clock.now(), "rolled_back", 0, topic=topic, detail=exc.detail
                )
            # A retained document the node already holds comes again at every (re)connect:
            # not a fault, so not a warning. Anything else refused is one.
            log.log(
                logging.INFO if exc.code == "stale_sequence" else logging.WARNING,
                "downlink document already held"
                if exc.code == "stale_sequence"
                else "refused downlink",
                extra={"fields": {"topic": topic, "code": exc.code, "detail": exc.detail}},
            )
        except Exception:  # boundary: one message, one refusal; the lane keeps working
            self.refused["internal"] += 1
            log.exception("downlink message failed", extra={"fields": {"topic": topic}})

    def _document(self, doc_type: str, raw: bytes) -> None:
        state = self.state
        if doc_type == "keyring":
            state.apply_keyring(raw)
            self.engine.keyring = state.keyring
        elif doc_type == "revocations":
            state.apply_revocations(raw)
        elif doc_type == "cards":
            state.apply_cards(raw)
        elif doc_type == "faces":
            unbound = state.apply_faces(raw)
            if self.engine.faces is not None:
                self.engine.faces.enrolments = state.faces
                self.engine.faces.forget(unbound)
        elif doc_type == "nodes":
            state.apply_nodes(raw)
        elif doc_type == "config":
            state.apply_config(raw)
            self.engine.rules = state.config.rules()
            self.engine.lane = state.config.lane()
            self.engine.holder_salt = state.holder_salt
            if self.engine.faces is not None:
                self.engine.faces.settings = state.config.face_settings()
        elif doc_type == "time":
            self._signed_time(raw)
        elif doc_type == "ack":
            self._cloud_ack(raw)
            return  # frequent: counted, not logged
        else:
            raise DocumentError("unknown_type", f"no such downlink document: {doc_type}")
        self.applied[doc_type] += 1
        event(log, "applied downlink", type=doc_type)
        if self.engine.closed is not None and state.untrusted is None:
            event(log, "state caught up with what it had applied: lane open again")
        self.engine.closed = state.untrusted

    def _signed_time(self, raw: bytes) -> None:
        document = verify_document(
            raw, self.state.root, doc_type="time", site=self.state.config.site
        )
        require_newer(document, self._time_seq)
        self._time_seq = document.seq
        self.clock.advance_to(document.issued_at)
        held = self.state.revocations.seq
        remembered = self.state.remembered(REVOCATIONS)
        if remembered is not None and (held is None or held < remembered):
            # revocations rolled back: only a snapshot at or past the remembered seq mends it
            self.request({"want": "revocations", "from": 0})
            return
        self._catch_up(document.body)

    def _catch_up(self, body: object) -> None:
        """Ask for a snapshot of each list the signed heartbeat says is ahead of ours."""
        heads = body.get("heads") if isinstance(body, dict) else None
        if not isinstance(heads, dict):
            return
        held = {REVOCATIONS: self.state.revocations.seq, CARDS: self.state.cards.seq}
        if self.engine.faces is not None:  # only a face lane holds (and asks for) enrolments
            held["faces"] = self.state.faces.seq
        for doc_type, seq in held.items():
            head = heads.get(doc_type)
            if isinstance(head, int) and head > (seq or 0):
                self.behind[doc_type] += 1
                self.request({"want": doc_type, "from": 0 if seq is None else seq + 1})
                event(log, "behind the cloud: asked for more", want=doc_type, held=seq, head=head)

    def _cloud_ack(self, raw: bytes) -> None:
        """The cloud stored these events: root-signed, so a broker cannot fake it (a faked ack
        would make the node forget events the cloud never got)."""
        document = verify_document(
            raw, self.state.root, doc_type="ack", site=self.state.config.site
        )
        body = document.body if isinstance(document.body, dict) else {}
        seqs = body.get("seqs")
        if body.get("node") != self.state.config.node or not isinstance(seqs, list):
            raise DocumentError("malformed", "ack must name this node and a list of seqs")
        self.acknowledged([int(seq) for seq in seqs if isinstance(seq, int)])
        self.applied["ack"] += 1

    def _peer(self, raw: bytes) -> None:
        node = read_node(raw)
        if node == self.state.config.node:
            return  # our own, echoed by the broker
        key = self.state.nodes.key_of(node)
        if key is None:
            raise DocumentError("unknown_node", f"{node} is not in the signed node registry")
        gate_event = verify_event(raw, key, self.state.config.site)
        data = gate_event.data
        if gate_event.kind == "use":
            merged = self.engine.ledger.merge_peer_use(
                Use(
                    node,
                    int(data["use"]),
                    bytes(data["ticket"]),
                    gate_event.at,
                    str(data["dir"]),
                    int(data["granted"]),
                    0,
                    0,
                    int(data.get("allowed", 1)),
                )
            )
            if isinstance(merged, DoubleEntry):
                self._double_entry(merged)
        elif gate_event.kind == "rollback":
            self.engine.ledger.update_peer_use(node, int(data["use"]), 0, int(data["unused"]))
        self.applied["peer_" + gate_event.kind] += 1

    def _double_entry(self, found: DoubleEntry) -> None:
        self.engine.ledger.record_alarm(
            self.clock.now(),
            "double_entry",
            found.entries,
            ticket=found.ticket_id,
            allowed=found.allowed,
            nodes=list(found.nodes),
        )
        event(
            log,
            "double entry",
            ticket=found.ticket_id.hex().upper(),
            entries=found.entries,
            allowed=found.allowed,
            nodes=list(found.nodes),
        )
