"""The simulator's bookkeeping against its reference behaviour: client-go's event correlation, the
ReplicaSet tallies kept from events against a recount from the store, the Endpoints packing from
per-pod records against truncate_subsets(desired_subsets(...)), and the watch history per kind."""

from __future__ import annotations

import random
from typing import Any

import pytest

from app.sim.clock import SimClock
from app.sim.cluster import SimCluster, SimConfig
from app.sim.controllers.common import controller_ref, is_active, is_ready, selector_matches
from app.sim.controllers.endpoints import PortCache, desired_subsets, member, pack_endpoints, truncate_subsets
from app.sim.controllers.events import COMBINED, EventRecorder
from app.sim.errors import ApiError
from app.sim.store import HISTORY_ITEMS, ObjectStore

Obj = dict[str, Any]


# ---- events ------------------------------------------------------------------------------------
def recorder() -> tuple[EventRecorder, ObjectStore, SimClock]:
    clock = SimClock()
    store = ObjectStore(clock)
    return EventRecorder(store, clock, limit=1000), store, clock


RS: Obj = {
    "kind": "ReplicaSet",
    "apiVersion": "apps/v1",
    "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1"},
}


def test_repeats_bump_the_count_and_similar_events_are_combined() -> None:
    rec, store, clock = recorder()
    for _ in range(3):
        rec.record(RS, "Warning", "FailedCreate", "Error creating: quota", "replicaset-controller")
        clock.advance(1)
    [ev] = store.list("Event")
    assert ev["count"] == 3 and ev["firstTimestamp"] < ev["lastTimestamp"]
    # The 10th distinct message for the same object and reason goes into a combined event.
    for i in range(12):
        rec.record(RS, "Normal", "SuccessfulCreate", f"Created pod: web-1-{i}", "replicaset-controller")
    created = [e for e in store.list("Event") if e["reason"] == "SuccessfulCreate"]
    singles = [e for e in created if not e["message"].startswith(COMBINED)]
    [combined] = [e for e in created if e["message"].startswith(COMBINED)]
    assert len(singles) == 9 and [e["count"] for e in singles] == [1] * 9
    assert combined["count"] == 3 and combined["message"] == COMBINED + "Created pod: web-1-11"


def test_the_spam_filter_lets_25_through_then_one_every_five_minutes() -> None:
    rec, _, clock = recorder()
    written = [
        rec.record(RS, "Normal", "SuccessfulCreate", f"Created pod: p{i}", "replicaset-controller")
        for i in range(100)
    ]
    assert sum(w is not None for w in written) == 25 and rec.dropped == 75
    # Another object, or another source, has its own budget.
    other = {**RS, "metadata": {**RS["metadata"], "name": "web-2", "uid": "u-2"}}
    assert rec.record(other, "Normal", "SuccessfulCreate", "Created pod: q", "replicaset-controller")
    clock.advance(299)
    assert rec.record(RS, "Normal", "SuccessfulCreate", "Created pod: late", "replicaset-controller") is None
    clock.advance(2)
    assert rec.record(RS, "Normal", "SuccessfulCreate", "Created pod: later", "replicaset-controller")


def test_at_most_limit_events_are_kept() -> None:
    clock = SimClock()
    store = ObjectStore(clock)
    rec = EventRecorder(store, clock, limit=10)
    for i in range(40):
        pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": f"p{i}", "namespace": "default"}}
        rec.record(
            pod, "Normal", "Scheduled", f"Successfully assigned default/p{i} to node-1", "default-scheduler"
        )
    names = sorted(e["involvedObject"]["name"] for e in store.list("Event"))
    assert names == sorted(f"p{i}" for i in range(30, 40))


# ---- ReplicaSet tallies ------------------------------------------------------------------------
def recount(c: SimCluster, rs: Obj) -> dict[str, int]:
    """The ReplicaSet's status as a full scan of the store would compute it."""
    ns, uid = rs["metadata"]["namespace"], rs["metadata"]["uid"]
    spec = rs["spec"]
    claimed = terminating = ready = labeled = 0
    tlabels = spec["template"]["metadata"]["labels"]
    for pod in c.store.list("Pod", ns):
        ref = controller_ref(pod)
        if ref is None or ref.get("uid") != uid:
            continue
        if not is_active(pod):
            terminating += bool(pod["metadata"].get("deletionTimestamp")) and pod["status"].get(
                "phase"
            ) not in (
                "Succeeded",
                "Failed",
            )
            continue
        if not selector_matches(spec["selector"], pod["metadata"].get("labels")):
            continue
        claimed += 1
        ready += is_ready(pod)
        labeled += all(pod["metadata"]["labels"].get(k) == v for k, v in tlabels.items())
    return {
        "replicas": claimed,
        "readyReplicas": ready,
        "fullyLabeledReplicas": labeled,
        "terminating": terminating,
    }


def reported(rs: Obj) -> dict[str, int]:
    st = rs.get("status") or {}
    return {
        "replicas": st.get("replicas", 0),
        "readyReplicas": st.get("readyReplicas", 0),
        "fullyLabeledReplicas": st.get("fullyLabeledReplicas", 0),
        "terminating": st.get("terminatingReplicas", 0),
    }


