"""Launching Debian's Chromium through Playwright (never `playwright install`); used by the tests
and by shoot.py."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


@contextlib.contextmanager
def chromium_context(**context_options: Any) -> Iterator[Any]:
    """A persistent context on a fresh user-data dir (deleted afterwards); yields the BrowserContext."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="slicescope-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            **{"viewport": {"width": 1600, "height": 900}, **context_options},
        )
        try:
            yield ctx
        finally:
            ctx.close()
