"""Live updates reach every serve worker, whichever process wrote: a commit through another
engine (another process's connection) wakes the change feed, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

from cloud.dashboard.live import ChangeFeed
from cloud.db import make_engine, session_factory
from cloud.models import Device, Site


def test_a_commit_by_another_connection_wakes_the_dashboards_change_feed(db_url):
    watching, writing = make_engine(db_url), make_engine(db_url)
    feed = ChangeFeed(watching)
    try:
        feed.start()
        assert feed.ready.wait(10), "the change feed did not start watching"

        async def scenario() -> tuple[int, int]:
            seen = feed.version
            with session_factory(writing).begin() as db:  # as an ingest worker would
                db.add(Device(site="S1", node="G9", public_key=bytes(32)))
            return seen, await feed.wait(seen, timeout=10)

        seen, now = asyncio.run(scenario())
        assert now > seen
    finally:
        feed.stop()
        watching.dispose()
        writing.dispose()


def test_without_a_commit_the_change_feed_stays_quiet(db_url):
    engine = make_engine(db_url)
    feed = ChangeFeed(engine)
    try:
        feed.start()
        assert feed.ready.wait(10)

        async def scenario() -> tuple[int, int]:
            seen = feed.version
            with session_factory(engine)() as db:  # a read, as the dashboard itself does
                db.get(Site, "S1")
            return seen, await feed.wait(seen, timeout=0.5)

        seen, now = asyncio.run(scenario())
        assert now == seen
    finally:
        feed.stop()
        engine.dispose()
