"""Suppress repeated reads of the same code while it stays in front of the reader.

A camera at 30 frames a second sees a phone held up for two seconds sixty times. The first
read is decided; the same text again within ``hold_s`` of its *last* sighting is dropped, so a
code kept in view stays suppressed, and comes back only once it has been away for ``hold_s``
(a visitor who was refused and tries again). Time is passed in (monotonic seconds).
"""

from __future__ import annotations


class RepeatFilter:
    def __init__(self, hold_s: float = 3.0) -> None:
        self.hold_s = hold_s
        self._last_seen: dict[str, float] = {}

    def fresh(self, text: str, now: float) -> bool:
        """True the first time ``text`` is seen, or after it was away for ``hold_s``."""
        last = self._last_seen.get(text)
        self._last_seen[text] = now
        if len(self._last_seen) > 256:
            self._forget_before(now - self.hold_s)
        return last is None or now - last >= self.hold_s

    def _forget_before(self, cutoff: float) -> None:
        for text in [t for t, seen in self._last_seen.items() if seen < cutoff]:
            del self._last_seen[text]
