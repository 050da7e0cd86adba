"""A simulated camera: what the gate's camera sees when a visitor holds up a ticket.

``ticket_frame`` renders a ticket's QR code (segno) into a 640x480 grayscale frame the way it
arrives from a camera: a phone screen in dark mode (inverted), rotated, tilted away (a
perspective, ``tilt``), small and far, blurred by motion or focus, with a glare spot (a
sunlit screen or glossy paper, ``glare``), with sensor noise. Deterministic for a given
``seed``. ``PRESENTATIONS`` names the ways visitors actually hold up a code (paper, phone,
dark mode, sunlight, tilted, shaky hand, far away) and ``present(text, how)`` renders one.
Used by reader tests, the benchmarks and the simulator's visitors; nothing here is a test
double of our own code.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import segno

WIDTH, HEIGHT = 640, 480


def qr_image(text: str, module_px: int = 4) -> np.ndarray:
    """The QR code alone, black on white, with a quiet zone, as grayscale."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=module_px, border=4)
    image = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
    return np.asarray(image, dtype=np.uint8)


def ticket_frame(
    text: str,
    *,
    module_px: int = 4,
    invert: bool = False,
    angle: float = 0.0,
    blur: int = 0,
    noise: float = 0.0,
    background: int = 90,
    seed: int = 0,
    tilt: float = 0.0,
    glare: float = 0.0,
    contrast: float = 1.0,
) -> np.ndarray:
    """A 640x480 frame with the ticket's QR code in the middle.

    ``module_px``: pixels per QR module (4 is a phone at 25-30 cm from a 640x480 camera);
    ``invert``: dark-mode screen; ``angle``: rotation in degrees; ``blur``: Gaussian kernel
    size (odd, 0 for none); ``noise``: standard deviation of sensor noise in grey levels;
    ``tilt``: degrees the code is turned away from the camera about its vertical axis
    (keystone); ``glare``: 0-1, the strength of a bright spot over the code's upper right;
    ``contrast``: below 1 a screen at low brightness (grey on grey).
    """
    code = qr_image(text, module_px)
    if invert:
        code = 255 - code
    if contrast != 1.0:
        code = np.clip(128 + (code.astype(np.float32) - 128) * contrast, 0, 255).astype(np.uint8)
    frame: np.ndarray = np.full((HEIGHT, WIDTH), background, np.uint8)
    h, w = code.shape
    if h > HEIGHT or w > WIDTH:
        raise ValueError(f"a {w}x{h} code does not fit a {WIDTH}x{HEIGHT} frame")
    top, left = (HEIGHT - h) // 2, (WIDTH - w) // 2
    frame[top : top + h, left : left + w] = code
    if angle:
        matrix = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), angle, 1.0)
        frame = cv2.warpAffine(frame, matrix, (WIDTH, HEIGHT), borderValue=background)
    if tilt:
        frame = _keystone(frame, tilt, background)
    if glare:
        frame = _glare(frame, glare)
    if blur:
        frame = cv2.GaussianBlur(frame, (blur, blur), 0)
    if noise:
        rng = np.random.default_rng(seed)
        noisy = frame.astype(np.float32) + rng.normal(0, noise, frame.shape)
        frame = np.clip(noisy, 0, 255)
    return np.asarray(frame, dtype=np.uint8)


def empty_frame(background: int = 90, noise: float = 4.0, seed: int = 0) -> np.ndarray:
    """What the camera sees with nobody in front of it."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(background, noise, (HEIGHT, WIDTH)), 0, 255).astype(np.uint8)


def _keystone(frame: np.ndarray, tilt: float, background: int) -> np.ndarray:
    """The code turned ``tilt`` degrees away about the vertical axis: its far edge shrinks."""
    shrink = min(0.45, abs(float(np.sin(np.radians(tilt)))) * 0.5)
    w, h = WIDTH, HEIGHT
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dy = h * shrink / 2
    target = np.array([[0, 0], [w, dy], [w, h - dy], [0, h]], dtype=np.float32)
    if tilt < 0:
        target = np.array([[0, dy], [w, 0], [w, h], [0, h - dy]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    return np.asarray(cv2.warpPerspective(frame, matrix, (w, h), borderValue=background))


def _glare(frame: np.ndarray, strength: float) -> np.ndarray:
    """A soft bright spot (the sun or a lamp on a glossy surface) over the code's upper right."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    cx, cy, radius = WIDTH * 0.58, HEIGHT * 0.4, HEIGHT * 0.18
    spot = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2))
    lifted = frame.astype(np.float32) + spot * 255 * strength
    return np.asarray(np.clip(lifted, 0, 255), dtype=np.uint8)


# How visitors hold up their codes (ticket_frame's arguments). A phone at arm's length shows
# modules of 4-5 px on a 640x480 camera; paper held low, 3-4 px.
PRESENTATIONS: dict[str, dict[str, float | int | bool]] = {
    "paper": {"module_px": 4, "noise": 3.0},
    "phone": {"module_px": 5, "noise": 2.0},
    "phone, dark mode": {"module_px": 5, "invert": True, "noise": 2.0},
    "phone, low brightness": {"module_px": 5, "contrast": 0.35, "noise": 3.0},
    "phone in sunlight (glare)": {"module_px": 5, "glare": 0.55, "noise": 2.0},
    "paper, glossy under a lamp": {"module_px": 4, "glare": 0.4, "noise": 3.0},
    "tilted away": {"module_px": 5, "tilt": 35.0, "angle": 8.0},
    "held at an angle": {"module_px": 4, "angle": 30.0},
    "shaky hand (motion blur)": {"module_px": 5, "blur": 5, "noise": 4.0},
    "far away": {"module_px": 3, "noise": 2.0},
}


def present(text: str, how: str, seed: int = 0) -> np.ndarray:
    """The frame for one of ``PRESENTATIONS``."""
    options = dict(PRESENTATIONS[how])
    return ticket_frame(text, seed=seed, **options)  # type: ignore[arg-type]
