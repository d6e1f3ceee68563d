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


CHIP_IN_VIEW = """(key) => {
    const chip = document.querySelector(`#services .chip[data-pod-key="${key}"]`);
    if (!chip) return null;
    const r = chip.getBoundingClientRect();
    const top = document.getElementById('top').getBoundingClientRect().bottom;
    return r.top >= top && r.bottom <= innerHeight ? chip.textContent : null;
}"""


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
    hits = page.locator("#search-hits .search-hit")
    hits.first.wait_for(timeout=10_000)
    assert hits.count() == 1
    assert target["pod"].split("/", 1)[1] in hits.first.inner_text()
    assert page.locator("#search [data-part=result]").inner_text() == "1 match"
    page.keyboard.press("Enter")

    text = page.wait_for_function(CHIP_IN_VIEW, arg=target["pod"], timeout=30_000).json_value()
    assert target["ip"] in text
    card = page.locator(f'#services .svc[data-key="{target["service"]}"]')
    assert card.locator(".chip").count() >= 100  # the slice was opened to its chips
    url = page.url
    assert f"ns={target['ns']}" in url and f"q={target['ip']}" in url
    assert "svc=" + target["service"].replace("/", "%2F") in url

    # the same URL in a fresh load: same namespace, same search, same chip in view
    page.reload()
    _loaded(page)
    text = page.wait_for_function(CHIP_IN_VIEW, arg=target["pod"], timeout=30_000).json_value()
    assert target["ip"] in text
    assert page.input_value("#search input") == target["ip"]
    assert page.input_value("[data-part=ns-filter]") == target["ns"]
    assert page.url == url


def test_an_old_namespace_link_still_filters(page: Any, big_url: str) -> None:
    page.goto(big_url + "#ns=ns-002")
    _loaded(page)
    page.wait_for_function("() => document.querySelectorAll('#services .svc').length > 0", timeout=30_000)
    namespaces = page.evaluate(
        """() => [...new Set(window.slicescope.services.order()
                   .map((k) => window.slicescope.model.services[k].namespace))]"""
    )
    assert namespaces == ["ns-002"]
    # a search for a Service in another namespace says where the matches are instead of jumping there
    page.click("#search input")
    page.keyboard.type("app-00001")
    page.wait_for_function(
        "() => document.querySelector('#search [data-part=result]').textContent.includes('other namespaces')",
        timeout=10_000,
    )
    assert (
        page.locator("#search [data-part=result]").inner_text() == "no match (+101 in other namespaces)"
    )  # the Service and its 100 pods
