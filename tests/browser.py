"""Real headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download cannot run here (no network but the package registries), so
the browser is the Debian package at ``CHROMIUM`` (installed by ``make test``) launched with the
flags the project's brief fixes. Screenshots go to ``tests/artifacts/`` (kept by CI).

Use the fixtures: ``chromium`` (one browser per session), ``browser_context`` (a fresh desktop
context per test), ``phone_context`` (a 4-inch phone viewport, touch, zh-CN), and
``screenshot(page, name)`` to save a picture of a step.
"""

from __future__ import annotations

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
