"""The node service: read -> decide -> record -> open -> settle, in one loop that never stops.

``NodeService.step(now_ms)`` does one pass: tick the lane (every 5 ms, for the controllers'
debounce and timing), take credentials the readers produced, decide on each while the lane is
free, record the use durably, then open. Camera frames are decoded on their own thread (a
frame takes ~33 ms to arrive, the lane cannot wait that long between ticks) and reach the loop
through a queue. Nothing a visitor does can raise out of ``step``: a bad read becomes a
refusal with a reason; an unexpected error in one read is logged and that read refused.

At a face lane (``real_name_check=face``) a real-name QR answered ``face_required`` is checked
at once against frames from the face camera (``face_capture``), and ``present_face`` (a
presence sensor, a button, the simulator) asks for entry by face alone (1:N). The face is read
on the face worker's thread (gate_node/face/worker.py, ~0.2 s on x86, under 1 s on a Pi 4:
bench/face.py) while the loop keeps ticking the controllers and pumping the uplink; the loop
takes no other read until the check is answered (or answered ``face_timeout``), then decides
on it, records and opens as for any read.

``run`` adds what systemd needs (Type=notify): READY=1 once serving, WATCHDOG=1 every second
while the loop is alive (a stuck loop gets the node restarted), STATUS= with the counts, and a
clean stop on SIGTERM/SIGINT: the lane is secured, the ledger closed.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from gate_node.clock import ClockFloor
from gate_node.decision.engine import Decision, Engine
from gate_node.downlink import Downlink
from gate_node.face.camera import FaceCapture
from gate_node.face.worker import FaceWorker
from gate_node.lane_driver import LaneDriver
from gate_node.ledger import Ledger
from gate_node.readers.credentials import Credential, UnreadableCredential
from gate_node.readers.frames import FrameSource
from gate_node.readers.qr import QrDecoder
from gate_node.readers.repeat_filter import RepeatFilter
from gate_node.uplink import Uplink
from keys.logs import event
from keys.reasons import Reason

log = logging.getLogger("gate_node")


def _software() -> str:
    """This node's software version (the installed distribution's), for its heartbeat."""
    try:
        return metadata.version("scenic-gates")
    except metadata.PackageNotFoundError:
        return "dev"


SOFTWARE = _software()
TICK_MS = 5
# Every 20 s: the cloud counts a gate missing after 45 s of silence (two lost heartbeats), which
# the dashboard shows within the minute a manager was promised.
HEARTBEAT_S = 20.0
ID_WAIT_S = 15.0  # how long a real-name QR waits for its ID card swipe (clock.monotonic)

Read = Credential | UnreadableCredential
Link = tuple[Uplink, Downlink]


class CameraThread(threading.Thread):
    """Decodes frames from a source and queues the QR texts it finds."""

    def __init__(self, source: FrameSource, out: queue.Queue[Read]) -> None:
        super().__init__(name="camera", daemon=True)
        self._source = source
        self._out = out
        self._decoder = QrDecoder()
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._source.read()
            except Exception:  # boundary: a camera glitch must not kill the lane
                log.exception("camera read failed")
                self._stop.wait(0.5)  # a pause for the device, not a clock: stop() ends it
                continue
            if frame is None:
                self._stop.wait(0.05)
                continue
            for text in self._decoder.decode(frame):
                self._out.put(Credential("qr", text))

    def stop(self) -> None:
        self._stop.set()


class NodeService:
    """One lane's loop: readers -> engine -> ledger -> gate controller, and the MQTT link.

    Never stops for what a visitor does, and never opens the lane before the use is recorded
    (``Engine.admit`` returns first). ``clock`` is the node's ``ClockFloor``: its wall time
    dates decisions, its monotonic seconds time the ID-card wait, the heartbeat and the repeat
    filter."""

    def __init__(
        self,
        engine: Engine,
        driver: LaneDriver,
        clock: ClockFloor,
        pollers: Iterable[Callable[[], list[Read]]] = (),
        repeat_hold_s: float = 3.0,
        link: Link | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        face_capture: FaceCapture | None = None,
    ) -> None:
        self.link = link
        self.face_capture = face_capture
        self.heartbeat_s = heartbeat_s
        self._next_heartbeat = 0.0
        self.engine = engine
        self.driver = driver
        self.clock = clock
        self.pollers = list(pollers)
        self.reads: queue.Queue[Read] = queue.Queue(maxsize=64)
        self.repeats = RepeatFilter(repeat_hold_s)
        self.decisions: list[Decision] = []  # the last few, for status and tests
        self.granted = self.denied = 0
        self._awaiting_id: tuple[Decision, float] | None = None  # 实名: QR read, ID to come
        self._face_worker: FaceWorker | None = None  # started at the first face check

    @property
    def face_busy(self) -> bool:
        """A face check is in progress: no other read is taken until it is answered."""
        return self._face_worker is not None and self._face_worker.busy

    @property
    def ledger(self) -> Ledger:
        return self.engine.ledger

    def step(self, now_ms: int) -> None:
        self.driver.tick(now_ms)
        if self.link is not None:
            self._exchange(now_ms)
        if self._awaiting_id and self.clock.monotonic() >= self._awaiting_id[1]:
            self._give_up_waiting(now_ms)
        for poll in self.pollers:
            for read in poll():
                self._offer(read)
        if self._face_worker is not None:
            self._face_answer(now_ms)
        while self.driver.ready and not self.face_busy:
            try:
                read = self.reads.get_nowait()
            except queue.Empty:
                break
            self._handle(read, now_ms)

    def _exchange(self, now_ms: int) -> None:
        """Outbox up, documents and peer uses down (bounded work per tick)."""
        assert self.link is not None
        uplink, downlink = self.link
        uplink.pump(now_ms)
        for _ in range(50):
            try:
                topic, payload = uplink.received.popleft()
            except IndexError:
                break
            downlink.handle(topic, payload)
        if self.clock.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = self.clock.monotonic() + self.heartbeat_s
            counts = self.ledger.counts()
            self.ledger.record_heartbeat(
                self.clock.now(),
                granted=self.granted,
                denied=self.denied,
                outbox=counts["outbox"],
                in_fire=bool(getattr(self.driver.lane, "in_fire", False)),
                software=SOFTWARE,
            )

    def alarm(self, name: str, arg: int) -> None:
        """A controller alarm (forced, tailgate, fire...): into the outbox and the log."""
        self.ledger.record_alarm(self.clock.now(), name, arg)
        event(log, "alarm", alarm=name, arg=arg)

    def present_face(self) -> None:
        """Someone stands at the face camera with no code: check the face alone (1:N)."""
        self._offer(Credential("face", ""))

    def _offer(self, read: Read) -> None:
        try:
            self.reads.put_nowait(read)
        except queue.Full:
            log.warning("read queue full: a reader is flooding the node")

    def _handle(self, read: Read, now_ms: int) -> None:
        seen_at = self.clock.monotonic()
        if (
            isinstance(read, Credential)
            and read.kind != "face"
            and not self.repeats.fresh(read.value, seen_at)
        ):
            return
        now = self.clock.now()
        if self._awaiting_id and not (isinstance(read, Credential) and read.kind == "id_card"):
            self._give_up_waiting(now_ms)
        try:
            decision = self._decide(read, now)
            if decision is None:
                return  # the face worker reads the face; _face_answer settles it
            self._settle(decision, now, now_ms)
        except Exception:  # boundary: one read, one answer; the loop goes on
            log.exception("deciding on a read failed")
            self._record(Decision(Reason.INTERNAL_ERROR, detail="internal error (logged)"))

    def _settle(self, decision: Decision, now: Any, now_ms: int) -> None:
        """Act on a decision: wait for the ID card, or admit and open, or refuse; record it."""
        if decision.reason is Reason.ID_REQUIRED:
            self._awaiting_id = (decision, self.clock.monotonic() + ID_WAIT_S)
            self.driver.deny(now_ms)  # the prompt tone; the display asks for the ID card
            event(log, "awaiting id card", ticket=decision.ticket_no)
            return
        if decision.grant:
            seq = self.engine.admit(decision, now)
            opened = self.driver.open_for(
                seq, self.engine.lane.direction, decision.passages, now_ms
            )
            if not opened:
                decision = Decision(Reason.LANE_CLOSED, claims=decision.claims)
        if not decision.grant:
            self.engine.refuse(decision, now)
            self.driver.deny(now_ms)
        self._record(decision)

    def _decide(self, read: Read, now: Any) -> Decision | None:
        """The decision on a read, or None when a face check was started for it."""
        if isinstance(read, UnreadableCredential):
            return Decision(Reason.UNREADABLE_CARD, detail=str(read))
        if read.kind == "qr":
            return self._face_if_required(self.engine.decide(read.value, now))
        if read.kind == "face":
            if self.face_capture is None:
                return Decision(Reason.FACE_UNAVAILABLE, detail="no face camera")
            if self.engine.faces is None or not self.engine.faces.available:
                return Decision(Reason.FACE_UNAVAILABLE)
            self._start_face(None)
            return None
        if read.kind == "id_card" and self._awaiting_id is not None:
            pending, _ = self._awaiting_id
            self._awaiting_id = None
            return self.engine.confirm_holder(pending, read.value, now)
        return self._face_if_required(self.engine.decide_card(read.kind, read.value, now))

    def _face_if_required(self, decision: Decision) -> Decision | None:
        """A ``face_required`` answer at a lane with a face camera starts the face check
        (None), unless it can be answered without reading a face."""
        if decision.reason is not Reason.FACE_REQUIRED or self.face_capture is None:
            return decision
        refusal = self.engine.face_refusal(decision)
        if refusal is not None:
            return refusal
        self._start_face(decision)
        return None

    def _start_face(self, pending: Decision | None) -> None:
        assert self.face_capture is not None and self.engine.faces is not None
        if self._face_worker is None:
            self._face_worker = FaceWorker(self.engine.faces)
        self._face_worker.start(self.face_capture, pending, self.clock.monotonic())

    def _face_answer(self, now_ms: int) -> None:
        """The face check's answer, once it is there (or timed out): decide, record, open."""
        assert self._face_worker is not None
        answer = self._face_worker.poll(self.clock.monotonic())
        if answer is None:
            return
        job, found = answer
        now = self.clock.now()
        try:
            if job.pending is None:
                decision = self.engine.identified(found, now)
            else:
                decision = self.engine.confirmed(job.pending, found, now)
            self._settle(decision, now, now_ms)
        except Exception:  # boundary: one read, one answer; the loop goes on
            log.exception("deciding on a face failed")
            self._record(Decision(Reason.INTERNAL_ERROR, detail="internal error (logged)"))

    def close(self) -> None:
        """Stop the face worker and the embedding process (the node is stopping)."""
        if self._face_worker is not None:
            self._face_worker.close()
        if self.engine.faces is not None:
            self.engine.faces.close()

    def _give_up_waiting(self, now_ms: int) -> None:
        """The real-name visitor never swiped the ID card (or someone else scanned)."""
        assert self._awaiting_id is not None
        pending, _ = self._awaiting_id
        self._awaiting_id = None
        self.engine.refuse(pending, self.clock.now())
        self._record(pending)

    def _record(self, decision: Decision) -> None:
        if decision.grant:
            self.granted += 1
        else:
            self.denied += 1
        self.decisions = [*self.decisions[-19:], decision]
        event(
            log,
            "grant" if decision.grant else "deny",
            reason=decision.reason.value,
            ticket=decision.ticket_no,
            passages=decision.passages,
        )


def run_forever(
    service: NodeService,
    ticks_ms: Callable[[], int],
    notify: Callable[[str], None] = lambda message: None,
    stop: threading.Event | None = None,
) -> None:
    """The loop under systemd: tick every 5 ms until SIGTERM, feeding the watchdog."""
    stop = stop or threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    notify("READY=1")
    event(log, "serving", node=service.engine.lane.node)
    last_watchdog = 0.0
    while not stop.is_set():
        service.step(ticks_ms())
        current = service.clock.monotonic()
        if current - last_watchdog >= 1.0:
            last_watchdog = current
            notify(f"WATCHDOG=1\nSTATUS=granted {service.granted}, denied {service.denied}")
        stop.wait(TICK_MS / 1000)
    notify("STOPPING=1")
    event(log, "stopping", granted=service.granted, denied=service.denied)
