"""Real Chromium as the attacker. A page on a second origin (another port of 127.0.0.1) auto-submits
a text/plain form to the scale action and to the simulated API, fires no-cors fetches at the console,
loads an <img> of a console command, frames the dashboard and opens its event stream: each is
refused and the cluster is unchanged. A rebinding name that resolves to 127.0.0.1 gets the 400.
The dashboard's own page still acts, presenter too."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.browser.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available
from tests.fixtures_app import make_settings, running_app, wait_for
from tests.security.helpers import host_port

pytestmark = pytest.mark.browser

REBIND = "rebind.evil.example"
PRESENTER = "presenter-token-77"


@contextlib.contextmanager
def evil_site(pages: dict[str, str]) -> Iterator[str]:
    """Another origin on 127.0.0.1 (its own port) serving fixed HTML pages."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0], "not here").encode()
            self.send_response(200 if self.path.split("?")[0] in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not chromium_available():
        pytest.skip("Debian's /usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBIND} 127.0.0.1"],
            headless=True,
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context()
    try:
        yield ctx
    finally:
        ctx.close()


class Seen:
    """ASGI wrapper around the app: the status of every response, by request path (what the server
    answered, whether or not the browser shows the attacking page the response)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.statuses: list[tuple[str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append((scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, send if scope["type"] != "http" else watch)

    def of(self, path: str) -> list[int]:
        return [status for seen, status in list(self.statuses) if seen == path]


@pytest.fixture
def served() -> Iterator[tuple[str, Seen]]:
    from app.server import create_app
    from tests.live_server import live_server

    seen = Seen(create_app(make_settings(sim_speed=20)))
    with live_server(seen) as base:
        yield base, seen


@pytest.fixture
def target(served: tuple[str, Seen]) -> str:
    return served[0]


def state(base: str) -> tuple[dict[str, int], list[str]]:
    snap = httpx.get(f"{base}/api/snapshot", timeout=30).json()
    replicas = {key: d["replicas"] for key, d in snap["deployments"].items()}
    pods = sorted(f"{p['name']}:{json.dumps(p['labels'], sort_keys=True)}" for p in snap["pods"].values())
    return replicas, pods


def attack_page(base: str, api_token: str) -> str:
    scale = f"{base}/api/actions/scale"
    pods = f"{base}/k8s/t/{api_token}/api/v1/namespaces/default/pods"  # as if the token had leaked
    label_all = json.dumps({"command": "kubectl label pods --all owned=yes --overwrite"})
    delete_all = "kubectl%20delete%20pods%20--all"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "planted", "x": "'"}, "spec": {}}
    pod_name, pod_value = json.dumps(pod).split("'", 1)
    return f"""<!doctype html><html><body>
<form id="scale" method="POST" action="{scale}" enctype="text/plain" target="sink1">
  <input name='{{"namespace":"default","name":"shipping-api","replicas":0,"pad":"' value='"}}'>
</form>
<form id="plant" method="POST" action="{pods}" enctype="text/plain" target="sink2">
  <input name='{pod_name}' value='{pod_value}'>
</form>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<img src="{base}/api/console/stream?command={delete_all}">
<iframe src="{base}/"></iframe>
<script>
  document.getElementById("scale").submit();
  document.getElementById("plant").submit();
  const run = "{base}/api/console/run";
  const body = {json.dumps(label_all)};
  window.attempts = Promise.allSettled([
    fetch(run, {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}}),
    fetch(run, {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "application/json"}}, body}}),
    fetch(run, {{method: "POST", mode: "no-cors", body: new Blob([body])}}),
    fetch("{base}/api/actions/scale", {{method: "POST", mode: "no-cors", credentials: "include",
      body: new URLSearchParams({{namespace: "default", name: "web", replicas: "0"}})}}),
  ]).then(() => new Promise((done) => {{
    const events = new EventSource("{base}/events");
    events.onerror = () => {{ events.close(); done("done"); }};
    events.onmessage = () => {{ events.close(); done("read the stream"); }};
  }}));
