"""Record and replay through the page: a live session (a relabel and a readiness failure done through
the HTTP actions) recorded with Settings(record=...), then played by another server from the file in
headless Chromium. The replay page passes through the same views as the live page, ends where the
recording ended, seeks back to the start with the scrubber, and a truncated recording shows where
it stopped."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import _close_pages, _real_app_available
from tests.browser.helpers import model_matches_snapshot, post_json

pytestmark = pytest.mark.browser

LIVE_SPEED = 25.0  # simulated seconds per real second while recording
HOLD_SIM_SECONDS = 30.0  # each recorded state is held this long (1.2 s real) before the next change
REPLAY_SPEED = "8"  # the page's speed box: 8x keeps every held state over several hub ticks
LESSON_REPLAY_SPEED = "2"  # a lesson step held 1 s while recording stays half a second (many ticks)
SHIPPING = "default/shipping-api-service"
WEB = "default/web-svc"

# The parts of the page's model that must agree between live and replay: each Service's endpoints
# (ip, pod, state) and each pod's Services. Times and timeline ids differ between the two runs.
VIEW_JS = """() => {
    const m = window.slicescope.model;
    const services = {};
    for (const [k, s] of Object.entries(m.services)) {
        const eps = (s.slices || []).flatMap((sl) => sl.endpoints);
        services[k] = eps.map((e) => `${e.ip} ${e.pod} ${e.state}`).sort();
    }
    const pods = {};
    for (const [k, p] of Object.entries(m.pods)) pods[k] = [...(p.services || [])].sort();
    return {services, pods};
}"""

# Keep every lesson step the model goes through ("step|title|narration"), in window.__lessonSteps.
LESSON_STEPS_JS = """() => {
    window.__lessonSteps = [];
    window.slicescope.connection.onMessage(() => {
        const c = window.slicescope.model.meta.classroom;
        const s = c && c.scenario;
        const seen = s && s.step > 0 ? `${s.step}|${s.stepTitle}|${s.narration}` : '';
        const all = window.__lessonSteps;
        if (seen && all[all.length - 1] !== seen) all.push(seen);
    });
}"""

# Keep every distinct view the model goes through, message by message, in window.__views.
RECORD_VIEWS_JS = (
    "() => { const view = "
    + VIEW_JS
    + """;
    window.__views = [JSON.stringify(view())];
    window.slicescope.connection.onMessage(() => {
        const v = JSON.stringify(view());
        if (v !== window.__views[window.__views.length - 1]) window.__views.push(v);
    });
}"""
)


@contextlib.contextmanager
def _server(browser_context: Any, **settings: Any) -> Iterator[tuple[str, Any]]:
    """The real server with these settings; yields its base URL and its runtime."""
    if not _real_app_available():
        pytest.skip("the server is not there yet")
    from tests.fixtures_app import make_settings, running_app

    with running_app(make_settings(**settings)) as base:
        try:
            yield base + "/", running_app.last_app.state.runtime  # type: ignore[attr-defined]
        finally:
            _close_pages(browser_context)


@contextlib.contextmanager
def _page(browser_context: Any) -> Iterator[Any]:
    """A fresh page (each server gets its own: a server's end closes the pages); script errors fail."""
    pg = browser_context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.on(
        "console",
        lambda m: (
            errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    try:
        yield pg
    finally:
        if not pg.is_closed():
            pg.close()
    assert not errors, f"the page logged errors: {errors}"


def _view(page: Any) -> dict[str, Any]:
    return page.evaluate(VIEW_JS)


def _wait_view(page: Any, predicate_js: str, arg: Any = None, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until `predicate_js(view, arg)` holds for the page's model; the view then."""
    page.wait_for_function(
        f"(arg) => !!(window.slicescope && window.slicescope.model) && ({predicate_js})(({VIEW_JS})(), arg)",
        arg=arg,
        timeout=timeout * 1000,
        polling=50,
    )
    return _view(page)


def _hold(rt: Any) -> None:
    """Let the simulated cluster run HOLD_SIM_SECONDS with nothing changing, so the recording holds
    this state long enough to be seen at the replay's speed (changes within one hub tick coalesce)."""
    from tests.fixtures_app import wait_for

    until = rt.live.now() + HOLD_SIM_SECONDS
    wait_for(
        lambda: rt.live.now() >= until, timeout=HOLD_SIM_SECONDS / LIVE_SPEED + 10, what="simulated time"
    )


# the lesson settled: 4 shipping-api and 3 web pods, each a ready endpoint of its Service
ALL_READY = """(v, [n, counts]) => Object.keys(v.pods).length === n &&
    Object.entries(counts).every(([k, c]) => (v.services[k] || []).length === c &&
                                             v.services[k].every((e) => e.endsWith(' ready')))"""
LESSON = [7, {SHIPPING: 4, WEB: 3}]


def _record_session(browser_context: Any, path: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The live session: the lesson settles, a shipping-api pod is relabelled app=debug (an orphan,
    and a replacement), a web pod's readiness probe fails. Returns the views after each change and
    the pods acted on."""
    with (
        _server(browser_context, sim_speed=LIVE_SPEED, record=str(path)) as (base, rt),
        _page(browser_context) as page,
    ):
        page.goto(base)
        views = [_wait_view(page, ALL_READY, LESSON)]  # 4 shipping-api and 3 web pods, every endpoint ready
        _hold(rt)

        orphan = sorted(k for k, p in views[0]["pods"].items() if SHIPPING in p)[0]
        post_json(base + "api/actions/label", {"pod": orphan.split("/")[1], "labels": {"app": "debug"}})
        page.locator(f'#orphans .orphan[data-pod-key="{orphan}"]').wait_for(timeout=60000)
        views.append(
            _wait_view(
                page,
                """(v, [orphan, svc]) => v.pods[orphan] && v.pods[orphan].length === 0 &&
                    Object.keys(v.pods).length === 8 && v.services[svc].length === 4 &&
                    v.services[svc].every((e) => e.endsWith(' ready'))""",
                [orphan, SHIPPING],
            )
        )  # the replacement is ready too
        _hold(rt)

        sick = sorted(k for k, p in views[0]["pods"].items() if WEB in p)[0]
        post_json(base + "api/actions/readiness", {"pod": sick.split("/")[1], "passing": False})
        page.locator(f'.svc[data-key="{WEB}"] .chip.state-not-ready[data-pod-key="{sick}"]').wait_for(
            timeout=60000
        )
        views.append(_view(page))
        _hold(rt)
        views.append(_view(page))  # the recording's end
        assert views[-1] == views[-2], "the cluster kept changing after the readiness failure"
        assert post_json(base + "api/record/stop")["items"] > 0
    return views, {"orphan": orphan, "sick": sick}


def _is_subsequence(wanted: list[Any], seen: list[Any]) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in wanted)


def test_a_recorded_session_replays_the_same_views_in_the_page(browser_context: Any, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    live_views, acted = _record_session(browser_context, path)
    assert len(live_views) == 4 and live_views[0] != live_views[1] != live_views[2]
    end = live_views[-1]
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["slicescope-recording"] == 1 and len(lines) > 10

    # held at its start until play is pressed
    with (
        _server(browser_context, source="replay", replay=str(path), replay_speed=0.1) as (base, rt),
        _page(browser_context) as page,
    ):
        post_json(base + "api/replay/pause")  # at its start, however long the page takes to open
        page.goto(base)
        page.wait_for_function("() => window.slicescope && window.slicescope.model")
        header = page.locator("#top")
        assert page.locator("[data-part=cluster]").get_attribute("data-mode") == "replay"
        assert header.locator("[data-part=cluster-mode]").inner_text() == "REPLAY"
        assert "SIMULATED" not in header.inner_text().upper()
        assert "LIVE" not in header.locator("[data-part=badge]").inner_text()
        assert header.locator("[data-part=read-only]").is_visible()
        bar = page.locator("#replay")
        bar.wait_for(state="visible", timeout=60000)
        page.wait_for_function("() => window.slicescope.replay.replay !== null", timeout=60000)

        page.evaluate(RECORD_VIEWS_JS)
        play = bar.locator("[data-part=play]")
        if page.evaluate("() => window.slicescope.replay.replay.playing"):
            play.click()
            page.wait_for_function("() => document.querySelector('#replay').dataset.playing === 'false'")
        bar.locator("[data-part=speed]").select_option(REPLAY_SPEED)
        page.wait_for_function(f"() => window.slicescope.replay.replay.speed === {REPLAY_SPEED}")
        assert not _is_subsequence(
            [live_views[0]], [json.loads(v) for v in page.evaluate("window.__views")]
        ), "the replay had already reached the settled lesson before play was pressed"
        play.click()

        _wait_view(page, "(v, end) => JSON.stringify(v) === JSON.stringify(end)", end, timeout=30)
        page.wait_for_function(
            "() => document.querySelector('#replay').dataset.playing === 'false'", timeout=60000
        )
        seen = [json.loads(v) for v in page.evaluate("window.__views")]
        assert _is_subsequence(live_views[:3], seen), (
            f"the replay did not pass through the live views in order; it showed {len(seen)} views; "
            f"each live view at {[[i for i, v in enumerate(seen) if v == w] for w in live_views]}"
        )
        assert seen[-1] == end and _view(page) == end
        assert rt.source.state()["position"] == rt.source.state()["duration"]
        orphan = page.locator(f'#orphans .orphan[data-pod-key="{acted["orphan"]}"]')
        assert orphan.is_visible()
        timeline = page.locator("#timeline [data-part=list] > :not([data-leaving])")
        assert timeline.count() > 0

        # the scrubber back to the start: the state at 0 is rebuilt, nothing from later lingers
        scrub = bar.locator("[data-part=scrub]")
        scrub.focus()
        page.keyboard.press("Home")
        page.wait_for_function("() => window.slicescope.replay.replay.position === 0", timeout=60000)
        orphan.wait_for(state="detached", timeout=60000)
        start = _view(page)
        # at 0: the recording's opening lists (the lesson as it started), the orphan-to-be still
        # selected by its Service
        assert start != end and start["pods"][acted["orphan"]] == ["default/shipping-api-service"]
        model_matches_snapshot(page, base)
        assert page.locator("#orphans .orphan:not([data-leaving])").count() == 0
        assert page.evaluate("() => window.slicescope.model.timeline.length") == 0
        page.wait_for_function(
            "() => !document.querySelector('#timeline [data-part=list] > :not([data-leaving])')",
            timeout=60000,
        )
        assert bar.locator("[data-part=time]").inner_text().startswith("0:00 /")


def test_a_truncated_recording_plays_and_says_where_it_stopped(browser_context: Any, tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    with (
        _server(browser_context, sim_speed=LIVE_SPEED, record=str(whole)) as (base, _rt),
        _page(browser_context) as page,
    ):
        page.goto(base)
        _wait_view(page, ALL_READY, LESSON)
    data = whole.read_bytes()
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) > 6  # whole lines only
    last = len(lines) - 2  # the last line's index; it is cut in its middle
    cut = len(b"\n".join(lines[:last])) + 1 + len(lines[last]) // 2
    line_no = last + 1
    truncated = tmp_path / "cut.jsonl"
    truncated.write_bytes(data[:cut])

    with (
        _server(browser_context, source="replay", replay=str(truncated), replay_speed=100.0) as (base, rt),
        _page(browser_context) as page,
    ):
        page.goto(base)
        stopped = page.locator("#replay [data-part=stopped]")
        stopped.wait_for(state="visible", timeout=60000)
        assert f"line {line_no}: cut short" in stopped.inner_text()
        banner = page.locator("#top [data-part=source]")
        banner.wait_for(state="visible", timeout=60000)
        assert f"recording stopped at line {line_no}" in banner.inner_text()
        # what came before the cut plays: the page shows the pods of the valid lines
        page.wait_for_function("() => window.slicescope.replay.replay !== null", timeout=60000)
        page.locator("#replay [data-part=play]").click()  # a replay opens paused at its start
        page.wait_for_function(
            """() => { const r = window.slicescope.replay.replay;
                       return r && !r.playing && r.position === r.duration; }""",
            timeout=60000,
        )
        assert rt.source.state()["stoppedAt"].startswith(f"line {line_no}:")
        assert page.evaluate("() => Object.keys(window.slicescope.model.pods).length") > 0


def test_a_recorded_lesson_replays_its_narration_and_steps(browser_context: Any, tmp_path: Path) -> None:
    from app.scenarios import builtin_scenarios
    from tests.browser.test_classroom import LAYOUT_JS
    from tests.fixtures_app import wait_for

    lesson = builtin_scenarios()["readiness"]
    path = tmp_path / "lesson.jsonl"
    with _server(browser_context, sim_speed=LIVE_SPEED, record=str(path)) as (base, rt):
        post_json(base + "api/scenarios/start", {"name": "readiness"})
        for n in (1, 2):
            post_json(base + "api/scenarios/next")
            wait_for(
                lambda n=n: rt.session.state()["step"] == n and not rt.session.busy,
                timeout=60,
                what=f"step {n}",
            )
            time.sleep(1.0)  # the step shown a while (the clock is held between steps): seen at 8x too
        live = rt.session.classroom()["scenario"]
        assert post_json(base + "api/record/stop")["recording"] is False

    with (
        _server(browser_context, source="replay", replay=str(path)) as (base, rt),
        _page(browser_context) as page,
    ):
        page.set_viewport_size({"width": 1280, "height": 720})
        page.goto(base)
        bar = page.locator("#replay")
        bar.wait_for(state="visible", timeout=60000)
        page.wait_for_function("() => window.slicescope.replay.replay !== null", timeout=60000)
        # it opens at the start, paused: the session as it began, before the lesson
        state = page.evaluate("() => window.slicescope.replay.replay")
        assert state["playing"] is False and state["position"] == 0 and state["duration"] > 0
        assert bar.locator(".replay-tag").inner_text() == "REPLAY" and "RECORDING" not in bar.inner_text()
        assert page.locator("#lesson").is_hidden()
        # nothing to act with: no traffic, no console, no recording, no lesson controls
        for sel in ("[data-part=traffic-toggle]", "[data-part=console-toggle]", "[data-part=record]",
                    "[data-part=lesson-toggle]", "form.scale"):  # fmt: skip
            assert page.locator(sel).filter(visible=True).count() == 0, sel

        # every lesson step the page's model passes through, message by message (a step shown for a
        # moment may go by between two frames on a busy machine; the model still holds it)
        page.evaluate(LESSON_STEPS_JS)
        bar.locator("[data-part=speed]").select_option(LESSON_REPLAY_SPEED)
        page.wait_for_function(f"() => window.slicescope.replay.replay.speed === {LESSON_REPLAY_SPEED}")
        bar.locator("[data-part=play]").click()
        wait_for(
            lambda: (st := rt.source.state())["position"] >= st["duration"] and not st["playing"],
            timeout=60,
            what="the replay to reach its end",
        )
        page.wait_for_function(
            "() => document.querySelector('#replay').dataset.playing === 'false'", timeout=60000
        )
        wanted = [f"{n}|{lesson.steps[n - 1].title}|{lesson.steps[n - 1].narration}" for n in (1, 2)]
        seen = page.evaluate("window.__lessonSteps")
        assert _is_subsequence(wanted, seen), seen
        # the end shows step 2 in the panel, read-only, whole in the window
        step = lesson.steps[1]
        assert page.locator("#lesson [data-part=step]").inner_text() == "Step 2 of 4"
        assert page.locator("#lesson [data-part=narration]").inner_text().strip() == step.narration.strip()
        assert page.locator("#lesson [data-part=step-title]").inner_text() == step.title
        assert page.locator("#lesson .lesson-buttons").is_hidden()  # read-only: played back
        assert page.evaluate(LAYOUT_JS) == []
        shown = page.evaluate("() => window.slicescope.model.meta.classroom")
        assert shown == {"presenting": False, "scenario": live}
        assert [c.inner_text()[0] for c in page.locator("#lesson .check .check-mark").all()] == ["✓"] * len(
            lesson.steps[1].expect
        )

        # back to the start: no lesson yet
        scrub = bar.locator("[data-part=scrub]")
        scrub.focus()
        page.keyboard.press("Home")
        page.wait_for_function("() => window.slicescope.replay.replay.position === 0", timeout=60000)
        page.locator("#lesson").wait_for(state="hidden", timeout=60000)
