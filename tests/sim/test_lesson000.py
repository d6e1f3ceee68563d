"""Seed lessons 000 (Endpoints) and 002 (Services and Endpoints) end to end on the simulated
cluster: every step the lessons show, read back from EndpointSlices and Endpoints."""

from __future__ import annotations

import pytest

from app.sim.cluster import SimCluster
from app.sim.controllers.common import is_ready

SVC = "shipping-api-service"


@pytest.fixture
def lesson() -> SimCluster:
    c = SimCluster()
    c.start()
    c.load_lesson()
    c.run_for(20)  # start-up 2 s, first probe 5 s later
    return c


def slices(c: SimCluster, svc: str) -> list[dict]:
    return c.store.list("EndpointSlice", "default", {"kubernetes.io/service-name": svc})


def slice_endpoints(c: SimCluster, svc: str) -> dict[str, dict]:
    """ip -> endpoint over every slice of the Service."""
    return {ep["addresses"][0]: ep for s in slices(c, svc) for ep in s.get("endpoints") or []}


def endpoints_addresses(c: SimCluster, svc: str) -> tuple[set[str], set[str]]:
    ep = c.store.require("Endpoints", "default", svc)
    ready = {a["ip"] for ss in ep.get("subsets") or [] for a in ss.get("addresses") or []}
    not_ready = {a["ip"] for ss in ep.get("subsets") or [] for a in ss.get("notReadyAddresses") or []}
    return ready, not_ready


def pods(c: SimCluster, app: str | None = None) -> list[dict]:
    return c.store.list("Pod", "default", {"app": app} if app else None)


def test_four_ready_endpoints_in_slice_and_endpoints(lesson: SimCluster) -> None:
    ps = pods(lesson, "shipping-api")
    assert len(ps) == 4 and all(is_ready(p) for p in ps)
    ips = {p["status"]["podIP"] for p in ps}
    eps = slice_endpoints(lesson, SVC)
    assert set(eps) == ips
    assert all(
        e["conditions"] == {"ready": True, "serving": True, "terminating": False} for e in eps.values()
    )
    [sl] = slices(lesson, SVC)
    assert sl["ports"] == [{"name": "", "protocol": "TCP", "port": 8080}]
    assert sl["metadata"]["ownerReferences"][0]["name"] == SVC
    ready, not_ready = endpoints_addresses(lesson, SVC)
    assert ready == ips and not_ready == set()
    # Each endpoint names its pod, node and zone.
    for ip, ep in eps.items():
        pod = next(p for p in ps if p["status"]["podIP"] == ip)
        assert ep["targetRef"]["name"] == pod["metadata"]["name"]
        assert ep["nodeName"] == pod["spec"]["nodeName"]
        node = lesson.store.require("Node", "", pod["spec"]["nodeName"])
        assert ep["zone"] == node["metadata"]["labels"]["topology.kubernetes.io/zone"]


def test_relabel_removes_from_endpoints_and_replacement_joins(lesson: SimCluster) -> None:
    victim = pods(lesson, "shipping-api")[0]
    name, ip = victim["metadata"]["name"], victim["status"]["podIP"]
    lesson.set_pod_labels("default", name, {"app": "debug"})
    lesson.run_for(0)
    assert ip not in slice_endpoints(lesson, SVC)
    assert ip not in endpoints_addresses(lesson, SVC)[0]
    assert len(pods(lesson, "shipping-api")) == 4  # replacement already created
    assert len(slice_endpoints(lesson, SVC)) == 3  # but it has no IP yet
    lesson.run_for(20)
    assert len(pods(lesson)) == 4 + 3 + 1  # shipping 4 + web 3 + the orphan
    assert len(pods(lesson, "shipping-api")) == 4 and len(pods(lesson, "debug")) == 1
    orphan = lesson.store.require("Pod", "default", name)
    assert orphan["status"]["phase"] == "Running" and is_ready(orphan)
    assert "ownerReferences" not in orphan["metadata"]
    eps = slice_endpoints(lesson, SVC)
    assert len(eps) == 4 and ip not in eps
    assert all(e["conditions"]["ready"] for e in eps.values())
    ready, not_ready = endpoints_addresses(lesson, SVC)
    assert ready == {p["status"]["podIP"] for p in pods(lesson, "shipping-api")} and not not_ready


