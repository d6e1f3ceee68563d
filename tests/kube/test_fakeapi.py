"""bench/fakeapi.py serves what the benches rely on: consistent paged lists of unique pods cloned from
the real capture, EndpointSlices of 100, readiness flips in the control plane's order (pod, then its
slice, then its Endpoints) stamped with their send time, watch errors as kube-apiserver gives them."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from bench.fakeapi import STAMP, FakeApi, fake_api


def get(api: FakeApi, path: str) -> Any:
    req = urllib.request.Request(api.url + path, headers={"Authorization": f"Bearer {api.token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def watch_lines(api: FakeApi, path: str, rv: str, seconds: int = 2) -> list[dict[str, Any]]:
    req = urllib.request.Request(
        f"{api.url}{path}?watch=true&resourceVersion={rv}&timeoutSeconds={seconds}",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return [json.loads(line) for line in resp if line.strip()]


def test_paged_lists_slices_of_a_hundred_and_pending_pods() -> None:
    with fake_api(pods=530, services=2, namespaces=2, pending=4) as api:
        items, cont, rvs = [], "", set()
        while True:
            page = get(api, f"/api/v1/pods?limit=100{'&continue=' + cont if cont else ''}")
            items += page["items"]
            rvs.add(page["metadata"]["resourceVersion"])
            cont = page["metadata"].get("continue", "")
            if not cont:
                break
        assert len(items) == 530 and len(rvs) == 1  # one consistent list version across pages
        names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in items]
        assert names == sorted(names) and len(set(names)) == 530
        ips = [p["status"].get("podIP") for p in items]
        assert len({ip for ip in ips if ip}) == 526 and ips.count(None) == 4
        pending = [p for p in items if p["status"]["phase"] == "Pending"]
        assert "Too many pods" in pending[0]["status"]["conditions"][0]["message"]
        assert all("managedFields" in p["metadata"] for p in items)  # as a real API server sends them
        slices = get(api, "/apis/discovery.k8s.io/v1/endpointslices")["items"]
        assert sorted(len(s["endpoints"]) for s in slices) == [63, 63] + [100] * 4  # 263 running a Service
        assert len(get(api, "/api/v1/namespaces/ns-001/pods")["items"]) == 265


def test_a_flip_is_pod_then_slice_then_endpoints_stamped_with_its_send_time() -> None:
    with fake_api(pods=40, services=2) as api:
        rv = get(api, "/api/v1/pods?limit=1")["metadata"]["resourceVersion"]
        before = int(time.time() * 1000)
        change = api.flip()
        assert change["ready"] is False and before <= change["sentMs"] <= int(time.time() * 1000)
        pods = watch_lines(api, "/api/v1/pods", rv, 1)
        slices = watch_lines(api, "/apis/discovery.k8s.io/v1/endpointslices", rv, 1)
        endpoints = watch_lines(api, "/api/v1/endpoints", rv, 1)
        (pod,), (sl,), (ep,) = pods, slices, endpoints
        pod_rv, slice_rv, ep_rv = (int(e["object"]["metadata"]["resourceVersion"]) for e in (pod, sl, ep))
        assert pod_rv < slice_rv < ep_rv  # the kubelet first, then the two controllers
        assert pod["object"]["metadata"]["annotations"][STAMP] == str(change["sentMs"])
        mine = [e for e in sl["object"]["endpoints"] if e["targetRef"]["name"] == change["pod"]]
        assert mine[0]["conditions"]["ready"] is False
        not_ready = ep["object"]["subsets"][0]["notReadyAddresses"]
        assert [a["ip"] for a in not_ready] == [change["ip"]]
        assert api.changes(since=0) == [change]


def test_watch_errors_as_kube_apiserver_gives_them_and_a_restart_drops_streams() -> None:
    with fake_api(pods=10, services=1, history=5) as api:
        for _ in range(10):
            api.flip()
        (event,) = watch_lines(api, "/api/v1/pods", "3", 1)
        assert event["type"] == "ERROR" and event["object"]["code"] == 410
        try:
            get(api, "/api/v1/pods?watch=true&resourceVersion=99999999")
            raise AssertionError("a version from the future was accepted")
        except urllib.error.HTTPError as e:
            status = json.loads(e.read())
            assert e.code == 504 and status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
        rv = api.stats()["resourceVersion"]
        got: list[Any] = []

        def stream() -> None:
            try:
                got.extend(watch_lines(api, "/api/v1/pods", rv, 30))
            except Exception as e:  # the connection breaks: what a restarted server does
                got.append(e)

        reader = threading.Thread(target=stream)
        reader.start()
        time.sleep(0.3)
        stats = api.restart()
        reader.join(10)
        assert not reader.is_alive() and int(stats["resourceVersion"]) < int(rv)
