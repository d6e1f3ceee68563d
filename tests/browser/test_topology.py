"""The topology diagram against the real server and its simulated cluster, driven as a teacher would:
the lesson's Service drawn with a connector per endpoint in its state's style and words, following a
readiness failure and a relabel, traffic travelling to ready pods only, the toggle and the URL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import get_json, post_json

pytestmark = pytest.mark.browser

SHIPPING = "default/shipping-api-service"
WAIT_MS = 60_000


def _open(page: Any, url: str, key: str = SHIPPING, ready: int = 4) -> None:
    """The page with the diagram of `key` shown from the URL, once it draws `ready` ready endpoints."""
    page.goto(f"{url}#view=topology&svc={key}")
    page.wait_for_function(
        """([key, n]) => {
            const t = window.slicescope && window.slicescope.topology;
            return t && t.state.service === key &&
              document.querySelectorAll('#topology [data-kind=endpoint][data-state=ready]').length === n;
        }""",
        arg=[key, ready],
        timeout=WAIT_MS,
    )


def _endpoints(url: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    snap = get_json(url + "api/snapshot")
    return [(sl["name"], ep) for sl in snap["services"][key]["slices"] for ep in sl["endpoints"]]


def _text(box: Any) -> str:
    """The lines a diagram box shows (SVG text has no innerText), one per line."""
    return box.evaluate("el => [...el.querySelectorAll('text')].map((t) => t.textContent).join('\\n')")


def _dash(page: Any, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).strokeDasharray")


def _inside(page: Any, inner: str, outer: str) -> bool:
    """Whether the rect of box `inner` lies within the rect of box `outer` (the layout's numbers)."""
    return page.evaluate(
        """([a, b]) => {
            const r = (sel) => { const e = document.querySelector(sel + ' > rect');
              return ['x', 'y', 'width', 'height'].map((k) => Number(e.getAttribute(k))); };
            const [ax, ay, aw, ah] = r(a), [bx, by, bw, bh] = r(b);
            return ax >= bx && ay >= by && ax + aw <= bx + bw && ay + ah <= by + bh;
        }""",
        [inner, outer],
    )


def test_the_lesson_service_is_drawn_with_a_connector_per_endpoint(page: Any, app_url: str) -> None:
    _open(page, app_url)
    eps = _endpoints(app_url, SHIPPING)
    assert len(eps) == 4
    assert page.locator("#services").is_hidden() and page.locator("#topology").is_visible()
    assert page.locator("[data-part=view-toggle]").get_attribute("aria-pressed") == "true"
    svc = page.locator("#topology [data-kind=service]")
    assert "shipping-api-service" in _text(svc).replace("\n", "")
    assert "✓ 4 ready" in _text(svc)
    for slice_name, ep in eps:
        box = page.locator(f'#topology [data-key="ep|{slice_name}|{ep["ip"]}"]')
        assert box.get_attribute("data-state") == "ready"
        assert f"✓ {ep['ip']}" in _text(box) and "READY" in _text(box)
        # the connector from the slice to the endpoint and on to its pod: solid, named by its state
        for kind in ("branch", "link"):
            sel = f'#topology path[data-key="{kind}|{slice_name}|{ep["ip"]}"]'
            assert page.get_attribute(sel, "data-state") == "ready"
            assert "ready" in page.get_attribute(sel, "data-label")
            assert _dash(page, sel) == "none"
        # the pod sits in its node's box
        pod = f'#topology [data-kind=pod][data-pod-key="default/{ep["pod"]}"]'
        assert page.locator(pod).count() == 1
        assert "Running" in _text(page.locator(pod))
        assert _inside(page, pod, f'#topology [data-key="node|{ep["node"]}"]')
        assert ep["node"] in _text(page.locator(f'#topology [data-key="node|{ep["node"]}"]'))
    # the slice is drawn between them, named
    assert page.locator(f'#topology [data-key="slice|{eps[0][0]}"]').count() == 1
    # a screen reader gets the same in words
    label = page.get_attribute(
        f'#topology [data-kind=pod][data-pod-key="default/{eps[0][1]["pod"]}"]', "aria-label"
    )
    assert eps[0][1]["pod"] in label and eps[0][1]["node"] in label


def test_a_failing_probe_turns_its_connector_dashed_and_not_ready(page: Any, app_url: str) -> None:
    _open(page, app_url)
    slice_name, ep = _endpoints(app_url, SHIPPING)[1]
    post_json(app_url + "api/actions/readiness", {"namespace": "default", "pod": ep["pod"], "passing": False})
    box = f'#topology [data-key="ep|{slice_name}|{ep["ip"]}"]'
    page.wait_for_selector(f"{box}[data-state=not-ready]", timeout=WAIT_MS)
    text = _text(page.locator(box))
    assert f"✕ {ep['ip']}" in text and "NOT READY" in text
    branch = f'#topology path[data-key="branch|{slice_name}|{ep["ip"]}"]'
    # (a straight connector has no area: wait for it in the DOM, not "visible")
    page.wait_for_selector(f"{branch}[data-state=not-ready]", state="attached", timeout=WAIT_MS)
    assert _dash(page, branch) != "none"
    assert "not ready" in page.get_attribute(branch, "data-label")
    # the pod says why, and the others are untouched
    pod = page.locator(f'#topology [data-kind=pod][data-pod-key="default/{ep["pod"]}"]')
    assert "0/1" in _text(pod)
    assert page.locator("#topology [data-kind=endpoint][data-state=ready]").count() == 3
    assert "✕ 1 not ready" in _text(page.locator("#topology [data-kind=service]"))
    # and back
    post_json(app_url + "api/actions/readiness", {"namespace": "default", "pod": ep["pod"], "passing": True})
    page.wait_for_selector(f"{branch}[data-state=ready]", state="attached", timeout=WAIT_MS)
    assert _dash(page, branch) == "none"


def test_a_relabelled_pod_shows_up_matching_no_service(page: Any, app_url: str) -> None:
    _open(page, app_url)
    _, ep = _endpoints(app_url, SHIPPING)[0]
    assert page.locator("#topology [data-kind=orphan]").count() == 0
    post_json(
        app_url + "api/actions/label", {"namespace": "default", "pod": ep["pod"], "labels": {"app": "debug"}}
    )
    orphan = page.locator(f'#topology [data-kind=orphan][data-pod-key="default/{ep["pod"]}"]')
    orphan.wait_for(timeout=WAIT_MS)
    assert "no Service · app=debug" in _text(orphan)
    assert "MATCH NO SERVICE" in _text(page.locator("#topology [data-kind=note]").first)
    # on the node it runs on, and no longer an endpoint of the Service
    node = f'#topology [data-key="node|{ep["node"]}"]'
    assert _inside(page, f'#topology [data-kind=orphan][data-pod-key="default/{ep["pod"]}"]', node)
    page.wait_for_selector(
        f'#topology [data-kind=endpoint][data-ip="{ep["ip"]}"]', state="detached", timeout=WAIT_MS
    )
    # the Deployment replaces it: four ready endpoints again, beside the orphan
    page.wait_for_function(
        "() => document.querySelectorAll('#topology [data-kind=endpoint][data-state=ready]').length === 4",
        timeout=WAIT_MS,
    )
    assert orphan.count() == 1


def test_traffic_travels_along_the_connectors_to_ready_pods_only(page: Any, app_url: str) -> None:
    _open(page, app_url)
    slice_name, sick = _endpoints(app_url, SHIPPING)[2]
    post_json(
        app_url + "api/actions/readiness", {"namespace": "default", "pod": sick["pod"], "passing": False}
    )
    page.wait_for_selector(
        f'#topology [data-key="ep|{slice_name}|{sick["ip"]}"][data-state=not-ready]', timeout=WAIT_MS
    )
    button = page.locator("#topology [data-part=topo-traffic]")
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    # a dot is on its way along the connectors
    page.wait_for_selector("#topology .topo-flights circle.topo-dot", state="attached", timeout=WAIT_MS)
    page.wait_for_function(
        "() => window.slicescope.topology.state.flights.filter((f) => f.drawn).length >= 12", timeout=WAIT_MS
    )
    # the hits are counted on the endpoints that got them (as the traffic counts them), on none other
    page.wait_for_function(
        """(key) => {
            const hits = window.slicescope.traffic.hitsOf(key);
            const boxes = [...document.querySelectorAll('#topology g.tb[data-kind=endpoint]')];
            return boxes.every((g) => {
                const n = hits[g.dataset.ip] || 0;
                const text = [...g.querySelectorAll('text')].map((t) => t.textContent).join(' ');
                return n ? text.includes(`${n} hit`) : !text.includes('hit');
            });
        }""",
        arg=SHIPPING,
        timeout=WAIT_MS,
    )
    hits = page.evaluate(f"() => window.slicescope.traffic.hitsOf('{SHIPPING}')")
    assert sick["ip"] not in hits and sum(hits.values()) >= 12
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    flights = page.evaluate("() => window.slicescope.topology.state.flights")
    ready = {f"default/{ep['pod']}" for _, ep in _endpoints(app_url, SHIPPING) if ep["state"] == "ready"}
    assert len(ready) == 3
    for f in flights:
        assert f["state"] == "ready" and f["pod"] in ready, f
        assert f["pod"] != f"default/{sick['pod']}"
        # it ends on the pod's box, where the diagram drew that pod
        inside = page.evaluate(
            """([key, to]) => {
                const r = document.querySelector(`#topology [data-kind=pod][data-pod-key="${key}"] > rect`);
                const [x, y, w, h] = ['x', 'y', 'width', 'height'].map((k) => Number(r.getAttribute(k)));
                return to[0] >= x && to[0] <= x + w && to[1] >= y && to[1] <= y + h;
            }""",
            [f["pod"], f["to"]],
        )
        assert inside, f
    # stopped, the counters go, as on the Service's card
    page.wait_for_function(
        "() => ![...document.querySelectorAll('#topology g.tb[data-kind=endpoint] text')]"
        ".some((t) => t.textContent.includes('hit'))",
        timeout=WAIT_MS,
    )


def test_toggle_and_url_round_trip(page: Any, app_url: str) -> None:
    page.goto(app_url)
    page.wait_for_selector(f'#services .svc[data-key="{SHIPPING}"]', timeout=WAIT_MS)
    assert page.locator("#topology").is_hidden()
    toggle = page.locator("[data-part=view-toggle]")
    toggle.click()
    page.wait_for_selector("#topology [data-kind=service]", timeout=WAIT_MS)
    assert "view=topology" in page.evaluate("() => location.hash")
    assert page.locator("#services").is_hidden()
    # another Service picked in the diagram goes in the URL; a reload brings the same view back
    page.select_option("#topology [data-part=topo-service]", "default/web-svc")
    page.wait_for_function(
        "() => window.slicescope.topology.state.service === 'default/web-svc'", timeout=WAIT_MS
    )
    assert "svc=default%2Fweb-svc" in page.evaluate("() => location.hash")
    page.reload()
    page.wait_for_function(
        "() => window.slicescope && window.slicescope.topology.state.service === 'default/web-svc' &&"
        " document.querySelector('#topology [data-kind=service]')",
        timeout=WAIT_MS,
    )
    assert "web-svc" in _text(page.locator("#topology [data-kind=service]"))
    assert toggle.get_attribute("aria-pressed") == "true"
    # keyboard: a pod is a button that opens its panel
    pod = page.locator("#topology [data-kind=pod][data-pod-key]").first
    pod_key = pod.get_attribute("data-pod-key")
    pod.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(
        f"#panel:not([hidden]) .panel-title:text-is('{pod_key.split('/', 1)[1]}')", timeout=WAIT_MS
    )
    page.click(".panel-close")
    # back to the Services list: the URL forgets the view
    toggle.click()
    page.wait_for_selector(f'#services .svc[data-key="{SHIPPING}"]', timeout=WAIT_MS)
    assert page.locator("#topology").is_hidden()
    assert "view=" not in page.evaluate("() => location.hash")
    # a link sent to the class, pasted in the same tab
    page.evaluate(f"() => {{ location.hash = 'view=topology&svc={SHIPPING}'; }}")
    page.wait_for_function(
        f"() => window.slicescope.topology.state.service === '{SHIPPING}' &&"
        " !document.getElementById('topology').hidden",
        timeout=WAIT_MS,
    )
    assert page.locator("#services").is_hidden()
