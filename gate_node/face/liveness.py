"""Liveness (活体检测), the cheap kind: did the eyes blink across the frames?

The eye aspect ratio (EAR, Soukupová and Čech, "Real-Time Eye Blink Detection using Facial
Landmarks", 2016) is the eye's height over its width from the six landmarks dlib gives per eye:
about 0.3 open, under 0.15 closed. A check is live when, in some frame, both eyes' mean EAR
falls below ``blink_ratio`` times the most open value seen in the same check; the lane display
asks the visitor to blink while the frames are taken.

What it stops: a printed photo, an ID-card photo or a phone showing a still picture, whether
held still or moved about (a photo cannot blink), and a camera feed replaced by one frame
repeated. What it does NOT stop: a video of the holder blinking played on a screen, a photo
with the eyes cut out and real eyes behind, a 3D mask with moving eyes. Those need depth or
infrared cameras (structured light, 3D ToF) or a challenge-response model; this check only
raises the cost of the cheapest attack, the one scalpers use with a buyer's photo.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Landmarks = dict[str, list[tuple[int, int]]]


def eye_aspect_ratio(eye: Sequence[tuple[int, int]]) -> float:
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|) over the six points of one eye; 0 if degenerate."""
    p = np.asarray(eye, dtype=np.float64)
    if p.shape != (6, 2):
        return 0.0
    width = float(np.linalg.norm(p[0] - p[3]))
    if width == 0.0:
        return 0.0
    return float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2.0 * width)


def openness(landmarks: Landmarks) -> float:
    """Both eyes' mean EAR for one frame."""
    return (
        eye_aspect_ratio(landmarks.get("left_eye", []))
        + eye_aspect_ratio(landmarks.get("right_eye", []))
    ) / 2.0


def blinked(frames: Sequence[Landmarks], ratio: float = 0.7) -> bool:
    """True if the eyes closed (EAR < ``ratio`` x the most open) in at least one frame and
    were open in another: it needs two frames at least."""
    values = [openness(landmarks) for landmarks in frames]
    if len(values) < 2:
        return False
    most_open = max(values)
    return most_open > 0.15 and min(values) < ratio * most_open
