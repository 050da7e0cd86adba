"""QR codes from camera frames: zxing-cpp first, pyzbar when zxing-cpp finds nothing.

zxing-cpp is restricted to QR (searching every symbology costs time and invites misreads of
printed barcodes nearby) and reads inverted (dark-mode phone screens) and tilted codes; pyzbar
(libzbar0) is a second opinion on frames zxing-cpp gives up on. Frames are 8-bit grayscale
numpy arrays (the Y plane of the Pi camera, or a converted USB camera frame); a phone screen
and a paper ticket go through the same path.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import zxingcpp

log = logging.getLogger(__name__)

try:
    from pyzbar import pyzbar as _pyzbar

    _ZBAR_QR = [_pyzbar.ZBarSymbol.QRCODE]
except (ImportError, OSError):  # libzbar0 missing: the fallback is simply not there
    _pyzbar = None


# A plain enum member, wrapped per call: a module-level ``BarcodeFormats`` instance outlives
# zxing-cpp's nanobind module at interpreter exit, and nanobind then prints ~15 "leaked" lines.
_QR_ONLY = zxingcpp.BarcodeFormat.QRCode


def decode_zxing(frame: np.ndarray) -> list[str]:
    formats = zxingcpp.BarcodeFormats(_QR_ONLY)
    return [r.text for r in zxingcpp.read_barcodes(frame, formats=formats)]


def decode_zbar(frame: np.ndarray) -> list[str]:
    if _pyzbar is None:
        return []
    return [r.data.decode("latin-1") for r in _pyzbar.decode(frame, symbols=_ZBAR_QR)]


class QrDecoder:
    """``decode(frame)`` -> texts of the QR codes in it (usually zero or one)."""

    def __init__(self, fallback: bool = True) -> None:
        self.fallback = fallback and _pyzbar is not None
        if fallback and _pyzbar is None:
            log.warning("pyzbar/libzbar0 not available: QR fallback decoder disabled")

    def decode(self, frame: Any) -> list[str]:
        texts = decode_zxing(frame)
        if not texts and self.fallback:
            texts = decode_zbar(frame)
        return texts
