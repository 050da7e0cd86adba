"""Ahead: the expected in-park peak of the rest of the day, and when unclaimed slot places
could be released. A pure function of today's figures; no database, no clock of its own.

How it is estimated (the page says the same in both languages):

1. *Who is still coming*: for each slot, the places booked but not yet arrived, times today's
   show rate. The show rate is arrived ÷ booked over the slots whose arrival window is over
   (slot end plus the gates' 30 minutes of grace, keys/rules.SlotGrace); until one is over, 90%.
   They arrive evenly over the part of their slot's window (15 minutes before the start to 30
   after the end) that is still ahead. Whole-day tickets arrive evenly until ``LAST_ENTRY``.
2. *How long people stay*: the time spent inside by everyone so far (the area under today's
   in-park curve) ÷ entries, once at least half of the day's visitors have left; before that
   2.5 hours. Clamped to 30 minutes .. 8 hours.
3. *The curve*: those inside now leave at a steady rate (1/stay per hour); each newcomer leaves
   one stay after arriving. Stepped every 15 minutes to midnight; the peak is the highest
   point of the curve so far and of this projection.

A slot's unclaimed places (booked, not arrived) can be released when its window closes (slot
end + 30 min grace): from then on the gates refuse its tickets anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keys.rules import SlotGrace

DEFAULT_SHOW_RATE = 0.9
DEFAULT_STAY_MIN = 150
STAY_BOUNDS = (30, 480)
LAST_ENTRY = 17 * 60  # whole-day tickets: last expected arrival, site time (minutes)
STEP = 15  # minutes


@dataclass(frozen=True)
class SlotOutlook:
    slot_start: int | None  # minutes of the day; None: a whole-day product
    slot_end: int | None
    booked: int
    arrived: int


@dataclass(frozen=True)
class Release:
    slot_start: int
    slot_end: int
    release_at: int  # minute of the day
    unclaimed: int  # now (window closed) or expected (window still open)
    final: bool  # True once the window has closed: the number is counted, not expected


@dataclass
class Forecast:
    peak: int
    peak_minute: int | None
    peak_is_past: bool  # the day's highest point was already reached
    projection: list[tuple[int, int]]  # (minute of day, expected in park), from now on
    show_rate: float
    show_rate_measured: bool
    stay_min: int
    stay_measured: bool
    still_coming: int
    releases: list[Release] = field(default_factory=list)

    @classmethod
    def empty(cls) -> Forecast:
        return cls(0, None, False, [], DEFAULT_SHOW_RATE, False, DEFAULT_STAY_MIN, False, 0)


def forecast(
    *,
    minute_now: int,
    curve: list[int],
    entries: int,
    exits: int,
    slots: list[SlotOutlook],
    grace: SlotGrace,
) -> Forecast:
    """``curve``: in park at the end of each 15-minute bucket of today up to now."""
    over = [
        s
        for s in slots
        if s.slot_end is not None and s.slot_end + grace.after <= minute_now and s.booked
    ]
    booked_over = sum(s.booked for s in over)
    measured = booked_over > 0
    show = min(1.0, sum(s.arrived for s in over) / booked_over) if measured else DEFAULT_SHOW_RATE
    area = sum(curve) * STEP  # person-minutes so far
    stay_measured = entries > 0 and exits * 2 >= entries
    stay = round(area / entries) if stay_measured else DEFAULT_STAY_MIN
    stay = max(STAY_BOUNDS[0], min(STAY_BOUNDS[1], stay))

    arrivals: dict[int, float] = {}  # step start minute -> expected arrivals in that step
    still_coming = 0.0
    releases = []
    for s in slots:
        if s.slot_start is None or s.slot_end is None:
            opens, closes = minute_now, max(minute_now, LAST_ENTRY)
        else:
            opens, closes = s.slot_start - grace.before, s.slot_end + grace.after
        expected = max(0.0, s.booked * show - s.arrived)
        if s.slot_start is not None and s.slot_end is not None:
            closed = closes <= minute_now
            releases.append(
                Release(
                    s.slot_start,
                    s.slot_end,
                    closes,
                    max(0, s.booked - s.arrived) if closed else round(s.booked - s.booked * show),
                    closed,
                )
            )
        begin = max(opens, minute_now)
        if expected <= 0 or closes <= begin:
            continue
        still_coming += expected
        for minute in range(begin - begin % STEP, closes, STEP):
            lo, hi = max(minute, begin), min(minute + STEP, closes)
            if hi > lo:
                share = expected * (hi - lo) / (closes - begin)
                arrivals[minute] = arrivals.get(minute, 0.0) + share

    in_park_now = curve[-1] if curve else max(0, entries - exits)
    projection = []
    inside = float(in_park_now)
    newcomers: list[tuple[int, float]] = []
    start = minute_now - minute_now % STEP + STEP
    for minute in range(start, 24 * 60 + 1, STEP):
        inside *= max(0.0, 1 - STEP / stay)
        came = arrivals.get(minute - STEP, 0.0)
        if came:
            newcomers.append((minute, came))
        still_in = sum(n for at, n in newcomers if minute - at < stay)
        projection.append((minute, round(inside + still_in)))

    past_peak = max(curve) if curve else 0
    past_minute = (curve.index(past_peak) + 1) * STEP if curve and past_peak else None
    ahead = max(projection, key=lambda p: p[1]) if projection else None
    peak_minute: int | None
    if ahead is not None and ahead[1] > past_peak:
        peak, peak_minute, is_past = ahead[1], ahead[0], False
    else:
        peak, peak_minute, is_past = past_peak, past_minute, True
    return Forecast(
        peak=peak,
        peak_minute=peak_minute,
        peak_is_past=is_past,
        projection=projection,
        show_rate=show,
        show_rate_measured=measured,
        stay_min=stay,
        stay_measured=stay_measured,
        still_coming=round(still_coming),
        releases=releases,
    )
