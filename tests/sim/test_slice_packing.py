"""The pure EndpointSlice packing algorithm and helpers (reconciler.go), without a store."""

from __future__ import annotations

from typing import Any

from app.sim.controllers import slice_packing as sp
from app.sim.controllers.endpoints import repack_subsets, truncate_subsets
from app.sim.controllers.podutil import SelectorIndex, TriggerTimeTracker, find_port

Obj = dict[str, Any]
CTRL = "endpointslice-controller.k8s.io"
PORTS = [{"name": "", "protocol": "TCP", "port": 8080}]
SVC: Obj = {
    "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"team": "a"}},
    "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.9"},
}


def ep(i: int, ready: bool = True) -> Obj:
    return {
        "addresses": [f"10.0.0.{i}"],
        "conditions": {"ready": ready, "serving": ready, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "default", "name": f"p{i}", "uid": f"u{i}"},
        "nodeName": "n1",
    }


def desired(
    *ids: int, ports: list[Obj] = PORTS, not_ready: tuple[int, ...] = ()
) -> dict[sp.PortKey, sp.DesiredGroup]:
    group = sp.DesiredGroup(ports)
    for i in ids:
        e = ep(i, ready=i not in not_ready)
        group.endpoints[sp.endpoint_hash(e)] = e
    return {sp.port_key(ports): group}


def stored(name: str, ids: list[int], ports: list[Obj] = PORTS) -> Obj:
    s = sp.new_slice(SVC, ports, "IPv4", CTRL)
    s["metadata"] = {**s["metadata"], "name": name, "resourceVersion": "7"}
    s["endpoints"] = [ep(i) for i in ids]
    return s


def names(slices: list[Obj]) -> list[str | None]:
    return sorted(s["metadata"].get("name") or "<new>" for s in slices)


def reconcile(d: dict[sp.PortKey, sp.DesiredGroup], existing: list[Obj], max_n: int = 100) -> sp.SlicePlan:
    return sp.reconcile_address_type(SVC, d, existing, "IPv4", max_n, CTRL)


def test_port_key_ignores_order_and_defaults_protocol() -> None:
    a = [{"name": "x", "port": 1, "protocol": "TCP"}, {"name": "y", "port": 2}]
    b = [{"name": "y", "port": 2, "protocol": "TCP"}, {"name": "x", "port": 1}]
    assert sp.port_key(a) == sp.port_key(b)
    assert sp.port_key(a) != sp.port_key(a[:1])


def test_fresh_service_packs_into_full_slices() -> None:
    plan = reconcile(desired(*range(1, 251)), [])
    assert [len(s["endpoints"]) for s in plan.create] == [100, 100, 50]
    assert not plan.update and not plan.delete
    s = plan.create[0]
    assert s["metadata"]["generateName"] == "web-" and "name" not in s["metadata"]
    assert s["metadata"]["labels"]["team"] == "a"


def test_unchanged_slices_are_left_alone() -> None:
    plan = reconcile(desired(1, 2, 3), [stored("web-a", [1, 2, 3])])
    assert not plan


def test_one_changed_endpoint_updates_only_its_slice_in_place() -> None:
    existing = [stored("web-a", list(range(1, 101))), stored("web-b", list(range(101, 151)))]
    plan = reconcile(desired(*range(1, 151), not_ready=(120,)), existing)
    assert names(plan.update) == ["web-b"] and not plan.create and not plan.delete
    [upd] = plan.update
    assert [e["targetRef"]["name"] for e in upd["endpoints"]] == [f"p{i}" for i in range(101, 151)]
    assert upd["metadata"]["resourceVersion"] == "7"  # optimistic concurrency on the stored version
    assert existing[1]["endpoints"][19]["conditions"]["ready"] is True  # the stored dict is untouched


def test_new_endpoints_fill_slices_being_updated_first() -> None:
    existing = [stored("web-a", [1, 2, 3]), stored("web-b", [4, 5])]
    plan = reconcile(desired(1, 2, 4, 5, 6), existing, max_n=3)  # 3 removed, 6 added
    assert names(plan.update) == ["web-a"]
    assert sorted(e["targetRef"]["name"] for e in plan.update[0]["endpoints"]) == ["p1", "p2", "p6"]


def test_small_remainder_goes_to_the_unchanged_slice_closest_to_full() -> None:
    existing = [stored("web-a", list(range(1, 91))), stored("web-b", list(range(101, 131)))]
    plan = reconcile(desired(*range(1, 91), *range(101, 131), 200, 201), existing)
    assert names(plan.update) == ["web-a"] and not plan.create
    assert len(plan.update[0]["endpoints"]) == 92


def test_emptied_slices_are_deleted_and_recycled_for_creates() -> None:
    # the pod set changes completely: the old slice's name is reused instead of delete + create
    plan = reconcile(desired(7, 8), [stored("web-a", [1, 2])])
    assert not plan.create and not plan.delete
    assert names(plan.update) == ["web-a"]


def test_placeholder_created_once_and_kept() -> None:
    plan = reconcile({}, [])
    [ph] = plan.create
    assert ph["ports"] == [] and ph["endpoints"] == []
    kept = {**ph, "metadata": {**ph["metadata"], "name": "web-ph"}}
    assert not reconcile({}, [kept])
    # a non-empty slice is turned into the placeholder (recycled), not deleted + created
    plan = reconcile({}, [stored("web-a", [1])])
    assert names(plan.update) == ["web-a"] and plan.update[0]["ports"] == [] and not plan.delete


