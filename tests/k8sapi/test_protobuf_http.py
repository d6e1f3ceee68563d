"""Protobuf request bodies over HTTP, in process: the same stored objects, defaulting, validation and
errors as their JSON equivalents; JSON answers; malformed bodies are one 400 each, never a 500."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.sim.api import create_k8s_api
from app.sim.clock import SimClock
from app.sim.cluster import SimCluster, SimConfig
from tests.k8sapi.test_protobuf_decoder import (
    DEPLOYMENT,
    DEPLOYMENT_JSON,
    NAMESPACE,
    SERVICE,
    SERVICE_JSON,
    envelope,
    ld,
    vi,
)

TOKEN = "tkn"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROTOBUF = {"Content-Type": "application/vnd.kubernetes.protobuf"}
# What kubectl 1.37 sends with its protobuf bodies
KUBECTL_ACCEPT = {"Accept": "application/vnd.kubernetes.protobuf,application/json"}
DEPLOYS = "/apis/apps/v1/namespaces/demo/deployments"
SERVICES = "/api/v1/namespaces/demo/services"
SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "namespace")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    cluster = SimCluster(SimClock(), SimConfig(nodes=2))
    cluster.start()
    app = create_k8s_api(cluster, TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=AUTH) as client:
        for name in ("demo", "twin"):
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            assert (await client.post("/api/v1/namespaces", json=ns)).status_code == 201
        yield client


def _without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(obj))
    for key in SERVER_SET:
        out["metadata"].pop(key, None)
    spec = out.get("spec", {})
    if obj["kind"] == "Service":  # allocated addresses differ from one create to the next
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    return out


async def _create_both_ways(
    http: httpx.AsyncClient, url: str, body: bytes, as_json: dict[str, Any], query: str = ""
) -> tuple[httpx.Response, httpx.Response]:
    """POST the protobuf body to namespace demo, and its JSON equivalent to namespace twin."""
    by_proto = await http.post(f"{url}?fieldValidation=Strict{query}", content=body, headers=PROTOBUF)
    twin = json.loads(json.dumps(as_json))
    if "namespace" in twin["metadata"]:
        twin["metadata"]["namespace"] = "twin"
    twin_url = url.replace("/namespaces/demo/", "/namespaces/twin/")
    by_json = await http.post(f"{twin_url}?fieldValidation=Strict{query}", json=twin)
    return by_proto, by_json


async def test_kubectl_bodies_are_stored_like_their_json(http: httpx.AsyncClient) -> None:
    for url, body, as_json in ((DEPLOYS, DEPLOYMENT, DEPLOYMENT_JSON), (SERVICES, SERVICE, SERVICE_JSON)):
        by_proto, by_json = await _create_both_ways(http, url, body, as_json)
        assert (by_proto.status_code, by_json.status_code) == (201, 201), by_proto.text
        assert by_proto.headers["content-type"] == "application/json"
        assert "warning" not in by_proto.headers
        assert _without_server_fields(by_proto.json()) == _without_server_fields(by_json.json())
        stored = await http.get(f"{url}/cap")
        assert _without_server_fields(stored.json()) == _without_server_fields(by_proto.json())
    deployment = (await http.get(f"{DEPLOYS}/cap")).json()
    assert deployment["spec"]["replicas"] == 0  # sent as an explicit 0: not defaulted to 1
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted from the empty struct
    r = await http.post("/api/v1/namespaces", content=NAMESPACE, headers={**PROTOBUF, **KUBECTL_ACCEPT})
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    assert r.json()["metadata"]["labels"] == {"kubernetes.io/metadata.name": "cap"}


async def test_absent_pointer_fields_are_defaulted_like_absent_json_fields(http: httpx.AsyncClient) -> None:
    labels = ld(1, ld(1, "app") + ld(2, "web"))
    meta = ld(1, ld(1, "web") + ld(11, ld(1, "app") + ld(2, "web")))
    container = ld(1, "c") + ld(2, "nginx")
    template = ld(1, ld(11, ld(1, "app") + ld(2, "web"))) + ld(2, ld(2, container))
    spec = ld(2, labels) + ld(3, template)  # no replicas, no strategy
    body = envelope("apps/v1", "Deployment", meta + ld(2, spec))
    as_json = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    by_proto, by_json = await _create_both_ways(http, DEPLOYS, body, as_json)
    assert by_proto.status_code == 201, by_proto.text
    assert _without_server_fields(by_proto.json()) == _without_server_fields(by_json.json())
    assert by_proto.json()["spec"]["replicas"] == 1
    assert by_proto.json()["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


async def test_validation_errors_are_the_json_ones(http: httpx.AsyncClient) -> None:
    # port 0 (a non-omitempty zero: Go writes "port": 0 and "targetPort": 0)
    body = envelope("v1", "Service", ld(1, ld(1, "bad")) + ld(2, ld(1, vi(3, 0))))
    as_json = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "bad"},
        "spec": {"ports": [{"port": 0}]},
    }
    by_proto, by_json = await _create_both_ways(http, SERVICES, body, as_json)
    assert by_proto.status_code == 422 and by_proto.json() == by_json.json()
    assert "spec.ports[0].port: Invalid value: 0" in by_proto.json()["message"]
    # an invalid name
    named = DEPLOYMENT.replace(b"\x0a\x03cap", b"\x0a\x03C_p", 1)
    as_json = json.loads(json.dumps(DEPLOYMENT_JSON))
    as_json["metadata"]["name"] = "C_p"
    by_proto, by_json = await _create_both_ways(http, DEPLOYS, named, as_json)
    assert by_proto.status_code == 422 and by_proto.json() == by_json.json()
    assert "metadata.name: Invalid value" in by_proto.json()["message"]


async def test_unknown_protobuf_fields_are_ignored_even_when_strict(http: httpx.AsyncClient) -> None:
    meta = ld(1, "odd") + ld(99, "who knows") + ld(11, ld(1, "app") + ld(2, "odd"))
    spec = ld(1, vi(3, 80)) + vi(77, 5) + ld(2, ld(1, "app") + ld(2, "odd"))
    body = envelope("v1", "Service", ld(1, meta) + ld(2, spec) + ld(42, b"\x08\x01"))
    r = await http.post(f"{SERVICES}?fieldValidation=Strict", content=body, headers=PROTOBUF)
    assert r.status_code == 201 and "warning" not in r.headers, r.text
    assert (r.json()["spec"]["ports"][0]["port"], r.json()["spec"]["selector"]) == (80, {"app": "odd"})
    assert r.json()["metadata"]["labels"] == {"app": "odd"}


async def test_update_scale_and_delete_bodies(http: httpx.AsyncClient) -> None:
    assert (await http.post(DEPLOYS, content=DEPLOYMENT, headers=PROTOBUF)).status_code == 201
    current = (await http.get(f"{DEPLOYS}/cap")).json()
    rv = current["metadata"]["resourceVersion"]
    meta = ld(1, "cap") + ld(3, "demo") + ld(6, rv) + ld(11, ld(1, "app") + ld(2, "cap"))
    spec = vi(1, 4) + ld(2, ld(1, ld(1, "app") + ld(2, "cap")))
    spec += ld(
        3, ld(1, ld(11, ld(1, "app") + ld(2, "cap"))) + ld(2, ld(2, ld(1, "nginx") + ld(2, "nginx:1.28")))
    )
    r = await http.put(
        f"{DEPLOYS}/cap",
        content=envelope("apps/v1", "Deployment", ld(1, meta) + ld(2, spec)),
        headers=PROTOBUF,
    )
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["replicas"] == 4
    assert r.json()["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    # autoscaling/v1 Scale through the scale subresource
    scale = envelope("autoscaling/v1", "Scale", ld(1, ld(1, "cap") + ld(3, "demo")) + ld(2, vi(1, 2)))
    r = await http.put(f"{DEPLOYS}/cap/scale", content=scale, headers=PROTOBUF)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 2, r.text
    # a Scale sent to the main resource is refused like its JSON
    r = await http.put(f"{DEPLOYS}/cap", content=scale, headers=PROTOBUF)
    assert r.status_code == 400 and "does not match" in r.json()["message"]
    # DeleteOptions as kubectl drain sends it
    delete = envelope("v1", "DeleteOptions", vi(1, 7))
    r = await http.request("DELETE", f"{DEPLOYS}/cap", content=delete, headers=PROTOBUF)
    assert r.status_code == 200, r.text
    assert (await http.get(f"{DEPLOYS}/cap")).status_code == 404


async def test_large_bodies_and_deep_raw_json(http: httpx.AsyncClient) -> None:
    env = b"".join(ld(7, ld(1, f"VAR_{i}") + ld(2, "x" * 20)) for i in range(4000))  # ~140 KB
    container = ld(1, "c") + ld(2, "nginx") + env
    body = envelope("v1", "Pod", ld(1, ld(1, "big")) + ld(2, ld(2, container)))
    assert len(body) > 128 * 1024
    r = await http.post("/api/v1/namespaces/demo/pods", content=body, headers=PROTOBUF)
    assert r.status_code == 201, r.text[:500]
    assert len(r.json()["spec"]["containers"][0]["env"]) == 4000
    # managedFields[].fieldsV1 carries raw JSON: nested too deep for the parser is a 400, not a 500
    deep = b"[" * 100_000 + b"]" * 100_000
    body = envelope("v1", "Pod", ld(1, ld(1, "deep") + ld(17, ld(7, ld(1, deep)))))
    r = await http.post("/api/v1/namespaces/demo/pods", content=body, headers=PROTOBUF)
    assert r.status_code == 400
    assert r.json()["message"].startswith(
        'Pod in version "v1" cannot be handled as a Pod: proto: FieldsV1: the raw bytes are not JSON'
    )


async def test_malformed_bodies_are_one_clear_400(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    cases: list[tuple[str, str, bytes, int, str]] = [
        (
            "POST",
            DEPLOYS,
            b"not protobuf",
            400,
            "the object provided is unrecognized (must be of type Deployment): provided data does not "
            "appear to be a protobuf message, expected prefix [107 56 115 0] (6e6f742070726f746f627566)",
        ),
        (
            "POST",
            DEPLOYS,
            DEPLOYMENT[:40],
            400,
            "the object provided is unrecognized (must be of type Deployment): unexpected EOF "
            "(6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c201 ...)",
        ),
        (
            "POST",
            DEPLOYS,
            envelope("apps/v1", "Deployment", ld(2, ld(1, b"x"))),
            400,
            'Deployment in version "v1" cannot be handled as a Deployment: '
            "proto: wrong wireType = 2 for field Replicas",
        ),
        (
            "POST",
            SERVICES,
            envelope("v1", "ConfigMapz", b""),
            400,
            'ConfigMapz in version "v1" cannot be handled as a Service: no kind "ConfigMapz" is registered '
            'for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"',
        ),
        (
            "DELETE",
            f"{SERVICES}/nope",
            envelope("v1", "DeleteOptions", b"\x08"),
            400,
            "unexpected EOF",
        ),
        (
            "DELETE",
            f"{SERVICES}/nope",
            NAMESPACE,
            400,
            "decoded object cannot be converted to DeleteOptions",
        ),
        (
            "PATCH",
            f"{SERVICES}/nope",
            SERVICE,
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            "application/strategic-merge-patch+json, application/apply-patch+yaml",
        ),
    ]
    for method, url, body, code, message in cases:
        r = await http.request(method, url, content=body, headers=PROTOBUF)
        assert (r.status_code, r.json()["kind"], r.json()["message"]) == (code, "Status", message)
    # the JSON equivalent of a kind mismatch gets the same answer
    by_proto = await http.post(DEPLOYS, content=SERVICE, headers=PROTOBUF)
    by_json = await http.post(DEPLOYS, json=SERVICE_JSON)
    assert by_proto.status_code == 400 and by_proto.json() == by_json.json()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_damaged_kubectl_bodies_never_break_the_server(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(20260101)
    codes: dict[int, int] = {}
    for i in range(300):
        body = bytearray(DEPLOYMENT if i % 2 else SERVICE)
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(4, len(body))
            if rng.random() < 0.2:
                del body[where:]
                if len(body) <= 4:
                    body += b"\x0a"
            else:
                body[where] = rng.randrange(256)
        url = DEPLOYS if i % 2 else SERVICES
        r = await http.post(f"{url}?dryRun=All", content=bytes(body), headers=PROTOBUF)
        assert r.status_code in (201, 400, 404, 409, 422), (r.status_code, r.text, bytes(body).hex())
        assert r.json()["kind"] in ("Status", "Deployment", "Service")
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
    assert codes.get(400, 0) > 50  # most damage is caught by the decoder
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
