"""Faces to embeddings: dlib HOG detector, 68 landmarks and ResNet encoder; keeps no image.

Shared by the gate (gate_node/face/) and the cloud's enrolment (cloud/services/face_enrolment.py)
on purpose: an enrolment and a gate read must be made by the same model with the same
preprocessing, or the same person drifts apart. One face gives a 128-number embedding; two
photographs of one person lie about 0.1-0.3 apart (Euclidean), two people about 0.6 and more
(dlib's model scores 99.38 % on LFW at 0.6, face_recognition's default tolerance).

The model is optional: the ``face`` extra (README "Face at the gate"). ``load()`` imports it at
this one boundary and answers None when it is missing, so a node without it keeps running and
refuses face checks with ``face_unavailable``. face_recognition calls ``quit()`` when its model
files are missing (face_recognition_models needs ``pkg_resources``): that ``SystemExit`` is
caught here too, never allowed to stop a gate.

``analyse`` returns a ``Face`` or the reason there is none usable (keys/reasons.py):
``face_none``, ``face_several`` (more than one face at least ``min_face_px`` tall),
``face_too_small`` (faces seen, none big enough). Images are 8-bit RGB (H, W, 3) or grayscale
(H, W), as cameras and photo uploads give them. This module never raises for an image.
"""

from __future__ import annotations

import functools
import logging
import pickle
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from keys.reasons import Reason

log = logging.getLogger("keys.face")

EMBEDDING_DIM = 128
EMBEDDING_BYTES = EMBEDDING_DIM * 4  # float32, little-endian, as the enrolment document holds it

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order), pixels
HOG_WINDOW_PX = 80  # dlib's frontal HOG detector finds faces of at least this many pixels


@dataclass(frozen=True)
class Face:
    box: Box
    landmarks: dict[str, list[tuple[int, int]]]
    embedding: np.ndarray | None  # float32 (128,); None when only landmarks were asked for

    @property
    def size(self) -> int:
        """The face's smaller side in pixels (what ``min_face_px`` compares with)."""
        top, right, bottom, left = self.box
        return min(bottom - top, right - left)


