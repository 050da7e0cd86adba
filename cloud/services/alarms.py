"""Gate alarms: opened by the ingest as their events are stored, acknowledged by staff.

Never: acknowledge an alarm twice or without a note. The acknowledgement is one conditional
``UPDATE ... WHERE status = 'open'`` whose row count is checked, so two managers clicking at
once get one success and one ``alarm_acknowledged`` refusal; it is audited with the note.

Alarm names come from the gates: the controllers' events (gate_node/firmware/hal.py:
``forced``, ``tailgate``, ``pinch``, ``reverse``, ``fire_alarm``, ``held_open``), the peer
merge (``double_entry``) and the node's own checks (``state_untrusted``, ``rolled_back``).
One is the cloud's own: ``face_bind_conflict``, opened by services/face_binding.py when a gate
reports a pass bound to another face than the one the site holds (for the ``face_bind``
event that reported it).
The lane driver reports every other controller event as an "alarm" event too: ``fire_cleared``,
``override``, ``denied`` (lamps shown for a refused credential, already a denial event) and
``timeout`` are reports, not alarms: they are stored as events only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Alarm
from cloud.services.audit import audit
from keys.gate_event import GateEvent

NOT_ALARMS = frozenset({"fire_cleared", "override", "denied", "timeout"})
NOTE_MAX = 500


def open_alarms(session: Session, events: Iterable[GateEvent], jsonable: Any) -> int:
    """Open an alarm for each newly stored alarm event (the ingest's transaction); how many.
    ``jsonable`` turns event data into JSON (the ingest's own converter)."""
    rows = [
        Alarm(
            site=e.site,
            node=e.node,
            seq=e.seq,
            alarm=str(e.data.get("alarm", "unknown"))[:32],
            at=e.at,
            detail=jsonable(e.data),
            status="open",
        )
        for e in events
        if e.kind == "alarm" and e.data.get("alarm") not in NOT_ALARMS
    ]
    session.add_all(rows)
    return len(rows)


def acknowledge(
    session: Session, alarm_id: int, actor: str, source: str, note: str, now: datetime
) -> Alarm:
    """Mark an open alarm acknowledged by ``actor`` with ``note``; 409 if someone already did."""
    note = note.strip()
    if not note:
        raise Problem(Code.ALARM_NOTE_REQUIRED)
    if len(note) > NOTE_MAX:
        raise Problem(Code.ALARM_NOTE_TOO_LONG, limit=NOTE_MAX)
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise not_found(Thing.ALARM, alarm_id=alarm_id)
    result = session.execute(
        update(Alarm)
        .where(Alarm.id == alarm_id, Alarm.status == "open")
        .values(status="acknowledged", acked_by=actor[:64], acked_at=now, note=note)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(alarm)
        raise Problem(Code.ALARM_ACKNOWLEDGED, by=alarm.acked_by or "?")
    audit(
        session,
        actor,
        source,
        "alarm_acknowledged",
        f"alarm:{alarm_id}",
        {"node": alarm.node, "alarm": alarm.alarm, "note": note},
        at=now,
    )
    session.refresh(alarm)
    return alarm
