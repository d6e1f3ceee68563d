"""The page at real-cluster scale against the stand-in server's generated 10,000-pod / 1,000-Service
cluster: it loads with a bounded DOM, follows a change to one pod, opens a compact slice to its chips,
groups the pods left out, keeps the model equal to api/snapshot through a dropped stream, and never
reads layout while it renders."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.helpers import card, get_json, model_matches_snapshot, post_json
from tests.live_server import live_server

pytestmark = pytest.mark.browser

BIG = "default/shipping-api-service"  # 1,100 endpoints: eleven full slices
DOM_LIMIT = 15_000
LOAD_S = 60.0

# Layout reads the render path must never make: each call is recorded with the frame phase it ran in.
LAYOUT_SPY = """
window.__layoutReads = [];
const note = (what) => {
  const f = window.slicescope && window.slicescope.frame;
  const stack = new Error().stack.split('\\n').slice(2, 5).join(' | ');
  window.__layoutReads.push({what, phase: f ? f.phase : 'boot', stack});
};
for (const name of ['offsetWidth', 'offsetHeight', 'offsetTop', 'offsetLeft', 'clientWidth', 'clientHeight',
                    'scrollWidth', 'scrollHeight', 'innerText']) {
  for (const proto of [HTMLElement.prototype, Element.prototype]) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (!d || !d.get) continue;
    Object.defineProperty(proto, name, {configurable: true, get() { note(name); return d.get.call(this); }});
  }
}
for (const name of ['getBoundingClientRect', 'getClientRects', 'scrollIntoView']) {
  const orig = Element.prototype[name];
  Element.prototype[name] = function (...a) { note(name); return orig.apply(this, a); };
}
const gcs = window.getComputedStyle;
window.getComputedStyle = function (...a) { note('getComputedStyle'); return gcs.apply(this, a); };
"""


@pytest.fixture(scope="module")
def big_url(browser_context: Any) -> Iterator[str]:
    from tests.browser.stub_server import big_world, create_stub_app

    app = create_stub_app(world=big_world())
    app.state.hub.snapshot_text()  # encode the 9 MB snapshot before the first page asks
    with live_server(app) as base:
        yield base + "/"
        for pg in list(browser_context.pages):
            pg.close()


def _load(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function(
        "() => window.slicescope && window.slicescope.link.state === 'live' &&"
        " document.querySelector('#services .svc[data-key]')",
        timeout=LOAD_S * 1000,
    )


def _nodes(page: Any) -> int:
    return page.evaluate("() => document.getElementsByTagName('*').length")


def _first_ready_cell(page: Any, key: str) -> str:
    return card(page, key).locator(".strip .cell[data-state=ready]").first.get_attribute("data-pod-key")


def test_a_10000_pod_page_loads_bounded_and_shows_a_change_to_one_pod(page: Any, big_url: str) -> None:
    _load(page, big_url)
    snap = get_json(big_url + "api/snapshot")
    assert len(snap["pods"]) == 10_000 and len(snap["services"]) == 1_001
    services = page.locator("#services")
    assert services.get_attribute("data-count") == "1001"
    drawn = int(services.get_attribute("data-drawn"))
    assert 0 < drawn < 100  # only Services near the viewport have cards
    assert _nodes(page) <= DOM_LIMIT
    # the big Service: its full slices are strips with their counts in words
    big = card(page, BIG)
    assert big.locator(".slice.compact").count() == 11
    first = big.locator(".slice.compact").first
    total = sum(int(first.get_attribute(f"data-{s}")) for s in ("ready", "not-ready", "terminating"))
    assert total == int(first.get_attribute("data-total")) == 100
    assert first.locator(".strip .cell").count() == 100
    assert first.locator(".strip-counts").inner_text().startswith("100 endpoints: ")

    # a readiness failure on one of its pods: the cell turns NOT READY (shape and glyph) and the counts follow
    pod_key = _first_ready_cell(page, BIG)
    ready_before = int(big.locator("[data-part=count-ready]").get_attribute("data-n"))
    ns, name = pod_key.split("/", 1)
    post_json(big_url + "api/actions/readiness", {"namespace": ns, "pod": name, "passing": False})
    cell = big.locator(f'.cell[data-pod-key="{pod_key}"]')
    page.wait_for_function(
        '(k) => document.querySelector(`#services .cell[data-pod-key="${k}"]`)?.dataset.state'
        " === 'not-ready'",
        arg=pod_key,
        timeout=30000,
    )
    assert cell.inner_text() == "✕"
    page.wait_for_function(
        '([k, n]) => document.querySelector(`#services .svc[data-key="${k}"] [data-part=count-ready]`)'
        ".dataset.n === String(n)",
        arg=[BIG, ready_before - 1],
        timeout=30000,
    )
    # a change far down the list: the Service is not drawn; reveal() brings it in, with the pod's chip
    far = page.evaluate("() => window.slicescope.services.order().at(-2)")
    assert not page.evaluate("(k) => window.slicescope.services.isDrawn(k)", far)
    far_pod = next(p for p in snap["pods"].values() if p["services"] == [far] and p["ready"])
    post_json(
        big_url + "api/actions/readiness",
        {"namespace": far_pod["namespace"], "pod": far_pod["name"], "passing": False},
    )
    page.evaluate(
        "([k, p]) => window.slicescope.services.reveal(k, {podKey: p}).then((n) => n && n.dataset.podKey)",
        [far, far_pod["key"]],
    )
    card(page, far).locator(f'.chip.state-not-ready[data-pod-key="{far_pod["key"]}"]').wait_for(timeout=30000)
    assert far in page.evaluate("() => window.slicescope.services.drawn()")
    assert _nodes(page) <= DOM_LIMIT
    post_json(big_url + "api/actions/readiness", {"namespace": ns, "pod": name, "passing": True})
    post_json(
        big_url + "api/actions/readiness",
        {"namespace": far_pod["namespace"], "pod": far_pod["name"], "passing": True},
    )
    model_matches_snapshot(page, big_url, timeout=60)


def test_the_dom_stays_bounded_from_top_to_bottom(page: Any, big_url: str) -> None:
    _load(page, big_url)
    most = 0
    for _ in range(40):
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(120)
        most = max(most, _nodes(page))
    page.keyboard.press("End")
    last = page.evaluate("() => window.slicescope.services.order().at(-1)")
    card(page, last).wait_for(timeout=30000)  # the bottom of the list is drawn when it is reached
    most = max(most, _nodes(page))
    assert most <= DOM_LIMIT, most
    assert page.locator("#services .svc[data-key]").count() < 100


def test_a_compact_slice_expands_to_chips_and_folds_back(page: Any, big_url: str) -> None:
    _load(page, big_url)
    big = card(page, BIG)
    first = big.locator(".slice.compact").first
    name = first.locator("[data-part=name]").inner_text()
    slice_ = big.locator(".slice", has=page.locator(f"[data-part=name]:text-is('{name}')"))
    counts = {s: int(slice_.get_attribute(f"data-{s}")) for s in ("ready", "not-ready", "terminating")}
    toggle = slice_.locator("[data-part=strip-toggle]")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    slice_.locator(".chip").nth(99).wait_for(timeout=10000)
    assert slice_.locator(".chip").count() == 100
    assert slice_.locator(".strip .cell").count() == 0
    assert slice_.locator(".chip.state-ready").count() == counts["ready"]
    assert slice_.locator(".chip.state-not-ready").count() == counts["not-ready"]
    assert slice_.locator(".chip.state-terminating").count() == counts["terminating"]
    assert toggle.get_attribute("aria-expanded") == "true"
    # a chip opens its pod as before
    chip = slice_.locator(".chip[data-pod-key]").first
    pod_key = chip.get_attribute("data-pod-key")
    chip.click()
    page.wait_for_selector(f"#panel:not([hidden]) .panel-title:text-is('{pod_key.split('/', 1)[1]}')")
    page.click(".panel-close")
    toggle.click()
    slice_.locator(".strip .cell").nth(99).wait_for(timeout=10000)
    assert slice_.locator(".chip").count() == 0


def test_pods_left_out_are_grouped_by_reason_with_counts(page: Any, big_url: str) -> None:
    _load(page, big_url)
    snap = get_json(big_url + "api/snapshot")
    excluded = snap["services"][BIG]["excluded"]
    by_reason: dict[str, int] = {}
    for x in excluded:
        by_reason[x["reason"]] = by_reason.get(x["reason"], 0) + 1
    box = card(page, BIG).locator(".excluded")
    page.wait_for_function(
        '([k, n]) => document.querySelectorAll(`#services .svc[data-key="${k}"] .xgroup`).length === n',
        arg=[BIG, len(by_reason)],
        timeout=30000,
    )
    drawn = {
        g.get_attribute("data-reason"): int(g.get_attribute("data-count"))
        for g in box.locator(".xgroup").all()
    }
    assert drawn == by_reason
    big_group = box.locator(".xgroup[data-reason=not-ready]")
    assert by_reason["not-ready"] > 10  # a big group is closed: its count, no rows
    assert big_group.locator(".excluded-item").count() == 0
    assert f"{by_reason['not-ready']} pods" in big_group.inner_text()
    big_group.locator("[data-part=group-head]").click()
    big_group.locator(".excluded-item").first.wait_for(timeout=10000)
    assert big_group.locator(".excluded-item").count() == min(50, by_reason["not-ready"])
    assert "NOT READY" in big_group.locator(".excluded-item").first.inner_text()
    # the pods matching no Service: one group per owner kind, a count, rows 50 at a time
    orphans = [p for p in snap["pods"].values() if not p["services"]]
    group = page.locator("#orphans .ogroup").first
    assert int(group.get_attribute("data-count")) == len(orphans) == 200
    assert page.locator("#orphans .orphan").count() == 0
    group.locator("[data-part=head]").click()
    page.locator("#orphans .orphan").nth(49).wait_for(timeout=10000)
    assert page.locator("#orphans .orphan").count() == 50
    group.locator("[data-part=more]").click()
    page.locator("#orphans .orphan").nth(99).wait_for(timeout=10000)
    assert page.locator("#orphans .orphan").count() == 100


def test_the_model_equals_the_snapshot_after_a_dropped_stream_under_churn(page: Any, big_url: str) -> None:
    _load(page, big_url)
    post_json(big_url + "api/debug/churn", {"rate": 200, "seconds": 4})
    page.wait_for_timeout(1000)
    assert post_json(big_url + "api/debug/drop-streams")["dropped"] >= 1
    page.wait_for_function(
        "() => window.slicescope.link.state === 'reconnecting'", polling="raf", timeout=10000
    )
    page.wait_for_function("() => window.slicescope.link.state === 'live'", timeout=30000)
    for _ in range(120):
        if not get_json(big_url + "api/debug/churn")["running"]:
            break
        page.wait_for_timeout(250)
    model_matches_snapshot(page, big_url, timeout=60)
    assert _nodes(page) <= DOM_LIMIT


# Every render notes the seq it drew (by the render's number), checks that it draws every message that
# came since the render before it (the changes it is given name all their ops), and that no frame
# renders twice.
BATCH_SPY = """() => {
    const s = window.slicescope;
    const t = window.__batch = {arrived: [], missed: [], seqOf: {}, drawn: -1, msgs: 0, twiceInAFrame: 0,
                                lastFrame: -1};
    s.connection.onMessage((m) => { t.msgs += 1; t.arrived.push(m); });
    s.addView({name: 'batch-spy', render(model, changes) {
        const frame = s.frame.frames;
        if (frame === t.lastFrame) t.twiceInAFrame += 1;
        t.lastFrame = frame;
        t.seqOf[s.renders] = t.drawn = model.seq;  // s.renders: this render's number (counted when done)
        for (const m of t.arrived) {
            if (changes.all) continue;
            if (m.type !== 'delta') { t.missed.push({seq: m.seq, type: m.type}); continue; }
            for (const op of m.data.ops) {
                const drawn = op.op === 'put' || op.op === 'del' ? changes[op.coll].has(op.key)
                    : op.op === 'meta' ? changes.meta : changes.timeline;
                if (!drawn) t.missed.push({seq: m.seq, op: op.op, key: op.key || null});
            }
        }
        t.arrived = [];
    }});
}"""

# No render for ten frames in a row: the first screen is drawn and nothing is pending.
QUIET = """() => {
    const q = window.__quiet || (window.__quiet = {renders: -1, frames: 0});
    const r = window.slicescope.renders;
    if (r === q.renders) q.frames += 1; else { q.renders = r; q.frames = 0; }
    return q.frames >= 10;
}"""

# The page's main thread is held (synchronous requests: no task of the page runs) while the server
# sends a burst of one delta per pod; it lets go once the server has written all of it to the stream.
HOLD_FOR_BURST = """(pods) => {
    const call = (method, url, body) => {
        const x = new XMLHttpRequest();
        x.open(method, url, false);
        if (body) x.setRequestHeader('Content-Type', 'application/json');
        x.send(body ? JSON.stringify(body) : null);
        return JSON.parse(x.responseText);
    };
    const msgs = window.__batch.msgs;
    const first = call('GET', 'api/debug/streams').seq + 1;
    for (const key of pods) {
        const [namespace, pod] = key.split('/');
        call('POST', 'api/actions/readiness', {namespace, pod, passing: false});
    }
    const until = performance.now() + 60000;
    let s = call('GET', 'api/debug/streams');
    while (Math.min(...s.written) < s.seq && performance.now() < until) s = call('GET', 'api/debug/streams');
    // a few more round trips through the browser's network service, which meanwhile reads the
    // stream's socket on a thread of its own
    for (let i = 0; i < 3; i++) call('GET', 'api/debug/streams');
    return {first, last: s.seq, written: s.written, rendersAtRelease: window.slicescope.renders,
            msgsWhileHeld: window.__batch.msgs - msgs};
}"""

BURST = 24


def _one_stream(base: str) -> None:
    """Wait until the server streams to this test's page alone (a closed page's stream ends soon)."""
    deadline = time.monotonic() + LOAD_S
    while len(get_json(base + "api/debug/streams")["written"]) != 1:
        assert time.monotonic() < deadline, get_json(base + "api/debug/streams")
        time.sleep(0.1)


def _churn_done(page: Any, base: str) -> None:
    deadline = time.monotonic() + LOAD_S
    while get_json(base + "api/debug/churn")["running"]:
        assert time.monotonic() < deadline, "the churn never ended"
        page.wait_for_timeout(250)


def test_changes_in_one_frame_are_one_render_without_layout_reads(page: Any, big_url: str) -> None:
    page.add_init_script(LAYOUT_SPY)
    _load(page, big_url)
    page.evaluate(BATCH_SPY)
    page.evaluate("() => { window.__reads0 = window.__layoutReads.length; }")
    page.wait_for_function(QUIET, polling="raf", timeout=LOAD_S * 1000)
    _one_stream(big_url)

    # a burst of deltas that all arrive while the page is busy is drawn at once: not a render each
    snap = get_json(big_url + "api/snapshot")
    pods = [p["key"] for p in snap["pods"].values() if not p["services"] and p["ready"]][:BURST]
    assert len(pods) == BURST
    held = page.evaluate(HOLD_FOR_BURST, pods)
    assert held["last"] - held["first"] + 1 == BURST and held["written"] == [held["last"]], held
    assert held["msgsWhileHeld"] == 0, held
    page.wait_for_function("(seq) => window.__batch.drawn >= seq", arg=held["last"], timeout=LOAD_S * 1000)
    seq_of = {int(k): v for k, v in page.evaluate("() => window.__batch.seqOf").items()}
    after = [(n, seq) for n, seq in sorted(seq_of.items()) if n >= held["rendersAtRelease"]]
    renders = next(i for i, (_, seq) in enumerate(after, 1) if seq >= held["last"])
    assert renders <= 3, (renders, after[:30], held)  # every render from the release to the last delta
    for key in pods:
        ns, name = key.split("/", 1)
        post_json(big_url + "api/actions/readiness", {"namespace": ns, "pod": name, "passing": True})

    # churn in bursts of 15 deltas while a compact slice opens and the list scrolls
    before = page.evaluate("() => window.__batch.msgs")
    post_json(big_url + "api/debug/churn", {"rate": 150, "seconds": 3, "tick": 0.5, "deltas": 15})
    page.wait_for_function("(n) => window.__batch.msgs >= n", arg=before + 15, timeout=LOAD_S * 1000)
    card(page, BIG).locator("[data-part=strip-toggle]").first.click()
    for _ in range(10):
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(100)
    _churn_done(page, big_url)
    # one burst far above the animation budget: the counts change, most flashes are skipped
    skipped0 = page.evaluate("() => window.slicescope.perf.skippedAnimations")
    page.evaluate("() => window.scrollTo(0, 0)")
    post_json(big_url + "api/debug/churn", {"rate": 3000, "seconds": 1.2, "tick": 1.0})
    _churn_done(page, big_url)
    model_matches_snapshot(page, big_url, timeout=LOAD_S)
    stats = page.evaluate(
        """() => ({msgs: window.__batch.msgs, missed: window.__batch.missed.slice(0, 5),
                   twice: window.__batch.twiceInAFrame,
                   reads: window.__layoutReads.slice(window.__reads0),
                   skipped: window.slicescope.perf.skippedAnimations})"""
    )
    assert stats["msgs"] > before + 20
    assert stats["missed"] == [], stats["missed"]  # no render left a message that came before it
    assert stats["twice"] == 0  # one render per frame at most
    assert stats["skipped"] > skipped0
    assert stats["reads"] == [], stats["reads"][:5]


def test_diagnosis_and_why_keep_working_at_scale(page: Any, big_url: str) -> None:
    _load(page, big_url)
    # every pod of one small Service fails its probe: its card raises the no-ready-endpoints banner
    snap = get_json(big_url + "api/snapshot")
    key = page.evaluate("() => window.slicescope.services.order()[3]")
    mine = [p for p in snap["pods"].values() if p["services"] == [key]]
    assert 0 < len(mine) < 20
    for p in mine:
        post_json(
            big_url + "api/actions/readiness",
            {"namespace": p["namespace"], "pod": p["name"], "passing": False},
        )
    banner = card(page, key).locator("[data-part=diagnosis]")
    banner.wait_for(timeout=30000)
    assert "NO READY ENDPOINTS" in banner.inner_text()
    assert banner.get_attribute("data-code") == "none-ready"
    # "why?" on the 1,100-endpoint Service: verdicts grouped with counts, a few pods each
    card(page, BIG).locator("[data-part=explain]").click()
    body = page.locator("#panel [data-part=explain][data-state=ok]")
    body.wait_for(timeout=30000)
    groups = body.locator(".verdict-group")
    assert groups.count() >= 2
    counted = sum(int(g.get_attribute("data-count")) for g in groups.all())
    assert counted == len([e for s in snap["services"][BIG]["slices"] for e in s["endpoints"]])
    assert body.locator(".verdict").count() <= 5 * groups.count()
    assert "ready endpoint" in body.inner_text()
    page.click(".panel-close")
    for p in mine:
        post_json(
            big_url + "api/actions/readiness",
            {"namespace": p["namespace"], "pod": p["name"], "passing": True},
        )
    banner.wait_for(state="hidden", timeout=30000)
