"""The page's own behaviour against the stand-in server (tests/browser/stub_server.py): the reducer,
seq gaps, escaping, read-only mode, the namespace filter, keyed patching, reduced motion. Every wait is
for a state, with the 60 s ceiling of a busy machine (the page draws a frame after a change, so what
it shows is waited for, never read at once)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import WAIT_MS
from tests.browser.helpers import card, chips, model_matches_snapshot, open_pod, post_json, wait_ready_count

pytestmark = pytest.mark.browser

SHIPPING = "default/shipping-api-service"


def test_reducer_follows_the_contract(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    result = page.evaluate(
        """async () => {
            const m = await import('./static/js/model.js');
            const snap = {seq: 5, meta: {timelineLimit: 2, actions: true}, services: {},
                          pods: {'d/a': {key: 'd/a'}}, timeline: [{id: 1, text: 'one'}]};
            const start = m.fromSnapshot(snap);
            const out = m.applyDelta(start, {seq: 6, ops: [
                {op: 'put', coll: 'services', key: 'd/s', value: {key: 'd/s'}},
                {op: 'del', coll: 'pods', key: 'd/a'},
                {op: 'timeline', entry: {id: 2, text: 'two'}},
                {op: 'timeline', entry: {id: 3, text: 'three'}},
                {op: 'meta', value: {timelineLimit: 2, actions: false}},
            ]});
            const gap = m.applyDelta(out.model, {seq: 8, ops: []});
            const dup = m.applyDelta(out.model, {seq: 6, ops: []});
            return {
                model: out.model,
                untouched: start.pods['d/a'] !== undefined && start.seq === 5,
                changed: {services: [...out.changes.services], pods: [...out.changes.pods],
                          timeline: out.changes.timeline, meta: out.changes.meta},
                gap, dup,
            };
        }"""
    )
    model = result["model"]
    assert model["seq"] == 6
    assert model["services"] == {"d/s": {"key": "d/s"}}
    assert model["pods"] == {}
    assert [e["id"] for e in model["timeline"]] == [3, 2]  # newest first, cut to timelineLimit
    assert model["meta"]["actions"] is False
    assert result["untouched"] is True  # pure: the input model is not modified
    assert result["changed"] == {"services": ["d/s"], "pods": ["d/a"], "timeline": True, "meta": True}
    assert result["gap"] is None and result["dup"] is None


def test_a_gap_in_the_stream_makes_the_page_resync(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    page.wait_for_function("() => window.slicescope.link.state === 'live'")
    post_json(stub_url + "api/debug/skip-seq")  # the next delta will not follow the page's seq
    pod_key = chips(page, SHIPPING, "ready").first.get_attribute("data-pod-key")
    ns, name = pod_key.split("/", 1)
    post_json(stub_url + "api/actions/readiness", {"namespace": ns, "pod": name, "passing": False})
    card(page, SHIPPING).locator(f'.chip.state-not-ready[data-pod-key="{pod_key}"]').wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => window.slicescope.link.state === 'live'", timeout=WAIT_MS)
    history = [h["state"] for h in page.evaluate("() => window.slicescope.linkHistory")]
    assert "reconnecting" in history and history[-1] == "live", history
    model_matches_snapshot(page, stub_url)


def test_cluster_text_is_never_parsed_as_html(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    pod_key = chips(page, SHIPPING, "ready").first.get_attribute("data-pod-key")
    ns, name = pod_key.split("/", 1)
    evil = '<img src=x onerror="window.__pwned=1">'
    post_json(stub_url + "api/actions/label", {"namespace": ns, "pod": name, "labels": {"app": evil}})
    orphan = page.locator(f'#orphans [data-pod-key="{pod_key}"]')
    orphan.wait_for(timeout=WAIT_MS)
    assert f"app={evil}" in orphan.inner_text()
    assert page.locator("main img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    open_pod(page, pod_key)
    assert evil in page.locator("#panel").inner_text()


def test_read_only_real_cluster_hides_actions(page: Any, stub_readonly_url: str) -> None:
    page.goto(stub_readonly_url)
    wait_ready_count(page, SHIPPING, 4)
    assert page.locator('[data-part="cluster-mode"]').inner_text() == "REAL CLUSTER"
    assert "https://127.0.0.1:6443" in page.locator('[data-part="cluster-detail"]').inner_text()
    assert page.locator('[data-part="read-only"]').is_visible()
    assert page.locator("form.scale:visible").count() == 0
    open_pod(page, chips(page, SHIPPING, "ready").first.get_attribute("data-pod-key"))
    assert page.locator("[data-action=readiness-fail]").is_hidden()
    assert page.locator("[data-action=delete]").is_hidden()
    assert page.locator(".panel-facts").is_visible()


def test_namespace_filter_shows_one_namespace(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    assert card(page, "shop/cart").is_visible()
    page.select_option('[data-part="ns-filter"]', "shop")
    card(page, SHIPPING).wait_for(state="detached", timeout=WAIT_MS)  # left out of the list
    assert card(page, "shop/cart").is_visible()
    page.wait_for_function("() => location.hash.includes('ns=shop')", timeout=WAIT_MS)
    page.reload()  # the choice survives a reload (it is in the URL)
    wait_ready_count(page, "shop/cart", 1)
    assert card(page, SHIPPING).count() == 0  # left out of the list, not drawn and hidden
    page.select_option('[data-part="ns-filter"]', "")
    card(page, SHIPPING).wait_for(state="visible", timeout=WAIT_MS)
    assert card(page, "shop/cart").is_visible()


def test_deltas_patch_the_page_instead_of_rebuilding_it(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    # tag every drawn chip; after 250 pods arrive in many deltas the chips of the Services that did not
    # change must be the same nodes
    page.evaluate("() => document.querySelectorAll('#services .chip').forEach(c => (c.__tag = 'kept'))")
    web = card(page, "default/web-svc")
    web.locator(".scale-input").fill("250")
    web.locator(".scale button[type=submit]").click()
    # two full slices drawn as strips (100 cells each), the third (50) as chips; the slices say their counts
    page.wait_for_function(
        """() => {
            const c = document.querySelector('#services .svc[data-key="default/web-svc"]');
            const slices = [...c.querySelectorAll('.slice:not([data-leaving])')];
            return slices.length === 3 &&
                   slices.reduce((n, s) => n + Number(s.dataset.ready || 0), 0) === 250 &&
                   c.querySelectorAll('.strip .cell[data-state=ready]').length === 200 &&
                   c.querySelectorAll('.chip.state-ready:not([data-leaving])').length === 50;
        }""",
        timeout=WAIT_MS,
    )
    kept = page.evaluate(
        "() => [...document.querySelectorAll('#services .chip')].filter(c => c.__tag === 'kept').length"
    )
    assert kept == 4 + 1  # shipping-api's and cart's
    web = card(page, "default/web-svc")
    assert web.locator(".slice.compact").count() == 2 and web.locator(".slice.dense").count() == 1
    assert web.locator(".slice.compact .strip-counts").first.inner_text() == "100 endpoints: 100 ready"
    model_matches_snapshot(page, stub_url)


def test_reduced_motion_runs_no_animations(browser_context: Any, stub_url: str) -> None:
    page = browser_context.new_page()
    try:
        page.emulate_media(reduced_motion="reduce")
        page.goto(stub_url)
        wait_ready_count(page, SHIPPING, 4)
        pod_key = chips(page, SHIPPING, "ready").first.get_attribute("data-pod-key")
        ns, name = pod_key.split("/", 1)
        post_json(stub_url + "api/actions/readiness", {"namespace": ns, "pod": name, "passing": False})
        card(page, SHIPPING).locator(f'.chip.state-not-ready[data-pod-key="{pod_key}"]').wait_for(
            timeout=WAIT_MS
        )
        running = page.evaluate(
            "() => document.getAnimations().filter(a => !a.effect.target.closest('[data-part=badge]')).length"
        )
        assert running == 0
    finally:
        page.close()


def test_a_stream_that_stays_away_turns_the_badge_stale_then_live(page: Any, stub_url: str) -> None:
    page.goto(stub_url + "?stale=1")
    wait_ready_count(page, SHIPPING, 4)
    page.wait_for_function("() => window.slicescope.link.state === 'live'")
    page.route("**/events*", lambda route: route.abort())  # the server is unreachable from now on
    post_json(stub_url + "api/debug/drop-streams")
    badge = page.locator('[data-part="badge"]')
    # the badge turns stale (after 1 s without a stream here) and says so; reconnecting came first
    page.wait_for_function(
        """() => { const b = document.querySelector('[data-part="badge"]');
                   return window.slicescope.link.state === 'stale' && b.dataset.state === 'stale' &&
                          b.textContent.includes('STALE') && b.textContent.includes('no updates since'); }""",
        timeout=WAIT_MS,
    )
    history = [h["state"] for h in page.evaluate("() => window.slicescope.linkHistory")]
    assert history[-2:] == ["reconnecting", "stale"], history
    page.unroute("**/events*")
    page.wait_for_function(
        """() => window.slicescope.link.state === 'live' &&
                 document.querySelector('[data-part="badge"]').textContent.includes('LIVE')""",
        timeout=WAIT_MS,
    )
    assert "STALE" not in badge.inner_text()
    model_matches_snapshot(page, stub_url)
