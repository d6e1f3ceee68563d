"""The topology diagram at real-cluster scale, against the stand-in server: a 1,100-endpoint Service
folds its full slices into counted bundles per node that open to their endpoints, its text fits its
boxes at 1280x720 and 1600x900, it follows churn on a 10,000-pod cluster without reading layout while
it draws, and a Service of 10,000 endpoints stays bounded (a page of slices, a cap on open rows)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.helpers import get_json, model_matches_snapshot, post_json
from tests.browser.test_page_scale import LAYOUT_SPY
from tests.live_server import live_server

pytestmark = pytest.mark.browser

BIG = "default/shipping-api-service"  # 1,100 endpoints: eleven full slices over three nodes
HUGE = "default/huge-service"  # 10,000 endpoints: a hundred slices
DOM_LIMIT = 15_000
WAIT_MS = 60_000
# the endpoint boxes of the slice `name` (in a JS function of `name`)
ENDPOINTS_OF = "document.querySelectorAll(`#topology g.tb[data-kind=endpoint][data-key^='ep|${name}|']`)"
GLYPHS = re.compile(r"✓(\d+) ✕(\d+) ⊘(\d+)")

# Every text of the diagram against its box (the layout computes widths; here the browser measures
# them), and the smallest font size used.
TEXT_FITS = """() => {
    const bad = [];
    for (const g of document.querySelectorAll('#topology g.tb')) {
        const r = g.querySelector('rect');
        const x = Number(r.getAttribute('x')), w = Number(r.getAttribute('width'));
        for (const t of g.querySelectorAll('text')) {
            if (t.classList.contains('mark-tag')) continue;
            const len = t.getComputedTextLength();
            const at = Number(t.getAttribute('x'));
            const start = t.getAttribute('text-anchor') === 'end' ? at - len : at;
            const out = start < x - 1 || start + len > x + w + 1;
            if (out) bad.push([g.dataset.key, t.textContent, start, len, x, w]);
        }
    }
    const texts = [...document.querySelectorAll('#topology text')];
    const sizes = texts.map((t) => Number(t.getAttribute('font-size')));
    return {bad, minSize: Math.min(...sizes), texts: sizes.length};
}"""


def _huge_world() -> Any:
    """One Service selecting 10,000 pods (a hundred slices of 100), 3% not ready, and 30 pods of the
    same namespace that no Service selects."""
    from tests.browser.stub_server import Svc, World

    w = World()
    w.svcs[HUGE] = Svc("default", "huge-service", {"app": "huge"}, "10.96.5.5")
    rs, labels = "huge-7d9c8b6f5", {"app": "huge", "pod-template-hash": "7d9c8b6f5"}
    w.deployments[("default", "huge")] = (rs, labels, 10_000)
    for i in range(10_000):
        pod = w.add_pod("default", rs, labels, ready=i % 33 != 0)
        pod.probe_ok = pod.ready
    for _ in range(30):
        w.add_pod("default", "batch-5d8f9c7b4", {"app": "batch", "pod-template-hash": "5d8f9c7b4"})
    return w


@pytest.fixture(scope="module")
def big_url(browser_context: Any) -> Iterator[str]:
    from tests.browser.stub_server import big_world, create_stub_app

    app = create_stub_app(world=big_world())
    app.state.hub.snapshot_text()
    with live_server(app) as base:
        yield base + "/"
        for pg in list(browser_context.pages):
            pg.close()


@pytest.fixture(scope="module")
def huge_url(browser_context: Any) -> Iterator[str]:
    from tests.browser.stub_server import create_stub_app

    app = create_stub_app(world=_huge_world())
    app.state.hub.snapshot_text()
    with live_server(app) as base:
        yield base + "/"
        for pg in list(browser_context.pages):
            pg.close()


def _open(page: Any, url: str, key: str) -> None:
    page.add_init_script(LAYOUT_SPY)
    page.goto(f"{url}#view=topology&svc={key}")
    page.wait_for_function(
        "(key) => window.slicescope && window.slicescope.link.state === 'live' &&"
        " window.slicescope.topology.state.service === key &&"
        " document.querySelector('#topology [data-kind=service]')",
        arg=key,
        timeout=WAIT_MS,
    )


def _nodes(page: Any) -> int:
    return page.evaluate("() => document.getElementsByTagName('*').length")


def _expected_bundles(svc: dict[str, Any]) -> dict[tuple[str, str], Counter[str]]:
    out: dict[tuple[str, str], Counter[str]] = {}
    for sl in svc["slices"]:
        for ep in sl["endpoints"]:
            out.setdefault((sl["name"], ep["node"]), Counter())[ep["state"]] += 1
    return out


def _drawn_bundles(page: Any) -> dict[tuple[str, str], Counter[str]]:
    rows = page.evaluate(
        """() => [...document.querySelectorAll('#topology g.tb[data-kind=bundle]')].map((g) =>
            [g.dataset.key, [...g.querySelectorAll('text')].map((t) => t.textContent).join('\\n')])"""
    )
    out: dict[tuple[str, str], Counter[str]] = {}
    for key, text in rows:
        _, slice_name, node = key.split("|")
        m = GLYPHS.search(text)
        assert m, text
        out[(slice_name, node)] = Counter(
            {
                s: int(n)
                for s, n in zip(("ready", "not-ready", "terminating"), m.groups(), strict=True)
                if int(n)
            }
        )
    return out


def _no_layout_read_while_drawing(page: Any) -> None:
    reads = page.evaluate("() => window.__layoutReads")
    mine = [r for r in reads if r["phase"] == "write" and "topology" in r["stack"]]
    assert not mine, mine[:5]


def test_1100_endpoints_fold_into_counted_bundles_that_open(page: Any, big_url: str) -> None:
    _open(page, big_url, BIG)
    svc = get_json(big_url + "api/snapshot")["services"][BIG]
    expected = _expected_bundles(svc)
    assert len(svc["slices"]) == 11 and len(expected) == 33
    page.wait_for_function(
        "() => document.querySelectorAll('#topology g.tb[data-kind=bundle]').length === 33"
    )
    slices = page.locator("#topology g.tb[data-kind=slice]")
    assert slices.count() == 11
    assert all(
        v == "false" for v in slices.evaluate_all("els => els.map((e) => e.getAttribute('aria-expanded'))")
    )
    # one bundle per slice and node, counted as the slices count: 1,100 in all
    drawn = _drawn_bundles(page)
    assert drawn == expected
    assert sum(sum(c.values()) for c in drawn.values()) == 1100
    # a strand per state present, in that state's style
    for (slice_name, node), counts in expected.items():
        for state in ("ready", "not-ready", "terminating"):
            sel = f'#topology path[data-key="branch|{slice_name}|{node}|{state}"]'
            assert page.locator(sel).count() == (1 if counts[state] else 0), (slice_name, node, state)
    assert _nodes(page) <= DOM_LIMIT
    assert page.evaluate("() => window.slicescope.topology.state.nodes") <= 2_000
    assert "1100 endpoints in 11 slices" in page.locator("#topology [data-part=topo-summary]").inner_text()

    # readable at 1600x900: text fits its box, nothing under 14 px
    fits = page.evaluate(TEXT_FITS)
    assert not fits["bad"], fits["bad"][:5]
    assert fits["minSize"] >= 14

    # one slice opens (click) to its hundred endpoints, in their states, and folds back (keyboard)
    third = svc["slices"][2]
    box = page.locator(f'#topology g.tb[data-key="slice|{third["name"]}"]')
    box.click()
    page.wait_for_function(
        f"(name) => {ENDPOINTS_OF}.length === 100",
        arg=third["name"],
        timeout=WAIT_MS,
    )
    assert box.get_attribute("aria-expanded") == "true"
    for ep in third["endpoints"]:
        node = page.locator(f'#topology g.tb[data-key="ep|{third["name"]}|{ep["ip"]}"]')
        assert node.get_attribute("data-state") == ep["state"]
        link = page.locator(f'#topology path[data-key="branch|{third["name"]}|{ep["ip"]}"]')
        assert link.get_attribute("data-state") == ep["state"]
    assert page.locator(f"#topology g.tb[data-kind=bundle][data-key^='bundle|{third['name']}|']").count() == 0
    assert page.evaluate("() => window.slicescope.topology.state.rows") == 100 + 30
    assert _nodes(page) <= DOM_LIMIT
    box.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(name) => !document.querySelector(`#topology g.tb[data-kind=endpoint][data-key^='ep|${name}|']`)",
        arg=third["name"],
        timeout=WAIT_MS,
    )
    assert box.get_attribute("aria-expanded") == "false"

    # readable at 1280x720 too: the diagram is laid out again for the narrower column
    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_function("() => window.slicescope.topology.state.rem < 20", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('#topology g.tb[data-kind=bundle]').length === 33"
    )
    fits = page.evaluate(TEXT_FITS)
    assert not fits["bad"], fits["bad"][:5]
    assert fits["minSize"] >= 12.5
    width = page.evaluate(
        "() => Number(document.querySelector('#topology svg.topo-svg').getAttribute('width'))"
    )
    assert width <= page.evaluate("() => window.slicescope.topology.state.width") + 1
    # and beside an open lesson, in the narrower column that leaves
    before = page.evaluate("() => window.slicescope.topology.state.width")
    page.click("[data-part=lesson-toggle]")
    page.wait_for_function(f"() => window.slicescope.topology.state.width < {before} - 100", timeout=WAIT_MS)
    page.wait_for_function(
        "() => Number(document.querySelector('#topology svg.topo-svg').getAttribute('width'))"
        " <= window.slicescope.topology.state.width + 1",
        timeout=WAIT_MS,
    )
    fits = page.evaluate(TEXT_FITS)
    assert not fits["bad"], fits["bad"][:5]
    assert fits["minSize"] >= 12.5
    _no_layout_read_while_drawing(page)


def test_the_diagram_follows_churn_on_10000_pods(page: Any, big_url: str) -> None:
    _open(page, big_url, BIG)
    page.wait_for_function(
        "() => document.querySelectorAll('#topology g.tb[data-kind=bundle]').length === 33"
    )
    # one slice open, so single endpoints change state too
    first = get_json(big_url + "api/snapshot")["services"][BIG]["slices"][0]["name"]
    page.evaluate("(name) => window.slicescope.topology.setExpanded(name, true)", first)
    page.wait_for_function(
        f"(name) => {ENDPOINTS_OF}.length === 100",
        arg=first,
        timeout=WAIT_MS,
    )
    draws = page.evaluate("() => window.slicescope.topology.state.draws")
    post_json(big_url + "api/debug/churn", {"rate": 300, "seconds": 4})
    most = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        most = max(most, _nodes(page))
        if not get_json(big_url + "api/debug/churn")["running"]:
            break
        time.sleep(0.3)
    snap = model_matches_snapshot(page, big_url)
    assert most <= DOM_LIMIT
    svc = snap["services"][BIG]
    # what is drawn is what the model says: the open slice endpoint by endpoint, the rest in bundles
    page.wait_for_function("() => window.slicescope.frame.phase === 'idle'")
    expected = {k: v for k, v in _expected_bundles(svc).items() if k[0] != first}
    assert _drawn_bundles(page) == expected
    states = page.evaluate(
        f"(name) => Object.fromEntries([...{ENDPOINTS_OF}].map((g) => [g.dataset.ip, g.dataset.state]))",
        first,
    )
    assert states == {ep["ip"]: ep["state"] for ep in svc["slices"][0]["endpoints"]}
    c = svc["counts"]
    summary = page.locator("#topology [data-part=topo-summary]").inner_text()
    assert f"({c['ready']} ready" in summary
    assert page.evaluate("() => window.slicescope.topology.state.draws") > draws
    _no_layout_read_while_drawing(page)


def test_a_service_of_10000_endpoints_stays_bounded(page: Any, huge_url: str) -> None:
    _open(page, huge_url, HUGE)
    page.wait_for_function("() => document.querySelectorAll('#topology g.tb[data-kind=slice]').length === 40")
    svc = get_json(huge_url + "api/snapshot")["services"][HUGE]
    assert len(svc["slices"]) == 100
    # a page of 40 slices, folded; the other 60 counted in a box that pages on
    assert page.locator("#topology g.tb[data-key=slices-after]").count() == 1
    assert "60 slices with 6000 endpoints after" in page.get_attribute(
        "#topology g.tb[data-key=slices-after]", "aria-label"
    )
    assert page.locator("#topology g.tb[data-key=slices-before]").count() == 0
    assert "10000 endpoints in 100 slices" in page.locator("#topology [data-part=topo-summary]").inner_text()
    # the pods no Service selects are there, a few per node with the rest counted
    assert page.locator("#topology g.tb[data-kind=orphan]").count() == 3 * 8
    assert page.locator("#topology g.tb[data-kind=note][data-key*='more|']").count() == 3
    assert _nodes(page) <= DOM_LIMIT
    # "open all" opens what the row cap allows, the rest stays folded
    page.click("#topology [data-part=topo-fold]")
    page.wait_for_function("() => window.slicescope.topology.state.rows >= 400", timeout=WAIT_MS)
    # four slices of 100 open, 36 folded into a bundle per node, 8 pods matching no Service per node
    assert page.evaluate("() => window.slicescope.topology.state.rows") == 400 + 36 * 3 + 3 * 8
    assert page.locator("#topology g.tb[data-kind=endpoint]").count() == 400
    assert page.locator("#topology g.tb[data-kind=slice][aria-expanded=true]").count() == 4
    assert _nodes(page) <= DOM_LIMIT
    # the next page of slices
    page.click("#topology g.tb[data-key=slices-after]")
    page.wait_for_function(
        "(name) => document.querySelector(`#topology g.tb[data-key='slice|${name}']`)",
        arg=svc["slices"][40]["name"],
        timeout=WAIT_MS,
    )
    assert page.locator("#topology g.tb[data-key=slices-before]").count() == 1
    assert page.locator(f'#topology g.tb[data-key="slice|{svc["slices"][0]["name"]}"]').count() == 0
    assert _nodes(page) <= DOM_LIMIT
    fits = page.evaluate(TEXT_FITS)
    assert not fits["bad"], fits["bad"][:5]
    _no_layout_read_while_drawing(page)


def test_search_in_the_diagram_opens_the_slice_and_points_at_the_pod(page: Any, big_url: str) -> None:
    _open(page, big_url, BIG)
    page.wait_for_function(
        "() => document.querySelectorAll('#topology g.tb[data-kind=bundle]').length === 33"
    )
    svc = get_json(big_url + "api/snapshot")["services"][BIG]
    target = svc["slices"][7]["endpoints"][42]
    page.fill("[data-part=query]", target["ip"])
    page.press("[data-part=query]", "Enter")
    # the folded slice holding it opens, and its pod's box is the one pointed at
    pod = f'#topology g.tb[data-kind=pod][data-ip="{target["ip"]}"]'
    page.wait_for_selector(f"{pod}.is-found", state="attached", timeout=WAIT_MS)
    assert page.get_attribute(pod, "data-pod-key") == f"default/{target['pod']}"
    name = svc["slices"][7]["name"]
    assert page.get_attribute(f'#topology g.tb[data-key="slice|{name}"]', "aria-expanded") == "true"
    assert page.evaluate("() => window.slicescope.topology.state.service") == BIG
    assert "view=topology" in page.evaluate("() => location.hash")
    _no_layout_read_while_drawing(page)
