"""The simulated endpoint controllers against the store on a manual clock, shaped like the fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.sim.clock import SimClock
from app.sim.controllers.endpoints import EndpointsController
from app.sim.controllers.endpointslice import EndpointSliceController
from app.sim.controllers.mirroring import EndpointSliceMirroringController
from app.sim.store import ObjectStore, StoreEvent
from app.timefmt import rfc3339
from tests.paths import FIXTURES

Obj = dict[str, Any]

SLICE_LABEL = "kubernetes.io/service-name"
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"


class Cluster:
    def __init__(self, max_per_slice: int = 100) -> None:
        self.clock = SimClock()
        self.store = ObjectStore(self.clock)
        self.events: list[StoreEvent] = []
        self.store.subscribe(self.events.append)
        self.store.create(node("node-1", "zone-a"))
        self.slices = EndpointSliceController(
            self.store, self.clock, max_endpoints_per_slice=max_per_slice
        ).start()
        self.endpoints = EndpointsController(self.store, self.clock).start()
        self.mirroring = EndpointSliceMirroringController(self.store, self.clock).start()
        self._ip = 1

    def settle(self) -> None:
        self.clock.advance(0)

    def next_ip(self) -> str:
        ip = f"10.244.{self._ip // 250 + 1}.{self._ip % 250 + 1}"
        self._ip += 1
        return ip

    def service(self, name: str = "web", selector: dict[str, str] | None = None, **spec: Any) -> Obj:
        s: Obj = {"ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080}], "clusterIP": "10.96.0.10"}
        if selector is not None:
            s["selector"] = selector
        s.update(spec)
        return self.store.create(
            {"kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": s}
        )

    def pod(self, name: str, labels: dict[str, str] | None = None, *, ready: bool = True, **kw: Any) -> Obj:
        return self.store.create(
            pod(name, labels or {"app": "web"}, kw.pop("ip", None) or self.next_ip(), ready, **kw)
        )

    def slices_of(self, svc: str = "web") -> list[Obj]:
        return self.store.list("EndpointSlice", "default", {SLICE_LABEL: svc})

    def ep(self, svc: str = "web") -> Obj | None:
        return self.store.get("Endpoints", "default", svc)

    def set_ready(self, name: str, ready: bool) -> None:
        def fn(p: Obj) -> None:
            for c in p["status"]["conditions"]:
                if c["type"] in ("Ready", "ContainersReady"):
                    c["status"] = "True" if ready else "False"
                    c["lastTransitionTime"] = rfc3339(self.clock.now())

        self.store.mutate("Pod", "default", name, fn)

    def set_labels(self, name: str, labels: dict[str, str]) -> None:
        self.store.mutate("Pod", "default", name, lambda p: p["metadata"].__setitem__("labels", labels))

    def terminate(self, name: str) -> None:
        ts = rfc3339(self.clock.now())
        self.store.mutate(
            "Pod", "default", name, lambda p: p["metadata"].__setitem__("deletionTimestamp", ts)
        )


def node(name: str, zone: str) -> Obj:
    return {"kind": "Node", "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}}}


def pod(
    name: str,
    labels: dict[str, str],
    ip: str | None,
    ready: bool = True,
    *,
    node_name: str = "node-1",
    container_ports: list[Obj] | None = None,
    phase: str = "Running",
    ips: list[str] | None = None,
    **spec: Any,
) -> Obj:
    status = "True" if ready else "False"
    st: Obj = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": status, "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "ContainersReady", "status": status, "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ],
    }
    if ip:
        st["podIP"] = ip
        st["podIPs"] = [{"ip": i} for i in (ips or [ip])]
    ports = container_ports if container_ports is not None else [{"containerPort": 8080, "protocol": "TCP"}]
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "x", "ports": ports}], **spec},
        "status": st,
    }


def ips_of(slices: list[Obj]) -> list[str]:
    return sorted(a for s in slices for e in s.get("endpoints") or () for a in e["addresses"])


def by_ip(slices: list[Obj]) -> dict[str, Obj]:
    return {e["addresses"][0]: e for s in slices for e in s.get("endpoints") or ()}


def ep_ips(ep: Obj, field: str = "addresses") -> list[str]:
    return [a["ip"] for s in ep.get("subsets") or () for a in s.get(field) or ()]


def fixture_item(name: str) -> Obj:
    return json.loads((FIXTURES / name).read_text())["items"][-1]


@pytest.fixture
def c() -> Cluster:
    return Cluster()


# ---- shapes against the real fixtures ---------------------------------------------------------
def test_four_ready_pods_give_one_slice_shaped_like_the_real_one(c: Cluster) -> None:
    svc = c.service("web", {"app": "web"})
    for i in range(4):
        c.pod(f"web-{i}")
    assert c.slices_of() == []  # nothing happens before the clock runs
    c.settle()

    [got] = c.slices_of()
    real = fixture_item("list-endpointslices.json")
    assert got["kind"] == "EndpointSlice" and got["apiVersion"] == "discovery.k8s.io/v1"
    assert set(got) - {"kind", "apiVersion"} == set(real)  # list items carry no kind
    assert got["metadata"]["generateName"] == "web-" and got["metadata"]["name"].startswith("web-")
    assert len(got["metadata"]["name"]) == len("web-") + 5
    assert got["metadata"]["labels"] == {
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        "kubernetes.io/service-name": "web",
    }
    assert set(got["metadata"]["labels"]) == set(real["metadata"]["labels"])
    assert got["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": svc["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert set(got["metadata"]["annotations"]) == set(real["metadata"]["annotations"])
    assert got["addressType"] == "IPv4"
    assert got["ports"] == [{"name": "", "protocol": "TCP", "port": 8080}] == real["ports"]
    assert len(got["endpoints"]) == 4
    for ep, real_ep in zip(got["endpoints"], real["endpoints"], strict=False):
        assert list(ep) == list(real_ep)
        assert ep["conditions"] == {"ready": True, "serving": True, "terminating": False}
        assert ep["nodeName"] == "node-1" and ep["zone"] == "zone-a"
        assert set(ep["targetRef"]) == set(real_ep["targetRef"])
        uid = c.store.get("Pod", "default", ep["targetRef"]["name"])["metadata"]["uid"]
        assert ep["targetRef"]["uid"] == uid


def test_endpoints_object_shaped_like_the_real_one(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    for i in range(4):
        c.pod(f"web-{i}")
    c.settle()
    got = c.ep()
    real = fixture_item("list-endpoints.json")
    assert got is not None and got["kind"] == "Endpoints" and got["apiVersion"] == "v1"
    assert set(got) - {"kind", "apiVersion"} == set(real)
    assert got["metadata"]["labels"] == real["metadata"]["labels"]
    assert set(got["metadata"]["annotations"]) == set(real["metadata"]["annotations"])
    assert "ownerReferences" not in got["metadata"]
    [subset] = got["subsets"]
    [real_subset] = real["subsets"]
    assert set(subset) == set(real_subset)
    assert subset["ports"] == real_subset["ports"] == [{"port": 8080, "protocol": "TCP"}]
    for addr, real_addr in zip(subset["addresses"], real_subset["addresses"], strict=True):
        assert list(addr) == list(real_addr)
    assert ep_ips(got) == sorted(ep_ips(got))


# ---- conditions -----------------------------------------------------------------------------
def test_ready_not_ready_and_terminating_conditions(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    a = c.pod("web-a")["status"]["podIP"]
    b = c.pod("web-b", ready=False)["status"]["podIP"]
    t = c.pod("web-t")["status"]["podIP"]
    c.settle()
    c.terminate("web-t")
    c.settle()

    eps = by_ip(c.slices_of())
    assert eps[a]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert eps[b]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert eps[t]["conditions"] == {"ready": False, "serving": True, "terminating": True}

    ep = c.ep()
    assert ep_ips(ep) == [a]
    assert ep_ips(ep, "notReadyAddresses") == [b]  # terminating pods leave the Endpoints


def test_readiness_flip_moves_the_address_and_updates_the_trigger_time(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    ip = c.pod("web-a")["status"]["podIP"]
    c.settle()
    c.clock.advance(30)
    c.set_ready("web-a", False)
    c.settle()
    want = rfc3339(c.clock.now())
    [s] = c.slices_of()
    assert s["endpoints"][0]["conditions"]["ready"] is False
    assert s["metadata"]["annotations"][TRIGGER] == want
    ep = c.ep()
    assert ep_ips(ep, "notReadyAddresses") == [ip] and ep_ips(ep) == []
    assert ep["metadata"]["annotations"][TRIGGER] == want


def test_pods_without_ip_or_terminal_are_not_endpoints(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    c.store.create(pod("pending", {"app": "web"}, None))
    c.pod("done", phase="Succeeded")
    ok = c.pod("ok")["status"]["podIP"]
    c.settle()
    assert ips_of(c.slices_of()) == [ok]
    assert ep_ips(c.ep()) == [ok]


# ---- packing ----------------------------------------------------------------------------------
def test_250_pods_make_3_slices_and_shrink_back_to_one() -> None:
    c = Cluster()
    c.service("web", {"app": "web"})
    ips = [c.pod(f"web-{i:03d}")["status"]["podIP"] for i in range(250)]
    c.settle()
    slices = c.slices_of()
    assert len(slices) == 3
    assert all(len(s["endpoints"]) <= 100 for s in slices)
    assert ips_of(slices) == sorted(ips)

    keep = {e["targetRef"]["name"] for e in slices[0]["endpoints"][:3]}
    for i in range(250):
        if f"web-{i:03d}" not in keep:
            c.store.delete("Pod", "default", f"web-{i:03d}")
    c.settle()
    [last] = c.slices_of()
    assert {e["targetRef"]["name"] for e in last["endpoints"]} == keep
    assert last["metadata"]["name"] == slices[0]["metadata"]["name"]


def test_an_update_touching_one_pod_rewrites_one_slice_only(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    for i in range(250):
        c.pod(f"web-{i:03d}")
    c.settle()
    before = {s["metadata"]["name"]: s for s in c.slices_of()}
    c.events.clear()
    c.set_ready("web-123", False)
    c.settle()
    slice_events = [e for e in c.events if e.kind == "EndpointSlice"]
    assert [e.type for e in slice_events] == ["MODIFIED"]
    changed = slice_events[0].obj
    assert [e["targetRef"]["name"] for e in changed["endpoints"] if not e["conditions"]["ready"]] == [
        "web-123"
    ]
    # the endpoints stay in place: same order, same slice
    old = before[changed["metadata"]["name"]]
    assert [e["targetRef"]["name"] for e in old["endpoints"]] == [
        e["targetRef"]["name"] for e in changed["endpoints"]
    ]
    ep_events = [e for e in c.events if e.kind == "Endpoints"]
    assert [e.type for e in ep_events] == ["MODIFIED"]


def test_a_new_pod_fills_an_existing_slice_instead_of_creating_one(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    for i in range(150):
        c.pod(f"web-{i:03d}")
    c.settle()
    assert sorted(len(s["endpoints"]) for s in c.slices_of()) == [50, 100]
    c.events.clear()
    c.pod("web-new")
    c.settle()
    assert sorted(len(s["endpoints"]) for s in c.slices_of()) == [51, 100]
    assert [e.type for e in c.events if e.kind == "EndpointSlice"] == ["MODIFIED"]


def test_max_endpoints_per_slice_is_configurable() -> None:
    c = Cluster(max_per_slice=2)
    c.service("web", {"app": "web"})
    for i in range(5):
        c.pod(f"web-{i}")
    c.settle()
    assert sorted(len(s["endpoints"]) for s in c.slices_of()) == [1, 2, 2]
    with pytest.raises(ValueError):
        EndpointSliceController(c.store, c.clock, max_endpoints_per_slice=0)


# ---- no endpoints ---------------------------------------------------------------------------
def test_placeholder_slice_and_empty_endpoints_for_a_service_without_pods(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    c.settle()
    [s] = c.slices_of()
    assert s["ports"] == [] and s["endpoints"] == []
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"
    ep = c.ep()
    assert ep is not None and "subsets" not in ep
    # the placeholder becomes the real slice when a pod arrives, and comes back when it leaves
    ip = c.pod("web-0")["status"]["podIP"]
    c.settle()
    [s2] = c.slices_of()
    assert s2["metadata"]["name"] == s["metadata"]["name"] and ips_of([s2]) == [ip]
    c.store.delete("Pod", "default", "web-0")
    c.settle()
    [s3] = c.slices_of()
    assert s3["ports"] == [] and s3["endpoints"] == []
    assert "subsets" not in c.ep()


def test_selector_typo_gives_no_endpoints(c: Cluster) -> None:
    c.service("web", {"app": "wbe"})
    for i in range(3):
        c.pod(f"web-{i}")
    c.settle()
    [s] = c.slices_of()
    assert s["endpoints"] == [] and s["ports"] == []
    assert "subsets" not in c.ep()
    # fixing the selector brings them in
    c.store.mutate("Service", "default", "web", lambda o: o["spec"].__setitem__("selector", {"app": "web"}))
    c.settle()
    assert len(ips_of(c.slices_of())) == 3 and len(ep_ips(c.ep())) == 3


def test_no_objects_for_external_name_or_selectorless_services(c: Cluster) -> None:
    c.service("ext", None, type="ExternalName", externalName="example.com")
    c.service("ext2", {"app": "web"}, type="ExternalName", externalName="example.com")
    c.service("manual", None)
    c.pod("web-0")
    c.settle()
    assert c.store.list("EndpointSlice") == []
    assert c.store.list("Endpoints") == []


# ---- ports ----------------------------------------------------------------------------------
def test_named_target_port_and_pods_missing_it(c: Cluster) -> None:
    c.service("web", {"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    named = [{"name": "http", "containerPort": 8080}]  # protocol defaults to TCP on both sides
    a = c.pod("web-a", container_ports=named)["status"]["podIP"]
    b = c.pod("web-b", container_ports=[{"name": "http", "containerPort": 9090, "protocol": "TCP"}])[
        "status"
    ]["podIP"]
    x = c.pod("web-x", container_ports=[{"name": "metrics", "containerPort": 9100}])["status"]["podIP"]
    u = c.pod("web-u", container_ports=[{"name": "http", "containerPort": 7070, "protocol": "UDP"}])[
        "status"
    ]["podIP"]
    c.settle()

    ports_by_ip = {ip: s["ports"] for s in c.slices_of() for ip in ips_of([s])}
    assert ports_by_ip[a] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    assert ports_by_ip[b] == [{"name": "http", "protocol": "TCP", "port": 9090}]
    assert ports_by_ip[x] == [] and ports_by_ip[u] == []  # still endpoints, in a slice without ports
    assert len(c.slices_of()) == 3

    ep = c.ep()
    subsets = {s["ports"][0]["port"]: ep_ips({"subsets": [s]}) for s in ep["subsets"]}
    assert subsets == {8080: [a], 9090: [b]}  # pods without the port are absent
    assert all(s["ports"][0]["name"] == "http" for s in ep["subsets"])


def test_missing_target_port_means_the_service_port(c: Cluster) -> None:
    c.service("web", {"app": "web"}, ports=[{"port": 8080}])
    c.pod("web-a")
    c.settle()
    assert c.slices_of()[0]["ports"] == [{"name": "", "protocol": "TCP", "port": 8080}]
    assert c.ep()["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_endpoints_subsets_repacked_by_port_set(c: Cluster) -> None:
    ports = [{"name": "a", "port": 1, "targetPort": "a"}, {"name": "b", "port": 2, "targetPort": 9000}]
    c.service("web", {"app": "web"}, ports=ports)
    p1 = c.pod("p1", container_ports=[{"name": "a", "containerPort": 8000}])["status"]["podIP"]
    p2 = c.pod("p2", container_ports=[{"name": "a", "containerPort": 8000}])["status"]["podIP"]
    c.settle()

    def layout() -> dict[tuple[int, ...], list[str]]:
        # (the order of a subset's ports is the hashes', see test_gohash.py)
        return {
            tuple(sorted(p["port"] for p in s["ports"])): ep_ips({"subsets": [s]}) for s in c.ep()["subsets"]
        }

    assert layout() == {(8000, 9000): sorted([p1, p2])}  # same addresses: one subset, two ports
    p3 = c.pod("p3", container_ports=[])["status"]["podIP"]
    c.settle()
    # port 9000 now has one more address than port 8000: the subsets split by address set
    assert layout() == {(8000,): sorted([p1, p2]), (9000,): sorted([p1, p2, p3])}


# ---- labels, hostname, families ------------------------------------------------------------------
def test_service_labels_copied_and_headless_label(c: Cluster) -> None:
    labels = {"team": "blue", "kubernetes.io/service-name": "evil"}
    c.store.create(
        {
            "kind": "Service",
            "metadata": {"name": "hl", "namespace": "default", "labels": labels},
            "spec": {"selector": {"app": "web"}, "clusterIP": "None", "ports": [{"port": 80}]},
        }
    )
    c.pod("web-0", hostname="web-0", subdomain="hl")
    c.settle()
    [s] = c.slices_of("hl")
    assert s["metadata"]["labels"] == {
        "team": "blue",
        "service.kubernetes.io/headless": "",
        "kubernetes.io/service-name": "hl",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert s["endpoints"][0]["hostname"] == "web-0"
    ep = c.ep("hl")
    assert ep["metadata"]["labels"]["team"] == "blue"
    assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert ep["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"] == "endpoint-controller"
    assert ep["subsets"][0]["addresses"][0]["hostname"] == "web-0"
    # a label change on the Service reaches the slice
    c.store.mutate("Service", "default", "hl", lambda o: o["metadata"]["labels"].__setitem__("team", "red"))
    c.settle()
    assert c.slices_of("hl")[0]["metadata"]["labels"]["team"] == "red"
    assert c.ep("hl")["metadata"]["labels"]["team"] == "red"


def test_hostname_only_when_subdomain_is_the_service(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    c.pod("web-0", hostname="web-0", subdomain="other")
    c.settle()
    assert "hostname" not in c.slices_of()[0]["endpoints"][0]


def test_dual_stack_service_gets_a_slice_per_family(c: Cluster) -> None:
    c.service("web", {"app": "web"}, ipFamilies=["IPv6", "IPv4"])
    c.pod("web-0", ip="10.244.9.9", ips=["10.244.9.9", "fd00::9"])
    c.settle()
    slices = {s["addressType"]: s for s in c.slices_of()}
    assert set(slices) == {"IPv4", "IPv6"}
    assert ips_of([slices["IPv6"]]) == ["fd00::9"] and ips_of([slices["IPv4"]]) == ["10.244.9.9"]
    assert ep_ips(c.ep()) == ["fd00::9"]  # Endpoints is single-stack: the first family


def test_unknown_node_skips_the_pod_until_the_node_exists(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    ip = c.pod("web-0", node_name="node-2")["status"]["podIP"]
    c.settle()
    assert ips_of(c.slices_of()) == []
    c.store.create(node("node-2", "zone-b"))
    c.settle()
    [e] = c.slices_of()[0]["endpoints"]
    assert e["addresses"] == [ip] and e["zone"] == "zone-b"


# ---- publishNotReadyAddresses -------------------------------------------------------------------
def test_publish_not_ready_addresses(c: Cluster) -> None:
    c.service("web", {"app": "web"}, publishNotReadyAddresses=True)
    nr = c.pod("web-nr", ready=False)["status"]["podIP"]
    t = c.pod("web-t")["status"]["podIP"]
    c.settle()
    c.terminate("web-t")
    c.settle()
    eps = by_ip(c.slices_of())
    assert eps[nr]["conditions"] == {"ready": True, "serving": False, "terminating": False}
    assert eps[t]["conditions"] == {"ready": True, "serving": True, "terminating": True}
    ep = c.ep()
    assert ep_ips(ep) == sorted([nr, t]) and ep_ips(ep, "notReadyAddresses") == []


# ---- relabelling, deletion ------------------------------------------------------------------------
def test_relabelled_pod_leaves_both_and_the_trigger_time_goes(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    ips = [c.pod(f"web-{i}")["status"]["podIP"] for i in range(4)]
    c.settle()
    c.set_labels("web-1", {"app": "debug"})
    c.settle()
    assert ips_of(c.slices_of()) == sorted(ips[:1] + ips[2:])
    assert ep_ips(c.ep()) == sorted(ips[:1] + ips[2:])
    # no pod became ready: like the real controller, no new trigger time
    assert TRIGGER not in (c.slices_of()[0]["metadata"].get("annotations") or {})
    assert TRIGGER not in (c.ep()["metadata"].get("annotations") or {})
    # relabelling back brings it in again
    c.set_labels("web-1", {"app": "web"})
    c.settle()
    assert ips_of(c.slices_of()) == sorted(ips)


def test_deleting_the_service_deletes_its_slices_and_endpoints(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    c.pod("web-0")
    c.settle()
    assert c.slices_of() and c.ep()
    c.store.delete("Service", "default", "web")
    c.settle()
    assert c.slices_of() == [] and c.ep() is None


def test_removing_the_selector_deletes_the_slices(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    c.pod("web-0")
    c.settle()
    c.store.mutate("Service", "default", "web", lambda o: o["spec"].pop("selector"))
    c.settle()
    assert c.slices_of() == []


def test_slices_deleted_by_someone_else_come_back(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    ip = c.pod("web-0")["status"]["podIP"]
    c.settle()
    [s] = c.slices_of()
    c.store.delete("EndpointSlice", "default", s["metadata"]["name"])
    c.store.delete("Endpoints", "default", "web")
    c.settle()
    assert ips_of(c.slices_of()) == [ip] and ep_ips(c.ep()) == [ip]


# ---- the 1000 cap ---------------------------------------------------------------------------------
def test_endpoints_capped_at_1000_ready_first_and_annotation_removed_when_under(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    for i in range(995):
        c.pod(f"r-{i:04d}")
    for i in range(10):
        c.pod(f"n-{i:04d}", ready=False)
    c.settle()
    ep = c.ep()
    assert ep["metadata"]["annotations"]["endpoints.kubernetes.io/over-capacity"] == "truncated"
    assert len(ep_ips(ep)) == 995 and len(ep_ips(ep, "notReadyAddresses")) == 5
    assert len(ips_of(c.slices_of())) == 1005  # slices are not capped
    for i in range(5):
        c.store.delete("Pod", "default", f"n-{i:04d}")
    c.settle()
    ep = c.ep()
    assert "endpoints.kubernetes.io/over-capacity" not in (ep["metadata"].get("annotations") or {})
    assert len(ep_ips(ep)) == 995 and len(ep_ips(ep, "notReadyAddresses")) == 5


# ---- mirroring ---------------------------------------------------------------------------------------
def manual_endpoints(name: str = "some-service", **labels: str) -> Obj:
    return {
        "kind": "Endpoints",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app": "some-app", **labels},
            "annotations": {"description": "Endpoints for an application service"},
        },
        "subsets": [
            {"addresses": [{"ip": "1.2.3.4"}, {"ip": "5.6.7.8"}], "ports": [{"port": 8080, "name": "http"}]}
        ],
    }


def test_manual_endpoints_of_a_selectorless_service_are_mirrored(c: Cluster) -> None:
    c.service("some-service", None, ports=[{"name": "http", "port": 8080}])
    ep = c.store.create(manual_endpoints())
    c.settle()
    [s] = c.slices_of("some-service")
    assert s["metadata"]["labels"] == {
        "app": "some-app",
        "kubernetes.io/service-name": "some-service",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
    }
    assert s["metadata"]["annotations"] == {"description": "Endpoints for an application service"}
    assert s["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "name": "some-service",
            "uid": ep["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    assert sorted(s["endpoints"], key=lambda e: e["addresses"]) == [
        {"addresses": ["1.2.3.4"], "conditions": {"ready": True}},
        {"addresses": ["5.6.7.8"], "conditions": {"ready": True}},
    ]
    # the Endpoints controller never touched the hand-written object
    assert c.ep("some-service")["metadata"]["resourceVersion"] == ep["metadata"]["resourceVersion"]

    # notReadyAddresses mirror as ready=false; a second family gets its own slice
    def edit(o: Obj) -> None:
        o["subsets"][0]["notReadyAddresses"] = [{"ip": "9.9.9.9"}, {"ip": "fd00::1"}]

    c.store.mutate("Endpoints", "default", "some-service", edit)
    c.settle()
    slices = {x["addressType"]: x for x in c.slices_of("some-service")}
    assert slices["IPv4"]["metadata"]["name"] == s["metadata"]["name"]
    assert by_ip([slices["IPv4"]])["9.9.9.9"]["conditions"] == {"ready": False}
    assert ips_of([slices["IPv6"]]) == ["fd00::1"]

    c.store.delete("Endpoints", "default", "some-service")
    c.settle()
    assert c.slices_of("some-service") == []


def test_mirroring_skips_labelled_endpoints_and_services_with_selectors(c: Cluster) -> None:
    c.service("skipped", None)
    c.store.create(manual_endpoints("skipped", **{"endpointslice.kubernetes.io/skip-mirror": "true"}))
    c.service("orphan-less", None)
    c.store.create(manual_endpoints("no-service"))
    c.settle()
    assert c.store.list("EndpointSlice") == []
    # a Service that gains a selector loses its mirrored slices
    c.service("later", None)
    c.store.create(manual_endpoints("later"))
    c.settle()
    assert len(c.slices_of("later")) == 1
    c.store.mutate("Service", "default", "later", lambda o: o["spec"].__setitem__("selector", {"app": "zzz"}))
    c.settle()
    managed = {
        s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] for s in c.slices_of("later")
    }
    assert managed == {"endpointslice-controller.k8s.io"}  # only the placeholder of the slice controller


# ---- controller plumbing ------------------------------------------------------------------------------
def test_work_is_coalesced_and_own_writes_do_not_loop(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    for i in range(20):
        c.pod(f"web-{i}")
    c.settle()
    assert len(c.store.list("EndpointSlice")) == 1
    assert [e.type for e in c.events if e.kind == "EndpointSlice"] == ["ADDED"]
    assert len(c.slices.queue) == 0 and len(c.endpoints.queue) == 0 and len(c.mirroring.queue) == 0
    c.events.clear()
    c.clock.advance(60)
    assert [e for e in c.events if e.kind in ("EndpointSlice", "Endpoints")] == []


def test_irrelevant_pod_changes_and_other_namespaces_enqueue_nothing(c: Cluster) -> None:
    c.service("web", {"app": "web"})
    c.pod("web-0")
    c.settle()
    c.store.mutate("Pod", "default", "web-0", lambda p: p["metadata"].__setitem__("annotations", {"a": "b"}))
    other = pod("web-x", {"app": "web"}, "10.9.9.9")
    other["metadata"]["namespace"] = "other"
    c.store.create(other)
    assert len(c.slices.queue) == 0 and len(c.endpoints.queue) == 0


def test_controllers_started_late_sync_everything(c: Cluster) -> None:
    store, clock = c.store, c.clock
    c.slices.stop()
    c.endpoints.stop()
    c.service("web", {"app": "web"})
    ip = c.pod("web-0")["status"]["podIP"]
    c.settle()
    assert c.slices_of() == []
    EndpointSliceController(store, clock).start()
    EndpointsController(store, clock).start()
    c.settle()
    assert ips_of(c.slices_of()) == [ip] and ep_ips(c.ep()) == [ip]
