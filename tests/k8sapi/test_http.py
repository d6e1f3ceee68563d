"""HTTP semantics of the simulated API, in process (no streams): discovery, auth, verbs, errors
as metav1.Status, selectors, paging, Tables, patches, scale, status and deletion."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.sim.api import create_k8s_api
from app.sim.clock import SimClock
from app.sim.cluster import SimCluster, SimConfig

TOKEN = "tkn"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)
PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name: str = "web", replicas: int = 2, **labels: str) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]},
            },
        },
    }


@pytest.fixture
async def env() -> AsyncIterator[tuple[httpx.AsyncClient, SimCluster]]:
    cluster = SimCluster(SimClock(), SimConfig(nodes=2))
    cluster.start()
    app = create_k8s_api(cluster, TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=AUTH) as http:
        yield http, cluster


async def test_auth_header_or_path_token(env: tuple[httpx.AsyncClient, SimCluster]) -> None:
    http, _ = env
    r = await http.get("/api/v1/pods", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["kind"] == "Status" and r.json()["reason"] == "Unauthorized"
    async with httpx.AsyncClient(transport=http._transport, base_url="http://sim") as anon:
        assert (await anon.get("/version")).status_code == 401
        assert (await anon.get(f"/t/{TOKEN}/version")).json()["gitVersion"].startswith("v1.36")
        assert (await anon.get("/t/wrong/version")).status_code == 401


async def test_discovery(env: tuple[httpx.AsyncClient, SimCluster]) -> None:
    http, _ = env
    assert (await http.get("/api")).json()["versions"] == ["v1"]
    groups = {g["name"] for g in (await http.get("/apis")).json()["groups"]}
    assert groups == {"apps", "discovery.k8s.io"}
    core = {r["name"]: r for r in (await http.get("/api/v1")).json()["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and "watch" in core["pods"]["verbs"]
    assert core["endpoints"]["shortNames"] == ["ep"] and core["nodes"]["namespaced"] is False
    assert core["pods/status"]["verbs"] == ["get", "patch", "update"]
    apps = {r["name"]: r for r in (await http.get("/apis/apps/v1")).json()["resources"]}
    assert (
        apps["deployments/scale"]["kind"] == "Scale" and apps["deployments/scale"]["group"] == "autoscaling"
    )
    assert apps["deployments"]["shortNames"] == ["deploy"] and apps["replicasets"]["shortNames"] == ["rs"]
    slices = (await http.get("/apis/discovery.k8s.io/v1")).json()
    assert [r["kind"] for r in slices["resources"]] == ["EndpointSlice"]
    assert (await http.get("/apis/batch/v1")).status_code == 404


async def test_create_get_conflicts_and_errors(env: tuple[httpx.AsyncClient, SimCluster]) -> None:
    http, cluster = env
    r = await http.post(DEPLOYS, json=deployment())
    assert r.status_code == 201 and r.json()["kind"] == "Deployment" and r.json()["metadata"]["uid"]
    r = await http.post(DEPLOYS, json=deployment())
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    r = await http.get(f"{DEPLOYS}/nope")
    assert r.status_code == 404 and r.json()["message"] == 'deployments.apps "nope" not found'
    assert r.json()["details"] == {"name": "nope", "kind": "deployments", "group": "apps"}
    current = (await http.get(f"{DEPLOYS}/web")).json()
    stale = json.loads(json.dumps(current))
    current["spec"]["replicas"] = 3
    assert (await http.put(f"{DEPLOYS}/web", json=current)).status_code == 200
    stale["spec"]["replicas"] = 5
    r = await http.put(f"{DEPLOYS}/web", json=stale)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert (await http.post(f"{DEPLOYS}/web", json=deployment())).status_code == 405
    r = await http.patch(
        f"{DEPLOYS}/web", content=b"{}", headers={"Content-Type": "application/apply-patch+yaml"}
    )
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    wrong_ns = {**deployment("x"), "metadata": {"name": "x", "namespace": "other"}}
    assert (await http.post(DEPLOYS, json=wrong_ns)).status_code == 400
    assert (
        await http.post("/apis/apps/v1/namespaces/ghost/deployments", json=deployment("y"))
    ).status_code == 404
    made = (
        await http.post(
            PODS,
            json={
                "kind": "Pod",
                "metadata": {"generateName": "dbg-"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        )
    ).json()
    assert made["metadata"]["name"].startswith("dbg-") and len(made["metadata"]["name"]) == 9
    dry = await http.post(f"{DEPLOYS}?dryRun=All", json=deployment("dry"))
    assert dry.status_code == 201 and cluster.store.get("Deployment", "default", "dry") is None


async def test_validation_is_422_with_causes(env: tuple[httpx.AsyncClient, SimCluster]) -> None:
    http, _ = env
    bad = deployment("Bad_Name")
    del bad["spec"]["selector"]
    r = await http.post(DEPLOYS, json=bad)
    body = r.json()
    assert r.status_code == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith(
        'Deployment.apps "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name"'
    )
    fields = [(c["field"], c["reason"]) for c in body["details"]["causes"]]
    # No selector selects nothing, so the template's labels do not match it either.
    assert fields == [
        ("metadata.name", "FieldValueInvalid"),
        ("spec.selector", "FieldValueRequired"),
        ("spec.template.metadata.labels", "FieldValueInvalid"),
    ]
    mismatch = deployment("web")
    mismatch["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    r = await http.post(DEPLOYS, json=mismatch)
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: {"app":"other"}: `selector` does not match template `labels`',
        "field": "spec.template.metadata.labels",
    }
    svc = {
        "kind": "Service",
        "metadata": {"name": "s", "labels": {"bad key!": "v"}},
        "spec": {"ports": [{"port": 70000}]},
    }
    r = await http.post("/api/v1/namespaces/default/services", json=svc)
    assert [c["field"] for c in r.json()["details"]["causes"]] == [
        "metadata.labels",
        "spec.ports[0].port",
        "spec.ports[0].targetPort",
    ]
    assert "must be between 1 and 65535, inclusive" in r.json()["message"]
    r = await http.post(
        "/api/v1/namespaces/default/services",
        json={"kind": "Service", "metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}},
    )
    assert r.status_code == 201, "an RFC 1123 label may start with a digit"


async def test_list_selectors_paging_and_tables(env: tuple[httpx.AsyncClient, SimCluster]) -> None:
    http, cluster = env
    await http.post(DEPLOYS, json=deployment("web", 3))
    await http.post(DEPLOYS, json=deployment("api", 2, app="api", tier="back"))
    cluster.clock.advance(30)
    pods = (await http.get(PODS)).json()
    assert pods["kind"] == "PodList" and len(pods["items"]) == 5 and "kind" not in pods["items"][0]
    assert pods["metadata"]["resourceVersion"] == cluster.store.resource_version

    async def names(**params: str) -> set[str]:
        items = (await http.get(PODS, params=params)).json()["items"]
        return {p["metadata"]["name"] for p in items}

    web = await names(labelSelector="app=web")
    assert len(web) == 3 and all(n.startswith("web-") for n in web)
    assert len(await names(labelSelector="app in (web,api)")) == 5
    assert await names(labelSelector="app notin (api)") == web
    assert await names(labelSelector="!tier") == web
    assert len(await names(labelSelector="tier,app!=web")) == 2
    one = sorted(web)[0]
    assert await names(fieldSelector=f"metadata.name={one}") == {one}
    assert await names(fieldSelector="status.phase=Running,metadata.namespace=default") == await names()
    node = cluster.store.get("Pod", "default", one)["spec"]["nodeName"]
    on_node = {
        p["metadata"]["name"] for p in cluster.store.list("Pod", "default") if p["spec"]["nodeName"] == node
    }
    assert await names(fieldSelector=f"spec.nodeName={node}") == on_node
    assert (await http.get(PODS, params={"fieldSelector": "spec.bogus=1"})).status_code == 400

    collected: list[str] = []
    params = {"limit": "2"}
    pages = 0
    while True:
        page = (await http.get(PODS, params=params)).json()
        pages += 1
        collected += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == 5 - len(collected)
        params = {"limit": "2", "continue": token}
    assert pages == 3 and collected == sorted(collected) and set(collected) == await names()

    table = (await http.get(PODS, headers={"Accept": TABLE}, params={"labelSelector": "app=web"})).json()
    assert table["kind"] == "Table" and [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert {r["cells"][0] for r in table["rows"]} == web
    assert all(
        r["object"]["kind"] == "PartialObjectMetadata" and r["cells"][4] == "30s" for r in table["rows"]
    )
    full = (
        await http.get(f"{PODS}/{one}", headers={"Accept": TABLE}, params={"includeObject": "Object"})
    ).json()
    assert full["rows"][0]["object"]["kind"] == "Pod" and full["rows"][0]["object"]["spec"]["containers"]
    ev = await http.get(
        "/api/v1/namespaces/default/events",
        params={
            "fieldSelector": f"involvedObject.name={one},involvedObject.namespace=default,"
            "involvedObject.kind=Pod"
        },
    )
    assert ev.status_code == 200 and {e["involvedObject"]["name"] for e in ev.json()["items"]} == {one}
    ep = await http.get("/api/v1/namespaces/default/endpoints")
    assert (
        ep.headers["warning"]
        == '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'
    )


async def test_patches_scale_status_and_delete(env: tuple[httpx.AsyncClient, SimCluster]) -> None:
    http, cluster = env
    await http.post(DEPLOYS, json=deployment("web", 1))
    cluster.clock.advance(30)
    pod = next(iter(cluster.store.list("Pod", "default")))["metadata"]["name"]
    merge = {"Content-Type": "application/merge-patch+json"}
    r = await http.patch(f"{PODS}/{pod}", json={"metadata": {"labels": {"app": "debug"}}}, headers=merge)
    assert r.status_code == 200 and r.json()["metadata"]["labels"]["app"] == "debug"
    r = await http.patch(
        f"{PODS}/{pod}",
        json=[{"op": "add", "path": "/metadata/labels/x", "value": "y"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert r.json()["metadata"]["labels"]["x"] == "y"
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    r = await http.patch(
        f"{DEPLOYS}/web", json=smp, headers={"Content-Type": "application/strategic-merge-patch+json"}
    )
    assert [c["name"] for c in r.json()["spec"]["template"]["spec"]["containers"]] == ["c", "side"]
    r = await http.patch(f"{DEPLOYS}/web", json={"status": {"replicas": 99}}, headers=merge)
    assert r.json()["status"].get("replicas") != 99  # status only changes through /status

    scale = (await http.get(f"{DEPLOYS}/web/scale")).json()
    assert (
        scale["kind"] == "Scale"
        and scale["apiVersion"] == "autoscaling/v1"
        and scale["spec"]["replicas"] == 1
    )
    assert scale["status"]["selector"] == "app=web"
    r = await http.patch(f"{DEPLOYS}/web/scale", json={"spec": {"replicas": 3}}, headers=merge)
    assert (
        r.json()["spec"]["replicas"] == 3
        and cluster.store.get("Deployment", "default", "web")["spec"]["replicas"] == 3
    )
    r = await http.put(f"{DEPLOYS}/web/scale", json={**scale, "spec": {"replicas": 4}})
    assert r.status_code == 409  # the Scale's resourceVersion is stale
    r = await http.put(f"{DEPLOYS}/web/scale", json={"kind": "Scale", "spec": {"replicas": 2}})
    assert r.json()["spec"]["replicas"] == 2
    assert (await http.get(f"{PODS}/{pod}/scale")).status_code == 404

    r = await http.patch(f"{PODS}/{pod}/status", json={"status": {"phase": "Failed"}}, headers=merge)
    assert r.json()["status"]["phase"] == "Failed" and r.json()["metadata"]["labels"]["app"] == "debug"

    cluster.clock.advance(30)
    other = next(p for p in cluster.store.list("Pod", "default", {"app": "web"}))["metadata"]["name"]
    r = await http.delete(f"{PODS}/{other}", params={"gracePeriodSeconds": "10"})
    assert r.status_code == 200 and r.json()["metadata"]["deletionTimestamp"]
    table = (await http.get(f"{PODS}/{other}", headers={"Accept": TABLE})).json()
    assert table["rows"][0]["cells"][2] == "Terminating"
    cluster.clock.advance(11)
    assert cluster.store.get("Pod", "default", other) is None
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    r = await http.request("DELETE", f"{DEPLOYS}/web", json=body)
    assert r.status_code == 200 and r.json()["kind"] == "Deployment"
    cluster.clock.advance(60)
    assert cluster.store.list("ReplicaSet", "default") == []
    solo = {
        "kind": "Pod",
        "metadata": {"name": "solo", "labels": {"role": "tmp"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert (await http.post(PODS, json=solo)).status_code == 201
    r = await http.delete(PODS, params={"labelSelector": "role=tmp", "gracePeriodSeconds": "0"})
    assert r.json()["kind"] == "PodList" and [p["metadata"]["name"] for p in r.json()["items"]] == ["solo"]
    assert (await http.delete(f"{PODS}/solo")).status_code == 404


async def test_a_yaml_body_with_an_alias_bomb_is_refused_at_once(
    env: tuple[httpx.AsyncClient, SimCluster],
) -> None:
    http, cluster = env
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
    bomb = "\n".join(["apiVersion: v1", "kind: ConfigMap", *lines]).encode()
    r = await http.post(PODS, content=bomb, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert "could not be decoded" in r.json()["message"]
    good = b"kind: Pod\nmetadata: {name: fine}\nspec: {containers: [{name: c, image: busybox}]}\n"
    r = await http.post(PODS, content=good, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201 and cluster.store.get("Pod", "default", "fine") is not None


async def test_a_json_body_nested_beyond_the_interpreter_is_a_400(
    env: tuple[httpx.AsyncClient, SimCluster],
) -> None:
    http, _ = env
    deep = b"[" * 200_000 + b"]" * 200_000
    r = await http.post(PODS, content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert "nested too deeply" in r.json()["message"]
