"""Find things in a 10,000-pod page: the real server watching a generated API (bench/fakeapi.py)
through --kubeconfig; the search box finds a pod's IP in a Service far down the virtualised list,
opens its compact slice and shows the chip; the URL (namespace, search, Service) brings the same view
back after a reload, and an old #ns= link still filters."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.server import create_app
from bench.fakeapi import FakeApi, fake_api
from tests.browser.conftest import _close_pages
from tests.browser.helpers import get_json
from tests.fixtures_app import make_settings
from tests.live_server import live_server

pytestmark = pytest.mark.browser

PODS = 10_000
SERVICES = 100  # 100 endpoints each: every slice is full, drawn as a compact strip until opened
NAMESPACES = 4


@pytest.fixture(scope="module")
def big_url(browser_context: Any) -> Iterator[str]:
    with fake_api(pods=PODS, services=SERVICES, namespaces=NAMESPACES, process=True) as api:
        try:
            yield from _serve(api, browser_context)
        finally:
            if api.process is not None and api.process.stdout is not None:
                api.process.stdout.close()  # the fake API's startup pipe, left open by fake_api


def _serve(api: FakeApi, browser_context: Any) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = api.write_kubeconfig(Path(tmp) / "kubeconfig")
        settings = make_settings(source="kube", kubeconfig=str(kubeconfig))
        with live_server(create_app(settings)) as base:
            deadline = time.monotonic() + 300
            while len(get_json(base + "/api/snapshot").get("pods", {})) < PODS:
                assert time.monotonic() < deadline, "the server never listed the generated cluster"
                time.sleep(1.0)
            yield base + "/"
            _close_pages(browser_context)


def _loaded(page: Any) -> None:
    page.wait_for_function(
        "(n) => window.slicescope && window.slicescope.model"
        " && Object.keys(window.slicescope.model.pods).length >= n",
        arg=PODS,
        timeout=120_000,
    )


WHERE = """(key) => {
    const chip = document.querySelector(`#services .chip[data-pod-key="${key}"]`);
    const s = window.slicescope.search.state;
    return {scrollY, innerHeight, chipTop: chip ? chip.getBoundingClientRect().top : null,
            went: s.went && s.went.key, services: window.slicescope.services.stats, url: location.href};
}"""


def _chip_in_view(page: Any, pod_key: str) -> str:
    try:
        return page.wait_for_function(CHIP_IN_VIEW, arg=pod_key, timeout=60_000).json_value()
    except Exception as e:
        raise AssertionError(
            f"the chip of {pod_key} never came into view: {page.evaluate(WHERE, pod_key)}"
        ) from e


CHIP_IN_VIEW = """(key) => {
    const chip = document.querySelector(`#services .chip[data-pod-key="${key}"]`);
    if (!chip) return null;
    const r = chip.getBoundingClientRect();
    const top = document.getElementById('top').getBoundingClientRect().bottom;
    return r.top >= top && r.bottom <= innerHeight ? chip.textContent : null;
}"""


def _searched(page: Any, query: str) -> None:
    """Wait until the matches shown are those of `query` (a search runs a moment after the last key,
    so a slow machine may show those of a part of it first)."""
    page.wait_for_function("(q) => window.slicescope.search.state.searched === q", arg=query, timeout=60_000)


def test_search_finds_an_ip_far_down_and_the_url_brings_it_back(page: Any, big_url: str) -> None:
    page.goto(big_url)
    _loaded(page)
    # a pod deep inside the last Service of a namespace: far below the first screen, in a full slice
    target = page.evaluate(
        """() => {
            const m = window.slicescope.model;
            const keys = window.slicescope.services.order();
            const ns = m.services[keys[keys.length - 1]].namespace;
            const key = keys.filter((k) => m.services[k].namespace === ns).pop();
            const slice = m.services[key].slices[0];
            const ep = slice.endpoints[77];
            return {service: key, ns, ip: ep.ip, pod: `${ns}/${ep.pod}`, size: slice.endpoints.length};
        }"""
    )
    assert target["size"] == 100
    assert page.locator(f'#services .chip[data-pod-key="{target["pod"]}"]').count() == 0
    assert page.locator(f'#services .svc[data-key="{target["service"]}"]').count() == 0  # not drawn yet

    # the user picks the namespace, then types the IP and presses Enter
    page.select_option("[data-part=ns-filter]", target["ns"])
    page.click("#search input")
    page.keyboard.type(target["ip"])
    _searched(page, target["ip"])
    hits = page.locator("#search-hits .search-hit")
    assert hits.count() == 1
    assert target["pod"].split("/", 1)[1] in hits.first.inner_text()
    assert page.locator("#search [data-part=result]").inner_text() == "1 match"
    page.keyboard.press("Enter")

    text = _chip_in_view(page, target["pod"])
    assert target["ip"] in text
    card = page.locator(f'#services .svc[data-key="{target["service"]}"]')
    assert card.locator(".chip").count() >= 100  # the slice was opened to its chips
    url = page.url
    assert f"ns={target['ns']}" in url and f"q={target['ip']}" in url
    assert "svc=" + target["service"].replace("/", "%2F") in url

    # the same URL in a fresh load: same namespace, same search, same chip in view
    page.reload()
    _loaded(page)
    text = _chip_in_view(page, target["pod"])
    assert target["ip"] in text
    assert page.input_value("#search input") == target["ip"]
    assert page.input_value("[data-part=ns-filter]") == target["ns"]
    assert page.url == url


def test_an_old_namespace_link_still_filters(page: Any, big_url: str) -> None:
    page.goto(big_url + "#ns=ns-002")
    _loaded(page)
    page.wait_for_function("() => document.querySelectorAll('#services .svc').length > 0", timeout=60_000)
    namespaces = page.evaluate(
        """() => [...new Set(window.slicescope.services.order()
                   .map((k) => window.slicescope.model.services[k].namespace))]"""
    )
    assert namespaces == ["ns-002"]
    # a search for a Service in another namespace says where the matches are instead of jumping there
    page.click("#search input")
    page.keyboard.type("app-00001")
    _searched(page, "app-00001")
    result = page.locator("#search [data-part=result]")
    assert result.inner_text() == "no match (+101 in other namespaces)"  # the Service and its 100 pods
    # the namespace they are in, picked with the search in the box: the matches are counted again
    page.select_option("[data-part=ns-filter]", "ns-001")
    page.wait_for_function("() => window.slicescope.search.state.total === 101", timeout=60_000)
    assert result.inner_text() == "101 matches"


def test_matching_and_the_url_state_follow_their_rules(page: Any, stub_url: str) -> None:
    page.goto(stub_url)
    out = page.evaluate(
        """async () => {
            const s = await import('./static/js/render/search.js');
            const pod = (ns, name, ip, labels, services) => ({key: `${ns}/${name}`, namespace: ns, name, ip,
                labels, services, endpointOf: services});
            const svc = (ns, name, clusterIP, selector) => ({key: `${ns}/${name}`, namespace: ns, name,
                clusterIP, selector, counts: {ready: 1, notReady: 0, terminating: 0}});
            const web = 'default/web-svc';
            const model = {services: {
                    'default/web-svc': svc('default', 'web-svc', '10.96.0.10', {app: 'web'}),
                    'shop/cart': svc('shop', 'cart', '10.96.0.11', {app: 'cart', tier: 'web'})},
                pods: {'default/web-1': pod('default', 'web-1', '10.244.1.2', {app: 'web'}, [web]),
                       'default/web-2': pod('default', 'web-2', '10.244.1.20', {app: 'web'}, [web]),
                       'shop/cart-1': pod('shop', 'cart-1', '10.244.2.2', {app: 'cart', tier: 'web'}, []),
                       'shop/debug': pod('shop', 'debug', null, {app: 'debug'}, []),
                       'default/a-late': pod('default', 'a-late', '10.244.1.9', {app: 'late'}, [])}};
            const names = (f) => f.hits.map((h) => `${h.kind}:${h.key}`);
            return {
                ip: names(s.findHits(model, '10.244.1.2', '')),
                prefix: names(s.findHits(model, '10.244.1.', '')),
                clusterIP: names(s.findHits(model, '10.96.0.11', '')),
                label: names(s.findHits(model, 'app=web', '')),
                labelKey: names(s.findHits(model, 'tier=', '')),
                name: names(s.findHits(model, 'web', '')),
                inNs: s.findHits(model, 'web', 'shop'),
                none: s.findHits(model, 'nothing-like-this', ''),
                orphanHome: s.findHits(model, 'debug', '').hits[0].service,
                old: s.readViewState('#ns=kube-system'),
                full: s.readViewState('#ns=a&q=10.0.0.1&svc=a%2Fb'),
                add: s.viewStateHash('#ns=a', {q: '10.0.0.1', svc: 'a/b'}),
                clear: s.viewStateHash('#ns=a&q=x&svc=a%2Fb', {q: '', svc: ''}),
                keep: s.viewStateHash('#other=1', {ns: 'b'}),
                empty: s.viewStateHash('#q=x', {q: null}),
            };
        }"""
    )
    # the exact address first, then the ones it begins
    assert out["ip"] == ["pod:default/web-1", "pod:default/web-2"]
    # addresses that begin alike, in address order (not by pod name)
    assert out["prefix"] == ["pod:default/web-1", "pod:default/a-late", "pod:default/web-2"]
    assert out["clusterIP"] == ["service:shop/cart"]
    assert out["label"] == ["service:default/web-svc", "pod:default/web-1", "pod:default/web-2"]
    assert out["labelKey"] == ["service:shop/cart", "pod:shop/cart-1"]
    assert out["name"][0] == "service:default/web-svc"  # a Service named so before the pods
    assert out["inNs"]["hits"] == [] and out["inNs"]["elsewhere"] == 3
    assert out["none"]["total"] == 0
    assert out["orphanHome"] is None  # a pod no Service selects has no Service to scroll to
    assert out["old"] == {"ns": "kube-system", "q": "", "svc": "", "view": ""}
    assert out["full"] == {"ns": "a", "q": "10.0.0.1", "svc": "a/b", "view": ""}
    assert out["add"] == "#ns=a&q=10.0.0.1&svc=a%2Fb"
    assert out["clear"] == "#ns=a"
    assert out["keep"] == "#ns=b&other=1"
    assert out["empty"] == ""