</script></body></html>"""


def test_another_origin_cannot_change_the_cluster(served: tuple[str, Seen], context: Any) -> None:
    target, seen = served
    api_token = seen.state.runtime.api_token
    before = state(target)
    assert before[0]["default/shipping-api"] > 0 and before[1]
    pods = f"/k8s/t/{api_token}/api/v1/namespaces/default/pods"
    attacks = ("/api/actions/scale", "/api/console/run", "/api/console/stream", pods, "/", "/events")
    with evil_site({"/": attack_page(target, api_token)}) as evil:
        page = context.new_page()
        page.goto(evil + "/")
        assert page.evaluate("() => window.attempts") == "done"
        wait_for(lambda: sum(len(seen.of(p)) for p in attacks) >= 9, timeout=60, what="the 9 attempts")
        page.close()
    assert seen.of("/api/actions/scale") == [403, 403], seen.statuses
    assert seen.of("/api/console/run") == [403, 403, 403], seen.statuses
    assert seen.of("/api/console/stream") == [403], seen.statuses
    assert seen.of(pods) == [403], seen.statuses
    assert seen.of("/") == [403] and seen.of("/events") == [403], seen.statuses  # no frame, no stream
    after = state(target)
    assert after == before, "a page of another origin changed the cluster"
    assert not any("owned" in p or "planted" in p for p in after[1])


def test_a_rebinding_name_cannot_read_or_drive_the_dashboard(target: str, context: Any) -> None:
    _, port = host_port(target)
    page = context.new_page()
    response = page.goto(f"http://{REBIND}:{port}/")
    assert response is not None and response.status == 400
    assert f"--allowed-host {REBIND}" in page.inner_text("body")
    statuses = page.evaluate(
        """async () => {
            const read = await fetch("/api/snapshot");
            const act = await fetch("/api/actions/scale", {method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({namespace: "default", name: "web", replicas: 0})});
            return [read.status, act.status, (await read.text()).includes('"pods"')];
        }"""
    )
    assert statuses == [400, 400, False]
    assert state(target)[0]["default/web"] > 0
    page.close()


def _post_from_page(page: Any, body: dict[str, Any]) -> dict[str, Any]:
    return page.evaluate(
        """async (body) => {
            const http = await import("./static/js/http.js");
            const res = await http.postJSON("api/actions/scale", body);
            return {status: res.status, message: res.message};
        }""",
        body,
    )


def test_the_dashboard_page_itself_still_acts(target: str, context: Any) -> None:
    page = context.new_page()
    page.goto(target + "/")
    page.wait_for_selector('[data-part="badge"][data-state="live"]', timeout=60_000)
    token = page.get_attribute('meta[name="slicescope-csrf"]', "content")
    assert token and token == httpx.get(f"{target}/api/csrf").json()["token"]
    result = _post_from_page(page, {"namespace": "default", "name": "web", "replicas": 1})
    assert result["status"] == 200, result
    assert state(target)[0]["default/web"] == 1
    page.close()


def test_presenter_page_acts_and_a_viewer_page_does_not(context: Any) -> None:
    settings = make_settings(sim_speed=20, present=True, present_token=PRESENTER)
    with running_app(settings) as base:
        presenter = context.new_page()
        presenter.goto(f"{base}/?token={PRESENTER}")
        presenter.wait_for_selector('[data-part="badge"][data-state="live"]', timeout=60_000)
        assert "token=" not in presenter.url  # taken out of the address bar
        result = _post_from_page(presenter, {"namespace": "default", "name": "web", "replicas": 2})
        assert result["status"] == 200, result
        viewer = context.new_page()
        viewer.goto(f"{base}/")
        viewer.wait_for_selector('[data-part="badge"][data-state="live"]', timeout=60_000)
        refused = _post_from_page(viewer, {"namespace": "default", "name": "web", "replicas": 0})
        assert refused == {"status": 403, "message": "only the presenter can change the cluster"}
        assert state(base)[0]["default/web"] == 2
        presenter.close()
        viewer.close()
