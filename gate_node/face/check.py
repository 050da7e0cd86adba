"""One entry point for a face at the lane: frames in, a reason (and who) out. Never raises.

``verify(holder, frames)`` is 1:1 (实名核验): the face against the enrolment (or the first-entry
binding) of the holder a real-name ticket names. ``identify(frames)`` is 1:N (刷脸入园): the face
against every enrolment that carries tickets (annual passes, members). Both read the frames the
same way (``read``):

1. every frame looked at must show exactly one face of at least ``min_face_px``: otherwise
   ``face_none``, ``face_several`` or ``face_too_small``, from the first frame that fails (a
   second face in any frame may be someone slipping through behind);
2. liveness (liveness.py): the eyes must blink across the frames, else ``face_not_live``.
   Frames are taken one at a time (camera.py) up to ``settings.frames`` and looked at in
   that order, the next one (``LOOKAHEAD``) already being detected on a second thread while
   this one is looked at; once the eyes have blinked no further frame is taken: a visitor
   who blinks in the third frame is decided on three (a fourth was taken, not waited for);
3. one embedding: detection and landmarks cost ~25-95 ms a frame here, an embedding ~15-45 ms
   (dlib with OpenBLAS, the Pi image) or ~100-280 ms (dlib-bin), so only one is made. It is
   started on the first frame's face as soon as that is found,
   on the embedder (embedder.py: a helper process at the gate), while the next frames are
   taken and detected; it is used if that frame's eyes were open (at least ``blink_ratio`` of
   the most open frame, the liveness check's own measure of open), else the frame with the
   most open eyes is embedded instead (the best for matching; eyes mid-blink match worse).

Then ``face_no_match`` (no enrolment for the holder, or none near enough in 1:N) or
``face_below_threshold`` (the holder's enrolment is farther than ``max_distance``). Without the
face model (no ``face`` extra) every check answers ``face_unavailable``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

import numpy as np

from gate_node.face.disputes import Disputes
from gate_node.face.embedder import Embedder, InlineEmbedder, Pending
from gate_node.face.gallery import Gallery
from gate_node.face.liveness import blinked, openness
from gate_node.face.settings import FaceSettings
from keys.face_embedding import HOG_WINDOW_PX, Face, FaceModel
from keys.face_enrolment import FaceEnrolments
from keys.reasons import Reason

log = logging.getLogger("gate_node.face")


@dataclass(frozen=True)
class FaceResult:
    reason: Reason
    holder: bytes | None = None
    distance: float | None = None
    tickets: tuple[str, ...] = ()
    embedding: np.ndarray | None = None  # the probe, for a first-entry binding
    frame: np.ndarray | None = None  # the frame decided on, for disputes (if kept)

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK

    @property
    def detail(self) -> str:
        return "" if self.distance is None else f"distance {self.distance:.3f}"


LOOKAHEAD = 1
"""Frames taken and analysed ahead of the one the check is deciding on (``FaceCheck._analysed``):
with 1, two frames are detected at once, on two threads. More would take frames the check
may never need (it stops at the blink) and cores a Pi 4 needs for the embedding helper, the
QR camera and the lane loop."""

MARGIN = 0.85
"""Faces down to this fraction of ``min_face_px`` are still found at the reduced detection
scale: dlib's boxes vary by a few pixels between scales, and a second face just at the
site's minimum must not slip through for that."""


def detect_scale(settings: FaceSettings) -> float:
    """The scale the HOG detector runs at: as small as finds every face of ``MARGIN`` x
    ``min_face_px``, never larger than the configured ``detect_scale``."""
    return min(settings.detect_scale, max(0.25, HOG_WINDOW_PX / (MARGIN * settings.min_face_px)))


