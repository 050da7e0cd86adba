"""Charts as server-rendered SVG: no JavaScript library, nothing fetched, works offline.

Never: style with attributes the page's CSP would block (``style=``); colours come from classes
in static/dashboard.css, so the charts follow the page's look. Every label is escaped.
Each function returns markup ready to embed; sizes are in SVG user units and the SVG scales to
its box (``viewBox``, width 100%).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from cloud.dashboard.i18n import hm


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _nice_max(value: float) -> int:
    """A round top for an axis: 1, 2, 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def columns(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    label: str,
    highlight: int | None = None,
    width: int = 560,
    height: int = 200,
) -> Markup:
    """Vertical bars (entries by hour); ``highlight`` is the index drawn as the peak."""
    left, bottom, top = 34, 22, 12
    plot_w, plot_h = width - left - 6, height - bottom - top
    peak = _nice_max(max(values, default=0))
    n = max(1, len(values))
    slot = plot_w / n
    body = _grid(left, top, plot_w, plot_h, peak)
    for i, value in enumerate(values):
        h = plot_h * value / peak
        x = left + i * slot + slot * 0.15
        cls = "bar peak" if i == highlight else "bar"
        body.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}"><title>{escape(labels[i])}: '
            f"{value}</title></rect>"
        )
        if n <= 24 and i % 2 == 0:
            body.append(
                f'<text class="tick" x="{left + i * slot + slot / 2:.1f}" y="{height - 6}" '
                f'text-anchor="middle">{escape(labels[i])}</text>'
            )
        if i == highlight and value:
            body.append(
                f'<text class="value" x="{left + i * slot + slot / 2:.1f}" '
                f'y="{top + plot_h - h - 3:.1f}" text-anchor="middle">{value}</text>'
            )
    return _svg(width, height, label, body)


def _grid(left: int, top: int, plot_w: float, plot_h: float, peak: int) -> list[str]:
    body = []
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        body.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        body.append(
            f'<text class="tick" x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">'
            f"{_short(peak * k / 4)}</text>"
        )
    return body


