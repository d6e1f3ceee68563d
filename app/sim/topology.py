"""The PodTopologyLabels admission plugin (plugin/pkg/admission/podtopologylabels): a pod bound to a
node (by the scheduler's binding, or created with spec.nodeName) gets the node's
topology.kubernetes.io/zone and /region labels, never overwriting labels the pod already has."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.sim.store import ObjectStore

Obj = dict[str, Any]
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
TOPOLOGY_LABELS = (ZONE_LABEL, REGION_LABEL)  # the plugin's default Config.Labels


def node_topology(node: Obj | None) -> tuple[tuple[str, str], ...]:
    """The node's topology labels to copy, as (key, value) pairs."""
    labels = ((node or {}).get("metadata") or {}).get("labels") or {}
    return tuple((k, labels[k]) for k in TOPOLOGY_LABELS if k in labels)


class _Merged:
    """Merged label dicts shared by the pods whose labels and node topology are the same (a
    Deployment's pods hold their template's labels dict; stored objects are frozen, so the pods
    bound into one zone can hold one dict)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._cache: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[dict[str, str], dict[str, str]]] = {}

    def __call__(
        self, labels: dict[str, str] | None, topology: tuple[tuple[str, str], ...]
    ) -> dict[str, str]:
        labels = labels or {}
        missing = [(k, v) for k, v in topology if k not in labels]
        if not missing:
            return labels
        key = (id(labels), topology)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is labels:
            return hit[1]
        merged = {**labels, **dict(missing)}
        if len(self._cache) >= self.LIMIT:
            self._cache.clear()
        self._cache[key] = (labels, merged)  # holding `labels` keeps its id its own
        return merged


with_topology = _Merged()


def label_bound_pod(pod: Obj, node: Obj | None) -> None:
    """Give a pod being bound to `node` the node's topology labels (in place on a draft whose
    metadata may be edited; the labels dict is replaced, never changed)."""
    topology = node_topology(node)
    if topology:
        md = pod.setdefault("metadata", {})
        md["labels"] = with_topology(md.get("labels"), topology)


def admission_hook(store: ObjectStore) -> Callable[[str, Obj, Obj | None], Obj]:
    """admitPod: a pod created already bound (spec.nodeName set) is labelled like a binding."""

    def hook(operation: str, obj: Obj, old: Obj | None) -> Obj:
        if operation != "CREATE" or obj.get("kind") != "Pod":
            return obj
        node_name = (obj.get("spec") or {}).get("nodeName")
        if not node_name:
            return obj
        topology = node_topology(store.get("Node", "", node_name))
        if not topology:
            return obj
        md = dict(obj.get("metadata") or {})
        md["labels"] = with_topology(md.get("labels"), topology)
        return {**obj, "metadata": md}

    return hook


def install(store: ObjectStore) -> None:
    store.admission.append(admission_hook(store))