def test_replicaset_status_from_tallies_matches_a_recount_through_random_changes() -> None:
    rng = random.Random(7)
    c = SimCluster(SimClock(), SimConfig(nodes=2, pod_cidr_prefix=26))  # 61 pods a node
    c.start()
    c.load_lesson()
    c.run_for(30)
    for step in range(60):
        pods = c.store.list("Pod", "default", {"app": "web"}) + c.store.list(
            "Pod", "default", {"app": "debug"}
        )
        action = rng.randrange(6)
        try:
            if action == 0:
                c.scale("default", "web", rng.randrange(0, 40))
            elif action == 1 and pods:  # relabel out of (or back into) the selector
                pod = rng.choice(pods)
                c.set_pod_labels("default", pod["metadata"]["name"], {"app": rng.choice(["web", "debug"])})
            elif action == 2 and pods:
                c.set_probe("default", rng.choice(pods)["metadata"]["name"], rng.random() < 0.5)
            elif action == 3 and pods:
                c.delete_pod("default", rng.choice(pods)["metadata"]["name"])
            elif action == 4 and pods:  # a label the template does not have: not fully labelled
                c.set_pod_labels("default", rng.choice(pods)["metadata"]["name"], {"pod-template-hash": "x"})
        except ApiError:
            pass
        # (0.01: the shortest wait after which the ReplicaSet controller has seen its own pods)
        c.run_for(rng.choice([0.01, 0.5, 3, 12]))
        for rs in c.store.list("ReplicaSet", "default", {"app": "web"}):
            assert reported(rs) == recount(c, rs), f"step {step}"
    c.run_for(120)
    [rs] = c.store.list("ReplicaSet", "default", {"app": "web"})
    assert reported(rs) == recount(c, rs)
    want = rs["spec"]["replicas"]
    assert reported(rs)["replicas"] == want and reported(rs)["readyReplicas"] == want


# ---- Endpoints packing ---------------------------------------------------------------------------
def pod(i: int, rng: random.Random) -> Obj:
    ready = rng.random() < 0.7
    ports = [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]
    if rng.random() < 0.3:
        ports.append({"containerPort": 9090, "name": "metrics", "protocol": "TCP"})
    ip = f"10.244.{rng.randrange(3)}.{rng.randrange(2, 250)}"
    p: Obj = {
        "kind": "Pod",
        "metadata": {"name": f"p{i:04d}", "namespace": "default", "uid": f"uid-{i}"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "ports": ports}]},
        "status": {
            "phase": rng.choice(["Running", "Running", "Running", "Succeeded"]),
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    if rng.random() < 0.1:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return p


@pytest.mark.parametrize("count", [0, 5, 300, 1_500])
@pytest.mark.parametrize("shape", ["named", "two", "headless", "publish"])
def test_packing_from_records_equals_the_reference(count: int, shape: str) -> None:
    rng = random.Random(count * 31 + len(shape))
    spec: Obj = {"clusterIP": "10.96.0.9", "ports": [{"port": 80, "targetPort": "http"}]}
    if shape == "two":
        spec["ports"] = [
            {"name": "web", "port": 80, "targetPort": "http"},
            {"name": "m", "port": 9, "targetPort": "metrics"},
        ]
    elif shape == "headless":
        spec = {"clusterIP": "None"}
    elif shape == "publish":
        spec["publishNotReadyAddresses"] = True
    svc: Obj = {"kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": spec}
    pods = [pod(i, rng) for i in range(count)]
    want = truncate_subsets(desired_subsets(svc, pods))
    cache = PortCache()
    got = pack_endpoints(svc, [member(svc, p, cache) for p in pods])
    assert got == want


# ---- watch history -------------------------------------------------------------------------------
def test_history_is_kept_per_kind_and_bounded_by_the_endpoints_it_holds() -> None:
    store = ObjectStore(SimClock(), history_limit=5)
    start = int(store.resource_version)
    svc = store.create({"kind": "Service", "metadata": {"name": "web"}, "spec": {}})
    for i in range(8):
        store.create({"kind": "Pod", "metadata": {"name": f"p{i}"}, "spec": {"containers": []}})
    # Pods filled their history; the Service's is intact, so a Service watch from the start resumes.
    assert [e.obj["metadata"]["name"] for e in store.events_since(start, "Service")] == ["web"]
    with pytest.raises(ApiError) as err:
        store.events_since(start, "Pod")
    assert err.value.code == 410
    assert len(store.events_since(int(svc["metadata"]["resourceVersion"]) + 3, "Pod")) == 5
    # Big EndpointSlices count by their endpoints: a few of them fill the history.
    eps = [{"addresses": [f"10.0.0.{i}"]} for i in range(HISTORY_ITEMS // 2)]  # two do not fit
    rvs = [
        int(
            store.create(
                {
                    "kind": "EndpointSlice",
                    "metadata": {"name": f"s{i}"},
                    "addressType": "IPv4",
                    "endpoints": eps,
                }
            )["metadata"]["resourceVersion"]
        )
        for i in range(3)
    ]
    with pytest.raises(ApiError):
        store.events_since(rvs[0], "EndpointSlice")
    assert [e.rv for e in store.events_since(rvs[1], "EndpointSlice")] == [rvs[2]]
    # Every kind at once: in resourceVersion order, as old as the least-kept kind allows.
    with pytest.raises(ApiError):
        store.events_since(rvs[0], None)
    mixed = ObjectStore(SimClock())
    begin = int(mixed.resource_version)
    for i in range(4):
        mixed.create({"kind": "Service", "metadata": {"name": f"s{i}"}, "spec": {}})
        mixed.create({"kind": "Pod", "metadata": {"name": f"p{i}"}, "spec": {"containers": []}})
    assert [e.rv for e in mixed.events_since(begin, None)] == list(range(begin + 1, begin + 9))
