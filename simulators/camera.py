"""A simulated camera: what the gate's camera sees when a visitor holds up a ticket.

``ticket_frame`` renders a ticket's QR code (segno) into a 640x480 grayscale frame the way it
arrives from a camera: a phone screen in dark mode (inverted), tilted, small and far, blurred by
motion or focus, with sensor noise. Deterministic for a given ``seed``. Used by reader tests,
the benchmarks and the simulator's visitors; nothing here is a test double of our own code.
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
) -> np.ndarray:
    """A 640x480 frame with the ticket's QR code in the middle.

    ``module_px``: pixels per QR module (4 is a phone at 25-30 cm from a 640x480 camera);
    ``invert``: dark-mode screen; ``angle``: rotation in degrees; ``blur``: Gaussian kernel
    size (odd, 0 for none); ``noise``: standard deviation of sensor noise in grey levels.
    """
    code = qr_image(text, module_px)
    if invert:
        code = 255 - code
    frame: np.ndarray = np.full((HEIGHT, WIDTH), background, np.uint8)
    h, w = code.shape
    if h > HEIGHT or w > WIDTH:
        raise ValueError(f"a {w}x{h} code does not fit a {WIDTH}x{HEIGHT} frame")
    top, left = (HEIGHT - h) // 2, (WIDTH - w) // 2
    frame[top : top + h, left : left + w] = code
    if angle:
        matrix = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), angle, 1.0)
        frame = cv2.warpAffine(frame, matrix, (WIDTH, HEIGHT), borderValue=background)
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
