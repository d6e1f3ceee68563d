"""The page against the real server and its simulated cluster, driven as a teacher would in class."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import (
    card,
    chips,
    get_json,
    model_matches_snapshot,
    open_pod,
    post_json,
    wait_ready_count,
)

pytestmark = pytest.mark.browser

SHIPPING = "default/shipping-api-service"


def _first_ready_pod(page: Any, key: str) -> str:
    return chips(page, key, "ready").first.get_attribute("data-pod-key")


def test_lesson_service_shows_four_ready_endpoints(page: Any, app_url: str) -> None:
    page.goto(app_url)
    wait_ready_count(page, SHIPPING, 4)
    assert chips(page, SHIPPING, "ready").count() == 4
    for text in chips(page, SHIPPING, "ready").all_inner_texts():
        assert "READY" in text and "NOT READY" not in text
    head = card(page, SHIPPING)
    assert "app=shipping-api" in head.locator('[data-part="selector"]').inner_text()
    assert "80 → 8080/TCP" in head.locator('[data-part="ports"]').inner_text()
    assert "SIMULATED CLUSTER" in page.locator('[data-part="cluster-mode"]').inner_text()
    assert page.locator('[data-part="badge"]').get_attribute("data-state") == "live"
    model_matches_snapshot(page, app_url)


def test_readiness_fail_turns_the_chip_not_ready(page: Any, app_url: str) -> None:
    # how fast a change reaches the page is measured in bench/, not here
    page.goto(app_url)
    wait_ready_count(page, SHIPPING, 4)
    pod_key = _first_ready_pod(page, SHIPPING)
    open_pod(page, pod_key)
    page.click("[data-action=readiness-fail]")
    chip = card(page, SHIPPING).locator(f'.chip[data-pod-key="{pod_key}"]:not([data-leaving])')
    chip.and_(page.locator(".state-not-ready")).wait_for(timeout=60000)
    assert "NOT READY" in chip.inner_text()
    # the pod is listed among those that match but get no traffic, with its reason
    excluded = card(page, SHIPPING).locator(f'.excluded [data-pod-key="{pod_key}"]')
    excluded.wait_for(timeout=60000)
    assert "NOT READY" in excluded.inner_text()
    # the panel follows the pod, and making it pass again brings it back
    page.locator("#panel .panel-state[data-state=not-ready]").wait_for(timeout=60000)
    page.click("[data-action=readiness-pass]")
    chip.and_(page.locator(".state-ready")).wait_for(timeout=60000)
    model_matches_snapshot(page, app_url)


def test_relabelled_pod_appears_among_pods_matching_no_service(page: Any, app_url: str) -> None:
    page.goto(app_url)
    wait_ready_count(page, SHIPPING, 4)
    pod_key = _first_ready_pod(page, SHIPPING)
    open_pod(page, pod_key)
    page.fill(".relabel-input", "debug")
    page.click("[data-action=relabel]")
    orphan = page.locator(f'#orphans [data-pod-key="{pod_key}"]')
    orphan.wait_for(timeout=60000)
    assert "app=debug" in orphan.inner_text()
    # it left the Service, and the Deployment's replacement makes it 4 ready again
    card(page, SHIPPING).locator(f'.chip[data-pod-key="{pod_key}"]:not([data-leaving])').wait_for(
        state="detached", timeout=60000
    )
    wait_ready_count(page, SHIPPING, 4)
    assert pod_key not in (chips(page, SHIPPING).evaluate_all("els => els.map(e => e.dataset.podKey)"))
    model_matches_snapshot(page, app_url)


def test_dropped_stream_shows_reconnecting_then_live_and_resyncs(page: Any, app_url: str) -> None:
    page.goto(app_url)
    wait_ready_count(page, SHIPPING, 4)
    badge = page.locator('[data-part="badge"]')
    page.wait_for_function("() => window.slicescope.link.state === 'live'")
    # the way back is closed until the test opens it, so the reconnecting state can be read at
    # leisure however quickly the page retries
    page.route("**/events*", lambda route: route.abort())
    dropped = post_json(app_url + "api/debug/drop-streams")
    assert dropped["dropped"] >= 1
    page.wait_for_function(
        "() => document.querySelector('[data-part=badge]').dataset.state === 'reconnecting'"
    )
    assert "RECONNECTING since" in badge.inner_text()
    assert "stale" in badge.inner_text()
    # the world moves on while we are away: a pod is deleted
    victim = _first_ready_pod(page, SHIPPING)
    ns, name = victim.split("/", 1)
    post_json(app_url + "api/actions/delete", {"namespace": ns, "pod": name})
    assert page.evaluate("() => window.slicescope.link.state") == "reconnecting"
    page.unroute("**/events*")
    page.wait_for_function("() => window.slicescope.link.state === 'live'", timeout=60000)
    assert "LIVE" in badge.inner_text()
    history = [h["state"] for h in page.evaluate("() => window.slicescope.linkHistory")]
    assert history[-2:] == ["reconnecting", "live"], history
    snap = model_matches_snapshot(page, app_url)
    assert snap["seq"] > 0


def test_scaling_web_to_250_draws_three_slices(page: Any, app_url: str) -> None:
    page.goto(app_url)
    snap = get_json(app_url + "api/snapshot")
    web = next(
        (k for k, s in snap["services"].items() if (s.get("selector") or {}).get("app") == "web"),
        None,
    )
    if web is None:
        pytest.skip("the lesson has no Service selecting app=web")
    form = card(page, web).locator("form.scale")
    form.wait_for(timeout=60000)
    form.locator(".scale-input").fill("250")
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        """(key) => {
            const c = document.querySelector(`#services .svc[data-key="${key}"]`);
            const slices = c ? [...c.querySelectorAll('.slice:not([data-leaving])')] : [];
            return slices.length === 3 &&
                slices.reduce((n, s) => n + Number(s.dataset.ready || 0), 0) === 250;
        }""",
        arg=web,
        timeout=60000,
    )
    slices = card(page, web).locator(".slice:not([data-leaving])")
    sizes = sorted(
        (int(n) for n in slices.evaluate_all("els => els.map(e => e.dataset.total)")), reverse=True
    )
    assert sizes == [100, 100, 50]
    # the full slices are drawn compactly (a strip of cells), one cell per endpoint
    full = card(page, web).locator(".slice.compact:not([data-leaving])")
    assert full.count() == 2 and full.first.locator(".strip .cell").count() == 100
    model_matches_snapshot(page, app_url, timeout=60)


def test_legacy_endpoints_read_like_kubectl_describe(page: Any, app_url: str) -> None:
    page.goto(app_url)
    wait_ready_count(page, SHIPPING, 4)
    legacy = card(page, SHIPPING).locator("details.legacy")
    legacy.locator("summary").click()
    body = legacy.locator(".legacy-body")
    snap = get_json(app_url + "api/snapshot")
    ready_ips = [a["ip"] for a in snap["services"][SHIPPING]["endpoints"]["subsets"][0]["addresses"]]
    text = body.inner_text()
    assert f"Addresses:          {','.join(ready_ips)}" in text
    assert "NotReadyAddresses:  <none>" in text
    assert "<unset>  8080" in text
