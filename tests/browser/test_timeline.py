"""The timeline in Chromium: a scale-up on the real server is a few rows naming the Service ("26
endpoints of shipping-api-service → ready") that expand to the addresses that joined; under 20,000
entries of churn the list stays bounded and each render touches only what the new entries reach."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.conftest import SIM_SPEED, _close_pages
from tests.browser.helpers import get_json, post_json
from tests.live_server import live_server

pytestmark = pytest.mark.browser

SHIPPING = "default/shipping-api-service"
WAIT_S = 60.0
# Real time the simulated cluster's driver sees per step: one simulated second at SIM_SPEED, well
# inside the timeline's 10 s window (the server stamps each entry with simulated time when it
# publishes it, so a step bounds how late an entry can be stamped).
STEP_S = 1.0 / SIM_SPEED


class SteppedTime:
    """The real time the simulated clock's driver reads: moved by the test alone, so simulated time
    (and every timeline entry's time) does not depend on how fast a busy machine runs the server."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stepped_app(browser_context: Any) -> Iterator[tuple[str, Any, SteppedTime]]:
    """The real server (simulated cluster with the lesson loaded) on a driver clock the test moves."""
    from app.server import create_app
    from tests.fixtures_app import make_settings

    app = create_app(make_settings(sim_speed=SIM_SPEED), debug_hooks=True)
    rt = app.state.runtime
    stepped = SteppedTime()
    rt.live.monotonic = stepped  # read when the server starts the driver
    with live_server(app) as base:
        yield base + "/", rt, stepped
        _close_pages(browser_context)


def _run_sim_until(rt: Any, stepped: SteppedTime, done: Callable[[], bool], what: str) -> None:
    """Let simulated time pass a step at a time, each step run to its end (every timer due by then),
    until `done()`."""
    loop = rt.tasks[0].get_loop()
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"{what}: not after {rt.live.now()} s of simulated time"
        stepped.now += STEP_S
        driver = rt.live.driver
        loop.call_soon_threadsafe(driver.wake)
        target = driver.live()
        while rt.live.now() < target:  # (the clock never passes a timer it has not run)
            assert time.monotonic() < deadline, f"the simulated clock stopped at {rt.live.now()}"
            time.sleep(0.005)


def _ips(snap: dict[str, Any], key: str) -> set[str]:
    return {ep["ip"] for sl in snap["services"][key]["slices"] for ep in sl["endpoints"]}


def _ready(url: str, key: str) -> int:
    svc = get_json(url + "api/snapshot")["services"].get(key)
    return svc["counts"]["ready"] if svc else -1


def test_a_scale_up_is_one_row_per_transition_naming_the_service(
    page: Any, stepped_app: tuple[str, Any, SteppedTime]
) -> None:
    app_url, rt, stepped = stepped_app
    page.goto(app_url)
    page.wait_for_function("() => window.slicescope.link.state === 'live'", timeout=WAIT_S * 1000)
    _run_sim_until(rt, stepped, lambda: _ready(app_url, SHIPPING) == 4, "the lesson's four pods ready")
    page.wait_for_function(
        """(key) => { const s = window.slicescope.model.services[key];
                      return s && s.counts.ready === 4 && s.counts.notReady === 0; }""",
        arg=SHIPPING,
        timeout=WAIT_S * 1000,
    )
    before = _ips(get_json(app_url + "api/snapshot"), SHIPPING)
    assert post_json(
        app_url + "api/actions/scale", {"namespace": "default", "name": "shipping-api", "replicas": 30}
    )["ok"]
    _run_sim_until(rt, stepped, lambda: _ready(app_url, SHIPPING) == 30, "thirty pods ready")
    page.wait_for_function(
        """(key) => { const s = window.slicescope.model.services[key];
                      return s && s.counts.ready === 30; }""",
        arg=SHIPPING,
        timeout=WAIT_S * 1000,
    )
    joined = _ips(get_json(app_url + "api/snapshot"), SHIPPING) - before
    assert len(joined) == 26

    # every joined address went → ready within a few seconds of sim time: one row says so
    ready_row = page.locator(f'#timeline .tl-group[data-service="{SHIPPING}"][data-kind="endpoint"]').filter(
        has_text="26 endpoints of shipping-api-service → ready"
    )
    ready_row.wait_for(timeout=WAIT_S * 1000)
    words = " ".join(ready_row.locator(".tl-body").inner_text().split())
    assert words == "26 endpoints of shipping-api-service → ready ▸ 26 addresses", words
    rows = page.locator("#timeline .tl-item")
    entries = page.evaluate("() => window.slicescope.model.timeline.length")
    # 26 pods added, 26 joined as not ready, 26 → ready, the scale itself: a handful of rows
    assert entries >= 3 * 26 and rows.count() <= 12, (entries, rows.all_inner_texts())
    for text in rows.all_inner_texts():
        if "ENDPOINT" in text or "POD" in text:
            assert "shipping-api-service" in text or "web-svc" in text, text

    # it expands to the very addresses that joined, and each opens its pod
    ready_row.locator(".tl-more").click()
    addrs = ready_row.locator(".tl-addr")
    addrs.first.wait_for()
    assert {a.get_attribute("data-ip") for a in addrs.all()} == joined
    assert ready_row.locator(".tl-more").get_attribute("aria-expanded") == "true"
    first = addrs.first
    pod_key = first.get_attribute("data-pod-key")
    first.click()
    page.wait_for_selector(f"#panel:not([hidden]) .panel-title:text-is('{pod_key.split('/', 1)[1]}')")
    page.click(".panel-close")
    ready_row.locator(".tl-more").click()
    assert ready_row.locator(".tl-addr").count() == 0


CHURN = """async ([n, perFrame]) => {
    const { createTimelineView, MAX_ROWS } = await import('./static/js/render/timeline.js');
    const root = document.createElement('section');
    root.innerHTML = '<ol data-part="list"></ol>';
    document.body.append(root);
    const list = root.querySelector('ol');
    const view = createTimelineView(root);
    let model = {meta: {timelineLimit: 200}, timeline: []};
    let id = 0, t = 1767225600;
    const add = (e) => {
        id += 1;
        model = {...model, timeline: [{id, time: t, ...e}, ...model.timeline].slice(0, 200)};
    };
    // a reproducible spread over 1,000 Services, as random churn would be
    let seed = 7;
    const rand = (k) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k; };
    const churn = () => {
        const s = rand(1000), p = rand(10);
        const ip = `10.${s >> 8}.${s & 255}.${p + 2}`;
        const state = rand(2) ? 'ready' : 'not ready';
        add({kind: 'endpoint', service: `ns-${s % 7}/svc-${s}`, ip, pod: `svc-${s}-pod-${p}`,
             text: `${ip} → ${state}`});
    };
    let maxRows = 0, maxPerEntry = 0;
    const observer = new MutationObserver(() => {});
    observer.observe(list, {childList: true, subtree: true, characterData: true, attributes: true});
    const frame = (count) => {
        view.render(model, {all: false, timeline: true});
        const records = observer.takeRecords().length;
        if (count && records / count > maxPerEntry) maxPerEntry = records / count;
        maxRows = Math.max(maxRows, list.children.length);
    };
    view.render(model, {all: true, timeline: true});
    for (let i = 0; i < n; i += perFrame) {
        for (let j = 0; j < perFrame; j++) { churn(); t += 0.005; }
        frame(perFrame);
    }
    // a burst: 146 endpoints of one Service go ready, interleaved with the churn
    for (let i = 0; i < 146; i++) {
        const ip = `10.244.${i >> 6}.${(i & 63) + 2}`;
        add({kind: 'endpoint', service: 'default/shipping-api-service', ip, pod: `shipping-api-${i}`,
             text: `${ip} → ready`});
        churn(); t += 0.005;
        if (i % 4 === 3) frame(8);
    }
    frame(0);
    const rows = [...list.children];
    const burst = rows.filter((r) => r.dataset.service === 'default/shipping-api-service');
    const named = rows.every((r) => {
        const svc = r.querySelector('.tl-svc');
        return svc && r.dataset.service && svc.textContent === r.dataset.service.split('/')[1];
    });
    const nsOk = rows.every((r) => r.dataset.ns === r.dataset.service.split('/')[0]);
    // a timeline-clear (a replay seek) empties it
    model = {...model, timeline: []};
    view.render(model, {all: false, timeline: true});
    const afterClear = list.children.length;
    root.remove();
    return {maxRows, maxPerEntry, MAX_ROWS, rows: rows.length, named, nsOk,
            burst: burst.map((r) => r.querySelector('.tl-body').textContent), afterClear, stats: view.stats};
}"""


def test_churn_keeps_the_list_bounded_and_renders_only_what_changed(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    page.wait_for_function("() => window.slicescope && window.slicescope.model", timeout=30000)
    out = page.evaluate(CHURN, [20000, 4])
    assert out["stats"]["entries"] >= 20000 + 2 * 146
    assert out["maxRows"] <= out["MAX_ROWS"] and out["rows"] == out["MAX_ROWS"]
    assert out["named"] and out["nsOk"]
    # a render costs a bounded number of mutation records per new entry (its row created, grouped or
    # moved, its count and time, one row evicted), never a redraw of the 150 rows
    assert out["maxPerEntry"] <= 16, out
    assert len(out["burst"]) == 1
    assert out["burst"] == ["146 endpoints of shipping-api-service → ready ▸ 146 addresses"], out["burst"]
    assert out["afterClear"] == 0
