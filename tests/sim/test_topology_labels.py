"""PodTopologyLabels admission on the simulated cluster: bound pods get their node's zone and region."""

from __future__ import annotations

from app.sim.cluster import SimCluster, SimConfig


def _pod(name: str, labels: dict[str, str], node: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec}


def test_binding_copies_zone_and_region_without_overwriting() -> None:
    cluster = SimCluster(config=SimConfig(nodes=3))
    cluster.start()
    cluster.store.create(_pod("free", {"app": "a"}))
    cluster.store.create(_pod("own-zone", {"app": "a", "topology.kubernetes.io/zone": "mine"}))
    cluster.store.create(_pod("pinned", {"app": "a"}, node="node-3"))
    cluster.run_for(0)
    zone_of = {
        n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
        for n in cluster.store.list("Node")
    }
    for name in ("free", "own-zone", "pinned"):
        pod = cluster.store.require("Pod", "default", name)
        labels = pod["metadata"]["labels"]
        assert labels["topology.kubernetes.io/region"] == "region-1"
        want = "mine" if name == "own-zone" else zone_of[pod["spec"]["nodeName"]]
        assert labels["topology.kubernetes.io/zone"] == want, name
    assert cluster.store.require("Pod", "default", "pinned")["metadata"]["labels"][
        "topology.kubernetes.io/zone"
    ] == ("zone-c")