def _short(value: float) -> str:
    if value >= 10000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def curve(
    so_far: Sequence[tuple[int, int]],
    ahead: Sequence[tuple[int, int]],
    *,
    label: str,
    now_minute: int,
    legend: tuple[str, str],
    width: int = 560,
    height: int = 200,
) -> Markup:
    """In the park over the day: measured (solid, filled) and expected (dashed), x in minutes."""
    left, bottom, top = 40, 22, 20
    plot_w, plot_h = width - left - 8, height - bottom - top
    points = [*so_far, *ahead]
    busy = [m for m, v in points if v > 0] or [now_minute]
    first = max(0, min(6 * 60, (min(busy) // 60) * 60))
    last = min(24 * 60, max(20 * 60, ((max(busy) + 59) // 60) * 60, now_minute + 60))
    span = max(60, last - first)
    peak = _nice_max(max((v for _, v in points), default=0))

    def x(minute: int) -> float:
        return left + plot_w * (min(max(minute, first), last) - first) / span

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / peak

    body = _grid(left, top, plot_w, plot_h, peak)
    for hour in range(first // 60, last // 60 + 1, 2):
        body.append(
            f'<text class="tick" x="{x(hour * 60):.1f}" y="{height - 6}" '
            f'text-anchor="middle">{hour:02d}</text>'
        )
    if so_far:
        path = " ".join(f"{x(m):.1f},{y(v):.1f}" for m, v in so_far)
        base = f"{x(so_far[-1][0]):.1f},{y(0):.1f} {x(so_far[0][0]):.1f},{y(0):.1f}"
        body.append(f'<polygon class="area" points="{path} {base}"/>')
        body.append(f'<polyline class="line" points="{path}"/>')
    if ahead:
        start = [so_far[-1]] if so_far else []
        path = " ".join(f"{x(m):.1f},{y(v):.1f}" for m, v in [*start, *ahead])
        body.append(f'<polyline class="line ahead" points="{path}"/>')
    body.append(
        f'<line class="now" x1="{x(now_minute):.1f}" x2="{x(now_minute):.1f}" '
        f'y1="{top}" y2="{top + plot_h}"/>'
    )
    body.append(
        f'<text class="tick" x="{x(now_minute) + 3:.1f}" y="{top + 8}">{hm(now_minute)}</text>'
    )
    key = left + plot_w - 150  # the legend, top right: clear of the "now" label on the left
    body.append(
        f'<line class="line" x1="{key}" x2="{key + 18}" y1="{top - 6}" y2="{top - 6}"/>'
        f'<text class="tick" x="{key + 22}" y="{top - 3}">{escape(legend[0])}</text>'
        f'<line class="line ahead" x1="{key + 80}" x2="{key + 98}" y1="{top - 6}" '
        f'y2="{top - 6}"/><text class="tick" x="{key + 102}" y="{top - 3}">'
        f"{escape(legend[1])}</text>"
    )
    return _svg(width, height, label, body)


def bars(
    items: Sequence[tuple[str, int]],
    *,
    label: str,
    show: Callable[[int], str] = str,
    width: int = 560,
    row: int = 26,
    left: int = 110,
    right: int = 110,
) -> Markup:
    """Horizontal bars, one row per item (sales by channel, in park by zone)."""
    height = max(1, len(items)) * row + 8
    peak = max((v for _, v in items), default=0) or 1
    body = []
    for i, (name, value) in enumerate(items):
        y = 4 + i * row
        w = (width - left - right) * value / peak
        body.append(
            f'<text class="label" x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<rect class="bar" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" rx="3"/>'
            f'<text class="value" x="{left + w + 6:.1f}" y="{y + row / 2 + 4:.1f}">'
            f"{escape(show(value))}</text>"
        )
    return _svg(width, height, label, body)


def fill(
    items: Sequence[tuple[str, int, int, int, str]],
    *,
    label: str,
    width: int = 560,
    row: int = 26,
) -> Markup:
    """Slot fill: (name, taken, capacity, warn percent, state) as a bar against its capacity,
    with the warning (预警) threshold marked; the bar's class is the state."""
    left, right = 110, 120
    height = max(1, len(items)) * row + 8
    plot = width - left - right
    body = []
    for i, (name, taken, capacity, warn, state) in enumerate(items):
        y = 4 + i * row
        share = min(1.0, taken / capacity) if capacity else 0.0
        body.append(
            f'<text class="label" x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<rect class="track" x="{left}" y="{y + 4}" width="{plot}" '
            f'height="{row - 10}" rx="3"/>'
            f'<rect class="bar {escape(state)}" x="{left}" y="{y + 4}" width="{plot * share:.1f}" '
            f'height="{row - 10}" rx="3"/>'
            f'<line class="warn" x1="{left + plot * warn / 100:.1f}" '
            f'x2="{left + plot * warn / 100:.1f}" y1="{y + 2}" y2="{y + row - 4}"/>'
            f'<text class="value" x="{left + plot + 6}" y="{y + row / 2 + 4:.1f}">'
            f"{taken}/{capacity} ({share * 100:.0f}%)</text>"
        )
    return _svg(width, height, label, body)


def pairs(
    items: Sequence[tuple[str, int, int]],
    *,
    label: str,
    legend: tuple[str, str],
    width: int = 1120,
    row: int = 30,
) -> Markup:
    """Booked versus arrived per slot: two bars per row; the gap is the no-shows so far."""
    left, right = 110, 90
    height = max(1, len(items)) * row + 24
    peak = max((max(b, a) for _, b, a in items), default=0) or 1
    plot = width - left - right
    body = [
        f'<rect class="bar booked" x="{left}" y="4" width="12" height="10"/>'
        f'<text class="tick" x="{left + 16}" y="13">{escape(legend[0])}</text>'
        f'<rect class="bar" x="{left + 90}" y="4" width="12" height="10"/>'
        f'<text class="tick" x="{left + 106}" y="13">{escape(legend[1])}</text>'
    ]
    for i, (name, booked, arrived) in enumerate(items):
        y = 22 + i * row
        body.append(
            f'<text class="label" x="{left - 8}" y="{y + row / 2 + 2:.1f}" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<rect class="bar booked" x="{left}" y="{y + 3}" width="{plot * booked / peak:.1f}" '
            f'height="{row / 2 - 5:.1f}" rx="2"/>'
            f'<rect class="bar" x="{left}" y="{y + row / 2:.1f}" '
            f'width="{plot * arrived / peak:.1f}" height="{row / 2 - 5:.1f}" rx="2"/>'
            f'<text class="value" x="{left + plot + 6}" y="{y + row / 2 + 2:.1f}">'
            f"{arrived}/{booked}</text>"
        )
    return _svg(width, height, label, body)
