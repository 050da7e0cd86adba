"""The browser the dashboard and shop tests use starts, draws Chinese text, and goes offline."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_headless_chromium_renders_a_page_offline(phone_context, screenshot):
    page = phone_context.new_page()
    page.set_content(
        "<html lang='zh-CN'><head><meta name='viewport' content='width=device-width'></head>"
        "<body><h1>景区票务 Tickets</h1></body></html>"
    )
    assert page.inner_text("h1") == "景区票务 Tickets"
    assert page.evaluate("window.innerWidth") == 320
    phone_context.set_offline(True)
    assert page.evaluate("navigator.onLine") is False
    assert screenshot(page, "smoke").stat().st_size > 0


def test_tests_after_a_browser_test_can_run_their_own_event_loop(tmp_path):
    """Playwright's sync API leaves its loop marked running on the main thread while the
    session's browser lives; tests/browser.py parks it for tests that do not use the browser.
    Run as a user would: a browser test, then one calling asyncio.run, in one process."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "test_after.py").write_text(
        "import asyncio\n\n"
        "def test_a_browser_first(chromium):\n"
        "    assert chromium.is_connected()\n\n"
        "def test_then_asyncio_run():\n"
        "    async def one():\n"
        "        return 1\n\n"
        "    assert asyncio.run(one()) == 1\n"
    )
    root = Path(__file__).parent.parent
    quiet = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    plugin = ["-p", "tests.browser", "-c", str(root / "pyproject.toml")]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *quiet, *plugin, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "2 passed" in done.stdout
