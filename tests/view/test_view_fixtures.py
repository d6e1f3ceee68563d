"""The view engine digesting real Kubernetes v1.36 lists and watch streams (tests/fixtures)."""

from __future__ import annotations

from app.timefmt import parse_rfc3339
from app.view.engine import ViewEngine
from tests.view.builders import Model, engine, load_lists, texts, watch_changes

SVC = "default/shipping-api-service"
P = "shipping-api-8465d5b4d7-"


def replayed() -> tuple[ViewEngine, Model, list[str]]:
    eng, clock = engine()
    clock.t = parse_rfc3339("2026-11-22T03:07:50Z") or 0.0  # the capture's time: pods started at 03:07:30
    load_lists(eng)
    model = Model(eng.state())
    model.apply(eng.take_ops())
    assert model.as_state() == eng.state()
    timeline: list[str] = []
    for change in watch_changes():
        clock.t += 1
        eng.apply(change)
        ops = eng.take_ops()
        model.apply(ops)
        timeline += texts(ops)
    return eng, model, timeline


def endpoint_by_ip(view: dict) -> dict[str, dict]:
    return {ep["ip"]: ep for sl in view["slices"] for ep in sl["endpoints"]}


def test_lists_build_the_view_quietly() -> None:
    eng, _ = engine()
    load_lists(eng)
    ops = eng.take_ops()
    assert not [op for op in ops if op["op"] == "timeline"], "a first list is the starting picture, not news"
    state = eng.state()
    svc = state["services"][SVC]
    assert svc["counts"] == {"ready": 4, "notReady": 0, "terminating": 0, "slices": 1}
    assert [ep["ip"] for ep in svc["slices"][0]["endpoints"]] == [f"10.244.1.{i}" for i in (2, 3, 4, 5)]
    assert svc["diagnosis"] is None and svc["excluded"] == []
    assert svc["ports"] == [{"name": "", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert svc["clusterIP"] == "10.96.188.203" and svc["selector"] == {"app": "shipping-api"}
    assert svc["endpoints"]["subsets"][0]["notReadyAddresses"] == []
    # the apiserver's own Service has no selector and (in this capture) no Endpoints
    assert state["services"]["default/kubernetes"]["diagnosis"]["code"] == "no-selector-no-endpoints"
    assert set(state["pods"]) == {f"default/{P}{s}" for s in ("g4r8r", "qncf4", "wdkrv", "xgmtj")}
    assert state["meta"]["namespaces"] == ["default"]


def test_watch_streams_end_as_the_narrative_says() -> None:
    eng, model, _ = replayed()
    state = eng.state()
    assert model.as_state() == state, "ops applied in order rebuild exactly the published state"
    svc = state["services"][SVC]
    eps = endpoint_by_ip(svc)
    assert set(eps) == {"10.244.1.2", "10.244.1.4", "10.244.1.5", "10.244.1.6", "10.244.1.7"}
    g = eps["10.244.1.2"]
    assert (g["state"], g["ready"], g["serving"], g["reason"]) == (
        "not-ready",
        False,
        False,
        "readiness probe failing",
    )
    x = eps["10.244.1.5"]
    assert (x["state"], x["ready"], x["serving"], x["terminating"]) == ("terminating", False, True, True)
    for ip, name in (("10.244.1.6", "bkrp6"), ("10.244.1.7", "qs4kb"), ("10.244.1.4", "wdkrv")):
        assert eps[ip]["state"] == "ready" and eps[ip]["pod"] == P + name and eps[ip]["reason"] is None
    assert svc["counts"] == {"ready": 3, "notReady": 1, "terminating": 1, "slices": 1}
    assert {(e["pod"], e["reason"]) for e in svc["excluded"]} == {
        (P + "g4r8r", "not-ready"),
        (P + "xgmtj", "terminating"),
    }
    assert (
        next(e for e in svc["excluded"] if e["reason"] == "not-ready")["text"]
        == "Ready is False: readiness probe failing"
    )
    legacy = svc["endpoints"]["subsets"][0]
    assert [a["ip"] for a in legacy["addresses"]] == ["10.244.1.4", "10.244.1.6", "10.244.1.7"]
    assert [a["ip"] for a in legacy["notReadyAddresses"]] == ["10.244.1.2"]

    orphan = state["pods"][f"default/{P}qncf4"]
    assert orphan["services"] == [] and orphan["endpointOf"] == [] and orphan["owner"] is None
    assert orphan["labels"]["app"] == "debug" and orphan["ready"] is True
    g4 = state["pods"][f"default/{P}g4r8r"]
    assert (g4["ready"], g4["readyText"], g4["notReadyReason"]) == (False, "0/1", "readiness probe failing")
    xg = state["pods"][f"default/{P}xgmtj"]
    assert (xg["status"], xg["terminating"], xg["endpointOf"]) == ("Terminating", True, [SVC])
    new = state["pods"][f"default/{P}qs4kb"]
    assert new["owner"] == {"kind": "ReplicaSet", "name": "shipping-api-8465d5b4d7"} and new["services"] == [
        SVC
    ]
    assert new["status"] == "Running" and new["ip"] == "10.244.1.7" and new["created"].endswith("Z")


def test_watch_streams_tell_the_story_in_the_timeline() -> None:
    eng, _, timeline = replayed()
    wanted = [
        f"10.244.1.2 → not ready ({P}g4r8r: readiness probe failing)",
        "10.244.1.3 left (pod relabelled: app=debug)",
        f"pod {P}qncf4 orphaned: ReplicaSet shipping-api-8465d5b4d7 released it (it keeps running)",
        f"pod {P}bkrp6 added by ReplicaSet shipping-api-8465d5b4d7",
        f"10.244.1.6 joined as ready ({P}bkrp6)",
        f"10.244.1.5 → terminating ({P}xgmtj: terminating, still serving)",
        f"10.244.1.7 joined as ready ({P}qs4kb)",
    ]
    for text in wanted:
        assert text in timeline, (text, timeline)
    assert timeline.index(wanted[0]) < timeline.index(wanted[1]) < timeline.index(wanted[4])
    assert any(t.startswith(f"pod {P}qncf4 relabelled (app=debug): no longer selected by") for t in timeline)
    entries = eng.state()["timeline"]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True), "newest first"
    left = next(e for e in entries if e["text"].startswith("10.244.1.3 left"))
    assert left == {**left, "kind": "endpoint", "service": SVC, "ip": "10.244.1.3", "pod": P + "qncf4"}


def test_explain_the_relabelled_and_the_failing_pod() -> None:
    eng, _, _ = replayed()
    out = eng.explain_pod("default", P + "qncf4")
    assert out is not None and out["pod"]["services"] == []
    (verdict,) = out["services"]
    assert verdict["service"] == SVC and verdict["endpoint"] is False and verdict["state"] == "absent"
    assert "The selector wants app=shipping-api; this pod has app=debug." in verdict["reasons"]
    out = eng.explain_pod("default", P + "g4r8r")
    assert out is not None
    (verdict,) = out["services"]
    assert verdict["endpoint"] is True and verdict["state"] == "not-ready"
    assert any("readiness probe failing" in r for r in verdict["reasons"])
    svc = eng.explain_service("default", "shipping-api-service")
    assert svc is not None and svc["readyCount"] == 3 and svc["diagnosis"] is None
    states = {p["pod"]: p["state"] for p in svc["pods"]}
    assert states == {
        P + "bkrp6": "ready",
        P + "g4r8r": "not-ready",
        P + "qs4kb": "ready",
        P + "wdkrv": "ready",
        P + "xgmtj": "terminating",
    }
    assert eng.explain_pod("default", "nope") is None and eng.explain_service("default", "nope") is None
