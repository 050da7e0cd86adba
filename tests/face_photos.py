"""Real photographs for the face tests, from installed packages (no download at run time).

- ``astronaut``: Eileen Collins, NASA portrait (public domain), shipped in scikit-image.
- ``hopper``: Grace Hopper, US Navy portrait (public domain), shipped in matplotlib's sample
  data. The only two bundled photographs in which dlib finds a face (scikit-image's camera man
  is too small and in profile; the rest are landscapes, objects and a cat).
- ``landscape``: scikit-image's rocket on its launch pad: no face.

Frames are built the way a gate camera gives them, 640x480, the photo pasted on a grey
background. A blink is the astronaut with her eyes painted shut (skin colour and a lash line
over the eye landmarks); a "printed photo" is one frame repeated, or with sensor noise, or moved
about in its plane. Everything is computed once per test session (``functools.cache``): an
embedding costs ~90 ms.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from keys.face_embedding import Face, FaceModel, load

WIDTH, HEIGHT = 640, 480


def model() -> FaceModel:
    found = load()
    assert found is not None, "the face extra is not installed: make .venv/.stamp-face"
    return found


@functools.cache
def astronaut() -> np.ndarray:
    import skimage.data

    return np.asarray(skimage.data.astronaut())


@functools.cache
def hopper() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


@functools.cache
def landscape() -> np.ndarray:
    import skimage.data

    return on_canvas(np.asarray(skimage.data.rocket()), scale=1.0, at=(0, 0))


def on_canvas(
    photo: np.ndarray,
    *,
    scale: float = 1.0,
    at: tuple[int, int] = (64, 40),
    turn: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
    canvas: np.ndarray | None = None,
) -> np.ndarray:
    """``photo`` scaled, turned (degrees) and pasted at ``at`` (x, y) on a 640x480 frame."""
    image = Image.fromarray(photo)
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    if turn:
        image = image.rotate(turn, resample=Image.Resampling.BILINEAR)
    frame = Image.fromarray(canvas) if canvas is not None else Image.new("RGB", (WIDTH, HEIGHT))
    if canvas is None:
        frame.paste((96, 96, 96), (0, 0, WIDTH, HEIGHT))
    frame.paste(image.crop((0, 0, min(image.width, WIDTH), min(image.height, HEIGHT))), at)
    pixels = np.asarray(frame).astype(np.int16)
    if noise:
        pixels += np.random.default_rng(seed).normal(0, noise, pixels.shape).astype(np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


@functools.cache
def astronaut_frame() -> np.ndarray:
    return on_canvas(astronaut())


@functools.cache
def hopper_frame() -> np.ndarray:
    return on_canvas(hopper(), scale=0.75, at=(130, 10))


def face_in(frame: np.ndarray) -> Face:
    found = model().analyse(frame)
    assert isinstance(found, Face), found
    return found


def eyes_shut(frame: np.ndarray) -> np.ndarray:
    """The same frame with both eyes painted shut over their landmarks."""
    face = face_in(frame)
    out = frame.copy()
    for eye in ("left_eye", "right_eye"):
        points = np.asarray(face.landmarks[eye])
        (x0, y0), (x1, y1) = points.min(0) - 3, points.max(0) + 3
        skin = out[y1 + 6 : y1 + 12, x0:x1].reshape(-1, 3).mean(0)
        out[y0 : y1 + 1, x0 : x1 + 1] = skin.astype(np.uint8)
        middle = int(points[:, 1].mean())
        out[middle : middle + 2, x0 + 2 : x1 - 1] = (60, 40, 40)
    return out


@functools.cache
def blinking(who: str = "astronaut") -> tuple[np.ndarray, ...]:
    """Five frames, the eyes shut in the third: a live visitor asked to blink."""
    frame = astronaut_frame() if who == "astronaut" else hopper_frame()
    shut = eyes_shut(frame)
    return (frame, frame, shut, frame, frame)


@functools.cache
def still_photo() -> tuple[np.ndarray, ...]:
    """A printed photo held still: the same frame five times."""
    return (astronaut_frame(),) * 5


@functools.cache
def waved_photo() -> tuple[np.ndarray, ...]:
    """A printed photo moved and turned in front of the camera, with sensor noise."""
    return tuple(
        on_canvas(astronaut(), at=(64 + 12 * i, 40 + 4 * i), turn=3.0 * i, noise=3, seed=i)
        for i in range(5)
    )


@functools.cache
def two_faces() -> np.ndarray:
    """The astronaut and Grace Hopper side by side, each face big enough alone."""
    left = astronaut()[20:260, 130:330]
    right = np.asarray(Image.fromarray(hopper()[60:420, 100:440]).resize((260, 275)))
    frame = on_canvas(left, at=(20, 100))
    return on_canvas(right, at=(350, 90), canvas=frame)


@functools.cache
def embedding(who: str) -> np.ndarray:
    """The enrolment embedding of a photo as the cloud computes it (the whole photo)."""
    photo = astronaut() if who == "astronaut" else hopper()
    found = model().analyse(photo)
    assert isinstance(found, Face) and found.embedding is not None, found
    return found.embedding
