"""Classroom features of the page against the stand-in server: the reducer's deployments and
timeline-clear, the traffic selection, the lesson panel's keys, presenter and viewer, console, replay."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import WAIT_MS
from tests.browser.helpers import card, get_json, model_matches_snapshot, wait_ready_count

pytestmark = pytest.mark.browser

SHIPPING = "default/shipping-api-service"


def _calls(base: str) -> list[str]:
    return [c["path"] for c in get_json(base + "api/debug/calls")]


def test_reducer_keeps_deployments_and_clears_the_timeline(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    result = page.evaluate(
        """async () => {
            const m = await import('./static/js/model.js');
            const start = m.fromSnapshot({seq: 1, meta: {timelineLimit: 5}, services: {}, pods: {},
                deployments: {'d/web': {key: 'd/web', replicas: 2}},
                timeline: [{id: 1, text: 'a'}, {id: 2, text: 'b'}]});
            const out = m.applyDelta(start, {seq: 2, ops: [
                {op: 'put', coll: 'deployments', key: 'd/api', value: {key: 'd/api', replicas: 4}},
                {op: 'del', coll: 'deployments', key: 'd/web'},
                {op: 'timeline-clear'},
                {op: 'timeline', entry: {id: 9, text: 'after the clear'}},
                {op: 'put', coll: 'nonsense', key: 'x', value: 1},
            ]});
            return {model: out.model, startDeps: Object.keys(start.deployments),
                    startTl: start.timeline.length, changed: [...out.changes.deployments],
                    timeline: out.changes.timeline};
        }"""
    )
    assert result["model"]["deployments"] == {"d/api": {"key": "d/api", "replicas": 4}}
    assert [e["id"] for e in result["model"]["timeline"]] == [9]
    assert "nonsense" not in result["model"]
    assert result["startDeps"] == ["d/web"] and result["startTl"] == 2  # the input is untouched
    assert sorted(result["changed"]) == ["d/api", "d/web"] and result["timeline"] is True


def test_scale_box_shows_the_deployments_desired_and_ready_replicas(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    form = card(page, SHIPPING).locator("form.scale")
    assert form.locator('[data-part="deployment"]').inner_text() == "shipping-api"
    assert "4/4 ready" in form.inner_text()
    form.locator(".scale-input").fill("6")
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        """() => document.querySelector('.svc[data-key="default/shipping-api-service"] form.scale')
                 .dataset.ready === '6'""",
        timeout=WAIT_MS,
    )
    assert "6/6 ready" in form.inner_text()
    assert form.locator(".scale-input").input_value() == "6"
    model_matches_snapshot(page, stub_url)


def test_traffic_never_reaches_a_not_ready_or_terminating_endpoint(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    counts = page.evaluate(
        """async () => {
            const t = await import('./static/js/traffic.js');
            const ep = (ip, state) => ({ip, pod: 'p-' + ip, state, ready: state === 'ready',
                serving: state !== 'not-ready', terminating: state === 'terminating'});
            const svc = {key: 'd/s', ports: [{port: 80, targetPort: 8080}], slices: [
                {name: 'a', endpoints: [ep('10.0.0.1', 'ready'), ep('10.0.0.2', 'not-ready'),
                                        ep('10.0.0.3', 'terminating')]},
                {name: 'b', endpoints: [ep('10.0.0.4', 'ready'), ep('10.0.0.5', 'ready')]}]};
            const byState = {ready: 0, 'not-ready': 0, terminating: 0};
            const byIp = {};
            for (let i = 0; i < 1000; i++) {
                const r = t.route(svc);
                byState[r.endpoint.state] += 1;
                byIp[r.endpoint.ip] = (byIp[r.endpoint.ip] || 0) + 1;
            }
            const none = {key: 'd/n', ports: [], slices: [
                {name: 'c', endpoints: [ep('10.0.1.1', 'not-ready'), ep('10.0.1.2', 'terminating')]}]};
            const failed = t.route(none);
            return {byState, byIp, failed, edge: t.pickEndpoint(svc.slices[1].endpoints, () => 0.9999999).ip};
        }"""
    )
    assert counts["byState"] == {"ready": 1000, "not-ready": 0, "terminating": 0}
    assert set(counts["byIp"]) == {"10.0.0.1", "10.0.0.4", "10.0.0.5"}
    for ip, n in counts["byIp"].items():  # uniform: each of 3 gets about 333 (6 sigma is about 90)
        assert 240 < n < 430, (ip, n)
    assert counts["failed"] == {
        "ok": False,
        "endpoint": None,
        "candidates": 0,
        "reason": "no ready endpoints",
    }
    assert counts["edge"] == "10.0.0.5"


def test_traffic_toggle_counts_hits_on_ready_chips_only(page: Any, stub_url: str) -> None:
    page.emulate_media(reduced_motion="reduce")  # counters count without the animation
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    pod_key = card(page, SHIPPING).locator(".chip.state-ready").first.get_attribute("data-pod-key")
    ns, name = pod_key.split("/", 1)
    page.request.post(
        stub_url + "api/actions/readiness", data={"namespace": ns, "pod": name, "passing": False}
    )
    card(page, SHIPPING).locator(f'.chip.state-not-ready[data-pod-key="{pod_key}"]').wait_for(timeout=WAIT_MS)
    page.click(f'.svc[data-key="{SHIPPING}"] [data-part=traffic-toggle]')
    lane = card(page, SHIPPING).locator('[data-part="traffic-lane"]')
    assert ":80 → targetPort 8080" in lane.inner_text()
    for _ in range(200):
        page.evaluate("(k) => window.slicescope.traffic.send(k)", SHIPPING)
    hits = page.evaluate("(k) => window.slicescope.traffic.hitsOf(k)", SHIPPING)
    not_ready_ip = (
        card(page, SHIPPING).locator(f'.chip[data-pod-key="{pod_key}"] [data-part=ip]').inner_text()
    )
    assert not_ready_ip not in hits and len(hits) == 3 and sum(hits.values()) >= 200
    page.wait_for_function(
        """(key) => { const h = document.querySelector(`.chip[data-pod-key="${key}"] .chip-hits`);
                      return !!h && h.textContent === '0 hits'; }""",
        arg=pod_key,
    )
    assert (
        page.evaluate(
            "() => document.getAnimations().filter(a => a.effect.target.closest('.traffic-layer')).length"
        )
        == 0
    )
    # every pod not ready: requests visibly fail
    for key in (
        card(page, SHIPPING)
        .locator(".chip.state-ready")
        .evaluate_all("els => els.map(e => e.dataset.podKey)")
    ):
        n, p = key.split("/", 1)
        page.request.post(
            stub_url + "api/actions/readiness", data={"namespace": n, "pod": p, "passing": False}
        )
    page.wait_for_function(
        """() => !document.querySelector('.svc[data-key="default/shipping-api-service"] .chip.state-ready')"""
    )
    page.evaluate("(k) => window.slicescope.traffic.send(k)", SHIPPING)
    page.wait_for_function(
        """() => { const r = document.querySelector('[data-part="traffic-result"]');
                   return !!r && r.dataset.state === 'failed' &&
                          r.textContent.includes('no ready endpoints'); }"""
    )


def test_keyboard_steps_the_lesson_through_the_routes(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    page.click("[data-part=lesson-toggle]")
    page.select_option("#lesson [data-part=pick]", "endpoints-basics")
    page.click("#lesson [data-part=start]")
    lesson = page.locator("#lesson")
    page.wait_for_selector("#lesson[data-active=yes]")
    assert "→" in lesson.locator(".lesson-keys").inner_text()  # the hint is shown
    page.locator("body").click(position={"x": 5, "y": 300})  # focus off the buttons

    def step_is(n: int) -> None:
        lesson.locator('[data-part="step"]').and_(page.get_by_text(f"Step {n} of 3")).wait_for(
            timeout=WAIT_MS
        )
        page.wait_for_function("() => !document.querySelector('#lesson[data-pending]')")

    before = len(_calls(stub_url))
    page.keyboard.press("ArrowRight")
    step_is(1)
    page.keyboard.press("PageDown")
    step_is(2)
    assert "fails its readiness probe" in lesson.locator('[data-part="narration"]').inner_text()
    # the step names a pod: its chip carries an outline and a label
    marked = card(page, SHIPPING).locator(".chip.is-highlighted")
    marked.wait_for(timeout=WAIT_MS)
    assert marked.get_attribute("data-highlight") == "this step"
    assert "NOT READY" in marked.inner_text()
    assert card(page, SHIPPING).get_attribute("data-highlight") == "this step"
    assert lesson.locator(".check[data-ok=false]").count() == 1
    assert "✗" in lesson.locator(".check[data-ok=false]").inner_text()
    page.keyboard.press(" ")
    step_is(3)
    page.keyboard.press("PageUp")
    step_is(2)
    page.keyboard.press("ArrowLeft")
    step_is(1)
    page.keyboard.press("r")
    lesson.locator('[data-part="step"]').and_(page.get_by_text("Ready · 3 steps")).wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => !document.querySelector('#lesson[data-pending]')")
    # typing in a field is not a shortcut
    page.click("[data-part=console-toggle]")
    page.locator("#console-input").press("ArrowRight")
    page.locator("#console-input").press("r")
    calls = _calls(stub_url)[before:]
    assert calls == [
        "/api/scenarios/next",
        "/api/scenarios/next",
        "/api/scenarios/next",
        "/api/scenarios/back",
        "/api/scenarios/back",
        "/api/scenarios/restart",
    ]


def test_viewer_hides_controls_and_follows_the_presenter(browser_context: Any, stub_present_url: str) -> None:
    presenter = browser_context.new_page()
    viewer = browser_context.new_page()
    try:
        presenter.goto(stub_present_url + "?token=s3cret")
        presenter.wait_for_function("() => window.slicescope.role === 'presenter'")
        assert "token" not in presenter.url  # stripped from the address bar
        viewer.goto(stub_present_url)
        viewer.wait_for_function("() => window.slicescope.role === 'viewer'")
        wait_ready_count(viewer, SHIPPING, 4)
        assert viewer.locator('[data-part="follow-tag"]').is_visible()
        assert presenter.locator('[data-part="follow-tag"]').is_hidden()
        for sel in (
            "form.scale",
            "[data-part=traffic-toggle]",
            "[data-part=lesson-toggle]",
            "[data-part=console-toggle]",
            "[data-part=record]",
            ".lesson-buttons",
        ):
            assert viewer.locator(sel).filter(visible=True).count() == 0, sel
        # the presenter starts and steps the lesson; the viewer's panel opens and follows
        presenter.click("[data-part=lesson-toggle]")
        presenter.select_option("#lesson [data-part=pick]", "endpoints-basics")
        presenter.click("#lesson [data-part=start]")
        presenter.wait_for_selector("#lesson[data-active=yes]")
        presenter.keyboard.press("ArrowRight")
        viewer.locator("#lesson [data-part=step]").and_(viewer.get_by_text("Step 1 of 3")).wait_for(
            timeout=WAIT_MS
        )
        presenter.wait_for_function("() => !document.querySelector('#lesson[data-pending]')")
        presenter.keyboard.press("ArrowRight")
        viewer.locator("#lesson [data-part=step]").and_(viewer.get_by_text("Step 2 of 3")).wait_for(
            timeout=WAIT_MS
        )
        assert viewer.locator("#lesson").is_visible()
        assert "fails its readiness probe" in viewer.locator("#lesson [data-part=narration]").inner_text()
        card(viewer, SHIPPING).locator(".chip.is-highlighted").wait_for(timeout=WAIT_MS)
        assert viewer.locator(".lesson-buttons").is_hidden()
        # the viewer's keys do nothing, and a POST without the token is refused
        calls = len(_calls(stub_present_url))
        viewer.keyboard.press("ArrowRight")
        viewer.wait_for_timeout(300)
        assert len(_calls(stub_present_url)) == calls
        tokens = {c["token"] for c in get_json(stub_present_url + "api/debug/calls")}
        assert tokens == {"s3cret"}
    finally:
        presenter.close()
        viewer.close()


def test_console_runs_commands_with_history_as_plain_text(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    page.click("[data-part=console-toggle]")
    out = page.locator("#console [data-part=output]")
    page.locator("#console .suggestion", has_text="get endpoints").first.click()
    page.wait_for_selector("#console:not([data-running])")
    assert "NAME                   ENDPOINTS" in out.inner_text()
    box = page.locator("#console-input")
    box.fill("kubectl get pods")
    box.press("Enter")
    page.wait_for_selector("#console:not([data-running])")
    assert "<b>stub</b> cannot run" in out.inner_text()  # shown as text, never parsed
    assert out.locator("b").count() == 0
    box.press("ArrowUp")
    assert box.input_value() == "kubectl get pods"
    box.press("ArrowUp")
    assert box.input_value() == "kubectl get endpoints"
    box.press("ArrowDown")
    box.press("ArrowDown")
    assert box.input_value() == ""


def test_console_and_lessons_are_hidden_on_a_real_cluster(page: Any, stub_readonly_url: str) -> None:
    page.goto(stub_readonly_url)
    wait_ready_count(page, SHIPPING, 4)
    assert page.locator("[data-part=console-toggle]").is_hidden()
    assert page.locator("[data-part=lesson-toggle]").is_hidden()
    assert page.locator("#console").is_hidden()


def test_replay_bar_plays_seeks_and_says_where_the_recording_stops(page: Any, stub_replay_url: str) -> None:
    page.goto(stub_replay_url)
    bar = page.locator("#replay")
    bar.wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelector('#replay [data-part=time]').textContent.includes('2:00')"
    )
    assert "0:12 / 2:00" in bar.inner_text()
    assert "line 812: cut short" in bar.locator("[data-part=stopped]").inner_text()
    assert page.locator("[data-part=record-box]").is_hidden()
    bar.locator("[data-part=play]").click()  # playing → pause
    page.wait_for_function("() => document.querySelector('#replay').dataset.playing === 'false'")
    bar.locator("[data-part=speed]").select_option("4")
    page.wait_for_function("() => window.slicescope.replay.replay.speed === 4")
    bar.locator("[data-part=scrub]").fill("60")  # sets the value and fires input + change
    page.wait_for_function("() => window.slicescope.replay.replay.position === 60")
    page.wait_for_function("() => document.getElementById('replay').textContent.includes('1:00 / 2:00')")
    assert _calls(stub_replay_url) == ["/api/replay/pause", "/api/replay/speed", "/api/replay/seek"]


def test_record_button_starts_and_stops_with_the_file_name(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    box = page.locator("[data-part=record-box]")
    box.wait_for(timeout=WAIT_MS)
    box.locator("[data-part=record]").click()
    page.wait_for_function(
        """() => { const b = document.querySelector('[data-part=record-box]');
                   return b.dataset.recording === 'true' &&
                          b.textContent.includes('slicescope-20261122-030729.jsonl · 9 items'); }"""
    )
    box.locator("[data-part=record]").click()
    page.wait_for_function(
        """() => { const b = document.querySelector('[data-part=record-box]');
                   return b.dataset.recording === 'false' &&
                          b.textContent.includes('saved slicescope-20261122-030729.jsonl · 12 items'); }"""
    )


def test_dark_theme_is_kept_across_reloads(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    start = page.evaluate("() => document.documentElement.dataset.theme")
    page.click("[data-part=theme-toggle]")
    flipped = "dark" if start == "light" else "light"
    assert page.evaluate("() => document.documentElement.dataset.theme") == flipped
    page.reload()
    wait_ready_count(page, SHIPPING, 4)
    assert page.evaluate("() => document.documentElement.dataset.theme") == flipped
    bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert bg == ("rgb(10, 12, 16)" if flipped == "dark" else "rgb(238, 240, 243)")


def test_traffic_moves_nothing_and_stop_takes_its_counters_away(page: Any, stub_url: str) -> None:
    page.emulate_media(reduced_motion="reduce")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    where = """(k) => { const c = document.querySelector(`.svc[data-key="${k}"]`);
        const s = c.querySelector('[data-part=slices] .slice').getBoundingClientRect();
        const b = c.getBoundingClientRect();
        const chip = c.querySelector('.chip').getBoundingClientRect();
        return {slice: s.top - b.top, card: b.height, chip: chip.height}; }"""
    before = page.evaluate(where, SHIPPING)
    toggle = card(page, SHIPPING).locator("[data-part=traffic-toggle]")
    toggle.click()
    lane = card(page, SHIPPING).locator("[data-part=traffic-lane]")
    lane.wait_for()
    for _ in range(40):
        page.evaluate("(k) => window.slicescope.traffic.send(k)", SHIPPING)
    page.wait_for_function(
        '(k) => document.querySelectorAll(`.svc[data-key="${k}"] .chip .chip-hits`).length === 4',
        arg=SHIPPING,
    )
    after = page.evaluate(where, SHIPPING)
    # the lane sits on the toggle's line and the counters in the chips' corners: nothing moved or grew
    assert abs(after["slice"] - before["slice"]) <= 1, (before, after)
    assert abs(after["card"] - before["card"]) <= 1 and abs(after["chip"] - before["chip"]) <= 1
    assert "→ targetPort 8080" in lane.inner_text()

    toggle.click()  # Stop traffic: the lane and every counter go
    page.wait_for_function('(k) => !document.querySelector(`.svc[data-key="${k}"] .chip-hits`)', arg=SHIPPING)
    assert lane.count() == 0 and toggle.inner_text() == "▶ Send traffic"
    assert page.evaluate("(k) => window.slicescope.traffic.hitsOf(k)", SHIPPING) == {}
    assert page.evaluate(where, SHIPPING) == before


def test_console_without_a_lesson_suggests_commands_about_the_services_there_are(
    page: Any, stub_url: str
) -> None:
    page.goto(stub_url)
    wait_ready_count(page, SHIPPING, 4)
    page.click("[data-part=console-toggle]")
    box = page.locator("#console [data-part=suggestions]")
    page.wait_for_function(
        "() => document.querySelector('#console [data-part=suggestions]').dataset.source === 'cluster'"
    )
    assert (
        box.get_attribute("data-source") == "cluster"
        and box.locator(".suggestions-label").inner_text() == "try:"
    )
    offered = [b.get_attribute("title") for b in box.locator(".suggestion").all()]
    services = page.evaluate("() => Object.values(window.slicescope.model.services).map((s) => s.name)")
    named = {c.split()[-1] for c in offered if c.startswith("kubectl describe endpoints")}
    assert named and named <= set(services), (offered, services)  # never a Service that is not there
    assert offered[0] == "kubectl get endpoints" and "kubectl get endpoints -w" in offered
