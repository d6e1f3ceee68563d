"""Why a Service has no ready endpoints, and why a pod is left out: one case per cause."""

from __future__ import annotations

from typing import Any

from app.sources.base import Change
from app.view.engine import ViewEngine
from tests.view.builders import endpoints, engine, pod, service, slice_


def build(*objs: tuple[str, dict[str, Any]]) -> ViewEngine:
    eng, _ = engine()
    for kind, obj in objs:
        eng.apply(Change("ADDED", kind, obj))
    eng.take_ops()
    return eng


def view(eng: ViewEngine, name: str) -> dict[str, Any]:
    return eng.state()["services"][f"default/{name}"]


def test_near_miss_names_the_label_value_that_differs() -> None:
    eng = build(("Service", service("api", {"app": "shipping-api"})), ("Pod", pod("p1", {"app": "debug"})))
    assert view(eng, "api")["diagnosis"] == {
        "code": "no-pods-match",
        "text": "label app is debug on 1 pod; the selector wants shipping-api",
    }


def test_value_typo_in_the_selector() -> None:
    eng = build(
        ("Service", service("api", {"app": "shiping-api"})),
        ("Pod", pod("p1", {"app": "shipping-api"}, ip="10.244.1.2")),
        ("Pod", pod("p2", {"app": "shipping-api"}, ip="10.244.1.3")),
        ("Pod", pod("p3", {"app": "other-thing"}, ip="10.244.1.4")),
    )
    diag = view(eng, "api")["diagnosis"]
    assert diag["code"] == "no-pods-match"
    assert diag["text"] == "label app is shipping-api on 2 pods; the selector wants shiping-api (a typo?)"


def test_key_typo_in_the_selector() -> None:
    eng = build(("Service", service("web", {"ap": "web"})), ("Pod", pod("p1", {"app": "web"})))
    assert view(eng, "web")["diagnosis"]["text"] == (
        "label app=web on 1 pod; the selector wants ap=web (is the key misspelt?)"
    )


def test_pods_lacking_the_label() -> None:
    eng = build(
        ("Service", service("web", {"tier": "frontend"})),
        ("Pod", pod("p1", {"app": "web"}, ip="10.244.1.2")),
        ("Pod", pod("p2", {"app": "web"}, ip="10.244.1.3")),
    )
    assert view(eng, "web")["diagnosis"] == {
        "code": "no-pods-match",
        "text": "none of the 2 pods in default has a label tier; the selector wants tier=frontend",
    }


def test_two_term_selector_names_the_term_that_fails() -> None:
    eng = build(
        ("Service", service("web", {"app": "web", "tier": "backend"})),
        ("Pod", pod("p1", {"app": "web", "tier": "frontend"}, ip="10.244.1.2")),
        ("Pod", pod("p2", {"app": "web"}, ip="10.244.1.3")),
        ("Pod", pod("p3", {"app": "web", "tier": "frontend"}, ip="10.244.1.4")),
    )
    assert view(eng, "web")["diagnosis"]["text"] == (
        "label tier is frontend on 2 pods matching app=web; the selector wants backend"
    )


def test_all_matching_pods_not_ready() -> None:
    eng = build(
        ("Service", service("web", {"app": "web"})),
        ("Pod", pod("p1", ip="10.244.1.2", ready=False)),
        ("Pod", pod("p2", ip="10.244.1.3", ready=False)),
        ("Pod", pod("p3", ip=None, phase="Pending", ready=False)),
        ("EndpointSlice", slice_("web-x", "web", [("10.244.1.2", "p1", False, False, False)])),
    )
    v = view(eng, "web")
    assert v["diagnosis"] == {
        "code": "none-ready",
        "text": "3 pods match app=web but none is a ready endpoint: 2 readiness probe failing, 1 no IP yet",
    }
    assert {(e["pod"], e["reason"]) for e in v["excluded"]} == {
        ("p1", "not-ready"),
        ("p2", "not-ready"),
        ("p3", "no-ip"),
    }


def test_no_pods_in_the_namespace() -> None:
    eng = build(("Service", service("web", {"app": "web"})), ("Pod", pod("elsewhere", ns="other")))
    assert view(eng, "web")["diagnosis"] == {
        "code": "no-pods",
        "text": "no pods in namespace default; the selector wants app=web",
    }


