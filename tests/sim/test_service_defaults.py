"""Service defaulting in the simulated store (the path of scenarios and the page's actions)."""

from __future__ import annotations

import pytest

from app.sim.cluster import SimCluster


@pytest.mark.parametrize("target", [None, 0, ""])
def test_an_unset_zero_or_empty_target_port_is_the_port(target: object) -> None:
    c = SimCluster()
    c.start()
    port: dict[str, object] = {"port": 8080}
    if target is not None:
        port["targetPort"] = target
    c.apply(
        {"kind": "Service", "metadata": {"name": "s"}, "spec": {"selector": {"app": "s"}, "ports": [port]}}
    )
    c.apply(
        {
            "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "s"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }
    )
    c.run_for(10)
    stored = c.store.require("Service", "default", "s")["spec"]["ports"][0]
    assert stored["targetPort"] == 8080
    [slice_] = c.store.list("EndpointSlice", "default", {"kubernetes.io/service-name": "s"})
    assert [p["port"] for p in slice_["ports"]] == [8080]
    assert len(slice_["endpoints"]) == 1
