"""Real headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download cannot run here (no network but the package registries), so
the browser is the Debian package at ``CHROMIUM`` (installed by ``make test``) launched with the
flags the project's brief fixes. Screenshots go to ``tests/artifacts/`` (kept by CI).

Use the fixtures: ``chromium`` (one browser per session), ``browser_context`` (a fresh desktop
context per test), ``phone_context`` (a 4-inch phone viewport, touch, zh-CN), and
``screenshot(page, name)`` to save a picture of a step.

Playwright's sync API runs its asyncio loop in a greenlet on the main thread, and while it
lives that loop stays registered as the thread's *running* loop, between calls too (its
``run_until_complete`` is only suspended). With one browser per session, every test after the
first browser test would run "inside" that loop: ``asyncio.run`` refuses to start
("cannot be called from a running event loop"), and anything asking which async library is
running is misled. ``playwright_loop_parked`` (autouse) takes the loop off the thread for each
test that does not use the browser and puts it back afterwards, so the browser is still
started once and the suite passes in any order.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("SCENIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
ARTIFACTS = Path(__file__).parent / "artifacts"
# An iPhone SE (1st generation) class screen: 320 x 568 CSS pixels, the 4-inch phone the
# visitor's shop must work on.
PHONE = {
    "viewport": {"width": 320, "height": 568},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the whole session (starting one costs about a second)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test`, which installs it")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def playwright_loop_parked(request: pytest.FixtureRequest) -> Iterator[None]:
    """For a test that does not use the browser: no running loop left by Playwright's sync API
    on this thread while it runs (module docstring); restored after, for the next browser
    test. A browser test keeps it: Playwright resumes that loop on each call."""
    left = asyncio._get_running_loop()
    if left is None or "chromium" in request.fixturenames:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(left)


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    """A fresh desktop browser context (its own cookies and storage), closed after the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    yield context
    context.close()


@pytest.fixture
def phone_context(chromium: Any) -> Iterator[Any]:
    """A fresh phone-sized context (320 x 568, touch, zh-CN), closed after the test."""
    context = chromium.new_context(**PHONE)
    yield context
    context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``screenshot(page, "step")`` saves ``tests/artifacts/<test>-<step>.png``."""

    def take(page: Any, step: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{step}.png".replace("/", "_")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