def test_selectorless_service_with_and_without_endpoints() -> None:
    eng = build(("Service", service("db", None)))
    assert view(eng, "db")["diagnosis"]["code"] == "no-selector-no-endpoints"
    eng.apply(Change("ADDED", "Endpoints", endpoints("db", ["192.168.0.9"], [])))
    eng.take_ops()
    assert view(eng, "db")["diagnosis"] is None
    assert view(eng, "db")["endpoints"]["subsets"][0]["addresses"] == [
        {"ip": "192.168.0.9", "pod": None, "node": None}
    ]


def test_external_name() -> None:
    eng = build(
        ("Service", service("ext", None, type_="ExternalName", cluster_ip=None, external_name="db.example"))
    )
    v = view(eng, "ext")
    assert v["diagnosis"]["code"] == "external-name" and "db.example" in v["diagnosis"]["text"]
    assert v["type"] == "ExternalName" and v["clusterIP"] is None and v["externalName"] == "db.example"


def test_diagnosis_clears_when_an_endpoint_is_ready() -> None:
    eng = build(("Service", service("web", {"app": "web"})), ("Pod", pod("p1")))
    assert view(eng, "web")["diagnosis"]["code"] == "none-ready"  # matched, but no slice lists it yet
    eng.apply(
        Change("ADDED", "EndpointSlice", slice_("web-x", "web", [("10.244.1.2", "p1", True, True, False)]))
    )
    eng.take_ops()
    assert view(eng, "web")["diagnosis"] is None and view(eng, "web")["counts"]["ready"] == 1


def test_named_target_port_missing_on_the_pod() -> None:
    eng = build(
        ("Service", service("web", {"app": "web"}, ports=[(80, "http")])),
        ("Pod", pod("good", ip="10.244.1.2", ports=[("http", 8080)])),
        ("Pod", pod("bad", ip="10.244.1.3", ports=[("metrics", 9090)])),
    )
    (ex,) = view(eng, "web")["excluded"]
    assert ex["pod"] == "bad" and ex["reason"] == "missing-port" and "'http'" in ex["text"]
    out = eng.explain_pod("default", "bad")
    assert out is not None
    assert any("port named 'http'" in r for r in out["services"][0]["reasons"])


def test_terminating_terminal_and_unscheduled_pods() -> None:
    eng = build(
        ("Service", service("web", {"app": "web"})),
        ("Pod", pod("going", ip="10.244.1.2", deleting=True)),
        ("Pod", pod("done", ip="10.244.1.3", phase="Succeeded", ready=False)),
        ("Pod", pod("new", ip=None, node=None, phase="Pending", ready=False)),
        ("Pod", pod("crashing", ip="10.244.1.5", ready=False, waiting="CrashLoopBackOff")),
    )
    excluded = {e["pod"]: (e["reason"], e["text"]) for e in view(eng, "web")["excluded"]}
    assert excluded["going"][0] == "terminating"
    assert excluded["done"][0] == "terminal"
    assert excluded["new"] == ("no-ip", "not scheduled yet")
    assert excluded["crashing"] == ("not-ready", "Ready is False: container app: CrashLoopBackOff")
    pods = eng.state()["pods"]
    assert pods["default/crashing"]["status"] == "CrashLoopBackOff"
    assert pods["default/going"]["status"] == "Terminating"


def test_publish_not_ready_addresses_keeps_not_ready_pods_in() -> None:
    eng = build(("Service", service("web", {"app": "web"}, publish=True)), ("Pod", pod("p1", ready=False)))
    assert view(eng, "web")["excluded"] == []
    out = eng.explain_pod("default", "p1")
    assert out is not None and any("publishNotReadyAddresses" in r for r in out["services"][0]["reasons"])


def test_explain_service_shows_near_misses_when_nothing_matches() -> None:
    eng = build(
        ("Service", service("api", {"app": "shipping-api"})),
        ("Pod", pod("p1", {"app": "debug"})),
        ("Pod", pod("p2", {"team": "x"}, ip="10.244.1.9")),
    )
    out = eng.explain_service("default", "api")
    assert out is not None and out["readyCount"] == 0 and out["diagnosis"]["code"] == "no-pods-match"
    assert [(p["pod"], p["matches"]) for p in out["pods"]] == [("p1", False)]
    assert out["pods"][0]["reasons"] == ["The selector wants app=shipping-api; this pod has app=debug."]
