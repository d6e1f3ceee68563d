"""The page pointed at a real cluster through --kubeconfig: server A is the simulated cluster's app
(its Kubernetes API at /k8s), server B is create_app(source="kube") watching A through the real
KubeSource, and Chromium is on B's page. Read-only and opt-in actions, changes made on A, and the
faults a real cluster brings: the API server going away and back, a closed port, Forbidden slices."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from app.server import create_app, write_kubeconfig
from app.settings import Settings
from app.sources.kube import KubeSource
from app.sources.watching import WatchConfig
from tests.browser.conftest import SIM_SPEED, _close_pages
from tests.browser.helpers import card, chips, get_json, model_matches_snapshot, open_pod, post_json
from tests.fixtures_app import make_settings, wait_for
from tests.kube.simapi import TcpProxy, forbid
from tests.live_server import live_server

pytestmark = pytest.mark.browser

T = TypeVar("T")
SHIPPING = "default/shipping-api-service"
TOKEN = "page-test-token-0123456789"
# Quick reconnects; inactivity stays above the simulated API's 60 s bookmark interval, so a quiet
# cluster never looks dead (a cut connection is noticed at once anyway).
FAST = WatchConfig(
    timeout_seconds=30,
    inactivity_seconds=90,
    backoff_base=0.05,
    backoff_cap=0.4,
    refused_base=0.3,
    refused_cap=1.0,
)


class BackgroundLoop:
    """An event loop in a thread, for the asyncio TCP proxy next to the sync Playwright test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="proxy-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=60)
        self.loop.close()


@dataclass
class Clusters:
    a: str  # server A: the simulated cluster's dashboard and its /k8s API
    b: str  # server B: the dashboard watching A as a real cluster (ends with "/")
    server: str  # what B's page must show as the API server: scheme://host:port
    kubeconfig: Path
    cut: Callable[[], None]  # the API server goes away (needs a proxy)
    restore: Callable[[], None]


