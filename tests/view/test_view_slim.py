"""Slimming raw API objects: the fields kept, kubectl's STATUS, not-ready reasons, memory per pod."""

from __future__ import annotations

import copy
import gc
import json
import tracemalloc
from typing import Any

import pytest

from app.view.slim import Malformed, slim_endpoints, slim_pod, slim_service, slim_slice
from tests.paths import FIXTURES
from tests.view.builders import list_items, pod, service, slice_


def watch_objects(plural: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"watch-{plural}.jsonl").read_text().splitlines()
    return [json.loads(line)["object"] for line in lines if json.loads(line)["type"] != "BOOKMARK"]


def test_a_real_pod_keeps_what_the_view_needs() -> None:
    raw = list_items("pods")[0]
    p = slim_pod(raw)
    assert (p.namespace, p.name, p.ip, p.node, p.phase) == (
        "default",
        "shipping-api-8465d5b4d7-g4r8r",
        "10.244.1.2",
        "node-1",
        "Running",
    )
    assert p.label("app") == "shipping-api" and p.owner == ("ReplicaSet", "shipping-api-8465d5b4d7")
    assert (p.ready, p.ready_text, p.status, p.reason, p.terminating) == (True, "1/1", "Running", None, False)
    assert [(c.name, c.port, c.protocol) for c in p.ports] == [("", 8080, "TCP")]
    assert p.created == "2026-11-22T03:07:29Z"
    # every pod of a ReplicaSet shares one copy of its label set
    others = [slim_pod(o) for o in list_items("pods")]
    assert len({id(o.labels) for o in others}) == 1


def test_real_watch_states() -> None:
    by_rv = {o["metadata"]["resourceVersion"]: slim_pod(o) for o in watch_objects("pods")}
    failing = by_rv["289"]
    assert (failing.ready, failing.ready_text, failing.reason) == (False, "0/1", "readiness probe failing")
    assert by_rv["300"].reason == "not scheduled yet" and by_rv["300"].status == "Pending"
    assert by_rv["306"].reason == "no IP yet" and by_rv["306"].ip is None
    assert by_rv["299"].owner is None and by_rv["299"].label("app") == "debug"
    deleted = by_rv["316"]
    assert (deleted.status, deleted.terminating, deleted.ready, deleted.reason) == (
        "Terminating",
        True,
        True,
        None,
    )


def test_real_slice_and_endpoints() -> None:
    sl = slim_slice(watch_objects("endpointslices")[-1])
    assert sl.service == "shipping-api-service" and sl.managed_by == "endpointslice-controller.k8s.io"
    assert [e.ip for e in sl.endpoints] == [f"10.244.1.{i}" for i in (2, 4, 5, 6, 7)]
    x = next(e for e in sl.endpoints if e.ip == "10.244.1.5")
    assert (x.ready, x.serving, x.terminating, x.state) == (False, True, True, "terminating")
    ep = slim_endpoints(watch_objects("endpoints")[-1])
    (subset,) = ep.subsets
    assert [a.ip for a in subset.addresses] == ["10.244.1.4", "10.244.1.6", "10.244.1.7"]
    assert [a.pod for a in subset.not_ready] == ["shipping-api-8465d5b4d7-g4r8r"]
    assert not ep.over_capacity


