"""ReplicaSet scale-down order (ActivePodsWithRanks.Less), on pod objects."""

from __future__ import annotations

from typing import Any

from app.sim.controllers.replicaset import deletion_rank, log2_bucket
from app.timefmt import rfc3339

NOW = 1_767_225_600.0


def pod(
    uid: str,
    *,
    age: float = 1000,
    ready_for: float | None = 900,
    node: str = "node-1",
    phase: str = "Running",
    restarts: int = 0,
    cost: str | None = None,
) -> dict[str, Any]:
    conds = []
    if ready_for is not None:
        conds.append({"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(NOW - ready_for)})
    md: dict[str, Any] = {"name": uid, "uid": uid, "creationTimestamp": rfc3339(NOW - age)}
    if cost is not None:
        md["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    return {
        "metadata": md,
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase, "conditions": conds, "containerStatuses": [{"restartCount": restarts}]},
    }


def order(*pods: dict[str, Any], colocated: dict[str, int] | None = None) -> list[str]:
    ranks = colocated or {}
    key = {p["metadata"]["uid"]: deletion_rank(p, ranks.get(p["metadata"]["uid"], 1), NOW) for p in pods}
    return sorted(key, key=key.__getitem__)


def test_buckets_are_log2_of_nanoseconds() -> None:
    assert log2_bucket(NOW - 1, NOW) == 29  # 1e9 ns
    assert log2_bucket(NOW - 100, NOW) == log2_bucket(NOW - 101, NOW) == 36
    assert (log2_bucket(NOW - 137, NOW), log2_bucket(NOW - 138, NOW)) == (36, 37)  # 2**37 ns ~ 137.4 s
    assert log2_bucket(NOW, NOW) == -1 and log2_bucket(None, NOW) == -2


def test_rules_in_kubernetes_order() -> None:
    assert order(pod("b"), pod("a", node="")) == ["a", "b"]  # unassigned first
    assert order(pod("a"), pod("b", phase="Pending", ready_for=None)) == ["b", "a"]
    assert order(pod("a"), pod("b", ready_for=None)) == ["b", "a"]  # not ready first
    assert order(pod("a", age=10, ready_for=5), pod("b", cost="-5")) == ["b", "a"]
    assert order(pod("a", cost="10"), pod("b", cost="nonsense")) == ["b", "a"]  # invalid: 0
    # more of the Deployment's pods on its node beats a newer pod
    assert order(pod("a", age=10, ready_for=5), pod("b"), colocated={"b": 2}) == ["b", "a"]
    # ready for less time first, then more restarts, then newer
    assert order(pod("a"), pod("b", ready_for=100)) == ["b", "a"]
    assert order(pod("a"), pod("b", restarts=3)) == ["b", "a"]
    assert order(pod("a", ready_for=5), pod("b", age=20, ready_for=5)) == ["b", "a"]


def test_same_bucket_is_a_tie_broken_by_uid_not_by_age() -> None:
    # 100 s and 101 s ago are in one log2 bucket: the UID decides, not who is newer
    older, newer = pod("uid-1", age=101, ready_for=50), pod("uid-2", age=100, ready_for=50)
    assert order(newer, older) == ["uid-1", "uid-2"]
    # 100 s and 1000 s ago are not: the newer goes first whatever its UID
    oldest = pod("uid-0", age=1000, ready_for=50)
    assert order(oldest, pod("uid-9", age=100, ready_for=50)) == ["uid-9", "uid-0"]
