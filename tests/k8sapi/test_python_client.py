"""The official Python client (kubernetes 36) against the simulated API on a real uvicorn: list,
watch with bookmarks, a forced 410 Expired, and resuming from the last resourceVersion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.k8sapi.harness import LiveCluster, live_cluster, wait_for

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]
            },
        },
    },
}


def _raw_pods(v1: client.CoreV1Api) -> dict[str, Any]:
    resp = v1.list_namespaced_pod("default", label_selector="app=web", _preload_content=False)
    return json.loads(resp.data)


def _store_pod_names(lc: LiveCluster) -> set[str]:
    return lc.call(
        lambda: {p["metadata"]["name"] for p in lc.cluster.store.list("Pod", "default", {"app": "web"})}
    )


def _scale(apps: client.AppsV1Api, replicas: int) -> None:
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": replicas}})


def test_list_watch_bookmarks_expired_and_resume(tmp_path: Path) -> None:
    with live_cluster(tmp_path, bookmark_interval=0.2) as lc:
        api_client = config.new_client_from_config(config_file=str(lc.kubeconfig))
        with api_client:
            v1, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
            apps.create_namespaced_deployment("default", DEPLOYMENT)
            wait_for(lambda: len(_raw_pods(v1)["items"]) == 2, what="2 pods")

            listed = _raw_pods(v1)
            assert listed["kind"] == "PodList" and listed["apiVersion"] == "v1"
            models = v1.list_namespaced_pod("default", label_selector="app=web")
            assert {p.metadata.name for p in models.items} == {p["metadata"]["name"] for p in listed["items"]}
            rv = listed["metadata"]["resourceVersion"]

            # Watch from the list's resourceVersion; bookmarks arrive and move the tracked version.
            w = watch.Watch()
            seen: list[tuple[str, str]] = []
            bookmarks: list[dict[str, Any]] = []
            scaled = False
            for ev in w.stream(
                v1.list_namespaced_pod,
                "default",
                label_selector="app=web",
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=30,
            ):
                if ev["type"] == "BOOKMARK":
                    bookmarks.append(ev["raw_object"])
                    if not scaled:
                        _scale(apps, 3)
                        scaled = True
                    elif any(t == "ADDED" for t, _ in seen):
                        break
                    continue
                seen.append((ev["type"], ev["raw_object"]["metadata"]["name"]))
            w.stop()
            assert bookmarks[0]["kind"] == "Pod" and set(bookmarks[0]["metadata"]) == {"resourceVersion"}
            assert int(w.resource_version) >= int(bookmarks[-1]["metadata"]["resourceVersion"])
            added = [n for t, n in seen if t == "ADDED"]
            assert len(added) == 1 and added[0] in _store_pod_names(lc)

            # Changes made while nobody watches, then history compacted: the old version is gone.
            last_rv = w.resource_version
            _scale(apps, 4)
            wait_for(lambda: len(_store_pod_names(lc)) == 4, what="4 pods")
            lc.call(lc.cluster.store.compact)
            with pytest.raises(ApiException) as err:
                for _ in watch.Watch().stream(
                    v1.list_namespaced_pod, "default", resource_version=last_rv, timeout_seconds=5
                ):
                    pass
            assert err.value.status == 410 and "Expired" in str(err.value.reason)

            # Relist and watch again from the new version; then stop and resume from the last
            # version seen: the changes made in between all arrive, none twice.
            relisted = _raw_pods(v1)
            known = {p["metadata"]["name"] for p in relisted["items"]}
            assert known == _store_pod_names(lc)
            resume_rv = relisted["metadata"]["resourceVersion"]
            _scale(apps, 6)
            wait_for(lambda: len(_store_pod_names(lc)) == 6, what="6 pods")
            expected = lc.call(
                lambda: [
                    (e.type, e.obj["metadata"]["name"], e.obj["metadata"]["resourceVersion"])
                    for e in lc.cluster.store.events_since(int(resume_rv), "Pod")
                    if (e.obj["metadata"].get("labels") or {}).get("app") == "web"
                ]
            )
            got: list[tuple[str, str, str]] = []
            w2 = watch.Watch()
            for ev in w2.stream(
                v1.list_namespaced_pod,
                "default",
                label_selector="app=web",
                resource_version=resume_rv,
                timeout_seconds=1,
            ):
                md = ev["raw_object"]["metadata"]
                got.append((ev["type"], md["name"], md["resourceVersion"]))
            assert got[: len(expected)] == expected
            assert len({rv for _, _, rv in got}) == len(got)
            for t, name, _ in got:
                if t == "ADDED":
                    known.add(name)
                elif t == "DELETED":
                    known.discard(name)
            assert known == _store_pod_names(lc)
