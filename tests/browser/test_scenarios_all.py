"""Every built-in scenario stepped with the keyboard in headless Chromium against the real server, at
three sim speeds, each in a projector-sized window (1280x720 or 1600x900): at each step the page shows
the step's narration, "Step N of M", every check ✓, a diagram (Service cards' ready / not ready /
terminating counts and slices, the pods matching no Service) that agrees with the step's `expect`, what
changed in the step, and what the step highlights marked and brought into view; no check is ever shown
failed (pending while a step plays); the lesson's step, narration, checks and buttons are in the
window, whole, without scrolling. At one speed Back from the last step rebuilds the step before it and
Next plays the last one again; at another `r` restarts the lesson; the page's model equals the
server's snapshot at the end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.scenarios import builtin_scenarios
from app.scenarios.format import Scenario, ServiceCheck, Step, UnmatchedPodsCheck, Wait
from tests.browser.conftest import _close_pages, _real_app_available
from tests.browser.helpers import get_json, model_matches_snapshot, post_json
from tests.browser.test_classroom import HIGHLIGHT_SHOWN_JS, LAYOUT_JS, _start

pytestmark = pytest.mark.browser

SCENARIOS: dict[str, Scenario] = builtin_scenarios()
BIG = "scaling-past-100"  # 1050 pods: more time per step
# Simulated seconds per real second, each with its window size. What a step shows does not depend on
# the speed: the server holds the clock between steps and plays each step's waits on it, so a step
# ends exactly where its checks look (tests/classroom/test_lessons_keep_their_word.py plays every
# lesson at 1, 5 and 20 on a fake loaded clock). Here the speeds keep the waits short in real time
# (853 simulated seconds for all lessons: 43 s at x20, 4 s at x200).
RUNS = {20.0: (1600, 900), 60.0: (1280, 720), 200.0: (1280, 720)}
BACK_AT = 200.0  # Back from the last step, then Next again
RESTART_AT = 60.0  # `r` at the end brings the lesson to its start
# The keys that step a lesson: the arrow, a presentation clicker's PageDown, the space bar.
NEXT_KEYS = ("ArrowRight", "PageDown", " ")
SETTLE_MARGIN = 60.0  # real seconds on top of a step's own waits (page round trips, rendering): a ceiling
BIG_MARGIN = 90.0  # 800 pods created, scheduled, probed and drawn on a 2-core machine

# Every check mark drawn while the lesson runs, frame by frame: a failed one is never to be seen.
WATCH_CHECKS_JS = """() => {
    window.__failedChecks = [];
    const look = () => {
        for (const c of document.querySelectorAll('#lesson .check[data-ok=false]'))
            window.__failedChecks.push(
                document.querySelector('#lesson [data-part=step]').textContent + ': ' + c.textContent);
        requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
}"""

# Read in one go, in the animation frame in which the step is first seen finished (the clock is held
# from then on, so a later frame would show the same).
STEP_VIEW_JS = """(words) => {
    const l = document.getElementById('lesson');
    const stepText = l.querySelector('[data-part=step]').textContent;
    if (stepText !== words || !l.querySelector('[data-part=busy]').hidden || l.dataset.pending) return null;
    const num = (node) => {
        const m = /^(\\d+) /.exec(node ? node.textContent : '');
        return m ? Number(m[1]) : null;
    };
    const cards = {};
    for (const c of document.querySelectorAll('#services .svc:not([data-leaving])')) {
        const slices = [...c.querySelectorAll('[data-part=slices] > .slice:not([data-leaving])')];
        cards[c.dataset.key] = {
            ready: num(c.querySelector('[data-part=count-ready]')),
            notReady: num(c.querySelector('[data-part=count-not-ready]')),
            terminating: num(c.querySelector('[data-part=count-terminating]')),
            slices: slices.length,
            sliceSizes: slices.map((s) => {
                const m = /· (\\d+) endpoints? ·/.exec(s.querySelector('[data-part=meta]').textContent);
                return m ? Number(m[1]) : null;
            }),
        };
    }
    const unmatched = {};
    for (const o of document.querySelectorAll('#orphans .orphan:not([data-leaving])')) {
        if (o.dataset.state === 'terminating') continue;  // an expectation counts pods not being deleted
        unmatched[o.dataset.ns] = (unmatched[o.dataset.ns] || 0) + 1;
    }
    // what the step highlights: its Services' cards and its pods' chips are marked (where drawn),
    // and no other card is (as of the lesson's last render: the model may be a message ahead)
    const hl = (window.slicescope.lesson.state || {}).highlight || {};
    const named = (key) => (hl.services || []).some((n) => n === key || n === key.split('/')[1]);
    const highlight = [];
    for (const c of document.querySelectorAll('#services .svc:not([data-leaving])')) {
        const on = c.classList.contains('is-highlighted') && c.dataset.highlight === 'this step';
        if (on !== named(c.dataset.key)) highlight.push(`card ${c.dataset.key} marked ${on}`);
    }
    for (const key of hl.pods || []) {
        const drawn = `main :is(.chip, .orphan)[data-pod-key="${key}"]:not([data-leaving])`;
        for (const n of document.querySelectorAll(drawn))
            if (!n.classList.contains('is-highlighted')) highlight.push(`pod ${key} drawn unmarked`);
    }
    // a pod left out because it is terminating is drawn striped with a dotted edge, as a terminating
    // chip is, not with a not-ready pod's dashed outline
    const leftOutTerminating = [
        ...document.querySelectorAll('#services .excluded-pod:has(.reason-terminating)')
    ].map((n) => { const s = getComputedStyle(n); return [s.borderTopStyle, s.backgroundImage]; });
    return {
        step: stepText,
        changes: [...l.querySelectorAll('[data-part=changes] .change')].map((c) => c.textContent),
        changesShown: !l.querySelector('[data-part=changes-box]').hidden,
        highlight,
        leftOutTerminating,
        title: l.querySelector('[data-part=step-title]').textContent,
        narration: l.querySelector('[data-part=narration]').textContent,
        checks: [...l.querySelectorAll('[data-part=checks] .check')].map((c) => ({
            mark: c.querySelector('.check-mark').textContent,
            text: c.querySelector('.check-text').textContent,
        })),
        cards,
        unmatched,
        error: l.querySelector('[data-part=msg]').dataset.state === 'error'
            ? l.querySelector('[data-part=msg]').textContent : null,
    };
}"""


@pytest.fixture(scope="module")
def server_at(browser_context: Any) -> Iterator[Callable[[float], str]]:
    """The real server on the simulated cluster at a sim speed (no lesson preloaded: each test starts
    its scenario, which brings its own cluster), one per speed for the module."""
    if not _real_app_available():
        pytest.skip("the server is not there yet")
    from tests.fixtures_app import make_settings, running_app

    with contextlib.ExitStack() as servers:
        bases: dict[float, str] = {}

        def at(speed: float) -> str:
            if speed not in bases:
                settings = make_settings(sim_speed=speed, sim_lesson=False)
                bases[speed] = servers.enter_context(running_app(settings)) + "/"
            return bases[speed]

        try:
            yield at
        finally:
            _close_pages(browser_context)


def _step_view(page: Any, words: str, timeout_s: float) -> dict[str, Any]:
    handle = page.wait_for_function(STEP_VIEW_JS, arg=words, timeout=timeout_s * 1000, polling="raf")
    return handle.json_value()


def _wait_seconds(step: Step) -> float:
    """Simulated seconds a step waits (its `wait` actions and the halves of `flap`)."""
    total = 0.0
    for action in step.actions:
        seconds = getattr(action, "seconds", None)
        if isinstance(seconds, int | float):
            total += seconds
        times, period = getattr(action, "times", None), getattr(action, "period", None)
        if isinstance(times, int) and isinstance(period, int | float):
            total += 2 * times * period
    return total


def _diagram_problems(step: Step, view: dict[str, Any]) -> tuple[list[str], int]:
    """Where the drawn diagram disagrees with the step's expectations on Services and unmatched pods,
    and how many drawn numbers were compared."""
    problems: list[str] = []
    compared = 0
    cards = view["cards"]
    for check in step.expect:
        if isinstance(check, ServiceCheck):
            key = f"{check.namespace}/{check.name}"
            card = cards.get(key)
            if check.exists is False:
                if card is not None:
                    problems.append(f"{key}: expected no Service card, one is drawn")
                continue
            if card is None:
                if check.exists or any(
                    v for v in (check.ready, check.notReady, check.terminating, check.total, check.slices)
                ):
                    problems.append(f"{key}: no Service card drawn")
                continue
            drawn_total = sum(card[f] or 0 for f in ("ready", "notReady", "terminating"))
            wanted = {
                "ready": (check.ready, card["ready"]),
                "notReady": (check.notReady, card["notReady"]),
                "terminating": (check.terminating, card["terminating"]),
                "total": (check.total, drawn_total),
                "slices": (check.slices, card["slices"]),
                "sliceSizes": (
                    list(check.sliceSizes) if check.sliceSizes is not None else None,
                    sorted((n or 0 for n in card["sliceSizes"]), reverse=True),
                ),
            }
            for field, (expected, drawn) in wanted.items():
                compared += expected is not None
                if expected is not None and expected != drawn:
                    problems.append(f"{key} {field}: expected {expected}, drawn {drawn}")
        elif isinstance(check, UnmatchedPodsCheck):
            drawn = view["unmatched"].get(check.namespace, 0)
            compared += 1
            if drawn != check.count:
                problems.append(
                    f"pods matching no Service in {check.namespace}: expected {check.count}, drawn {drawn}"
                )
    return problems, compared


def _check_step(step: Step, view: dict[str, Any], where: str, played: bool = True) -> int:
    """Assert what a settled step shows (`played`: by Next, not rebuilt by Back); returns how many
    drawn numbers were compared with its expect."""
    assert view["error"] is None, f"{where}: {view['error']}"
    assert view["title"] == step.title, where
    assert view["narration"].strip() == step.narration.strip(), where
    assert len(view["checks"]) == len(step.expect), f"{where}: {view['checks']}"
    failed = [c["text"] for c in view["checks"] if c["mark"] != "✓"]
    assert not failed, f"{where}: checks not passing: {failed}"
    assert all(c["mark"] == "✓" for c in view["checks"]) and "✗" not in str(view["checks"])
    problems, compared = _diagram_problems(step, view)
    assert not problems, f"{where}: the diagram disagrees with its expect: {problems}; drawn {view['cards']}"
    assert view["highlight"] == [], f"{where}: what the step highlights is not marked as drawn"
    for border, background in view["leftOutTerminating"]:
        assert border == "dotted" and "repeating-linear-gradient" in background, (where, border, background)
    if played and any(not isinstance(a, Wait) for a in step.actions):  # it changed the cluster: it says what
        assert view["changesShown"] and view["changes"], f"{where}: nothing listed under what changed"
    return compared


def _step_through(page: Any, base: str, name: str, speed: float, margin: float) -> list[tuple[int, float]]:
    """Start `name` from the lesson panel and step it to the end with the keyboard, checking each
    step in the page. Returns (step, real seconds) for each step."""
    scenario = SCENARIOS[name]
    steps = scenario.steps
    total = len(steps)
    post_json(base + "api/scenarios/stop")  # the lesson of the test before on this server, if any
    page.goto(base)
    _start(page, name)
    page.evaluate(WATCH_CHECKS_JS)
    first = _step_view(page, f"Ready · {total} steps", margin)
    assert first["narration"].strip() == scenario.summary.strip()
    assert first["checks"] == []
    assert page.evaluate(LAYOUT_JS) == [], f"{name} before step 1"

    def settled(n: int) -> dict[str, Any]:
        return _step_view(page, f"Step {n} of {total}", _wait_seconds(steps[n - 1]) / speed + margin)

    timings: list[tuple[int, float]] = []
    compared = shown = left_out_terminating = 0
    for n, step in enumerate(steps, start=1):
        began = time.monotonic()
        page.keyboard.press(NEXT_KEYS[(n - 1) % len(NEXT_KEYS)])
        view = settled(n)
        timings.append((n, round(time.monotonic() - began, 2)))
        where = f"{name} step {n} ({step.title})"
        compared += _check_step(step, view, where)
        left_out_terminating += len(view["leftOutTerminating"])
        assert page.evaluate(LAYOUT_JS) == [], where
        shown += page.wait_for_function(HIGHLIGHT_SHOWN_JS, timeout=60_000).json_value() == "shown"

    assert compared >= total, f"{name}: only {compared} drawn numbers compared with the expectations"
    assert shown >= total // 2, f"{name}: what the steps highlight was in view at {shown} of {total} steps"
    if name == "rolling-update":  # its third step drains an old pod: one is left out, terminating
        assert left_out_terminating > 0, "no terminating pod was drawn left out"
    assert page.locator("#lesson [data-part=next]").inner_text().startswith("Done")
    # one more key press at the end changes nothing
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('#lesson [data-part=msg]').textContent.includes('last step')",
        timeout=60000,
    )
    if speed == BACK_AT:
        # Back rebuilds the step before (a fresh cluster fast-forwarded to it), Next plays the last again
        page.keyboard.press("ArrowLeft")
        _check_step(steps[-2], settled(total - 1), f"{name}: back to step {total - 1}", played=False)
        page.keyboard.press("ArrowRight")
        _check_step(steps[-1], settled(total), f"{name}: step {total} again")
    assert page.evaluate("window.__failedChecks") == [], "a check was shown failed while the lesson ran"
    model_matches_snapshot(page, base)
    if speed == RESTART_AT:
        page.keyboard.press("r")
        again = _step_view(page, f"Ready · {total} steps", margin)
        assert again["narration"].strip() == scenario.summary.strip() and again["checks"] == []
        assert get_json(base + "api/scenarios")["active"]["step"] == 0
    return timings


def _runs() -> list[Any]:
    return [
        pytest.param(name, speed, size, id=f"{name}-x{speed:g}")
        for name in sorted(SCENARIOS)
        for speed, size in RUNS.items()
    ]


@pytest.mark.parametrize(("name", "speed", "size"), _runs())
def test_scenario_stepped_in_the_page(
    page: Any, server_at: Callable[[float], str], name: str, speed: float, size: tuple[int, int]
) -> None:
    # scaling-past-100 makes 1050 pods live (about 25 s here on 2 cores): more time per step
    margin = BIG_MARGIN if name == BIG else SETTLE_MARGIN
    page.set_viewport_size({"width": size[0], "height": size[1]})
    timings = _step_through(page, server_at(speed), name, speed, margin)
    print(f"{name} at x{speed:g}, {size[0]}x{size[1]}: real seconds per step {timings}")


def test_every_builtin_scenario_is_there() -> None:
    assert len(SCENARIOS) == 8 and BIG in SCENARIOS
    # every lesson at three speeds, both window sizes among them
    assert len(_runs()) == 3 * len(SCENARIOS)
    assert set(RUNS.values()) == {(1280, 720), (1600, 900)} and {BACK_AT, RESTART_AT} <= set(RUNS)
