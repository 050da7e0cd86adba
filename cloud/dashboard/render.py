"""The dashboard's HTML: the whole page for a first paint, and its sections for live updates.

Never: put a per-user secret into a section. Sections are rendered once per snapshot, language
and permission and sent to every browser watching that site, so the CSRF token stays in the
page's ``<meta>`` and the page's script copies it into forms that arrive live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from cloud.dashboard import charts
from cloud.dashboard.i18n import Words, hm, number, yuan
from cloud.services.dashboard_figures import Snapshot

HERE = Path(__file__).parent
STATIC = HERE / "static"
SECTIONS = ("attention", "now", "charts", "ahead", "gates")

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(yuan=yuan, hm=hm, number=number)


def page(
    snap: Snapshot | None,
    lang: str,
    *,
    user: str,
    role: str,
    csrf: str,
    can_ack: bool,
    sites: list[str] | None = None,
    notice: str | None = None,
) -> str:
    words = Words(lang, snap.timezone if snap else _zone_default())
    context: dict[str, Any] = {
        "t": words,
        "snap": snap,
        "user": user,
        "role": role,
        "csrf": csrf,
        "can_ack": can_ack,
        "sites": sites or [],
        "notice": words.notice(notice) if notice else None,
        "sections": _sections(snap, words, can_ack, csrf) if snap else {},
    }
    return _env.get_template("dashboard.html").render(context)


def sections(snap: Snapshot, lang: str, can_ack: bool) -> dict[str, str]:
    """Each section's inner HTML, for a live update (forms get their CSRF token in the page)."""
    words = Words(lang, snap.timezone)
    return {name: str(html) for name, html in _sections(snap, words, can_ack, "").items()}


def login(
    lang: str, csrf: str, error: str | None = None, username: str = "", signed_in: bool = False
) -> str:
    """The sign-in form; with ``signed_in``, the reason this account may not look and a
    sign-out button instead."""
    words = Words(lang, _zone_default())
    return _env.get_template("login.html").render(
        t=words,
        csrf=csrf,
        error=words(error) if error else None,
        username=username,
        signed_in=signed_in,
    )


def passes(
    lang: str,
    products: list[Any],
    *,
    user: str,
    role: str,
    csrf: str,
    can_edit: bool,
    levels: tuple[str, ...],
    notice: str | None = None,
) -> str:
    """The annual-pass renewal rules page: one form per annual product (read-only unless
    ``can_edit``), a row's ``error`` shown above its form."""
    words = Words(lang, _zone_default())
    return _env.get_template("passes.html").render(
        t=words,
        products=products,
        user=user,
        role=role,
        csrf=csrf,
        can_edit=can_edit,
        levels=levels,
        notice=words.notice(notice) if notice else None,
    )


def refused(lang: str, error: str) -> str:
    """A page that says why this signed-in account may not do what its form asked (the
    ``WORDS`` key ``error``), with the way back to the dashboard: a browser gets words, not the
    API's problem JSON."""
    words = Words(lang, _zone_default())
    return _env.get_template("refused.html").render(t=words, error=words(error))


def _zone_default() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def _sections(snap: Snapshot, words: Words, can_ack: bool, csrf: str) -> dict[str, Markup]:
    context = {
        "t": words,
        "snap": snap,
        "can_ack": can_ack,
        "csrf": csrf,
        "charts": _charts(snap, words),
        "slot_name": lambda s: _slot_name(s, words),
    }
    return {name: Markup(_env.get_template(f"{name}.html").render(context)) for name in SECTIONS}


def _slot_name(slot: Any, words: Words) -> str:
    if slot.slot_start is None:
        return f"{words.pick(slot.product_zh, slot.product_en)} · {words('whole_day')}"
    return f"{hm(slot.slot_start)}–{hm(slot.slot_end)}"


def _charts(snap: Snapshot, words: Words) -> dict[str, Markup]:
    hours = snap.entries_by_hour()
    peak = snap.peak_arrival()
    curve_so_far = [(i * 15 + 15, v) for i, v in enumerate(snap.in_park_curve())]
    timed = [s for s in snap.slots if s.slot_start is not None]
    shown = timed or snap.slots
    return {
        "entries_by_hour": charts.columns(
            [f"{h:02d}" for h in range(24)],
            hours,
            label=words("entries_by_hour"),
            highlight=(peak[0] // 60) if peak else None,
        ),
        "in_park_curve": charts.curve(
            curve_so_far,
            snap.outlook.projection,
            label=words("in_park_curve"),
            now_minute=snap.minute_now,
            legend=(words("so_far"), words("forecast")),
        ),
        "sales_by_channel": charts.bars(
            [(words.channel(c), fen) for c, fen in snap.sales_by_channel.items()],
            label=words("sales_by_channel"),
            show=yuan,
        ),
        "zones": charts.bars(
            [(words.pick(zh, en), n) for _, zh, en, n in snap.zones],
            label=words("by_zone"),
            show=number,
            width=300,
            left=80,
            right=44,
        ),
        "slot_fill": charts.fill(
            [
                (
                    _slot_name(s, words),
                    s.taken,
                    s.capacity,
                    s.warn_percent,
                    "stopped" if s.stopped else "warning" if s.warning else "ok",
                )
                for s in shown
            ],
            label=words("slot_fill"),
        ),
        "booked_vs_arrived": charts.pairs(
            [(_slot_name(s, words), s.booked, s.arrived) for s in shown],
            label=words("booked_vs_arrived"),
            legend=(words("booked"), words("arrived")),
        ),
    }