def test_failing_readiness_moves_address_to_not_ready_and_back(lesson: SimCluster) -> None:
    pod = pods(lesson, "shipping-api")[0]
    name, ip = pod["metadata"]["name"], pod["status"]["podIP"]
    lesson.set_probe("default", name, False)
    lesson.run_for(40)  # failureThreshold 3 x periodSeconds 10
    ep = slice_endpoints(lesson, SVC)[ip]
    assert ep["conditions"] == {"ready": False, "serving": False, "terminating": False}
    ready, not_ready = endpoints_addresses(lesson, SVC)
    assert ip in not_ready and ip not in ready and len(ready) == 3
    p = lesson.store.require("Pod", "default", name)
    assert p["status"]["phase"] == "Running" and not is_ready(p)  # seed 002: Running but not Ready
    lesson.set_probe("default", name, True)
    lesson.run_for(10)
    assert slice_endpoints(lesson, SVC)[ip]["conditions"]["ready"] is True
    ready, not_ready = endpoints_addresses(lesson, SVC)
    assert ip in ready and not not_ready


def test_deleted_pod_is_terminating_before_it_goes(lesson: SimCluster) -> None:
    pod = pods(lesson, "shipping-api")[0]
    name, ip = pod["metadata"]["name"], pod["status"]["podIP"]
    lesson.delete_pod("default", name)
    lesson.run_for(1)
    ep = slice_endpoints(lesson, SVC)[ip]
    assert ep["conditions"] == {"ready": False, "serving": True, "terminating": True}
    ready, not_ready = endpoints_addresses(lesson, SVC)
    assert ip not in ready and ip not in not_ready  # the Endpoints controller drops terminating pods
    lesson.run_for(30)
    assert lesson.store.get("Pod", "default", name) is None
    assert ip not in slice_endpoints(lesson, SVC)
    assert len(pods(lesson, "shipping-api")) == 4
    assert all(e["conditions"]["ready"] for e in slice_endpoints(lesson, SVC).values())


def test_web_scaled_to_250_uses_three_slices_and_back(lesson: SimCluster) -> None:
    lesson.scale("default", "web", 250)
    lesson.run_for(30)
    assert len(pods(lesson, "web")) == 250 and all(is_ready(p) for p in pods(lesson, "web"))
    sls = slices(lesson, "web-svc")
    assert len(sls) == 3
    assert all(len(s["endpoints"]) <= 100 for s in sls)
    assert sum(len(s["endpoints"]) for s in sls) == 250
    ready, _ = endpoints_addresses(lesson, "web-svc")
    assert len(ready) == 250
    lesson.scale("default", "web", 3)
    lesson.run_for(40)
    survivors = pods(lesson, "web")
    assert len(survivors) == 3
    # The ReplicaSet deletes first the pods on the nodes holding the most of them: the survivors
    # are not simply the oldest three, and slices are not repacked, so they may be in two.
    sls = slices(lesson, "web-svc")
    assert sorted(e["targetRef"]["name"] for s in sls for e in s["endpoints"]) == sorted(
        p["metadata"]["name"] for p in survivors
    )
    assert all(s["endpoints"] for s in sls) and len(sls) <= 3


def test_seed_002_web_svc_lists_ready_pod_ips(lesson: SimCluster) -> None:
    svc = lesson.store.require("Service", "default", "web-svc")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0]["targetPort"] == 80
    web = pods(lesson, "web")
    ready, _ = endpoints_addresses(lesson, "web-svc")
    assert ready == {p["status"]["podIP"] for p in web}
    # A Running pod failing its readiness check is left out of the ready addresses.
    lesson.set_probe("default", web[0]["metadata"]["name"], False)
    lesson.run_for(20)  # web probes every 5 s, 3 failures
    ready, not_ready = endpoints_addresses(lesson, "web-svc")
    assert web[0]["status"]["podIP"] in not_ready and len(ready) == 2


def test_no_ready_endpoints_before_probe_passes() -> None:
    c = SimCluster()
    c.start()
    c.load_lesson()
    c.run_for(3)  # running with IPs, readiness probe not run yet
    eps = slice_endpoints(c, SVC)
    assert len(eps) == 4
    assert all(
        e["conditions"] == {"ready": False, "serving": False, "terminating": False} for e in eps.values()
    )
    ready, not_ready = endpoints_addresses(c, SVC)
    assert not ready and len(not_ready) == 4


def test_deleting_service_removes_its_slices_and_endpoints(lesson: SimCluster) -> None:
    lesson.delete("Service", "default", SVC)
    lesson.run_for(1)
    assert slices(lesson, SVC) == []
    assert lesson.store.get("Endpoints", "default", SVC) is None
    assert len(pods(lesson, "shipping-api")) == 4  # the workload stays
