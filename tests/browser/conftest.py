"""Browser-test fixtures: Debian's Chromium through Playwright, the real app (or the page-only stub)
on a live uvicorn, and a page that fails the test on any uncaught script error."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.browser import chromium_available, chromium_context
from tests.live_server import live_server

# lesson pods become ready well under a second of real time at this speed
SIM_SPEED = 20.0
# the ceiling of every wait for a state in the page: generous, a busy machine is slow, a wait for a
# state that comes returns as soon as it does
WAIT_MS = 60_000


def _real_app_available() -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("app.server", "app.sim.cluster"))
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    if not chromium_available():
        pytest.skip("Debian's /usr/bin/chromium is not installed")
    with chromium_context(viewport={"width": 1600, "height": 900}) as ctx:
        ctx.set_default_timeout(WAIT_MS)
        yield ctx


class PageErrors(list):
    """Uncaught errors and console errors seen by a page (404s of favicons and the like excluded)."""


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    pg = browser_context.new_page()
    errors = PageErrors()
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.on(
        "console",
        lambda m: (
            errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    if not pg.is_closed():
        pg.close()
    assert not list(errors), f"the page logged errors: {list(errors)}"


def _close_pages(ctx: Any) -> None:
    """Close the pages before the server stops: an open event stream would hold its shutdown up."""
    for pg in list(ctx.pages):
        pg.close()


@pytest.fixture
def app_url(browser_context: Any) -> Iterator[str]:
    """The real server (simulated cluster with the lesson loaded, debug hooks on)."""
    if not _real_app_available():
        pytest.skip("the server (app/server.py with app/sim/cluster.py) is not there yet")
    from tests.fixtures_app import make_settings, running_app

    with running_app(make_settings(sim_speed=SIM_SPEED), debug_hooks=True) as base:
        yield base + "/"
        _close_pages(browser_context)


@pytest.fixture
def stub_url(browser_context: Any) -> Iterator[str]:
    """The page-only stand-in server (tests/browser/stub_server.py)."""
    from tests.browser.stub_server import create_stub_app

    with live_server(create_stub_app()) as base:
        yield base + "/"
        _close_pages(browser_context)


@pytest.fixture
def stub_readonly_url(browser_context: Any) -> Iterator[str]:
    from tests.browser.stub_server import create_stub_app

    with live_server(create_stub_app(mode="kube", actions=False)) as base:
        yield base + "/"
        _close_pages(browser_context)


@pytest.fixture
def stub_present_url(browser_context: Any) -> Iterator[str]:
    """The stand-in server as with --present: POSTs need X-Slicescope-Token: s3cret."""
    from tests.browser.stub_server import create_stub_app

    with live_server(create_stub_app(present_token="s3cret")) as base:
        yield base + "/"
        _close_pages(browser_context)


@pytest.fixture
def stub_replay_url(browser_context: Any) -> Iterator[str]:
    from tests.browser.stub_server import create_stub_app

    with live_server(create_stub_app(mode="replay", actions=False)) as base:
        yield base + "/"
        _close_pages(browser_context)
