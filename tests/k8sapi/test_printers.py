"""Server-side Table printing against real kube-apiserver v1.36 captures: same columns, same cells."""

from __future__ import annotations

import pytest

from app.sim.api.printers import PRINTERS, build_table, human_duration, pod_cells
from tests.k8sapi.fixtures import CAPTURED_AT, final_objects, load

CASES = [
    ("Pod", "list-pods.json", "table-pods.json"),
    ("Service", "list-services.json", "table-services.json"),
    ("Endpoints", "list-endpoints.json", "table-endpoints.json"),
    ("EndpointSlice", "list-endpointslices.json", "table-endpointslices.json"),
    ("Deployment", "list-deployments.json", "table-deployments.json"),
]


@pytest.mark.parametrize(("kind", "list_file", "table_file"), CASES)
def test_table_matches_real_apiserver(kind: str, list_file: str, table_file: str) -> None:
    items = load(list_file)["items"]
    real = load(table_file)
    ours = build_table(kind, items, CAPTURED_AT, resource_version=real["metadata"]["resourceVersion"])
    assert ours["kind"] == "Table" and ours["apiVersion"] == "meta.k8s.io/v1"
    assert ours["metadata"] == real["metadata"]
    strip = [{k: c[k] for k in ("name", "type", "format", "priority")} for c in real["columnDefinitions"]]
    assert [
        {k: c[k] for k in ("name", "type", "format", "priority")} for c in ours["columnDefinitions"]
    ] == strip
    real_rows = {r["object"]["metadata"]["name"]: r for r in real["rows"]}
    assert len(ours["rows"]) == len(real_rows)
    for row in ours["rows"]:
        name = row["object"]["metadata"]["name"]
        assert row["cells"] == real_rows[name]["cells"], name
        assert row["object"]["kind"] == "PartialObjectMetadata"
        assert row["object"]["metadata"]["uid"] == real_rows[name]["object"]["metadata"]["uid"]


def test_cells_after_the_lesson_changes_match_kubectl_output() -> None:
    """Replaying the watch captures gives the state kubectl printed at the end (kubectl-outputs.txt)."""
    outputs = load("kubectl-outputs.txt")
    endpoints = final_objects("list-endpoints.json", "watch-endpoints.jsonl")["shipping-api-service"]
    _, ep_cells = PRINTERS["Endpoints"]
    assert ep_cells(endpoints, CAPTURED_AT)[1] == "10.244.1.4:8080,10.244.1.6:8080,10.244.1.7:8080"
    slices = final_objects("list-endpointslices.json", "watch-endpointslices.jsonl")
    _, es_cells = PRINTERS["EndpointSlice"]
    cells = es_cells(slices["shipping-api-service-ncq9k"], CAPTURED_AT)
    assert cells[1:4] == ["IPv4", "8080", "10.244.1.2,10.244.1.4,10.244.1.5 + 2 more..."]
    assert "10.244.1.2,10.244.1.4,10.244.1.5 + 2 more..." in outputs
    pods = final_objects("list-pods.json", "watch-pods.jsonl")
    shown = {name: pod_cells(p, CAPTURED_AT)[1:4] for name, p in pods.items()}
    assert shown["shipping-api-8465d5b4d7-xgmtj"] == ["1/1", "Terminating", "0"]
    assert shown["shipping-api-8465d5b4d7-g4r8r"] == ["0/1", "Running", "0"]
    assert shown["shipping-api-8465d5b4d7-bkrp6"] == ["1/1", "Running", "0"]
    for name, (ready, status, _) in shown.items():
        line = next(ln for ln in outputs.splitlines() if ln.startswith(name))
        assert line.split()[1:3] == [ready, status]


def test_endpoints_cells_none_empty_ipv6_and_more() -> None:
    _, cells = PRINTERS["Endpoints"]
    assert cells({"metadata": {"name": "a"}}, 0)[1] == "<none>"
    only_not_ready = {"subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}
    assert cells(only_not_ready, 0)[1] == ""
    v6 = {"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}, {"port": 81}]}]}
    assert cells(v6, 0)[1] == "[fd00::1]:80,[fd00::1]:81"
    many = {"subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]}]}
    assert cells(many, 0)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."


def test_endpointslice_unset_and_service_formats() -> None:
    _, es = PRINTERS["EndpointSlice"]
    assert es({"addressType": "IPv4", "ports": [], "endpoints": []}, 0)[2:4] == ["<unset>", "<unset>"]
    _, svc = PRINTERS["Service"]
    headless = {
        "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80, "protocol": "UDP"}]}
    }
    assert svc(headless, 0)[1:5] == ["ClusterIP", "None", "<none>", "80/UDP"]
    node_port = {
        "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.9"], "ports": [{"port": 80, "nodePort": 30080}]}
    }
    assert svc(node_port, 0)[4] == "80:30080/TCP"
    lb = {"spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"], "ports": [{"port": 443}]}}
    assert svc(lb, 0)[3] == "<pending>"


def test_events_nodes_replicasets() -> None:
    _, ev = PRINTERS["Event"]
    event = {
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "ReplicaSet", "name": "web-abc"},
        "reason": "SuccessfulCreate",
        "type": "Normal",
        "message": "Created pod: web-abc-x ",
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:01:00Z",
        "count": 2,
        "source": {"component": "replicaset-controller"},
    }
    now = 1767225600.0 + 90
    assert ev(event, now) == [
        "30s",
        "Normal",
        "SuccessfulCreate",
        "replicaset/web-abc",
        "",
        "replicaset-controller",
        "Created pod: web-abc-x",
        "90s",
        2,
        "web.1",
    ]
    _, node = PRINTERS["Node"]
    n = {
        "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "nodeInfo": {"kubeletVersion": "v1"},
        },
    }
    assert node(n, 0)[1:3] == ["NotReady,SchedulingDisabled", "control-plane"]
    _, rs = PRINTERS["ReplicaSet"]
    r = {
        "metadata": {"name": "r"},
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
            },
            "template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}},
        },
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert rs(r, 0)[1:4] == [3, 2, 1]
    assert rs(r, 0)[5:] == ["a,b", "x,y", "app=web,tier in (a,b)"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (45, "45s"),
        (119, "119s"),
        (192, "3m12s"),
        (600, "10m"),
        (42 * 60, "42m"),
        (5 * 3600 + 120, "5h2m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (25 * 86400, "25d"),
        (365 * 2 * 86400 + 20 * 86400, "2y20d"),
    ],
)
def test_age_format(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_pod_terminating_and_restarts() -> None:
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z", "deletionTimestamp": "x"},
        "spec": {"containers": [{"name": "c"}], "readinessGates": [{"conditionType": "g"}]},
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.1"}],
            "conditions": [{"type": "g", "status": "True"}],
            "containerStatuses": [
                {
                    "ready": True,
                    "restartCount": 2,
                    "state": {"running": {}},
                    "lastState": {"terminated": {"finishedAt": "2026-01-01T00:00:30Z"}},
                }
            ],
        },
    }
    cells = pod_cells(pod, 1767225600.0 + 90)
    assert cells[1:6] == ["1/1", "Terminating", "2 (60s ago)", "90s", "10.0.0.1"]
    assert cells[8] == "1/1"
