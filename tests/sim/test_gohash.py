"""The port order of EndpointSlices and Endpoints: Go's dump.ForHash text of each port, hashed."""

from __future__ import annotations

import hashlib

from app.sim.controllers.endpoints import desired_subsets
from app.sim.controllers.endpointslice import endpoint_ports
from app.sim.controllers.gohash import (
    endpoints_port_text,
    fnv128a,
    slice_port_text,
    sort_endpoints_ports,
    sort_slice_ports,
)
from tests.k8sapi.fixtures import load


def test_fnv128a_matches_the_reference_vectors() -> None:
    assert fnv128a(b"").hex() == "6c62272e07bb014262b821756295c58d"  # the offset basis
    assert fnv128a(b"a").hex() == "d228cb696f1a8caf78912b704e4a8964"
    assert fnv128a(b"foobar").hex() == "343e1662793c64bf6f0d3597ba446f18"


def test_port_texts_are_what_spew_prints_for_the_go_structs() -> None:
    # discovery/v1: every field a pointer, in the struct's order Name, Protocol, Port, AppProtocol
    assert slice_port_text("web", 8080, "TCP", "http") == (
        "(v1.EndpointPort){Name:(*string)web Protocol:(*v1.Protocol)TCP Port:(*int32)8080 "
        "AppProtocol:(*string)http}"
    )
    assert slice_port_text("", 80, "UDP", None).endswith(
        "Name:(*string) Protocol:(*v1.Protocol)UDP Port:(*int32)80 AppProtocol:(*string)<nil>}"
    )
    # core/v1: plain fields in the order Name, Port, Protocol; AppProtocol a pointer
    assert endpoints_port_text("alt", 9090, "TCP", None) == (
        "(v1.EndpointPort){Name:(string)alt Port:(int32)9090 Protocol:(v1.Protocol)TCP "
        "AppProtocol:(*string)<nil>}"
    )


def test_the_captured_orders_follow_from_the_hashes() -> None:
    [captured] = load("list-endpointslices-two-named-ports.json")["items"]
    subset_ports = load("get-endpoints-two-named-ports.json")["subsets"][0]["ports"]
    for order in (captured["ports"], captured["ports"][::-1]):
        assert sort_slice_ports(order) == captured["ports"]
    for order in (subset_ports, subset_ports[::-1]):
        assert sort_endpoints_ports(order, lambda p: p) == subset_ports

    def md5(p: dict[str, object]) -> bytes:
        app = p.get("appProtocol")
        text = endpoints_port_text(str(p["name"]), int(str(p["port"])), str(p["protocol"]), app)  # type: ignore[arg-type]
        return hashlib.md5(text.encode()).digest()

    assert md5(subset_ports[0]) < md5(subset_ports[1])


def test_controllers_write_ports_in_hash_order_whatever_the_service_lists() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {
                    "name": "c",
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                    ],
                }
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.1",
            "podIPs": [{"ip": "10.0.0.1"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    ports = [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"},
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
    ]
    for listed in (ports, ports[::-1]):
        svc = {
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {"selector": {"app": "x"}, "ports": listed, "ipFamilies": ["IPv4"]},
        }
        assert [p["name"] for p in endpoint_ports(svc, pod)] == ["http", "metrics"]
        [subset] = desired_subsets(svc, [pod])
        assert [p["name"] for p in subset["ports"]] == ["metrics", "http"]
