"""Face images kept for disputes (争议留存), only when the operator enables it, and never long.

By default (``keep_images_days`` 0) no image is ever written: the gate holds embeddings only.
An operator who must be able to answer "that was not me" sets 1-30 days in the site's face
settings; then the frame a face decision was made on is kept, AES-GCM encrypted under a key
derived from the node's identity (as vault.py), named by the instant and the reason, and
``prune`` (called at each keep, and by the node's daily housekeeping) deletes every one older
than the limit. Reading one back needs the node's key: ``open_image``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FOLDER = "face-disputes"


class Disputes:
    def __init__(self, directory: Path, key: bytes, keep_days: int) -> None:
        self.folder = directory / FOLDER
        self.keep_days = keep_days
        self._aead = AESGCM(key)

    def keep(self, frame: np.ndarray, at: datetime, reason: str) -> Path | None:
        """Keep one frame (if enabled); returns its path. ``at`` is aware (the node's clock)."""
        if self.keep_days <= 0:
            return None
        self.prune(at)
        ok, png = cv2.imencode(".png", frame)
        if not ok:
            return None
        self.folder.mkdir(mode=0o700, exist_ok=True)
        stamp = int(at.timestamp() * 1000)
        path = self.folder / f"{stamp:015d}-{reason}-{os.urandom(3).hex()}.enc"
        nonce = os.urandom(12)
        path.touch(mode=0o600)
        path.write_bytes(nonce + self._aead.encrypt(nonce, png.tobytes(), path.name.encode()))
        return path

    def prune(self, now: datetime) -> int:
        """Delete images older than the limit (all of them when keeping is off)."""
        if not self.folder.exists():
            return 0
        limit = int((now - timedelta(days=self.keep_days)).timestamp() * 1000)
        gone = 0
        for path in self.folder.glob("*.enc"):
            stamp = path.name.split("-", 1)[0]
            if self.keep_days <= 0 or not stamp.isdigit() or int(stamp) < limit:
                path.unlink(missing_ok=True)
                gone += 1
        return gone

    def open_image(self, path: Path) -> np.ndarray:
        data = path.read_bytes()
        png = self._aead.decrypt(data[:12], data[12:], path.name.encode())
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ValueError(f"{path.name} holds no image")
        return np.asarray(image)