class FaceCheck:
    """``model`` None means the face extra is missing. ``on_bind`` is called with every
    binding after a change (the vault saves them). ``embedder``: where the embedding is
    computed (embedder.py), in the calling thread unless given. ``lookahead``: frames
    analysed ahead of the one being decided on (``LOOKAHEAD``; 0: one at a time, in the
    calling thread)."""

    def __init__(
        self,
        model: FaceModel | None,
        settings: FaceSettings | None = None,
        enrolments: FaceEnrolments | None = None,
        bindings: dict[bytes, np.ndarray] | None = None,
        on_bind: Callable[[dict[bytes, np.ndarray]], None] = lambda bindings: None,
        disputes: Disputes | None = None,
        embedder: Embedder | None = None,
        lookahead: int = LOOKAHEAD,
    ) -> None:
        self.model = model
        self.lookahead = lookahead
        self._pool: ThreadPoolExecutor | None = None
        self.embedder: Embedder | None = embedder or (
            InlineEmbedder(model) if model is not None else None
        )
        self.disputes = disputes
        self.settings = settings or FaceSettings()
        self._bindings = dict(bindings or {})
        self._bound = Gallery(self._bindings)
        self._on_bind = on_bind
        self.enrolments = enrolments or FaceEnrolments()

    @property
    def available(self) -> bool:
        return self.model is not None

    @property
    def enrolments(self) -> FaceEnrolments:
        return self._enrolments

    @enrolments.setter
    def enrolments(self, enrolments: FaceEnrolments) -> None:
        """Take a new enrolment set (after a downlink document): the galleries are rebuilt."""
        self._enrolments = enrolments
        self._enrolled = Gallery({h: e.embedding for h, e in enrolments.entries.items()})
        self._members = Gallery(
            {h: e.embedding for h, e in enrolments.entries.items() if e.tickets}
        )

    def read(self, frames: Iterable[np.ndarray]) -> FaceResult:
        """Steps 1-3 of the module docstring: the probe embedding, or why there is none."""
        if self.model is None or self.embedder is None:
            return FaceResult(Reason.FACE_UNAVAILABLE)
        settings = self.settings
        faces: list[tuple[Face, np.ndarray]] = []
        early: Pending | None = None  # the first frame's embedding, under way
        analysed = self._analysed(iter(islice(frames, settings.frames)))
        try:
            for frame, found in analysed:
                if isinstance(found, Reason):
                    return FaceResult(found, frame=frame)
                faces.append((found, frame))
                if early is None:
                    early = self.embedder.start(frame, found.box)
                if settings.liveness == "blink" and self._blinked(faces):
                    break  # live: the frames still to come would change nothing
            if not faces:
                return FaceResult(Reason.FACE_NONE)
            if settings.liveness == "blink" and not self._blinked(faces):
                return FaceResult(Reason.FACE_NOT_LIVE, frame=faces[0][1])
            opens = [openness(face.landmarks) for face, _ in faces]
            chosen = 0
            if opens[0] < settings.blink_ratio * max(opens):  # the first frame mid-blink
                chosen = max(range(len(faces)), key=opens.__getitem__)
            assert early is not None
            pending, early = early, None
            frame = faces[chosen][1]
            if chosen == 0:
                embedding = pending.result()
            else:
                pending.discard()
                embedding = self.embedder.start(frame, faces[chosen][0].box).result()
        finally:
            analysed.close()  # a frame analysed ahead after the blink is not waited for
            if early is not None:  # refused before the embedding was needed
                early.discard()
        if embedding is None:
            return FaceResult(Reason.FACE_NONE, frame=frame)
        return FaceResult(Reason.OK, embedding=embedding, frame=frame)

    def _analysed(
        self, frames: Iterator[np.ndarray]
    ) -> Generator[tuple[np.ndarray, Face | Reason], None, None]:
        """Each frame with its analysis (``_analyse``), in the order taken. With a look-ahead,
        the next frames are taken and analysed on the look-ahead threads while the caller
        looks at this one: dlib's HOG detector releases the GIL, so two frames are detected
        at once on two cores. The detection of the frames is the check's critical path once
        the embedding is fast (dlib with OpenBLAS: ~15-40 ms against ~25-95 ms a detection
        here); a Pi 4 has four cores for it. When the caller stops (the blink, a refusal),
        at most ``lookahead`` frames were taken beyond it; their analysis is left to finish
        on its thread, not waited for."""
        if self.lookahead <= 0:
            for frame in frames:
                yield frame, self._analyse(frame)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.lookahead + 1, thread_name_prefix="face-detect")
        queue: deque[tuple[np.ndarray, Future[Face | Reason]]] = deque()

        def take() -> None:
            frame = next(frames, None)
            if frame is not None:
                assert self._pool is not None
                queue.append((frame, self._pool.submit(self._analyse, frame)))

        for _ in range(self.lookahead + 1):
            take()
        try:
            while queue:
                frame, future = queue.popleft()
                found = future.result()
                yield frame, found
                take()
        finally:
            for _, future in queue:
                future.cancel()  # not started yet: never started; running: left to finish

    def _analyse(self, frame: np.ndarray) -> Face | Reason:
        """One frame's face (detected, landmarked, not embedded) or why there is none.

        The detector runs on the frame shrunk as far as the site's minimum face size allows
        (``detect_scale`` here): a face of ``MARGIN`` x ``min_face_px`` still fills the HOG
        window there, so every face the site counts (for ``face_several`` too) is found, at
        a fraction of the full frame's cost (``min_face_px`` 160: ~0.35 of the pixels). At
        the default 80 px that is the full frame. A frame with no face there, or with a face
        near the minimum (where box sizes differ between scales), is detected again at the
        configured scale (FaceModel.analyse ``recheck_scale``): a face too small still
        answers ``face_too_small``, a second face at the minimum still ``face_several``."""
        assert self.model is not None
        settings = self.settings
        return self.model.analyse(
            frame,
            min_face_px=settings.min_face_px,
            detect_scale=detect_scale(settings),
            min_score=settings.min_score,
            embed=False,
            recheck_scale=settings.detect_scale,
            recheck_band=MARGIN,
        )

    def _blinked(self, faces: Sequence[tuple[Face, np.ndarray]]) -> bool:
        return blinked([face.landmarks for face, _ in faces], self.settings.blink_ratio)

    def verify(self, holder: bytes, frames: Iterable[np.ndarray]) -> FaceResult:
        """1:1: is this the holder? ``face_no_match`` carries the probe, for a binding."""
        probe = self.read(frames)
        if not probe.ok or probe.embedding is None:
            return probe
        distance = self._enrolled.distance_to(holder, probe.embedding)
        if distance is None:
            distance = self._bound.distance_to(holder, probe.embedding)
        if distance is None:
            return FaceResult(
                Reason.FACE_NO_MATCH, holder=holder, embedding=probe.embedding, frame=probe.frame
            )
        near = distance <= self.settings.max_distance
        reason = Reason.OK if near else Reason.FACE_BELOW_THRESHOLD
        return FaceResult(reason, holder=holder, distance=distance, frame=probe.frame)

    def identify(self, frames: Iterable[np.ndarray]) -> FaceResult:
        """1:N: the nearest enrolment that carries tickets, if near enough."""
        probe = self.read(frames)
        if not probe.ok or probe.embedding is None:
            return probe
        nearest = self._members.nearest(probe.embedding)
        if nearest is None or nearest[1] > self.settings.max_distance:
            return FaceResult(
                Reason.FACE_NO_MATCH,
                distance=nearest[1] if nearest else None,
                frame=probe.frame,
            )
        holder, distance = nearest
        # the face worker reads while the loop may take a new enrolment set: a holder dropped
        # from it in between is no match, never a KeyError
        entry = self._enrolments.entries.get(holder)
        if entry is None:
            return FaceResult(Reason.FACE_NO_MATCH, distance=distance, frame=probe.frame)
        return FaceResult(
            Reason.OK, holder=holder, distance=distance, tickets=entry.tickets, frame=probe.frame
        )

    def keep_for_disputes(self, result: FaceResult, at: datetime, outcome: str) -> None:
        """The frame decided on, kept only if the operator enabled it (disputes.py)."""
        if self.disputes is None or result.frame is None:
            return
        try:
            self.disputes.keep(result.frame, at, outcome)
        except OSError:  # a full SD card must not stop the lane
            log.exception("face image for disputes not kept")

    def bind(self, holder: bytes, embedding: np.ndarray) -> None:
        """Bind a face to a holder at its first entry (annual passes sold online)."""
        self._bindings[holder] = np.asarray(embedding, dtype=np.float32)
        self._bound = Gallery(self._bindings)
        self._on_bind(dict(self._bindings))

    def forget(self, holders: Sequence[bytes]) -> None:
        """Drop bindings of holders whose enrolment the cloud deleted (right to be forgotten)
        or replaced with the site's first binding (NodeState.apply_faces)."""
        if any(h in self._bindings for h in holders):
            for holder in holders:
                self._bindings.pop(holder, None)
            self._bound = Gallery(self._bindings)
            self._on_bind(dict(self._bindings))

    def close(self) -> None:
        """Stop the embedder (a helper process at the gate) and the look-ahead threads."""
        if self.embedder is not None:
            self.embedder.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def bindings(self) -> int:
        return len(self._bindings)
