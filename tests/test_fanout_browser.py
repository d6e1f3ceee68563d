"""A real browser moved from one replica to another: Chromium opens the page through a TCP proxy in
front of replica B (as a Service would), the proxy then sends it to replica C; the page reconnects
with B's id, gets C's snapshot and keeps following C, its model equal to C's /api/snapshot."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.browser.browser import chromium_available, chromium_context
from tests.browser.helpers import model_matches_snapshot
from tests.fixtures_app import wait_for
from tests.kube.simapi import TcpProxy
from tests.test_fanout import ready_shipping, two_replicas
from tests.test_sse_live import post

pytestmark = pytest.mark.browser

T = TypeVar("T")
CEILING = 60  # seconds: every wait is for a state, this long at most on a busy machine


class BackgroundLoop:
    """An event loop in a thread, for the asyncio TCP proxy next to the sync Playwright test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="proxy-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=CEILING)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not chromium_available():
        pytest.skip("Debian's /usr/bin/chromium is not installed")
    with chromium_context() as ctx:
        yield ctx


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_page_moved_to_another_replica_gets_its_snapshot_and_follows_it(
    browser: Any, tmp_path: Path
) -> None:
    with (
        two_replicas(tmp_path, (1_000_000, 1_000_000)) as (a, b, c),
        httpx.Client(base_url=a, timeout=CEILING) as http_a,
    ):
        for replica in (b, c):
            with httpx.Client(base_url=replica.url, timeout=CEILING) as http:
                ready_shipping(http)
        bg = BackgroundLoop()
        proxy = TcpProxy(port_of(b.url))
        errors: list[str] = []
        try:
            bg.run(proxy.start())
            front = f"http://127.0.0.1:{proxy.port}/"
            page = browser.new_page()
            page.set_default_timeout(CEILING * 1000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(front)
            wait_for(lambda: len(b.hub.clients) == 1, timeout=CEILING, what="the page's stream on replica B")
            model_matches_snapshot(page, b.url + "/", timeout=CEILING)

            # the Service sends the browser elsewhere: B's connections end, new ones reach C
            bg.run(proxy.stop())
            proxy.upstream_port = port_of(c.url)
            bg.run(proxy.start())
            wait_for(lambda: len(c.hub.clients) == 1, timeout=CEILING, what="the page's stream on replica C")
            model_matches_snapshot(page, c.url + "/", timeout=CEILING)

            # it follows C from there
            post(http_a, "scale", {"namespace": "default", "name": "shipping-api", "replicas": 5})
            with httpx.Client(base_url=c.url, timeout=CEILING) as http_c:
                ready_shipping(http_c, replicas=5)
            model = model_matches_snapshot(page, c.url + "/", timeout=CEILING)
            assert len([p for p in model["pods"].values() if p["labels"].get("app") == "shipping-api"]) == 5
            wait_for(
                lambda: page.evaluate("() => window.slicescope.link.state") == "live",
                timeout=CEILING,
                what="the page's link live",
            )
            # B notices the dropped connection when it next writes to it (a ping at the latest)
            wait_for(lambda: not b.hub.clients, timeout=CEILING, what="replica B without streams")
            page.close()
        finally:
            for pg in list(browser.pages):
                pg.close()
            bg.run(proxy.stop())
            bg.close()
        assert not errors, errors
