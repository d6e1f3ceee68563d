"""The simulated cluster's size limits, enforced where a real cluster's admission control would:
every write of a Deployment or ReplicaSet and every new Pod passes them, whichever path it came
by (the page, the console's kubectl, the simulated API, the controllers).

- spec.replicas of a Deployment (or of a ReplicaSet no Deployment controls) is at most
  `max_replicas`, refused like a ValidatingAdmissionPolicy with reason Forbidden would refuse it;
- the cluster holds at most `max_pods` Pod objects, new ones refused like a ResourceQuota on pods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.sim.errors import forbidden
from app.sim.store import ObjectStore

Obj = dict[str, Any]

POLICY = "replica-limit.sim.slicescope.io"
QUOTA = "sim-pod-limit"


@dataclass(frozen=True)
class Limits:
    max_replicas: int
    max_pods: int


def _controlled_by_deployment(obj: Obj) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(r.get("controller") and r.get("kind") == "Deployment" for r in refs)


def replicas_problem(obj: Obj, old: Obj | None, limit: int) -> str | None:
    """Why this Deployment/ReplicaSet write is refused, or None. A ReplicaSet a Deployment
    controls is bounded through its Deployment (a rollout may briefly surge past the limit)."""
    if obj.get("kind") == "ReplicaSet" and _controlled_by_deployment(obj):
        return None
    replicas = (obj.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas <= limit:
        return None
    if old is not None and (old.get("spec") or {}).get("replicas") == replicas:
        return None  # unchanged (the limit may have been lower when it was written)
    return (
        f"ValidatingAdmissionPolicy '{POLICY}' with binding '{POLICY}' denied request: "
        f"spec.replicas must be no greater than {limit} in this simulated cluster (requested {replicas})"
    )


def admission_hook(store: ObjectStore, limits: Limits) -> Callable[[str, Obj, Obj | None], Obj]:
    def hook(operation: str, obj: Obj, old: Obj | None) -> Obj:
        kind = obj.get("kind")
        md = obj.get("metadata") or {}
        if kind in ("Deployment", "ReplicaSet"):
            problem = replicas_problem(obj, old, limits.max_replicas)
            if problem:
                raise forbidden(kind, md.get("name", ""), problem)
        elif kind == "Pod" and operation == "CREATE":
            used = store.count("Pod")
            if used >= limits.max_pods:
                # Admission runs before the name is generated: a ReplicaSet's pod is named by its prefix.
                name = md.get("generateName") or md.get("name", "")
                usage = f"requested: pods=1, used: pods={used}, limited: pods={limits.max_pods}"
                raise forbidden("Pod", name, f"exceeded quota: {QUOTA}, {usage}")
        return obj

    return hook


def install(store: ObjectStore, limits: Limits) -> None:
    """Enforce `limits` on every create and update the store takes (after defaulting, as
    validating admission runs after mutating admission)."""
    store.admission.append(admission_hook(store, limits))
