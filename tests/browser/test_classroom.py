"""Classroom mode against the real server and its simulated cluster: a viewer following the presenter
under --present, Next pressed while a step plays, the reply to Next racing the stream, the kubectl
console in and out of a lesson, the pod panel beside a lesson. (Every built-in lesson is stepped
through, with every key that steps it, Back and restart, in test_scenarios_all.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import SIM_SPEED, _close_pages, _real_app_available
from tests.browser.helpers import card, get_json, post_json

pytestmark = pytest.mark.browser

SHIPPING = "default/shipping-api-service"
TOKEN = "presenter-t0ken"

# Where the lesson panel does not show its step whole in the window: parts outside the window or under
# the header, a middle that scrolls (words cut off), type too small for the back row.
LAYOUT_JS = """() => {
    const l = document.getElementById('lesson');
    const top = document.getElementById('top').getBoundingClientRect().bottom;
    const problems = [];
    const inside = (name, node) => {
        const b = node.getBoundingClientRect();
        const out = b.top < top - 0.5 || b.bottom > innerHeight + 0.5 || b.left < 0 || b.right > innerWidth;
        if (b.height === 0) problems.push(`${name} is not shown`);
        else if (out) problems.push(`${name} is outside the window (${b.top}..${b.bottom}, ${innerHeight})`);
    };
    const parts = ['step', 'step-title', 'narration', 'progress'];
    if (l.dataset.readonly !== 'yes') parts.push('back', 'next', 'restart');
    inside('the lesson panel', l);
    for (const p of parts) inside(p, l.querySelector(`[data-part=${p}]`));
    for (const c of l.querySelectorAll('[data-part=checks] .check')) inside(`check "${c.textContent}"`, c);
    const middle = l.querySelector('.lesson-scroll');
    if (middle.scrollHeight > middle.clientHeight + 1)
        problems.push(`the lesson's words scroll (${middle.scrollHeight} px in ${middle.clientHeight})`);
    const size = parseFloat(getComputedStyle(l.querySelector('[data-part=narration]')).fontSize);
    if (size < 19) problems.push(`the narration is set in ${size}px type`);
    const hourglass = document.body.innerText.includes('\\u23f3');
    if (hourglass) problems.push('an hourglass glyph (an empty box in Debian Chromium)');
    return problems;
}"""

# Whether what the step highlights is in the window (below the header): "shown", or "none" when
# nothing is drawn marked; null (not yet) otherwise.
HIGHLIGHT_SHOWN_JS = """() => {
    const top = document.getElementById('top').getBoundingClientRect().bottom;
    const marked = [...document.querySelectorAll('main .is-highlighted')];
    if (!marked.length) return 'none';
    return marked.some((n) => { const b = n.getBoundingClientRect();
        return b.height > 0 && b.bottom > top + 8 && b.top < innerHeight - 8; }) ? 'shown' : null;
}"""


@pytest.fixture(scope="module")
def shared_app(browser_context: Any) -> Iterator[str]:
    """The real server (simulated cluster with the lesson loaded, debug hooks on), one for the module."""
    if not _real_app_available():
        pytest.skip("the server is not there yet")
    from tests.fixtures_app import make_settings, running_app

    with running_app(make_settings(sim_speed=SIM_SPEED), debug_hooks=True) as base:
        try:
            yield base + "/"
        finally:
            _close_pages(browser_context)


@pytest.fixture
def app_url(shared_app: str, browser_context: Any) -> Iterator[str]:
    """The module's server with a fresh cluster: a lesson started and stopped brings the default
    lesson cluster back, made anew (whatever the test before did to it)."""
    post_json(shared_app + "api/scenarios/start", {"name": "endpoints-basics"})
    post_json(shared_app + "api/scenarios/stop")
    yield shared_app
    _close_pages(browser_context)


@pytest.fixture
def present_url(browser_context: Any) -> Iterator[str]:
    """The real server with --present (token fixed for the test)."""
    if not _real_app_available():
        pytest.skip("the server is not there yet")
    from tests.fixtures_app import make_settings, running_app

    with running_app(make_settings(sim_speed=SIM_SPEED, present=True, present_token=TOKEN)) as base:
        yield base + "/"
        _close_pages(browser_context)


def _settled(page: Any, n: int, total: int) -> None:
    """Wait until the lesson shows step n and that step has played out."""
    words = f"Step {n} of {total}" if n else f"Ready · {total} steps"
    page.wait_for_function(
        """(words) => {
            const l = document.getElementById('lesson');
            return l.querySelector('[data-part=step]').textContent === words &&
                   l.querySelector('[data-part=busy]').hidden && !l.dataset.pending;
        }""",
        arg=words,
        timeout=60000,
    )


def _start(page: Any, name: str) -> None:
    page.click("[data-part=lesson-toggle]")
    page.locator("#lesson [data-part=pick] option").first.wait_for(state="attached", timeout=60000)
    page.select_option("#lesson [data-part=pick]", name)
    page.click("#lesson [data-part=start]")
    page.wait_for_selector("#lesson[data-active=yes]", timeout=60000)
    page.locator("body").click(position={"x": 5, "y": 400})  # the keys go to the page, not a button


def _narration(page: Any) -> str:
    return page.locator("#lesson [data-part=narration]").inner_text()


def _wait_ready(page: Any, n: int) -> None:
    page.wait_for_function(
        """([k, n]) => document.querySelectorAll(
            `.svc[data-key="${k}"] .chip.state-ready:not([data-leaving])`).length === n""",
        arg=[SHIPPING, n],
        timeout=60000,
    )


def _no_failed_checks(page: Any) -> None:
    page.wait_for_function(
        """() => {
            const l = document.getElementById('lesson');
            return l.querySelectorAll('.check').length > 0 &&
                   l.querySelectorAll('.check[data-ok=false]').length === 0;
        }""",
        timeout=60000,
    )


def test_viewer_follows_the_presenter(browser_context: Any, present_url: str) -> None:
    presenter = browser_context.new_page()
    viewer = browser_context.new_page()
    errors: list[str] = []
    for pg in (presenter, viewer):
        pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        presenter.goto(present_url + f"?token={TOKEN}")
        presenter.wait_for_function("() => window.slicescope.role === 'presenter'")
        assert TOKEN not in presenter.url
        viewer.goto(present_url)
        viewer.wait_for_function("() => window.slicescope.role === 'viewer'")
        assert viewer.locator("[data-part=follow-tag]").is_visible()
        for sel in (
            "form.scale",
            "[data-part=traffic-toggle]",
            "[data-part=lesson-toggle]",
            "[data-part=record]",
        ):
            assert viewer.locator(sel).filter(visible=True).count() == 0, sel
        assert viewer.locator("#lesson").is_hidden()

        _start(presenter, "endpoints-basics")
        total = presenter.evaluate("() => window.slicescope.lesson.state.total")
        viewer.locator("#lesson").wait_for(timeout=60000)  # the viewer's panel opens by itself
        _settled(viewer, 0, total)
        presenter.keyboard.press("ArrowRight")
        _settled(presenter, 1, total)
        _settled(viewer, 1, total)
        assert _narration(viewer) == _narration(presenter)
        presenter.keyboard.press("ArrowRight")
        _settled(presenter, 2, total)
        _settled(viewer, 2, total)
        viewer.wait_for_function(
            "(k) => document.querySelector(`.svc[data-key=\"${k}\"]`)?.classList.contains('is-highlighted')",
            arg=SHIPPING,
            timeout=60000,
        )
        assert viewer.locator(".lesson-buttons").is_hidden()
        # a viewer's key press changes nothing (and the server would refuse it anyway)
        viewer.keyboard.press("ArrowRight")
        viewer.wait_for_timeout(500)
        assert get_json(present_url + "api/scenarios")["active"]["step"] == 2
        refused = viewer.evaluate("async () => (await fetch('api/scenarios/next', {method: 'POST'})).status")
        assert refused == 403
        assert not errors
    finally:
        presenter.close()
        viewer.close()


def test_console_runs_kubectl_get_endpoints(page: Any, app_url: str) -> None:
    page.goto(app_url)
    page.click("[data-part=console-toggle]")
    box = page.locator("#console-input")
    box.fill("kubectl get endpoints")
    box.press("Enter")
    page.wait_for_selector("#console:not([data-running])", timeout=30000)
    out = page.locator("#console [data-part=output]").inner_text()
    header = next((line for line in out.splitlines() if line.startswith("NAME")), "")
    assert header.split()[:2] == ["NAME", "ENDPOINTS"], out
    assert "shipping-api-service" in out


@pytest.fixture
def slow_url(browser_context: Any) -> Iterator[tuple[str, Any]]:
    """The real server at sim speed 5 (a step's 30 s of waits take 6 s) and its scenario session."""
    if not _real_app_available():
        pytest.skip("the server is not there yet")
    from tests.fixtures_app import make_settings, running_app

    with running_app(make_settings(sim_speed=5.0)) as base:
        yield base + "/", running_app.last_app.state.runtime.session  # type: ignore[attr-defined]
        _close_pages(browser_context)


def test_next_pressed_while_a_step_plays_is_queued(page: Any, slow_url: tuple[str, Any]) -> None:
    base, session = slow_url
    sent: list[int] = []
    original = session.next

    async def counted() -> Any:
        sent.append(session.runner.position if session.runner else -1)
        return await original()

    session.next = counted  # every Next the server gets, with the position it came at
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(base)
    _start(page, "readiness")
    _settled(page, 0, 4)
    lesson = page.locator("#lesson")

    page.keyboard.press("ArrowRight")  # step 1: 30 simulated seconds of waits
    page.wait_for_function(
        """() => { const l = document.getElementById('lesson');
                   return l.dataset.busy === 'yes' && l.querySelector('.check[data-ok=pending]'); }"""
    )
    # while it plays: its check is pending (a dotted mark, no ✗), the busy line says so
    assert lesson.locator(".check[data-ok=false]").count() == 0
    assert lesson.locator(".check[data-ok=pending] .check-mark").inner_text() == "…"
    assert "playing out" in lesson.locator("[data-part=busy]").inner_text()
    assert page.evaluate(LAYOUT_JS) == []

    page.keyboard.press("ArrowRight")  # pressed again before it has played out: queued, no error
    page.wait_for_function("() => window.slicescope.lesson.queued")
    assert "queued" in lesson.locator("[data-part=next]").inner_text().lower()
    assert "then step 2 starts" in lesson.locator("[data-part=busy]").inner_text()
    assert lesson.locator("[data-part=msg]").inner_text() == ""
    assert page.evaluate(LAYOUT_JS) == []
    rows = page.evaluate(
        "() => new Set([...document.querySelectorAll('#lesson .lesson-buttons .btn')]"
        ".map((b) => Math.round(b.getBoundingClientRect().top))).size"
    )
    assert rows == 1  # Back, Queued, Restart, Stop on one row
    page.keyboard.press("ArrowRight")  # one queued Next at most

    # step 1 plays out, then step 2 runs by itself and settles with its checks passing
    _settled(page, 2, 4)
    _no_failed_checks(page)
    assert lesson.locator("[data-part=msg]").inner_text() == ""
    assert not page.evaluate("() => window.slicescope.lesson.queued")
    assert "queued" not in lesson.locator("[data-part=next]").inner_text().lower()
    page.wait_for_timeout(1500)  # nothing else was queued: the server was asked for two steps only
    assert sent == [0, 1], sent
    state = get_json(base + "api/scenarios")["active"]
    assert (state["step"], state["busy"]) == (2, False)


def test_busy_ends_when_the_reply_to_next_comes_after_the_stream_showed_the_step_done(
    page: Any, app_url: str
) -> None:
    """The reply to Next and the stream race: here the reply is held back until the stream has shown
    the step played out (the clock then stands still, so nothing more comes on the stream). Busy shows
    until both are in, then clears, and a Next pressed meanwhile is sent."""
    held: list[Any] = []

    def hold_first(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/scenarios/next", hold_first)
    page.goto(app_url)
    _start(page, "readiness")
    _settled(page, 0, 4)
    page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 60
    while not held:  # the page's request reaches the route handler
        assert time.monotonic() < deadline, "the page never asked for the next step"
        page.wait_for_timeout(20)
    reply = held[0].fetch()  # the server starts step 1 now; its answer says "busy"
    assert reply.ok and reply.json()["busy"] is True and reply.json()["step"] == 1
    page.wait_for_function(
        """() => { const s = window.slicescope.model.meta.classroom.scenario;
                   return s.step === 1 && !s.busy; }"""
    )
    lesson = page.locator("#lesson")
    # the stream says step 1 is done, the reply is not in yet: still busy
    assert lesson.get_attribute("data-busy") == "yes" and lesson.locator("[data-part=busy]").is_visible()
    page.keyboard.press("ArrowRight")  # pressed while the reply is out: queued
    page.wait_for_function("() => window.slicescope.lesson.queued")

    held[0].fulfill(response=reply)
    # the queued Next goes, step 2 plays out, and busy clears
    _settled(page, 2, 4)
    _no_failed_checks(page)
    assert lesson.get_attribute("data-busy") == "no"
    assert not page.evaluate("() => window.slicescope.lesson.queued")
    state = get_json(app_url + "api/scenarios")["active"]
    assert (state["step"], state["busy"]) == (2, False)


def test_busy_ends_when_the_reply_to_next_comes_last(page: Any, app_url: str) -> None:
    """As above without a second Next: nothing at all happens after the late reply, busy still ends."""
    held: list[Any] = []
    page.route("**/api/scenarios/next", lambda route: held.append(route))
    page.goto(app_url)
    _start(page, "readiness")
    _settled(page, 0, 4)
    page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 60
    while not held:
        assert time.monotonic() < deadline, "the page never asked for the next step"
        page.wait_for_timeout(20)
    reply = held[0].fetch()
    page.wait_for_function(
        """() => { const s = window.slicescope.model.meta.classroom.scenario;
                   return s.step === 1 && !s.busy; }"""
    )
    assert page.locator("#lesson").get_attribute("data-busy") == "yes"
    held[0].fulfill(response=reply)
    _settled(page, 1, 4)
    _no_failed_checks(page)
    assert page.locator("#lesson [data-part=next]").inner_text().startswith("Next")


def test_console_in_a_lesson_suggests_its_commands_says_it_is_busy_and_stops(page: Any, app_url: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(app_url)
    _start(page, "readiness")
    for n in (1, 2):  # step 2 makes web-svc
        page.keyboard.press("ArrowRight")
        _settled(page, n, 4)
    page.click("[data-part=console-toggle]")
    console = page.locator("#console")
    suggestions = console.locator(".suggestion")
    page.wait_for_function(
        "() => document.querySelector('#console [data-part=suggestions]').dataset.source === 'lesson'"
    )
    offered = [b.get_attribute("title") for b in suggestions.all()]
    assert "kubectl get endpointslices -l kubernetes.io/service-name=web-svc" in offered, offered
    assert not any("shipping-api" in c for c in offered), offered  # not a Service of this lesson
    # the console stays under the diagram: the lesson's words and buttons are whole and uncovered
    assert page.evaluate(LAYOUT_JS) == []
    covered = page.evaluate(
        """() => { const c = document.getElementById('console').getBoundingClientRect();
            return [...document.querySelectorAll('#lesson [data-part=next], #lesson [data-part=back],'
                                                 + ' #lesson [data-part=narration]')]
              .filter((n) => { const b = n.getBoundingClientRect();
                  return b.left < c.right && b.right > c.left && b.top < c.bottom && b.bottom > c.top; })
              .map((n) => n.dataset.part); }"""
    )
    assert covered == []

    box = page.locator("#console-input")
    box.fill("kubectl get endpoints -w")
    box.press("Enter")
    busy = console.locator("[data-part=busy]")
    busy.wait_for()
    assert busy.inner_text() == "running: kubectl get endpoints -w"
    assert console.locator("[data-part=stop]").is_visible()
    out = console.locator("[data-part=output]")
    page.wait_for_function(
        "() => document.querySelector('#console [data-part=output]').textContent.includes('web-svc')"
    )
    # a command typed meanwhile is not lost: the console says it is busy and keeps the line
    box.fill("kubectl get pods")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#console [data-part=output]').textContent.includes('(busy:')"
    )
    assert box.input_value() == "kubectl get pods"
    box.press("Control+c")  # as in a terminal: the watch ends
    page.wait_for_selector("#console:not([data-running])")
    assert "(stopped)" in out.inner_text() and busy.is_hidden()
    box.press("Enter")  # now it runs
    page.wait_for_selector("#console:not([data-running])")
    output = "() => document.querySelector('#console [data-part=output]').textContent"
    page.wait_for_function(f"() => /\\$ kubectl get pods\\n[^$]*NAME/.test(({output})())")
    # a suggested command runs with a click
    suggestions.filter(has_text="describe endpoints web-svc").first.click()
    page.wait_for_selector("#console:not([data-running])")
    assert "Name:         web-svc" in out.inner_text()


OVERLAP_JS = """(sel) => { const p = document.getElementById('panel').getBoundingClientRect();
    const n = document.querySelector(sel).getBoundingClientRect();
    return n.left < p.right && n.right > p.left && n.top < p.bottom && n.bottom > p.top; }"""


def test_the_pod_panel_never_covers_what_it_talks_about(page: Any, app_url: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(app_url)
    _wait_ready(page, 4)
    chips = card(page, SHIPPING).locator(".chip.state-ready:not([data-leaving])")
    for i in range(chips.count()):  # every chip of the Service, whichever column it is drawn in
        key = chips.nth(i).get_attribute("data-pod-key")
        chips.nth(i).click()
        page.locator("#panel:not([hidden])").wait_for()
        assert not page.evaluate(OVERLAP_JS, f'#services .chip[data-pod-key="{key}"]'), key
        page.keyboard.press("Escape")
    # a pod matching no Service is drawn in the side column: its panel opens over the Services
    orphan_key = chips.first.get_attribute("data-pod-key")
    ns, name = orphan_key.split("/", 1)
    post_json(app_url + "api/actions/label", {"namespace": ns, "pod": name, "labels": {"app": "debug"}})
    orphan = page.locator(f'#orphans .orphan[data-pod-key="{orphan_key}"]')
    orphan.click()
    page.locator("#panel:not([hidden])").wait_for()
    assert page.locator("#panel").get_attribute("data-side") == "left"
    assert not page.evaluate(OVERLAP_JS, f'#orphans .orphan[data-pod-key="{orphan_key}"]')
    page.keyboard.press("Escape")
    # in a lesson, over the lesson's column: never over the diagram
    _start(page, "endpoints-basics")
    page.keyboard.press("ArrowRight")
    _settled(page, 1, 7)
    pod = page.locator("#orphans .orphan:not([data-leaving])").first
    pod_key = pod.get_attribute("data-pod-key")
    pod.click()
    page.locator("#panel:not([hidden])").wait_for()
    assert not page.evaluate(OVERLAP_JS, f'#orphans .orphan[data-pod-key="{pod_key}"]')
    assert not page.evaluate(OVERLAP_JS, "#services")
