"""What browser tests do again and again: find a Service's card and chips, act on a pod through its
panel, and wait until the page's model equals GET api/snapshot."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def post_json(url: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def card(page: Any, key: str) -> Any:
    return page.locator(f'#services .svc[data-key="{key}"]')


def chips(page: Any, key: str, state: str | None = None) -> Any:
    sel = ".chip" + (f".state-{state}" if state else "") + ":not([data-leaving])"
    return card(page, key).locator(sel)


def wait_ready_count(page: Any, key: str, n: int, timeout: float = 60.0) -> None:
    page.wait_for_function(
        """([key, n]) => {
            const card = document.querySelector(`#services .svc[data-key="${key}"]`);
            return !!card && card.querySelectorAll('.chip.state-ready:not([data-leaving])').length === n;
        }""",
        arg=[key, n],
        timeout=timeout * 1000,
    )


def open_pod(page: Any, pod_key: str) -> None:
    page.locator(f'main [data-pod-key="{pod_key}"]').first.click()
    page.wait_for_selector(f"#panel:not([hidden]) .panel-title:text-is('{pod_key.split('/', 1)[1]}')")


def model_matches_snapshot(page: Any, base: str, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until the page's model has the server's seq, then return both (they must be equal)."""
    deadline = time.monotonic() + timeout
    last: tuple[Any, Any] = (None, None)
    while time.monotonic() < deadline:
        snap = get_json(base + "api/snapshot")
        snap.setdefault("deployments", {})  # a server from before the deployments collection sends none
        model = page.evaluate("() => window.slicescope.model")
        if model and model["seq"] == snap["seq"]:
            assert model == snap, "the page's model differs from api/snapshot at the same seq"
            return snap
        last = (model and model["seq"], snap["seq"])
        time.sleep(0.1)
    raise AssertionError(f"the page never caught up with api/snapshot (page seq, server seq) = {last}")