def test_slices_not_owned_by_this_service_are_deleted() -> None:
    foreign = stored("web-old", [1])
    foreign["metadata"]["ownerReferences"] = [{**foreign["metadata"]["ownerReferences"][0], "uid": "other"}]
    plan = reconcile(desired(1), [foreign])
    assert names(plan.delete) == ["web-old"] and len(plan.create) == 1


def test_label_change_on_the_service_updates_slices() -> None:
    s = stored("web-a", [1])
    s["metadata"]["labels"] = {**s["metadata"]["labels"], "team": "b"}
    plan = reconcile(desired(1), [s])
    assert names(plan.update) == ["web-a"] and plan.update[0]["metadata"]["labels"]["team"] == "a"


def test_pods_with_different_port_lists_get_different_slices() -> None:
    d = desired(1, 2)
    d.update(desired(3, ports=[]))
    plan = reconcile(d, [])
    assert sorted(len(s["ports"]) for s in plan.create) == [0, 1]


def test_trigger_time_annotation_set_and_removed() -> None:
    s = sp.with_trigger_time(stored("web-a", [1]), 1767225600.0)
    assert s["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z"
    }
    assert "annotations" not in sp.with_trigger_time(s, None)["metadata"]


def test_find_port_named_numeric_and_missing() -> None:
    pod = {"spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}}
    assert find_port(pod, {"port": 80, "targetPort": "http"}) == 8080
    assert find_port(pod, {"port": 80, "targetPort": "http", "protocol": "UDP"}) is None
    assert find_port(pod, {"port": 80, "targetPort": "grpc"}) is None
    assert find_port(pod, {"port": 80, "targetPort": 9000}) == 9000
    assert find_port(pod, {"port": 80}) == 80


def test_selector_index_finds_only_matching_services() -> None:
    idx = SelectorIndex()
    idx.set(("ns", "a"), {"app": "web", "tier": "x"})
    idx.set(("ns", "b"), {"app": "web"})
    idx.set(("other", "c"), {"app": "web"})
    assert idx.services_for("ns", {"app": "web"}) == {("ns", "b")}
    assert idx.services_for("ns", {"app": "web", "tier": "x", "z": "1"}) == {("ns", "a"), ("ns", "b")}
    idx.remove(("ns", "b"))
    idx.set(("ns", "a"), None)
    assert idx.services_for("ns", {"app": "web", "tier": "x"}) == set()


def test_trigger_time_tracker_reports_only_new_ready_transitions() -> None:
    svc = {"metadata": {"name": "s", "namespace": "d", "creationTimestamp": "2026-01-01T00:00:00Z"}}

    def p(name: str, ltt: str) -> Obj:
        return {
            "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "lastTransitionTime": ltt}]},
        }

    t = TriggerTimeTracker()
    assert t.compute(svc, [p("a", "2026-01-01T00:00:05Z")]) == 1767225600.0  # new Service: its creation
    assert t.compute(svc, [p("a", "2026-01-01T00:00:05Z")]) is None
    got = t.compute(svc, [p("a", "2026-01-01T00:00:09Z"), p("b", "2026-01-01T00:00:07Z")])
    assert got == 1767225607.0


def test_repack_merges_ports_and_not_ready_wins() -> None:
    a = {"ip": "10.0.0.2"}
    b = {"ip": "10.0.0.10"}
    subsets = [
        {"addresses": [a], "ports": [{"port": 1, "protocol": "TCP"}]},
        {"addresses": [a], "ports": [{"port": 2, "protocol": "TCP"}]},
        {"notReadyAddresses": [b], "ports": [{"port": 1, "protocol": "TCP"}]},
        {"addresses": [b], "ports": [{"port": 1, "protocol": "TCP"}]},
    ]
    out = repack_subsets(subsets)
    assert {
        "addresses": [a],
        "notReadyAddresses": [b],
        "ports": [{"port": 1, "protocol": "TCP"}],
    } in out
    assert {"addresses": [a], "ports": [{"port": 2, "protocol": "TCP"}]} in out
    # addresses sort as strings, like Kubernetes' byte comparison
    ready = repack_subsets([{"addresses": [a, b], "ports": [{"port": 1}]}])[0]["addresses"]
    assert [x["ip"] for x in ready] == ["10.0.0.10", "10.0.0.2"]


def test_truncate_keeps_ready_first_and_spreads_over_subsets() -> None:
    def addrs(prefix: str, n: int) -> list[Obj]:
        return [{"ip": f"{prefix}.{i}"} for i in range(n)]

    subsets = [
        {"addresses": addrs("1", 600), "ports": [{"port": 1}]},
        {"addresses": addrs("2", 600), "notReadyAddresses": addrs("3", 5), "ports": [{"port": 2}]},
    ]
    out, truncated = truncate_subsets(subsets)
    assert truncated
    assert [len(s.get("addresses") or ()) for s in out] == [500, 500]
    assert all("notReadyAddresses" not in s for s in out)
    same, truncated = truncate_subsets(subsets[:1])
    assert not truncated and same == subsets[:1]
