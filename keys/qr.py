"""QR rendering of ticket text, and the version a text needs (what a scanner has to resolve).

segno chooses the encoding mode (alphanumeric for our base45 text) and the smallest version.
``render`` lets segno raise the error-correction level when that costs no extra modules
(``boost_error``): a sturdier code for free. ``version_at`` does not, so the figure it gives
is the version at exactly the level asked, for benchmarks and the issue's targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import segno


@dataclass(frozen=True, slots=True)
class QrInfo:
    version: int
    error: str
    modules: int
    mode: str


def _info(code: segno.QRCode) -> QrInfo:
    return QrInfo(
        int(code.version), str(code.error), int(code.symbol_size(border=0)[0]), str(code.mode)
    )


def version_at(text: str, error: str = "M") -> QrInfo:
    code = segno.make(text, error=error.lower(), boost_error=False, micro=False)
    return _info(code)


def render(text: str, out: Path, *, scale: int = 8, error: str = "M") -> QrInfo:
    """Write a PNG or SVG (by the file's suffix) and return what was drawn."""
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{out}: only .png and .svg are supported / 仅支持 .png 和 .svg")
    code = segno.make(text, error=error.lower(), boost_error=True, micro=False)
    code.save(str(out), scale=scale, border=4)
    return _info(code)