@contextlib.contextmanager
def two_servers(
    ctx: Any,
    tmp_path: Path,
    *,
    allow_actions: bool = False,
    proxy: bool = False,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[Clusters]:
    settings_a = make_settings(sim_speed=SIM_SPEED, api_token=TOKEN)
    app_a = create_app(settings_a)
    with live_server(wrap(app_a) if wrap else app_a) as a:
        port_a = int(a.rsplit(":", 1)[1])
        bg = BackgroundLoop() if proxy else None
        tcp = TcpProxy(port_a) if proxy else None
        try:
            if bg is not None and tcp is not None:
                bg.run(tcp.start())
            port = tcp.port if tcp is not None else port_a
            kubeconfig = tmp_path / "kubeconfig"
            write_kubeconfig(str(kubeconfig), settings_a, app_a.state.runtime.api_token, port)
            settings_b = make_settings(source="kube", kubeconfig=str(kubeconfig), allow_actions=allow_actions)
            source = KubeSource.from_settings(settings_b, config=FAST)
            with live_server(create_app(settings_b, source=source)) as b:
                try:
                    yield Clusters(
                        a=a,
                        b=b + "/",
                        server=f"http://127.0.0.1:{port}",
                        kubeconfig=kubeconfig,
                        cut=lambda: bg.run(tcp.stop()) if bg and tcp else None,
                        restore=lambda: bg.run(tcp.start()) if bg and tcp else None,
                    )
                finally:
                    _close_pages(ctx)
        finally:
            if bg is not None and tcp is not None:
                bg.run(tcp.stop())
                bg.close()


def k8s_pods(a: str) -> dict[str, dict[str, Any]]:
    """Pods in A's store, read through A's own Kubernetes API: key -> labels, ready, terminating."""
    data = get_json(f"{a}/k8s/t/{TOKEN}/api/v1/pods")
    out = {}
    for pod in data["items"]:
        md = pod["metadata"]
        conds = (pod.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
        out[f"{md['namespace']}/{md['name']}"] = {
            "labels": md.get("labels") or {},
            "ready": ready,
            "terminating": bool(md.get("deletionTimestamp")),
        }
    return out


def b_pods(b: str) -> dict[str, dict[str, Any]]:
    pods = get_json(b + "api/snapshot")["pods"]
    return {
        k: {"labels": p.get("labels") or {}, "ready": bool(p["ready"]), "terminating": bool(p["terminating"])}
        for k, p in pods.items()
    }


def agrees_with_a(c: Clusters, timeout: float = 60.0) -> None:
    """B's view of the pods ends up equal to A's store."""
    last: list[Any] = []

    def same() -> bool:
        want, have = k8s_pods(c.a), b_pods(c.b)
        last[:] = [sorted(set(want) ^ set(have)), [k for k in want if want[k] != have.get(k)]]
        return want == have

    try:
        wait_for(same, timeout=timeout, interval=0.1, what="B's pods to equal A's store")
    except AssertionError as e:
        raise AssertionError(f"{e}; keys only on one side, keys that differ: {last}") from None


def wait_ready(page: Any, n: int, timeout: float = 60.0) -> None:
    page.wait_for_function(
        """([key, n]) => {
            const card = document.querySelector(`#services .svc[data-key="${key}"]`);
            return !!card && card.querySelectorAll('.chip.state-ready:not([data-leaving])').length === n;
        }""",
        arg=[SHIPPING, n],
        timeout=timeout * 1000,
    )


def source_banner(page: Any) -> Any:
    return page.locator('header#top [data-part="source"]')


def wait_banner(page: Any, state: str | None, timeout: float = 60.0) -> None:
    """state None: the banner is hidden (the cluster watch is live with no problems)."""
    page.wait_for_function(
        """(state) => {
            const b = document.querySelector('header#top [data-part=source]');
            return state === null ? b.hidden : !b.hidden && b.dataset.state === state;
        }""",
        arg=state,
        timeout=timeout * 1000,
    )


def assert_clean_text(page: Any) -> None:
    """Nothing from inside the server leaks onto the page: no traceback, no API token, no Python
    or urllib3 reprs (a tuple of exception args, `HTTPConnection(host=...)`, `<... object at 0x>`)."""
    text = page.locator("body").inner_text()
    assert TOKEN not in page.content()
    for leak in ("Traceback", "('", "Connection(host=", " object at 0x"):
        assert leak not in text, f"{leak!r} on the page: {source_banner(page).inner_text()}"


def test_read_only_real_cluster_follows_changes_made_on_the_cluster(
    page: Any, browser_context: Any, tmp_path: Path
) -> None:
    with two_servers(browser_context, tmp_path) as c:
        page.goto(c.b)
        wait_ready(page, 4)
        # which cluster: a real one, by context and server, read-only
        assert page.locator('[data-part="cluster-mode"]').inner_text() == "REAL CLUSTER"
        detail = page.locator('[data-part="cluster-detail"]').inner_text()
        assert detail == f"context slicescope-sim · {c.server}"
        assert "SIMULATED" not in page.locator("header#top").inner_text()
        assert page.locator('[data-part="read-only"]').is_visible()
        assert page.locator('[data-part="read-only"]').inner_text() == "READ-ONLY"
        wait_banner(page, None)
        # no action buttons: not on the card, not in a pod's panel
        assert page.evaluate("() => document.documentElement.dataset.actions") == "off"
        assert not card(page, SHIPPING).locator("form.scale").is_visible()
        pod_key = chips(page, SHIPPING, "ready").first.get_attribute("data-pod-key")
        open_pod(page, pod_key)
        assert not page.locator("#panel [data-action=relabel]").is_visible()
        assert not page.locator("#panel [data-action=readiness-fail]").is_visible()
        # ... and the server refuses them
        ns, name = pod_key.split("/", 1)
        refused = httpx.post(
            c.b + "api/actions/label", json={"namespace": ns, "pod": name, "labels": {"app": "x"}}
        )
        assert refused.status_code == 403 and "read-only" in refused.text
        assert (
            httpx.post(
                c.b + "api/actions/scale", json={"namespace": ns, "name": "shipping-api", "replicas": 9}
            ).status_code
            == 403
        )

        # a readiness probe failing on A: the chip turns NOT READY in B's page
        post_json(c.a + "/api/actions/readiness", {"namespace": ns, "pod": name, "passing": False})
        chip = card(page, SHIPPING).locator(f'.chip[data-pod-key="{pod_key}"]:not([data-leaving])')
        chip.and_(page.locator(".state-not-ready")).wait_for(timeout=60000)
        assert "NOT READY" in chip.inner_text()
        # a pod relabelled on A: an orphan in "Pods matching no Service"
        other = next(
            k
            for k in chips(page, SHIPPING, "ready").evaluate_all("els => els.map(e => e.dataset.podKey)")
            if k != pod_key
        )
        post_json(
            c.a + "/api/actions/label",
            {"namespace": "default", "pod": other.split("/", 1)[1], "labels": {"app": "debug"}},
        )
        orphan = page.locator(f'#orphans [data-pod-key="{other}"]')
        orphan.wait_for(timeout=60000)
        assert "app=debug" in orphan.inner_text()
        model_matches_snapshot(page, c.b)
        agrees_with_a(c)
        # the page never learnt the relabel from B's own timeline of actions: nothing was done on B
        assert not [e for e in get_json(c.b + "api/snapshot")["timeline"] if e.get("kind") == "action"]
        assert_clean_text(page)


def test_allow_actions_shows_the_buttons_and_a_relabel_on_the_page_changes_the_cluster(
    page: Any, browser_context: Any, tmp_path: Path
) -> None:
    with two_servers(browser_context, tmp_path, allow_actions=True) as c:
        page.goto(c.b)
        wait_ready(page, 4)
        assert page.locator('[data-part="cluster-mode"]').inner_text() == "REAL CLUSTER"
        assert not page.locator('[data-part="read-only"]').is_visible()
        assert page.evaluate("() => document.documentElement.dataset.actions") == "on"
        pod_key = chips(page, SHIPPING, "ready").first.get_attribute("data-pod-key")
        open_pod(page, pod_key)
        # a real cluster's probes are its own: no readiness switch, but relabel and delete
        assert not page.locator("#panel [data-action=readiness-fail]").is_visible()
        assert page.locator("#panel [data-action=delete]").is_visible()
        page.fill(".relabel-input", "debug")
        page.click("[data-action=relabel]")
        # A's cluster has it...
        wait_for(
            lambda: k8s_pods(c.a).get(pod_key, {}).get("labels", {}).get("app") == "debug",
            timeout=60,
            what="the relabel to reach A's cluster",
        )
        # ...and B's page shows it coming back through the watch
        page.locator(f'#orphans [data-pod-key="{pod_key}"]').wait_for(timeout=60000)
        wait_ready(page, 4)  # the Deployment replaces it on A
        timeline = get_json(c.b + "api/snapshot")["timeline"]
        assert any(e.get("kind") == "action" and pod_key in e.get("text", "") for e in timeline)
        model_matches_snapshot(page, c.b)
        agrees_with_a(c)


def test_api_server_going_away_shows_the_warning_and_coming_back_clears_it(
    page: Any, browser_context: Any, tmp_path: Path
) -> None:
    with two_servers(browser_context, tmp_path, proxy=True) as c:
        page.goto(c.b)
        wait_ready(page, 4)
        wait_banner(page, None)
        c.cut()
        wait_banner(page, "reconnecting", timeout=60)
        banner = source_banner(page)
        head, text = banner.locator('[data-part="source-head"]').inner_text(), banner.inner_text()
        assert head.startswith("Reconnecting since ") and "data may be stale" in head, head
        assert f"cannot reach {c.server}: " in text, text
        assert "watch is down" in page.locator('[data-part="badge"]').inner_text()
        assert get_json(c.b + "healthz")["connection"] == "reconnecting"
        assert_clean_text(page)
        # the cluster moves on while B cannot see it
        victim = chips(page, SHIPPING, "ready").first.get_attribute("data-pod-key")
        ns, name = victim.split("/", 1)
        post_json(c.a + "/api/actions/readiness", {"namespace": ns, "pod": name, "passing": False})
        wait_for(lambda: not k8s_pods(c.a)[victim]["ready"], timeout=60, what="the probe to fail on A")
        assert source_banner(page).is_visible()  # still cut off: the warning stays
        c.restore()
        wait_banner(page, None, timeout=60)
        card(page, SHIPPING).locator(f'.chip.state-not-ready[data-pod-key="{victim}"]').wait_for(
            timeout=60000
        )
        assert "LIVE" in page.locator('[data-part="badge"]').inner_text()
        model_matches_snapshot(page, c.b)
        agrees_with_a(c)


def test_a_kubeconfig_pointing_at_a_closed_port_opens_the_page_and_says_it_retries(
    page: Any, browser_context: Any, tmp_path: Path
) -> None:
    with contextlib.closing(__import__("socket").socket()) as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # bound, never listening: connections are refused
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(str(kubeconfig), Settings(), TOKEN, closed)
        settings = dataclasses.replace(make_settings(), source="kube", kubeconfig=str(kubeconfig))
        with live_server(create_app(settings)) as base:
            try:
                page.goto(base + "/")
                wait_banner(page, "reconnecting", timeout=60)
                assert page.locator('[data-part="cluster-mode"]').inner_text() == "REAL CLUSTER"
                text = source_banner(page).inner_text()
                assert f"cannot reach http://127.0.0.1:{closed}: " in text, text
                assert "retrying" in text
                assert page.locator('[data-part="read-only"]').is_visible()
                assert page.locator("#services .svc").count() == 0
                assert get_json(base + "/healthz") == {
                    "ok": True,
                    "source": "kube",
                    "connection": "reconnecting",
                }
                assert_clean_text(page)
                model_matches_snapshot(page, base + "/")
            finally:
                _close_pages(browser_context)


def test_forbidden_endpointslices_show_the_permission_and_the_legacy_endpoints(
    page: Any, browser_context: Any, tmp_path: Path
) -> None:
    def wrap(app: Any) -> Any:
        return forbid(app, "/endpointslices", "endpointslices", "discovery.k8s.io")

    with two_servers(browser_context, tmp_path, wrap=wrap) as c:
        page.goto(c.b)
        wait_banner(page, "live", timeout=60)
        banner = source_banner(page)
        assert "live, with problems" in banner.locator('[data-part="source-head"]').inner_text()
        assert (
            "cannot list endpointslices in all namespaces: ask for cluster-wide list/watch on "
            "discovery.k8s.io endpointslices (showing legacy Endpoints only)"
        ) in banner.inner_text()
        # the Service is there, with its legacy Endpoints (ready addresses of A's four pods)
        svc = card(page, SHIPPING)
        svc.wait_for(timeout=60000)
        want = wait_for(
            lambda: (
                len(ips := sorted(p["ip"] for p in get_json(c.a + "/api/snapshot")["pods"].values()
                                  if p["labels"].get("app") == "shipping-api" and p["ready"])) == 4 and ips
            ),
            timeout=60,
            what="four ready shipping-api pods on A",
        )  # fmt: skip
        legacy = svc.locator("details.legacy")
        legacy.locator("summary").click()
        body = legacy.locator(".legacy-body")
        page.wait_for_function(
            """([key, n]) => {
                const b = document.querySelector(`#services .svc[data-key="${key}"] .legacy-body`);
                const line = b && b.textContent.split("\\n").find((l) => l.trim().startsWith("Addresses:"));
                return !!line && line.split(":")[1].trim().split(",").filter(Boolean).length === n;
            }""",
            arg=[SHIPPING, 4],
            timeout=60000,
        )
        line = next(ln for ln in body.inner_text().splitlines() if ln.strip().startswith("Addresses:"))
        assert sorted(line.split(":", 1)[1].strip().split(",")) == want
        snap = model_matches_snapshot(page, c.b)
        assert snap["services"][SHIPPING]["counts"]["slices"] == 0
        assert_clean_text(page)
