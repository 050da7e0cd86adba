"""A face check off the lane's loop: the face is read on this worker's thread while the loop
keeps ticking the controllers (beams, the exit side, the fire loop) and pumping the uplink.

A face read takes the camera's frames and the model's work: ~0.2 s on x86, up to ~1 s on a
Pi 4 (bench/face.py). Run in the loop it would stop the 5 ms ticks for that long. Here the loop
starts a check (``start``) and asks for the answer on each pass (``poll``); only the read runs
on the worker: the decision on it (ledger, first-entry binding, dispute image) is made back on
the loop's thread, which alone uses the node's SQLite connection.

One check at a time, as there is one face camera and one visitor in front of it: the loop takes
no other read while a check is in progress (``busy``), so a visitor who shows the same code
again during a check is decided after it, against a ledger that already holds this entry
(``already_used``, ``too_soon`` or the repeat filter): never a second admission.

A check not answered within ``timeout_s`` (``face.check_timeout_s``) is answered
``face_timeout`` and the lane is free again; its result, if it comes later, is dropped unread.
The next check queues behind a read still running (a hung camera makes every check time out:
visitors are sent to the window rather than the lane hanging).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gate_node.face.camera import FaceCapture
from gate_node.face.check import FaceCheck, FaceResult
from keys.reasons import Reason

if TYPE_CHECKING:
    from gate_node.decision.engine import Decision

log = logging.getLogger("gate_node.face")


@dataclass(frozen=True)
class FaceJob:
    """A check in progress: ``pending`` is the ``face_required`` decision it confirms (1:1),
    None for a face shown alone (1:N); ``deadline`` in the loop clock's monotonic seconds."""

    pending: Decision | None
    deadline: float
    future: Future[FaceResult]


class FaceWorker:
    def __init__(self, faces: FaceCheck) -> None:
        self.faces = faces
        self.job: FaceJob | None = None
        self._queue: queue.Queue[tuple[Callable[[], FaceResult], Future[FaceResult]] | None] = (
            queue.Queue()
        )
        # a daemon: a camera read that never returns must not keep the node from stopping
        self._thread = threading.Thread(target=self._run, name="face-check", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self, capture: FaceCapture, pending: Decision | None, now_s: float) -> None:
        """Read the face at the camera: against ``pending``'s holder (1:1) or, for None,
        against every enrolment with tickets (1:N)."""
        if self.job is not None:
            raise RuntimeError("a face check is already in progress")
        faces = self.faces
        holder = pending.claims.holder if pending is not None and pending.claims else None

        def read() -> FaceResult:
            frames = capture(faces.settings.frames)
            if pending is None:
                return faces.identify(frames)
            assert holder is not None  # Engine.face_refusal answered a ticket without one
            return faces.verify(holder, frames)

        future: Future[FaceResult] = Future()
        self.job = FaceJob(pending, now_s + faces.settings.check_timeout_s, future)
        self._queue.put((read, future))

    def poll(self, now_s: float) -> tuple[FaceJob, FaceResult] | None:
        """The finished check and its result (``face_timeout`` past the deadline, and
        ``internal_error`` if the read raised), or None while it is still in progress."""
        job = self.job
        if job is None:
            return None
        if job.future.done():
            self.job = None
            error = job.future.exception()
            if error is not None:
                log.error("face check failed", exc_info=error)
                return job, FaceResult(Reason.INTERNAL_ERROR)
            return job, job.future.result()
        if now_s >= job.deadline:
            self.job = None
            job.future.cancel()  # not started yet: never read; running: its result is dropped
            log.warning("face check not answered in %.1f s", self.faces.settings.check_timeout_s)
            return job, FaceResult(Reason.FACE_TIMEOUT)
        return None

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            read, future = item
            if not future.set_running_or_notify_cancel():
                continue  # timed out before it started
            try:
                future.set_result(read())
            except Exception as exc:  # boundary: reported to the loop as internal_error
                future.set_exception(exc)
