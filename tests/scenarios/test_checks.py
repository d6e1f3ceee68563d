"""Scenario expectations evaluated against hand-written store objects (no controllers involved), so
each count is known exactly and a wrong expectation is shown to fail with a useful message."""

from __future__ import annotations

from app.scenarios.checks import evaluate, unmatched_pods
from app.scenarios.format import EndpointsCheck, PodsCheck, ServiceCheck, UnmatchedPodsCheck
from app.sim.clock import SimClock
from app.sim.store import ObjectStore


def ep(ip: str, *, ready: bool, serving: bool, terminating: bool = False) -> dict:
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}


def pod(name: str, labels: dict, *, ready: bool = True, owned: bool = True) -> dict:
    md: dict = {"name": name, "namespace": "default", "labels": labels}
    if owned:
        md["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-abc", "controller": True}]
    status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"kind": "Pod", "metadata": md, "status": status}


def build() -> ObjectStore:
    store = ObjectStore(SimClock())
    store.create({"kind": "Service", "metadata": {"name": "web-svc"}, "spec": {"selector": {"app": "web"}}})
    store.create({"kind": "Service", "metadata": {"name": "alias"}, "spec": {"type": "ExternalName"}})
    labels = {"kubernetes.io/service-name": "web-svc", "endpointslice.kubernetes.io/managed-by": "ctrl"}
    store.create(
        {
            "kind": "EndpointSlice",
            "metadata": {"name": "web-svc-a", "labels": labels},
            "ports": [{"port": 3000}],
            "endpoints": [
                ep("10.0.0.1", ready=True, serving=True),
                ep("10.0.0.2", ready=False, serving=False),
                ep("10.0.0.3", ready=False, serving=True, terminating=True),
            ],
        }
    )
    store.create(
        {
            "kind": "EndpointSlice",
            "metadata": {"name": "web-svc-b", "labels": labels},
            "ports": [{"port": 3000}],
            "endpoints": [ep("10.0.0.4", ready=True, serving=True)],
        }
    )
    store.create(
        {
            "kind": "Endpoints",
            "metadata": {
                "name": "web-svc",
                "annotations": {"endpoints.kubernetes.io/over-capacity": "truncated"},
            },
            "subsets": [
                {
                    "addresses": [{"ip": "10.0.0.4"}, {"ip": "10.0.0.1"}],
                    "notReadyAddresses": [{"ip": "10.0.0.2"}],
                    "ports": [{"port": 3000}],
                }
            ],
        }
    )
    store.create(pod("web-1", {"app": "web"}))
    store.create(pod("web-2", {"app": "web"}, ready=False))
    store.create(pod("orphan", {"app": "debug"}, owned=False))
    store.mutate(
        "Pod", "default", "web-2", lambda d: d["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z")
    )
    return store


def test_service_check_counts_conditions_across_slices() -> None:
    store = build()
    check = ServiceCheck(
        "default",
        "web-svc",
        exists=True,
        ready=2,
        notReady=1,
        terminating=1,
        serving=3,
        total=4,
        slices=2,
        sliceSizes=(3, 1),
        ips=("10.0.0.4", "10.0.0.1"),
        ports=(3000,),
        managedBy="ctrl",
        sliceLabels={"kubernetes.io/service-name": "web-svc"},
    )
    result = evaluate(store, check)
    assert result.ok, result.problems
    assert result.actual["ips"] == ["10.0.0.1", "10.0.0.4"]
    assert result.text.startswith("Service default/web-svc: exists true, ready 2, notReady 1")


def test_wrong_expectations_fail_with_each_difference() -> None:
    store = build()
    result = evaluate(store, ServiceCheck("default", "web-svc", ready=3, slices=2, sliceLabels={"x": "y"}))
    assert not result.ok
    assert result.problems == ("ready: expected 3, found 2", "sliceLabels: expected {x=y}, found {}")
    missing = evaluate(store, ServiceCheck("default", "nope", exists=True, slices=0))
    assert missing.problems == ("exists: expected true, found false",)


def test_endpoints_check() -> None:
    store = build()
    good = EndpointsCheck("default", "web-svc", True, 2, 1, True, ("10.0.0.1", "10.0.0.4"), (3000,))
    assert evaluate(store, good).ok
    bad = evaluate(store, EndpointsCheck("default", "web-svc", addresses=3, overCapacity=False))
    assert bad.problems == ("addresses: expected 3, found 2", "overCapacity: expected false, found true")
    assert evaluate(store, EndpointsCheck("default", "gone", exists=False, addresses=0)).ok


def test_pods_check_and_unmatched() -> None:
    store = build()
    assert evaluate(
        store, PodsCheck("default", {"app": "web"}, count=1, ready=1, terminating=1, orphans=0)
    ).ok
    assert evaluate(store, PodsCheck("default", {}, count=2, orphans=1)).ok
    assert not evaluate(store, PodsCheck("default", {}, count=3)).ok
    # the orphan matches no selector; the ExternalName Service selects nothing; web-2 is being deleted
    assert [p["metadata"]["name"] for p in unmatched_pods(store, "default")] == ["orphan"]
    assert evaluate(store, UnmatchedPodsCheck("default", 1)).ok
    bad = evaluate(store, UnmatchedPodsCheck("default", 0))
    assert bad.problems == ("unmatchedPods: expected 0, found 1 (orphan)",)
    assert bad.as_dict()["actual"] == {"unmatchedPods": 1, "pods": ["orphan"]}
