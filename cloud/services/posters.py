"""QR posters for the entrance: a site's (or one product's) shop address as a big QR code,
with the site's name and "scan to buy" in Chinese and English, as PNG or PDF, A4 or A3.

The PNG is drawn with Pillow, the PDF with fpdf2 (the QR embedded as a lossless PNG, so it
prints sharp at any size). Chinese needs a CJK font (``SCENIC_POSTER_FONT``, default Debian's
fonts-wqy-microhei). Without it a poster is still made, in English only, and ``Poster.font``
is False so the caller can say so: a blank box where the site's name should be is worse.
Never: put anything but the public shop address in the code (no token, no order).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import segno
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("cloud.posters")

# Paper in millimetres (ISO 216); PNGs at 150 dpi, plenty for a QR read from 1-2 metres.
PAPER_MM = {"a4": (210, 297), "a3": (297, 420)}
PNG_DPI = 150
KINDS = ("png", "pdf")
# The QR spans 60% of the page width: on A4 126 mm, readable by a phone from about 1.2 m
# (the rule of thumb: distance = 10 x code width).
QR_SHARE = 0.6


@dataclass(frozen=True)
class Poster:
    body: bytes
    media_type: str
    font: bool  # whether Chinese could be drawn (the CJK font was found)


@dataclass(frozen=True)
class PosterText:
    title_zh: str  # the site's name
    title_en: str
    subtitle_zh: str  # the product's name, or "门票" for the whole shop
    subtitle_en: str
    url: str


def shop_url(base: str, site: str, product_id: int | None = None) -> str:
    """The address a poster's QR code opens: the site's shop, or one product in it."""
    url = f"{base.rstrip('/')}/shop/{site}"
    return f"{url}?product={product_id}" if product_id is not None else url


def make_poster(text: PosterText, kind: str, paper: str, font_path: Path) -> Poster:
    """``kind`` png or pdf, ``paper`` a4 or a3 (checked by the caller)."""
    font = font_path if font_path.is_file() else None
    if font is None:
        log.warning("poster font %s not found: posters are drawn in English only", font_path)
    if kind == "pdf":
        return Poster(_pdf(text, paper, font), "application/pdf", font is not None)
    return Poster(_png(text, paper, font), "image/png", font is not None)


def _lines(text: PosterText, cjk: bool) -> list[tuple[str, float]]:
    """(line, size as a share of the page width), top to bottom above the code."""
    if cjk:
        return [
            (text.title_zh, 0.075),
            (text.title_en, 0.04),
            (f"{text.subtitle_zh} {text.subtitle_en}", 0.035),
        ]
    return [(text.title_en, 0.06), (text.subtitle_en, 0.035)]


def _footer(cjk: bool) -> list[tuple[str, float]]:
    if cjk:
        return [
            ("微信或支付宝扫码购票", 0.055),
            ("Scan with WeChat or Alipay to buy tickets", 0.03),
        ]
    return [("Scan with WeChat or Alipay to buy tickets", 0.035)]


def _qr_image(url: str, pixels: int) -> Image.Image:
    code = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    modules = code.symbol_size(scale=1, border=4)[0]
    code.save(buffer, kind="png", scale=max(1, pixels // modules), border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("L")


def _png(text: PosterText, paper: str, font: Path | None) -> bytes:
    width_mm, height_mm = PAPER_MM[paper]
    width, height = (round(mm / 25.4 * PNG_DPI) for mm in (width_mm, height_mm))
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)

    def write(line: str, share: float, y: int) -> int:
        size = round(width * share)
        face = ImageFont.truetype(str(font), size) if font else ImageFont.load_default(size=size)
        box = draw.textbbox((0, 0), line, font=face)
        draw.text(((width - (box[2] - box[0])) // 2, y), line, fill=0, font=face)
        return y + round(size * 1.5)

    y = round(height * 0.06)
    for line, share in _lines(text, font is not None):
        y = write(line, share, y)
    qr = _qr_image(text.url, round(width * QR_SHARE))
    y += round(height * 0.02)
    page.paste(qr, ((width - qr.width) // 2, y))
    y += qr.height + round(height * 0.02)
    for line, share in _footer(font is not None):
        y = write(line, share, y)
    write(text.url, 0.02, y + round(height * 0.01))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", optimize=True, dpi=(PNG_DPI, PNG_DPI))
    return buffer.getvalue()


def _pdf(text: PosterText, paper: str, font: Path | None) -> bytes:
    width_mm, height_mm = PAPER_MM[paper]
    pdf = FPDF(orientation="P", unit="mm", format=paper.upper())
    pdf.set_auto_page_break(False)
    pdf.add_page()
    family = "helvetica"
    if font is not None:
        pdf.add_font("poster", fname=str(font))
        family = "poster"
    pdf.set_title(f"{text.title_en} - {text.subtitle_en}")

    def write(line: str, share: float, y: float) -> float:
        size_mm = width_mm * share
        pdf.set_font(family, size=size_mm / 0.3528)  # points from millimetres
        pdf.set_xy(0, y)
        pdf.cell(width_mm, size_mm * 1.2, line, align="C")
        return y + size_mm * 1.5

    y = height_mm * 0.06
    for line, share in _lines(text, font is not None):
        y = write(line, share, y)
    qr_mm = width_mm * QR_SHARE
    y += height_mm * 0.02
    buffer = io.BytesIO()
    _qr_image(text.url, 1200).save(buffer, format="PNG")
    pdf.image(buffer, x=(width_mm - qr_mm) / 2, y=y, w=qr_mm, h=qr_mm)
    y += qr_mm + height_mm * 0.02
    for line, share in _footer(font is not None):
        y = write(line, share, y)
    write(text.url, 0.02, y + height_mm * 0.01)
    return bytes(pdf.output())
