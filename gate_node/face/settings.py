"""A site's face thresholds, from the node's signed configuration (``face`` in config).

Their ranges live in keys/gate_settings.py (the cloud checks a manager's settings with the
same rules); the figures behind the defaults are here.

Defaults and where they come from:

- ``max_distance`` 0.5: Euclidean distance between embeddings at or under which two faces are
  the same person. face_recognition's default tolerance is 0.6 (dlib's LFW figure); 0.5 is
  stricter, because a gate that admits the wrong person is worse than one that sends a visitor
  to the window, and because 1:N against thousands of enrolments multiplies the chances of a
  false match. Photos of one person here lie 0.08-0.18 apart; two people 0.69 (tests).
- ``frames`` 5: frames looked at per check (each detected and landmarked, one embedded); the
  blink check needs several within the ~1.5 s the lane display asks the visitor to blink.
- ``min_face_px`` 80: the smaller side of the face box. dlib's HOG window is 80x80: smaller
  faces are found only by upsampling and embed badly; at 640x480 it is an arm's length.
- ``detect_scale`` 1.0: HOG runs on the full frame (47-109 ms for 640x480 on the shared x86
  bench machine, bench/face.py). 0.5 runs it on a half-size frame (~1/3-1/4 of that) but finds
  only faces of 160 px and more: for lanes where visitors stand close to the face camera
  (keys/face_embedding.py). The test photos' faces are 87 and 149 px in a 640x480 frame.
- ``min_score`` 0.3: dlib's HOG detection score a face must reach. Faces in the test photos
  score 0.5-1.6, a face-like badge on a suit about 0 (it would be a second face otherwise).
- ``liveness`` "blink" or "off" (gate_node/face/liveness.py says what it stops).
- ``blink_ratio`` 0.7: a blink is an eye aspect ratio dropping below 0.7 of the open-eye value.
- ``check_timeout_s`` 5.0: a face check (capture and read, on the lane's face worker,
  gate_node/face/worker.py) not answered by then is answered ``face_timeout`` and the lane is
  free again. The check is estimated at 1.3-1.6 s on a Pi 4 with dlib on OpenBLAS
  (bench/face.py, not measured on a Pi); 5 s leaves room for that and a slow camera without
  holding a queue behind a hung one.
- ``keep_images_days`` 0: face images are never kept; an operator who needs them for disputes
  sets 1-30 and each refused or admitted face frame is kept encrypted that many days.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from keys.gate_settings import GateSettingError as FaceSettingsError
from keys.gate_settings import check_face

__all__ = ["FaceSettings", "FaceSettingsError"]  # a face setting out of range: its field named


@dataclass(frozen=True)
class FaceSettings:
    max_distance: float = 0.5
    frames: int = 5
    min_face_px: int = 80
    detect_scale: float = 1.0
    min_score: float = 0.3
    liveness: str = "blink"
    blink_ratio: float = 0.7
    check_timeout_s: float = 5.0
    keep_images_days: int = 0

    @classmethod
    def from_config(cls, doc: dict[str, Any] | None) -> FaceSettings:
        """Check a ``face`` configuration mapping field by field (keys/gate_settings.py: the
        same rules the cloud checks before it signs one)."""
        doc = dict(doc or {})
        check_face(doc)
        return cls(**doc)

    def check(self) -> None:
        check_face(self.as_config())

    def as_config(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