class FaceModel:
    """face_recognition, loaded. ``detect_scale`` (0 < s <= 1) runs the HOG detector on a
    frame shrunk by that factor, without upsampling, and maps the boxes back to full-frame
    pixels: at 0.5 a 640x480 frame costs a quarter to a third of the time (13-37 ms instead of
    47-109 ms on the shared bench machine),
    but only faces of at least 160 px are found (dlib's HOG window is 80x80, so the smallest
    face found is ``HOG_WINDOW_PX / scale``). Upsampling the small frame instead would cost as
    much as the full one. Landmarks and the embedding are always taken from the full-size
    frame. The gate picks the scale from its minimum face size (gate_node/face/check.py)."""

    def __init__(self, module: Any) -> None:
        self._fr = module
        self._local = threading.local()
        self._detector_bytes = pickle.dumps(module.api.face_detector)  # 155 KB, ~1 ms

    def _detector(self) -> Any:
        """This thread's HOG detector. dlib's is not safe to use from two threads at once
        (its scan_fhog_pyramid keeps working buffers: object_detector_abstract.h), and the
        gate analyses frames on two threads (gate_node/face/check.py), the cloud enrolls on
        its request threads. Each thread gets a copy of face_recognition's, made by pickling
        (~4 ms; ``get_frontal_face_detector()`` parses its text model again, ~1 s)."""
        found = getattr(self._local, "detector", None)
        if found is None:
            found = self._local.detector = pickle.loads(self._detector_bytes)
        return found

    def analyse(
        self,
        image: np.ndarray,
        *,
        min_face_px: int = 80,
        detect_scale: float = 1.0,
        min_score: float = 0.3,
        embed: bool = True,
        recheck_scale: float | None = None,
        recheck_band: float = 0.85,
    ) -> Face | Reason:
        """``recheck_scale`` (above ``detect_scale``): when the fast scale finds no face, or a
        face whose size is within ``recheck_band`` (x or /) of ``min_face_px``, detect again
        at ``recheck_scale``. dlib's box size steps with the pyramid level it was found at
        (5/6 a level), so near the minimum only the reference scale may say which side of it
        a face is: a second face at 103 px measures 91 px at scale 0.94. Clear cases, the
        usual ones, cost the fast detection only."""
        rgb = as_rgb(image)
        if rgb is None:
            return Reason.FACE_NONE
        boxes = self.detect(rgb, detect_scale, min_score)
        if recheck_scale is not None and recheck_scale > detect_scale:
            low, high = recheck_band * min_face_px, min_face_px / recheck_band
            if not boxes or any(low <= _size(b) < high for b in boxes):
                boxes = self.detect(rgb, recheck_scale, min_score)
        if not boxes:
            return Reason.FACE_NONE
        big = [b for b in boxes if _size(b) >= min_face_px]
        if not big:
            return Reason.FACE_TOO_SMALL
        if len(big) > 1:
            return Reason.FACE_SEVERAL
        box = big[0]
        landmarks = self._fr.face_landmarks(rgb, [box])[0]
        embedding = None
        if embed:
            embedding = np.asarray(
                self._fr.face_encodings(rgb, [box], num_jitters=1)[0], dtype=np.float32
            )
        return Face(box, landmarks, embedding)

    def embed(self, image: np.ndarray, box: Box) -> np.ndarray | None:
        """The embedding of the face at ``box`` (from ``analyse(..., embed=False)``)."""
        rgb = as_rgb(image)
        if rgb is None:
            return None
        return np.asarray(self._fr.face_encodings(rgb, [box], num_jitters=1)[0], dtype=np.float32)

    def detect(self, rgb: np.ndarray, scale: float = 1.0, min_score: float = 0.3) -> list[Box]:
        """Face boxes in full-frame pixels (HOG), those scoring at least ``min_score``.

        dlib's detector scores a window by its SVM margin; faces here score 0.5-1.6, while
        patterns on clothes that look like a face (the badge on the astronaut's suit) score
        about 0 and would otherwise count as a second face (``face_several``)."""
        height, width = rgb.shape[:2]
        image, fy, fx = rgb, 1.0, 1.0
        if scale < 1.0:
            step = max(1, round(1 / scale))
            if abs(1 / step - scale) < 0.01:  # 1/2, 1/3...: every step-th pixel, no filtering
                image, fy, fx = np.ascontiguousarray(rgb[::step, ::step]), step, step
            else:  # any other scale: area-averaged, boxes mapped back by the true ratios
                import cv2

                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                image = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                fy, fx = height / image.shape[0], width / image.shape[1]
        rects, scores, _ = self._detector().run(image, 0, min_score)
        return [
            (
                max(0, round(r.top() * fy)),
                min(width, round(r.right() * fx)),
                min(height, round(r.bottom() * fy)),
                max(0, round(r.left() * fx)),
            )
            for r, score in zip(rects, scores, strict=True)
            if score >= min_score
        ]


def _size(box: Box) -> int:
    top, right, bottom, left = box
    return min(bottom - top, right - left)


def as_rgb(image: np.ndarray) -> np.ndarray | None:
    """8-bit RGB, C-contiguous (what dlib takes), or None for anything that is not an image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return None
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 32:
        return None
    return np.ascontiguousarray(image)


@functools.cache
def load() -> FaceModel | None:
    """The face model, or None without the ``face`` extra (logged once)."""
    try:
        import face_recognition
    except (ImportError, SystemExit) as exc:  # SystemExit: its models missing, it quit()s
        log.warning("face recognition unavailable (install the face extra): %s", exc)
        return None
    return FaceModel(face_recognition)


def embedding_bytes(embedding: np.ndarray) -> bytes:
    """An embedding as the enrolment document carries it: 128 float32, little-endian."""
    vector = np.asarray(embedding, dtype="<f4").reshape(-1)
    if vector.size != EMBEDDING_DIM or not np.all(np.isfinite(vector)):
        raise ValueError("an embedding is 128 finite numbers")
    return vector.tobytes()


def embedding_from(raw: bytes) -> np.ndarray:
    if not isinstance(raw, bytes) or len(raw) != EMBEDDING_BYTES:
        raise ValueError("an embedding is 512 bytes (128 float32)")
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        raise ValueError("an embedding is 128 finite numbers")
    return vector
