"""Raw watch streams on a real uvicorn: JSON lines, 410 Expired as an ERROR event inside a 200,
timeoutSeconds, streaming lists, selector transitions, Table events, slow watchers and disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from app.sim.api.watch import WatchRequest, watch_events
from app.sim.clock import SimClock
from app.sim.store import ObjectStore
from tests.k8sapi.harness import TOKEN, LiveCluster, live_cluster, wait_for

PODS = "/api/v1/namespaces/default/pods"


def _subscribers(lc: LiveCluster) -> int:
    return lc.call(lambda: len(lc.cluster.store._subs))


def _events(resp: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in resp.iter_lines():
        if line.strip():
            yield json.loads(line)


def _client(lc: LiveCluster) -> httpx.Client:
    return httpx.Client(base_url=lc.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


def _pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_expired_is_an_error_event_in_a_200_stream(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc, _client(lc) as http:
        old = lc.call(lambda: lc.cluster.store.resource_version)
        assert http.post(PODS, json=_pod("a")).status_code == 201
        lc.call(lc.cluster.store.compact)
        now = lc.call(lambda: lc.cluster.store.resource_version)
        with http.stream("GET", PODS, params={"watch": "true", "resourceVersion": old}) as resp:
            assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
            events = list(_events(resp))
        assert events == [
            {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": f"too old resource version: {old} ({now})",
                    "reason": "Expired",
                    "code": 410,
                },
            }
        ]


def test_timeout_history_replay_and_selector_transitions(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc, _client(lc) as http:
        rv = http.get(PODS).json()["metadata"]["resourceVersion"]
        http.post(PODS, json=_pod("a", app="web"))
        http.post(PODS, json=_pod("b", app="other"))
        merge = {"Content-Type": "application/merge-patch+json"}
        http.patch(f"{PODS}/a", json={"metadata": {"labels": {"app": "debug"}}}, headers=merge)
        http.patch(f"{PODS}/b", json={"metadata": {"labels": {"app": "web"}}}, headers=merge)
        started = time.monotonic()
        params = {"watch": "1", "resourceVersion": rv, "labelSelector": "app=web", "timeoutSeconds": "1"}
        with http.stream("GET", PODS, params=params) as resp:
            seen = [(e["type"], e["object"]["metadata"]) for e in _events(resp)]
        assert time.monotonic() - started < 10
        # a: ADDED while matching, DELETED (with its new labels) when relabelled out, then nothing.
        a = [(t, md["labels"]["app"]) for t, md in seen if md["name"] == "a"]
        assert a[0] == ("ADDED", "web") and a[-1] == ("DELETED", "debug")
        assert all(app == "web" for _, app in a[:-1])
        # b: nothing while it did not match, ADDED when relabelled in.
        b = [(t, md["labels"]["app"]) for t, md in seen if md["name"] == "b"]
        assert b[0] == ("ADDED", "web") and all(app == "web" for _, app in b)


def test_streaming_list_tables_and_bookmarks(tmp_path: Path) -> None:
    with live_cluster(tmp_path, bookmark_interval=0.2) as lc, _client(lc) as http:
        http.post(PODS, json=_pod("a", app="web"))
        params = {
            "watch": "true",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "labelSelector": "app=web",
            "timeoutSeconds": "2",
        }
        with http.stream("GET", PODS, params=params) as resp:
            events = list(_events(resp))
        assert (events[0]["type"], events[0]["object"]["metadata"]["name"]) == ("ADDED", "a")
        end = events[1]
        assert end["type"] == "BOOKMARK"
        assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert end["object"] == {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": end["object"]["metadata"],
            "spec": {"containers": None},
            "status": {},
        }
        assert sum(1 for e in events if e["type"] == "BOOKMARK") >= 3

        accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        with http.stream(
            "GET", PODS, params={"watch": "true", "timeoutSeconds": "1"}, headers={"Accept": accept}
        ) as r:
            it = _events(r)
            first = next(it)
            http.post(PODS, json=_pod("b"))
            second = next(e for e in it if e["object"]["rows"][0]["cells"][0] == "b")
        assert (
            first["object"]["kind"] == "Table" and first["object"]["columnDefinitions"][0]["name"] == "Name"
        )
        assert second["type"] == "ADDED" and second["object"]["columnDefinitions"] is None
        assert second["object"]["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_disconnect_and_slow_watchers_release_their_subscription(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc, _client(lc) as http:
        base = _subscribers(lc)
        with http.stream("GET", PODS, params={"watch": "true"}) as resp:
            assert resp.status_code == 200
            wait_for(lambda: _subscribers(lc) == base + 1, what="watch subscribed")
        wait_for(lambda: _subscribers(lc) == base, what="subscription released after disconnect")


async def test_a_watcher_too_far_behind_is_ended_and_unsubscribed() -> None:
    store = ObjectStore(SimClock())
    req = WatchRequest("Pod", resource_version=store.resource_version, timeout_seconds=30)
    stream = watch_events(store, req, lambda _t, obj, _f: obj, buffer_limit=3)
    first = asyncio.create_task(anext(stream))
    await asyncio.sleep(0)
    assert len(store._subs) == 1
    for i in range(10):  # a burst in one loop turn, more than the watcher may hold
        store.create(_pod(f"burst-{i}"))
    lines = [await first] + [line async for line in stream]
    names = [json.loads(line)["object"]["metadata"]["name"] for line in lines]
    assert names == ["burst-0", "burst-1", "burst-2"]  # what it held, then the stream ends
    assert store._subs == []


async def test_closing_a_watch_releases_its_subscription() -> None:
    store = ObjectStore(SimClock())
    req = WatchRequest("Pod", resource_version=store.resource_version, timeout_seconds=30)
    stream = watch_events(store, req, lambda _t, obj, _f: obj)
    pending = asyncio.create_task(anext(stream))
    await asyncio.sleep(0)
    assert len(store._subs) == 1
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending
    await stream.aclose()
    assert store._subs == []
