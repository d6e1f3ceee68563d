"""Field validation and validation messages over HTTP, against the real v1.36 captures: the Status of
a Strict create with an unknown field, the Warning header of a Warn one, the 422 of an invalid
Service (targetPort defaulted from port before validation), and the same rules on update and patch."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.sim.api import create_k8s_api
from app.sim.clock import SimClock
from app.sim.cluster import SimCluster, SimConfig
from tests.k8sapi.fixtures import load

TOKEN = "tkn"
SERVICES = "/api/v1/namespaces/default/services"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def service(name: str = "web-svc", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, **spec},
    }


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    cluster = SimCluster(SimClock(), SimConfig(nodes=1))
    cluster.start()
    transport = httpx.ASGITransport(app=create_k8s_api(cluster, TOKEN))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=headers) as client:
        yield client


async def test_strict_create_with_unknown_field_is_the_real_status(http: httpx.AsyncClient) -> None:
    body = service(portz=[{"port": 80}])
    r = await http.post(SERVICES, params={"fieldValidation": "Strict"}, json=body)
    assert r.status_code == 400
    assert r.json() == load("status-create-service-unknown-field-strict.json")
    assert (await http.get(f"{SERVICES}/web-svc")).status_code == 404


async def test_warn_sends_the_real_warning_header_and_drops_the_field(http: httpx.AsyncClient) -> None:
    header = load("headers-create-service-unknown-field-warn.txt").strip()
    name, _, value = header.partition(": ")
    body = service(portz=[{"port": 80}], ports=[{"port": 80}])
    r = await http.post(SERVICES, params={"fieldValidation": "Warn", "dryRun": "All"}, json=body)
    assert r.status_code == 201 and r.headers.get_list(name) == [value]
    assert "portz" not in r.json()["spec"]
    assert (await http.get(f"{SERVICES}/web-svc")).status_code == 404, "a dry run stores nothing"
    # Warn is also what a request without the parameter gets; the unknown field is not kept.
    body["spec"]["labelz"] = {"a": "b"}
    r = await http.post(SERVICES, json=body)
    assert r.status_code == 201
    assert r.headers.get_list("Warning") == [value, '299 - "unknown field \\"spec.labelz\\""']
    stored = (await http.get(f"{SERVICES}/web-svc")).json()
    assert "portz" not in stored["spec"] and "labelz" not in stored["spec"]


async def test_ignore_drops_silently_and_a_bad_directive_is_refused(http: httpx.AsyncClient) -> None:
    r = await http.post(
        SERVICES, params={"fieldValidation": "Ignore"}, json=service(portz=1, ports=[{"port": 80}])
    )
    assert r.status_code == 201 and "warning" not in r.headers and "portz" not in r.json()["spec"]
    r = await http.post(
        SERVICES, params={"fieldValidation": "strict"}, json=service("x", ports=[{"port": 80}])
    )
    assert r.status_code == 422
    assert r.json()["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )
    assert r.json()["details"] == {
        "group": "meta.k8s.io",
        "kind": "CreateOptions",
        "causes": [
            {
                "reason": "FieldValueNotSupported",
                "message": 'Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"',
                "field": "fieldValidation",
            }
        ],
    }


async def test_nested_unknown_and_duplicate_fields_are_named_by_path(http: httpx.AsyncClient) -> None:
    raw = (
        '{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","labelz":{}},'
        '"spec":{"selector":{"app":"a"},"selector":{"app":"b"},"ports":[{"port":80,"targetPortt":8080}]}}'
    )
    r = await http.post(
        SERVICES,
        params={"fieldValidation": "Strict"},
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["message"] == (
        'Service in version "v1" cannot be handled as a Service: strict decoding error: '
        'unknown field "metadata.labelz", duplicate field "spec.selector", '
        'unknown field "spec.ports[0].targetPortt"'
    )


async def test_a_value_of_the_wrong_type_is_a_decoding_error_whatever_the_directive(
    http: httpx.AsyncClient,
) -> None:
    r = await http.post(SERVICES, params={"fieldValidation": "Ignore"}, json=service(ports=[{"port": "80"}]))
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert r.json()["message"] == (
        'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go '
        "struct field ServicePort.spec.ports.port of type int32"
    )
    r = await http.post(SERVICES, json=service(ports={"port": 80}))
    assert r.json()["message"].endswith(
        "json: cannot unmarshal object into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort"
    )


async def test_update_and_patch_follow_the_directive(http: httpx.AsyncClient) -> None:
    assert (await http.post(SERVICES, json=service(ports=[{"port": 80}]))).status_code == 201
    current = (await http.get(f"{SERVICES}/web-svc")).json()
    current["spec"]["portz"] = []
    r = await http.put(f"{SERVICES}/web-svc", params={"fieldValidation": "Strict"}, json=current)
    assert r.status_code == 400
    assert r.json()["message"] == (
        'Service in version "v1" cannot be handled as a Service: strict decoding error: '
        'unknown field "spec.portz"'
    )
    merge = {"Content-Type": "application/merge-patch+json"}
    patch = json.dumps({"spec": {"portz": [1]}})
    r = await http.patch(
        f"{SERVICES}/web-svc", params={"fieldValidation": "Strict"}, content=patch, headers=merge
    )
    assert r.status_code == 400 and r.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'strict decoding error: unknown field "spec.portz"',
        "reason": "BadRequest",
        "code": 400,
    }
    smp = {"Content-Type": "application/strategic-merge-patch+json"}
    r = await http.patch(
        f"{SERVICES}/web-svc", content='{"metadata":{"labels":{"a":"b"}},"spec":{"portz":1}}', headers=smp
    )
    assert r.status_code == 200 and r.headers.get_list("Warning") == [
        '299 - "unknown field \\"spec.portz\\""'
    ]
    assert r.json()["metadata"]["labels"] == {"a": "b"} and "portz" not in r.json()["spec"]


async def test_invalid_service_is_the_real_422_with_the_defaulted_target_port(
    http: httpx.AsyncClient,
) -> None:
    body = service("Bad_Name", ports=[{"port": 99999}])
    r = await http.post(SERVICES, params={"fieldValidation": "Strict"}, json=body)
    assert r.status_code == 422
    assert r.json() == load("status-create-service-invalid.json")


async def test_deployment_causes_in_the_servers_order(http: httpx.AsyncClient) -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"tier": "-x"}},
        "spec": {
            "replicas": -1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "other"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "Web",
                            "image": "nginx",
                            "ports": [{"containerPort": 80, "name": "http--x"}],
                        },
                        {"name": "Web", "image": ""},
                    ],
                },
            },
            "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
        },
    }
    r = await http.post(DEPLOYS, json=body)
    assert r.status_code == 422
    causes = [(c["field"], c["message"]) for c in r.json()["details"]["causes"]]
    label_msg = [m for f, m in causes if f == "metadata.labels"]
    assert label_msg and label_msg[0].startswith('Invalid value: "-x": a valid label must be an empty string')
    assert [f for f, _ in causes] == [
        "metadata.labels",
        "spec.replicas",
        "spec.template.metadata.labels",
        "spec.template.spec.containers[0].name",
        "spec.template.spec.containers[0].ports[0].name",
        "spec.template.spec.containers[1].name",
        "spec.template.spec.containers[1].image",
        "spec.template.spec.containers[1].name",
        "spec.template.spec.restartPolicy",
        "spec.strategy.rollingUpdate.maxUnavailable",
    ]
    assert causes[3][1].startswith('Invalid value: "Web": a lowercase RFC 1123 label must consist of')
    assert causes[4][1] == 'Invalid value: "http--x": must not contain consecutive hyphens'
    assert causes[7][1] == 'Duplicate value: "Web"'
    assert causes[8][1] == 'Unsupported value: "Never": supported values: "Always"'
    assert causes[9][1] == 'Invalid value: "0%": may not be 0 when `maxSurge` is 0'
    assert r.json()["message"].startswith(
        'Deployment.apps "web" is invalid: [metadata.labels: Invalid value: "-x"'
    )
