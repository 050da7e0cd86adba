"""Camera frames as 8-bit grayscale arrays, from the Pi camera, a USB camera or image files.

- ``PiCamera``: picamera2 (Raspberry Pi OS only, the ``pi`` extra) configured for a 640x480
  YUV420 stream; the Y plane *is* the grayscale frame, so no conversion is spent per frame.
- ``VideoCapture``: OpenCV on a V4L2 device (``/dev/video0``) or a video file.
- ``ImageFiles``: a list of images or a directory of them, for tests, the simulator and
  disputes ("decide on this photo").

``open_source(spec)`` builds one from configuration: ``picamera``, ``v4l2:/dev/video0``,
``video:PATH``, ``dir:PATH`` or ``file:PATH``. A source that cannot start raises
``FrameSourceError`` naming what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm")


class FrameSourceError(RuntimeError):
    pass


class FrameSource(Protocol):
    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise FrameSourceError("OpenCV (opencv-python-headless) is not installed") from None
    return cv2


class ImageFiles:
    """Each image once, in order; ``read()`` returns None when they are used up."""

    def __init__(self, paths: list[Path]) -> None:
        self._cv2 = _cv2()
        self._paths: Iterator[Path] = iter(paths)

    @classmethod
    def directory(cls, folder: Path) -> ImageFiles:
        if not folder.is_dir():
            raise FrameSourceError(f"{folder} is not a directory")
        return cls(sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))

    def read(self) -> np.ndarray | None:
        for path in self._paths:
            if not path.is_file():  # before OpenCV, which would print its own warning
                raise FrameSourceError(f"{path}: no such file / 文件不存在")
            frame = self._cv2.imread(str(path), self._cv2.IMREAD_GRAYSCALE)
            if frame is None:
                raise FrameSourceError(f"{path} is not a readable image / 无法读取图片")
            return frame  # type: ignore[no-any-return]
        return None

    def close(self) -> None:
        self._paths = iter(())


class VideoCapture:
    def __init__(self, device: str | int, width: int = 640, height: int = 480) -> None:
        cv2 = self._cv2 = _cv2()
        self._capture = cv2.VideoCapture(device)
        if not self._capture.isOpened():
            raise FrameSourceError(f"cannot open camera or video {device}")
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok:
            return None
        if frame.ndim == 3:
            frame = self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2GRAY)
        return frame  # type: ignore[no-any-return]

    def close(self) -> None:
        self._capture.release()


class PiCamera:
    def __init__(self, width: int = 640, height: int = 480) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise FrameSourceError(
                "picamera2 is not available (Raspberry Pi OS with the pi extra); "
                "use v4l2:/dev/video0 for a USB camera"
            ) from None
        self._camera = Picamera2()
        config = self._camera.create_video_configuration(
            main={"size": (width, height), "format": "YUV420"}
        )
        self._camera.configure(config)
        self._camera.start()
        self._height = height

    def read(self) -> np.ndarray | None:
        yuv = self._camera.capture_array("main")
        return yuv[: self._height]  # type: ignore[no-any-return]  # the Y plane

    def close(self) -> None:
        self._camera.stop()
        self._camera.close()


SOURCE_KINDS = ("picamera", "v4l2", "video", "dir", "file")  # picamera alone, others KIND:TARGET


def check_spec(spec: str) -> None:
    """Refuse a camera spec that no source can open, without opening a device (so
    ``gate-node init`` can check it on a bench with no camera attached)."""
    kind, _, target = spec.partition(":")
    if kind not in SOURCE_KINDS or (kind == "picamera") != (target == ""):
        raise FrameSourceError(
            f"camera {spec!r}: use picamera, v4l2:DEVICE, video:PATH, dir:PATH or file:PATH "
            "/ 摄像头配置无效"
        )


def open_source(spec: str) -> FrameSource:
    check_spec(spec)
    kind, _, target = spec.partition(":")
    if kind == "picamera":
        return PiCamera()
    if kind == "v4l2":
        return VideoCapture(int(target) if target.isdigit() else target)
    if kind == "video":
        return VideoCapture(target)
    if kind == "dir":
        return ImageFiles.directory(Path(target))
    return ImageFiles([Path(target)])  # file
