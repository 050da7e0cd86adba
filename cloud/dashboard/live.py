"""Live updates: notice that the database changed (whichever process changed it) and push the
dashboard's sections to every browser watching, over server-sent events.

Never: rely on one process's memory to learn of a change. Ingest workers, API workers and the
downlink service are separate processes, and ``serve`` may run several workers behind a proxy,
so each worker learns of changes from the database itself:

- **PostgreSQL**: ``LISTEN scenic_dashboard``. Statement triggers on the tables the dashboard
  shows (migration 0009) ``NOTIFY`` in the writer's transaction with the table's schema;
  PostgreSQL delivers at commit to every listening connection, i.e. to every worker, and folds
  repeats within a transaction. A worker counts only its own schema's notifications.
- **SQLite**: there is no NOTIFY, so one thread per worker asks ``PRAGMA data_version`` every
  ``SQLITE_POLL_S`` (0.1 s) on a connection of its own; the number changes when any other
  connection (any process) commits. It is one page-cache read: cheap enough to poll.

Within a worker, one ``ChangeFeed`` thread wakes the streams (``asyncio`` events, woken through
their loop), and ``Hub`` computes one snapshot per change (at most every ``MIN_GAP_S``) and
renders it once per language and permission, whatever the number of browsers. A stream also
wakes every ``TICK_S`` without a change, because time alone changes figures (a gate that says
nothing goes missing). Before each snapshot a stream asks whether its browser's session is
still on; once signed out, revoked, expired or idle, it sends ``signed_out`` and ends: at the
next change or tick, i.e. within ``TICK_S`` (at once on SQLite, where the sign-out's own commit
wakes the feed). A stream also ends after ``STREAM_S``; the browser reconnects at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from cloud.dashboard import render
from cloud.dashboard.i18n import Words
from cloud.services.dashboard_figures import Snapshot

log = logging.getLogger("cloud.dashboard")

CHANNEL = "scenic_dashboard"
SQLITE_POLL_S = 0.1
MIN_GAP_S = 0.25
TICK_S = 5.0
STREAM_S = 120.0
SIGNED_OUT = "event: signed_out\ndata: {}\n\n"


class ChangeFeed:
    """A counter that goes up when the database changed; ``wait`` for it to pass a value."""

    def __init__(self, engine: Engine) -> None:
        self.version = 0
        self._engine = engine
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()  # watching: a commit from now on will be noticed
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            watch = self._listen if self._engine.dialect.name == "postgresql" else self._poll
            self._thread = threading.Thread(target=watch, name="dashboard-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    async def wait(self, seen: int, timeout: float) -> int:
        """Return the version once it differs from ``seen``, or after ``timeout`` seconds."""
        if self.version != seen:
            return self.version
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(entry)
        try:
            if self.version == seen:
                await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(entry)
        return self.version

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: its stream is gone
                loop.call_soon_threadsafe(event.set)

    def _poll(self) -> None:
        path = self._engine.url.database or ""
        seen: int | None = None
        while not self._stop.is_set():
            try:
                with sqlite3.connect(path, timeout=5) as connection:
                    while not self._stop.is_set():
                        (version,) = connection.execute("PRAGMA data_version").fetchone()
                        if seen is not None and version != seen:
                            self._changed()
                        seen = version
                        self.ready.set()
                        self._stop.wait(SQLITE_POLL_S)
            except sqlite3.Error:  # boundary: the file is being replaced or locked; look again
                log.warning("dashboard change poll failed; retrying", exc_info=True)
                self._stop.wait(1)

    def _listen(self) -> None:
        import psycopg

        url = self._engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    row = connection.execute("SELECT current_schema()").fetchone()
                    schema = row[0] if row else "public"
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._changed()  # anything may have changed while we were not listening
                    self.ready.set()
                    while not self._stop.is_set():
                        mine = any(n.payload == schema for n in connection.notifies(timeout=0.2))
                        if mine:
                            self._changed()
            except psycopg.Error:  # boundary: the database went away; listen again
                log.warning("dashboard LISTEN failed; retrying", exc_info=True)
                self._stop.wait(1)


@dataclass
class _Cached:
    key: tuple[object, ...]
    snap: Snapshot
    rendered: dict[tuple[str, bool], str] = field(default_factory=dict)


class Hub:
    """One per worker: snapshots computed once per change and shared by every stream."""

    def __init__(
        self,
        feed: ChangeFeed,
        build: Callable[[str], Snapshot],
        instant: Callable[[], float],
    ) -> None:
        """``build(site)`` reads a snapshot (blocking: run in a thread); ``instant()`` is the
        clock's wall time in seconds, so cached figures expire every ``TICK_S``."""
        self.feed = feed
        self._build = build
        self._instant = instant
        self._lock = asyncio.Lock()
        self._cache: dict[str, _Cached] = {}

    async def payload(self, site: str, lang: str, can_ack: bool) -> tuple[str, int]:
        """The JSON a stream sends: every section, rendered; with the feed version it shows."""
        version = self.feed.version
        key = (version, int(self._instant() // TICK_S))
        async with self._lock:
            cached = self._cache.get(site)
            if cached is None or cached.key != key:
                snap = await asyncio.to_thread(self._build, site)
                cached = self._cache[site] = _Cached(key, snap)
            text = cached.rendered.get((lang, can_ack))
            if text is None:
                snap = cached.snap
                text = json.dumps(
                    {
                        "version": version,
                        "in_park": snap.in_park,
                        "as_of": Words(lang, snap.timezone).clock(snap.now),
                        "sections": render.sections(snap, lang, can_ack),
                    },
                    ensure_ascii=False,
                )
                cached.rendered[(lang, can_ack)] = text
        return text, version

    async def stream(
        self, site: str, lang: str, can_ack: bool, signed_in: Callable[[], bool]
    ) -> AsyncIterator[str]:
        """Server-sent events: a snapshot now, then one whenever the figures change; once
        ``signed_in()`` (blocking: run in a thread) says no, ``signed_out`` and the end."""
        self.feed.start()
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_S
        sent = ""
        yield "retry: 1000\n\n"
        while loop.time() < ends:
            started = loop.time()
            if not await asyncio.to_thread(signed_in):
                yield SIGNED_OUT
                return
            text, version = await self.payload(site, lang, can_ack)
            if text != sent:
                yield f"event: snapshot\ndata: {text}\n\n"
                sent = text
            else:
                yield ": still here\n\n"
            await self.feed.wait(version, TICK_S)
            pause = MIN_GAP_S - (loop.time() - started)
            if pause > 0:
                await asyncio.sleep(pause)