def test_kubectl_status_column() -> None:
    creating = pod("c", ip=None, phase="Pending", ready=False, waiting="ContainerCreating")
    assert slim_pod(creating).status == "ContainerCreating"
    assert slim_pod(creating).reason == "container starting"
    done = pod("d", phase="Succeeded", ready=False)
    done["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    assert (slim_pod(done).status, slim_pod(done).reason) == ("Completed", "pod Succeeded")
    init = pod("i", ip=None, phase="Pending", ready=False)
    init["spec"]["initContainers"] = [{"name": "setup"}]
    init["status"]["initContainerStatuses"] = [{"name": "setup", "state": {"running": {}}}]
    assert slim_pod(init).status == "Init:0/1"
    gated = pod("g", ready=False)
    gated["status"]["conditions"][1]["status"] = "True"
    gated["status"]["containerStatuses"][0]["ready"] = True
    gated["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    assert slim_pod(gated).reason == "readiness gate example.com/lb is not set yet"
    gated["status"]["conditions"].append({"type": "example.com/lb", "status": "False"})
    assert slim_pod(gated).reason == "readiness gate example.com/lb is False"
    no_probe = pod("n", ready=False, probe=False)
    assert slim_pod(no_probe).reason == "container app not ready"


def test_service_defaults() -> None:
    raw = service("web", {}, ports=[(80, 8080)])
    del raw["spec"]["ports"][0]["targetPort"]
    s = slim_service(raw)
    assert s.selector is None, "an empty selector selects nothing, as in Kubernetes"
    assert s.ports[0].target_port == 80 and not s.headless
    assert slim_service(service("h", {"app": "x"}, cluster_ip="None", ports=[(80, "http")])).headless
    assert slim_service(service("h", {"app": "x"}, ports=[(80, "http")])).ports[0].target_port == "http"


def test_slice_endpoints_sorted_numerically_and_nil_conditions() -> None:
    raw = slice_("s", "web", [("10.0.0.10", "b", True, True, False), ("10.0.0.9", "a", True, True, False)])
    raw["endpoints"][0]["conditions"] = {}
    sl = slim_slice(raw)
    assert [e.ip for e in sl.endpoints] == ["10.0.0.9", "10.0.0.10"]
    assert all(e.ready and e.serving and not e.terminating for e in sl.endpoints)


@pytest.mark.parametrize("bad", [None, {}, {"metadata": {}}, {"metadata": {"name": ["x"]}}])
def test_malformed_raises_malformed(bad: Any) -> None:
    with pytest.raises(Malformed):
        slim_pod(bad)


def test_a_slim_pod_takes_under_a_kilobyte() -> None:
    template = list_items("pods")[0]
    texts = []
    for i in range(2000):
        raw = copy.deepcopy(template)
        raw["metadata"]["name"] = f"shipping-api-8465d5b4d7-{i:05d}"
        raw["metadata"]["uid"] = f"64a161d1-d305-464f-914c-{i:012d}"
        raw["metadata"]["creationTimestamp"] = f"2026-11-22T03:{i // 60 % 60:02d}:{i % 60:02d}Z"
        raw["status"]["podIP"] = f"10.244.{i // 256}.{i % 256}"
        texts.append(json.dumps(raw))
    slim_pod(template)  # warm shared values (label sets, port lists, interned strings)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [slim_pod(json.loads(t)) for t in texts]  # each raw dict is dropped: only the slim pod stays
    gc.collect()
    per_pod = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    tracemalloc.stop()
    assert per_pod <= 1024, per_pod  # measured about 360 bytes
    assert kept[5].ip == "10.244.0.5"


def test_compact_objects_slim_back_to_the_very_same_records() -> None:
    """What a recording started mid-session writes (the view keeps no raw object) must give the same
    view when played: every fixture object and watch event, and pods in the awkward states."""
    from app.view.slim import DERIVED, compact, slim, slim_pod

    kinds = {
        "pods": "Pod",
        "services": "Service",
        "endpointslices": "EndpointSlice",
        "endpoints": "Endpoints",
        "deployments": "Deployment",
        "replicasets": "ReplicaSet",
    }
    objs = [(kind, o) for plural, kind in kinds.items() for o in list_items(plural)]
    objs += [(kinds[p], o) for p in ("pods", "endpointslices", "endpoints") for o in watch_objects(p)]
    objs += [
        ("Pod", pod("pending", ip=None, node=None, phase="Pending", ready=False)),
        ("Pod", pod("t", ip="10.0.0.9", deleting=True, owner=None)),
        ("Pod", pod("w", waiting="CrashLoopBackOff", ready=False, ports=[("http", 80), ("", 9090)])),
        ("Pod", pod("late", ready=False, delay=30, started="2026-09-14T10:00:00Z")),
        ("Service", service("ext", None, type_="ExternalName", cluster_ip=None, external_name="db.example")),
        ("Service", service("named", {"app": "x"}, ports=[(80, "http"), (81, 9000)], publish=True)),
    ]
    for kind, obj in objs:
        record = slim(kind, copy.deepcopy(obj), now=1_790_000_000.0)
        small = compact(record)
        again = slim(kind, json.loads(json.dumps(small)), now=0.0)
        assert again == record, (kind, record, again)
        assert len(json.dumps(small)) <= len(json.dumps(obj)) or kind in ("ReplicaSet", "Deployment")
    # a reason that changes by itself later keeps its time
    timed = slim_pod(list_items("pods")[0], now=None)
    probe = timed.with_state(reason="waiting", later=(1_790_000_005.0, "readiness probe failing"))
    assert slim("Pod", compact(probe)) == probe
    assert DERIVED in compact(probe)


def test_the_quick_reading_of_running_pods_agrees_with_kubectls_rules() -> None:
    """slim_pod reads a Running pod whose containers all run without the general rules; whatever the
    pod, what it says must be what kubectl_status and pod_reason say."""
    from app.view.slim import kubectl_status, pod_reason

    raws = list_items("pods") + watch_objects("pods")
    raws += [
        pod("a"),
        pod("b", ready=False),
        pod("c", ready=False, delay=30, started="2026-09-14T10:00:00Z"),
        pod("d", waiting="CrashLoopBackOff", ready=False),
        pod("e", deleting=True),
        pod("f", phase="Pending", ip=None, ready=False),
        pod("g", phase="Succeeded", ready=False),
    ]
    two = pod("h", ready=False)
    two["spec"]["containers"].append({"name": "side", "image": "x"})
    two["status"]["containerStatuses"].append({"name": "side", "ready": True, "state": {"running": {}}})
    raws.append(two)
    seen = set()
    for raw in raws:
        for now in (None, 1_790_000_000.0, 1_757_844_010.0):
            record = slim_pod(copy.deepcopy(raw), now)
            meta, spec, status = raw["metadata"], raw.get("spec") or {}, raw.get("status") or {}
            kubectl = kubectl_status(meta, spec, status)
            assert record.status == kubectl, raw["metadata"]["name"]
            assert (record.reason, record.later) == pod_reason(meta, spec, status, kubectl, now)
            seen.add((record.status, record.ready, record.ready_text))
    assert ("Running", False, "1/2") in seen and ("Running", True, "1/1") in seen
