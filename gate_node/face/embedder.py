"""Where the one embedding of a face check is computed: in this thread, or in a helper process
alongside the detection of the frames still to come.

dlib's ResNet encoder holds Python's GIL for its whole run (here ~40 ms with dlib built against
OpenBLAS, the Pi image's build, 160-270 ms with dlib-bin; several times that on a Pi 4),
while its HOG detector releases it (measured: a Python thread gets no tick during an embedding,
one every millisecond during a detection). So a thread cannot overlap the embedding with
anything in this process: not with the detection of the next frames, and not with the lane's
loop, whose 5 ms ticks would stall for the embedding's duration. ``EmbedProcess`` runs it in a
child process of its own, with its own copy of the model (~150 MB resident: the 68-point
predictor and the ResNet), so the face check detects the next frames and the lane loop keeps
ticking while the first frame's face is being embedded: on a Pi 4's four cores that hides the
embedding behind the detections (bench/face.py).

``start(frame, box)`` hands a frame over and returns a ``Pending``: ``result()`` is the
embedding (float32 (128,)) or None, ``discard()`` drops it. Every started embedding is
resolved one way or the other before the next is started (FaceCheck.read does so).
``InlineEmbedder`` computes it in the caller's thread when ``result()`` asks, so a discarded
one costs nothing: what tests use, and the fallback wherever no process is given.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Protocol

import numpy as np

from keys.face_embedding import Box, FaceModel

log = logging.getLogger("gate_node.face")


class Pending(Protocol):
    def result(self) -> np.ndarray | None: ...

    def discard(self) -> None: ...


class Embedder(Protocol):
    def start(self, frame: np.ndarray, box: Box) -> Pending: ...

    def close(self) -> None: ...


class InlineEmbedder:
    def __init__(self, model: FaceModel) -> None:
        self.model = model

    def start(self, frame: np.ndarray, box: Box) -> Pending:
        return _Lazy(lambda: self.model.embed(frame, box))

    def close(self) -> None:
        pass


class _Lazy:
    def __init__(self, compute: Callable[[], np.ndarray | None]) -> None:
        self._compute = compute

    def result(self) -> np.ndarray | None:
        return self._compute()

    def discard(self) -> None:
        pass


class _Sent:
    """An embedding asked of the child: its answer must be read off the pipe either way."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def result(self) -> np.ndarray | None:
        found = self._conn.recv()  # EOFError if the child died: the check's internal_error
        return None if found is None else np.asarray(found, dtype=np.float32)

    def discard(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            self._conn.recv()


def _serve(conn: Connection) -> None:
    """The child: load the model once, then embed (frame, box) pairs until told to stop."""
    from keys import face_embedding

    model = face_embedding.load()
    try:
        conn.send(model is not None)  # loaded: the parent's wait_ready and first start read it
    except OSError:  # the parent closed while the model was loading
        return
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        frame, box = item
        try:
            answer = None if model is None else model.embed(frame, box)
        except Exception:  # boundary: one bad frame answers None, the child goes on
            log.exception("embedding failed")
            answer = None
        try:
            conn.send(answer)
        except OSError:  # the parent is gone
            return


class EmbedProcess:
    """One child process (spawned: the parent has threads, so no fork), started at once so
    its model is loaded before the first visitor; restarted if it died."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._loaded = False
        self._spawn()

    def _spawn(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child,), name="face-embed", daemon=True
        )
        process.start()
        child.close()
        self._conn, self._process, self._loaded = parent, process, False

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the child has loaded its model (waiting up to ``timeout_s``)."""
        with self._lock:
            return self._ready(timeout_s)

    def _ready(self, timeout_s: float | None) -> bool:
        if not self._loaded and self._conn is not None:
            if timeout_s is not None and not self._conn.poll(timeout_s):
                return False
            self._loaded = True
            if not self._conn.recv():
                log.warning("the face embedding process has no face model")
        return self._loaded

    def start(self, frame: np.ndarray, box: Box) -> Pending:
        with self._lock:
            if self._process is None or not self._process.is_alive():
                log.warning("face embedding process not running: starting it again")
                self._spawn()
            self._ready(None)  # the first embedding waits for the model to be loaded
            conn = self._conn
            assert conn is not None
            conn.send((np.ascontiguousarray(frame), box))

        return _Sent(conn)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                if self._loaded:  # idle: asked to stop; still loading: not waited for
                    with contextlib.suppress(OSError):
                        self._conn.send(None)
                self._conn.close()
            if self._process is not None:
                if self._loaded:
                    self._process.join(timeout=2)
                if self._process.is_alive():
                    self._process.kill()
                    self._process.join(timeout=2)
            self._conn = self._process = None
