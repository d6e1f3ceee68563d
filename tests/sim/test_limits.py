"""Size limits on every path into the simulated cluster: a Deployment's replicas refused like a
ValidatingAdmissionPolicy would refuse them (kubectl scale and patch through the API, the page's
action route, the cluster itself), and a pod quota the ReplicaSet controller runs into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.sim.cluster import SimCluster, SimConfig
from app.sim.errors import ApiError
from tests.fixtures_app import app_client, make_settings
from tests.k8sapi.harness import live_cluster, wait_for

REFUSED = (
    'deployments.apps "web" is forbidden: ValidatingAdmissionPolicy '
    "'replica-limit.sim.slicescope.io' with binding 'replica-limit.sim.slicescope.io' denied request: "
    "spec.replicas must be no greater than 15000 in this simulated cluster (requested 1000000000)"
)


def lesson(**config: object) -> SimCluster:
    c = SimCluster(config=SimConfig(**config))  # type: ignore[arg-type]
    c.start()
    c.load_lesson()
    c.run_for(30)
    return c


def test_a_billion_replicas_are_refused_and_nothing_changes() -> None:
    c = lesson()
    before = c.store.require("Deployment", "default", "web")
    with pytest.raises(ApiError) as err:
        c.scale("default", "web", 1_000_000_000)
    assert (err.value.code, err.value.reason, err.value.message) == (403, "Forbidden", REFUSED)
    assert err.value.status()["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert c.store.require("Deployment", "default", "web") is before
    c.scale("default", "web", 15_000)  # the limit itself is allowed
    assert c.store.require("Deployment", "default", "web")["spec"]["replicas"] == 15_000


def test_the_limit_holds_for_new_deployments_and_replicasets() -> None:
    c = lesson(max_replicas=10)
    big = {
        "kind": "ReplicaSet",
        "metadata": {"name": "loose", "namespace": "default"},
        "spec": {
            "replicas": 11,
            "selector": {"matchLabels": {"app": "loose"}},
            "template": {
                "metadata": {"labels": {"app": "loose"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }
    with pytest.raises(ApiError) as err:
        c.apply(big)
    assert err.value.code == 403 and err.value.message.startswith('replicasets.apps "loose" is forbidden: ')
    deploy = {**big, "kind": "Deployment", "metadata": {"name": "wide", "namespace": "default"}}
    with pytest.raises(ApiError):
        c.apply(deploy)
    # A Deployment's own ReplicaSets are bounded through it (a rollout may surge past the limit).
    c.scale("default", "web", 10)
    c.run_for(30)
    assert len(c.store.list("Pod", "default", {"app": "web"})) == 10


def test_a_pod_quota_stops_the_replicaset_which_retries_when_room_appears() -> None:
    c = lesson(max_pods=20)  # the lesson has 7 pods
    c.scale("default", "web", 30)
    c.run_for(10)
    assert c.store.count("Pod") == 20
    failed = [e for e in c.store.list("Event") if e["reason"] == "FailedCreate"]
    assert failed and failed[0]["type"] == "Warning"
    rs = c.store.list("ReplicaSet", "default", {"app": "web"})[0]["metadata"]["name"]
    assert failed[0]["message"] == (
        f'Error creating: pods "{rs}-" is forbidden: exceeded quota: sim-pod-limit, '
        "requested: pods=1, used: pods=20, limited: pods=20"
    )
    # The retries back off (1 s, 2 s, 4 s ...): a minute of simulated time is a handful of tries.
    c.run_for(60)
    tries = sum(e["count"] for e in c.store.list("Event") if e["reason"] == "FailedCreate")
    assert 3 <= tries <= 10
    c.scale("default", "shipping-api", 0)
    c.run_for(300)
    assert len(c.store.list("Pod", "default", {"app": "web"})) == 20


def test_kubectl_scale_and_patch_to_a_billion_get_a_clear_error(tmp_path: Path) -> None:
    with live_cluster(tmp_path, speed=None) as lc:
        lc.call(lc.cluster.load_lesson)
        out = lc.kubectl("scale", "deployment", "web", "--replicas=1000000000", check=False)
        assert out.returncode != 0
        assert out.stderr.strip() == f"Error from server (Forbidden): {REFUSED}"
        patched = lc.kubectl(
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            '{"spec":{"replicas":1000000000}}',
            check=False,
        )
        assert patched.returncode != 0 and REFUSED in patched.stderr
        manifest = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "huge", "namespace": "default"},
            "spec": {
                "replicas": 1_000_000_000,
                "selector": {"matchLabels": {"app": "huge"}},
                "template": {
                    "metadata": {"labels": {"app": "huge"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
                },
            },
        }
        created = lc.kubectl("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
        assert created.returncode != 0 and 'deployments.apps "huge" is forbidden' in created.stderr
        # The API answers at once and nothing moved.
        web = json.loads(lc.kubectl("get", "deployment", "web", "-o", "json").stdout)
        assert web["spec"]["replicas"] == 3
        assert lc.kubectl("scale", "deployment", "web", "--replicas=5").returncode == 0
        lc.advance(30)
        wait_for(lambda: lc.call(lambda: len(lc.cluster.store.list("Pod", "default", {"app": "web"}))) == 5)


async def test_the_page_scale_action_allows_what_the_cluster_holds_and_no_more() -> None:
    async with app_client(make_settings()) as client:
        limit = 15_000
        r = await client.post(
            "/api/actions/scale", json={"namespace": "default", "name": "web", "replicas": limit + 1}
        )
        assert r.status_code == 400
        assert r.json() == {"error": f"replicas must be between 0 and {limit}"}
        r = await client.post(
            "/api/actions/scale", json={"namespace": "default", "name": "web", "replicas": 1_000_000_000}
        )
        assert r.status_code == 400 and str(limit) in r.json()["error"]
        r = await client.post(
            "/api/actions/scale", json={"namespace": "default", "name": "web", "replicas": 1200}
        )
        assert r.status_code == 200 and r.json()["ok"]


async def test_the_scale_box_limit_is_the_clusters_own() -> None:
    cluster = SimCluster(config=SimConfig(max_replicas=100))
    cluster.start()
    cluster.load_lesson()
    async with app_client(make_settings(), cluster=cluster) as client:
        r = await client.post(
            "/api/actions/scale", json={"namespace": "default", "name": "web", "replicas": 101}
        )
        assert r.status_code == 400 and r.json()["error"] == "replicas must be between 0 and 100"
