"""DeploymentViews (replicas, selector, the Services that select their pods), their timeline entries
(added, scaled, rolling out, deleted), and the engine's reset() and meta.classroom."""

from __future__ import annotations

from typing import Any

from app.sources.base import Change, Resync
from app.view.engine import ViewEngine
from tests.view.builders import Model, deployment, engine, pod, replicaset, service, slice_, texts


def puts(ops: list[dict[str, Any]], coll: str) -> dict[str, Any]:
    return {op["key"]: op["value"] for op in ops if op["op"] == "put" and op["coll"] == coll}


def listed() -> tuple[ViewEngine, Model]:
    eng, _ = engine()
    model = Model(eng.state())
    eng.apply(Resync("Service", [service("web-svc", {"app": "web"}), service("other", {"app": "other"})]))
    eng.apply(Resync("Deployment", [deployment("web", 3, ready=2, updated=3, available=2)]))
    eng.apply(Resync("ReplicaSet", [replicaset("web-7d9c", "web")]))
    eng.apply(Resync("Pod", [pod("web-7d9c-a", owner="web-7d9c")]))
    ops = eng.take_ops()
    model.apply(ops)
    assert texts(ops) == [], "a first list is the starting picture"
    return eng, model


def test_a_deployment_view_is_as_the_contract_says() -> None:
    eng, model = listed()
    assert eng.state()["deployments"] == {
        "default/web": {
            "key": "default/web",
            "namespace": "default",
            "name": "web",
            "replicas": 3,
            "readyReplicas": 2,
            "updatedReplicas": 3,
            "availableReplicas": 2,
            "selector": {"app": "web"},
            "services": ["default/web-svc"],
        }
    }
    assert model.as_state() == eng.state()
    # the pod keeps its ReplicaSet owner; the index knows the Deployment behind it
    assert eng.state()["pods"]["default/web-7d9c-a"]["owner"] == {"kind": "ReplicaSet", "name": "web-7d9c"}
    assert eng.index.deployment_of(eng.index.pods[("default", "web-7d9c-a")]) == "web"


def test_defaults_and_odd_values() -> None:
    eng, _ = engine()
    raw = deployment("bare")
    del raw["spec"]["replicas"], raw["status"], raw["spec"]["template"]
    raw["spec"]["selector"] = "app=bare"
    eng.apply(Change("ADDED", "Deployment", raw))
    eng.apply(Change("ADDED", "Deployment", {"metadata": {}}))
    eng.apply(Change("ADDED", "ReplicaSet", None))
    eng.take_ops()
    view = eng.state()["deployments"]["default/bare"]
    assert (view["replicas"], view["readyReplicas"], view["selector"], view["services"]) == (1, 0, {}, [])
    assert eng.stats["skipped"] == 2 and eng.stats["errors"] == 0


def test_services_follow_selectors_that_match_the_template() -> None:
    eng, model = listed()
    eng.apply(Change("ADDED", "Service", service("web-2", {"app": "web"})))
    ops = eng.take_ops()
    model.apply(ops)
    assert puts(ops, "deployments")["default/web"]["services"] == ["default/web-2", "default/web-svc"]
    eng.apply(Change("MODIFIED", "Service", service("web-svc", {"app": "web", "tier": "x"})))
    ops = eng.take_ops()
    model.apply(ops)
    assert puts(ops, "deployments")["default/web"]["services"] == ["default/web-2"]
    eng.apply(Change("MODIFIED", "Service", service("other", {"app": "web"})))
    eng.apply(Change("DELETED", "Service", service("web-2", {"app": "web"})))
    ops = eng.take_ops()
    model.apply(ops)
    assert puts(ops, "deployments")["default/web"]["services"] == ["default/other"]
    # a Service in another namespace or selecting something else never touches it
    eng.apply(Change("ADDED", "Service", service("web-svc", {"app": "web"}, ns="elsewhere")))
    eng.apply(Change("ADDED", "Service", service("db", {"app": "db"})))
    ops = eng.take_ops()
    assert "default/web" not in puts(ops, "deployments")
    assert model.as_state()["deployments"] == eng.state()["deployments"]


def test_scaling_status_and_deletion_in_the_timeline() -> None:
    eng, model = listed()
    eng.apply(Change("MODIFIED", "Deployment", deployment("web", 250, ready=3, updated=3, available=3)))
    ops = eng.take_ops()
    model.apply(ops)
    assert texts(ops) == ["deployment web scaled 3 → 250"]
    entry = next(op["entry"] for op in ops if op["op"] == "timeline")
    assert (entry["kind"], entry["service"], entry["pod"], entry["ip"]) == (
        "workload",
        "default/web-svc",
        None,
        None,
    )
    assert puts(ops, "deployments")["default/web"]["replicas"] == 250
    # status catching up is shown but is no news
    eng.apply(Change("MODIFIED", "Deployment", deployment("web", 250)))
    ops = eng.take_ops()
    model.apply(ops)
    assert puts(ops, "deployments")["default/web"]["readyReplicas"] == 250 and texts(ops) == []
    eng.apply(Change("ADDED", "Deployment", deployment("api", 1)))
    ops = eng.take_ops()
    model.apply(ops)
    assert texts(ops) == ["deployment api added (1 replica)"]
    eng.apply(Change("DELETED", "Deployment", deployment("web", 250)))
    ops = eng.take_ops()
    model.apply(ops)
    assert texts(ops) == ["deployment web deleted"]
    assert ("del", "deployments", "default/web") in [(o["op"], o.get("coll"), o.get("key")) for o in ops]
    assert set(model.deployments) == set(eng.state()["deployments"]) == {"default/api"}


def test_a_second_replicaset_is_a_rolling_update() -> None:
    eng, _ = listed()
    eng.apply(Change("MODIFIED", "Deployment", deployment("web", 3, updated=0)))
    eng.apply(Change("ADDED", "ReplicaSet", replicaset("web-5f6b", "web")))
    ops = eng.take_ops()
    assert texts(ops) == ["deployment web rolling out a new ReplicaSet web-5f6b"]
    entry = next(op["entry"] for op in ops if op["op"] == "timeline")
    assert (entry["kind"], entry["service"]) == ("workload", "default/web-svc")
    # the same ReplicaSet again, a bare one, and the first one of a new Deployment are no rollouts
    eng.apply(Change("MODIFIED", "ReplicaSet", replicaset("web-5f6b", "web")))
    eng.apply(Change("ADDED", "ReplicaSet", replicaset("bare-1", None)))
    eng.apply(Change("ADDED", "Deployment", deployment("api", 2)))
    eng.apply(Change("ADDED", "ReplicaSet", replicaset("api-1", "api")))
    assert texts(eng.take_ops()) == ["deployment api added (2 replicas)"]


def test_reset_rebuilds_quietly_deletes_the_rest_and_clears_the_timeline() -> None:
    eng, model = listed()
    eng.apply(Change("MODIFIED", "Deployment", deployment("web", 5)))
    eng.record("scaled deployment web to 5")
    model.apply(eng.take_ops())
    assert len(eng.state()["timeline"]) == 2
    last_id = eng.state()["timeline"][0]["id"]
    eng.record("this was not published before the reset")

    eng.reset()
    assert eng.has_pending()
    # the restarted scenario lists fewer objects: no web Deployment, no other Service, a new pod
    eng.apply(Resync("Service", [service("web-svc", {"app": "web"})]))
    eng.apply(Resync("Deployment", [deployment("api", 2)]))
    eng.apply(Resync("ReplicaSet", [replicaset("api-1", "api")]))
    eng.apply(
        Resync("Pod", [pod("web-7d9c-a", owner="web-7d9c"), pod("api-1-b", {"app": "api"}, owner="api-1")])
    )
    eng.apply(
        Resync(
            "EndpointSlice",
            [slice_("web-svc-x", "web-svc", [("10.244.1.2", "web-7d9c-a", True, True, False)])],
        )
    )
    eng.apply(Resync("Endpoints", []))
    ops = eng.take_ops()
    model.apply(ops)
    assert ops[0] == {"op": "timeline-clear"}, "first (meta is the same: not sent)"
    assert [op["op"] for op in ops].count("timeline-clear") == 1
    assert texts(ops) == [], "the rebuilt picture is quiet, like a first list"
    dels = {(op["coll"], op["key"]) for op in ops if op["op"] == "del"}
    assert dels == {("services", "default/other"), ("deployments", "default/web")}
    # unchanged views are not put again; new and changed ones are
    assert set(puts(ops, "pods")) == {"default/api-1-b", "default/web-7d9c-a"}
    assert "default/web-svc" in puts(ops, "services") and "default/api" in puts(ops, "deployments")
    state = eng.state()
    assert state["timeline"] == [] and model.as_state() == state
    assert not eng.has_pending() and eng.take_ops() == []

    # afterwards changes are news again, and ids keep increasing
    eng.apply(Change("MODIFIED", "Deployment", deployment("api", 4)))
    ops = eng.take_ops()
    model.apply(ops)
    assert texts(ops) == ["deployment api scaled 2 → 4"]
    assert eng.state()["timeline"][0]["id"] > last_id and model.as_state() == eng.state()
    # a relist (not after a reset) is news as before
    eng.apply(Resync("Deployment", []))
    assert texts(eng.take_ops()) == ["deployment api deleted"]


def test_reset_then_take_ops_before_any_list_empties_the_view() -> None:
    eng, model = listed()
    eng.reset()
    ops = eng.take_ops()
    model.apply(ops)
    state = eng.state()
    assert state["services"] == state["pods"] == state["deployments"] == {} and state["timeline"] == []
    assert model.as_state() == state and state["meta"]["namespaces"] == []


def test_classroom_state_in_meta_only_when_it_changes() -> None:
    eng, _ = engine()
    assert eng.state()["meta"]["classroom"] is None
    scenario = {
        "name": "endpoints-basics",
        "title": "Endpoints basics",
        "summary": "…",
        "step": 0,
        "total": 5,
        "stepTitle": "",
        "narration": "",
        "highlight": {"services": [], "pods": [], "ips": []},
        "checks": [],
        "busy": False,
    }
    classroom = {"presenting": True, "scenario": scenario}
    eng.set_classroom(classroom)
    assert eng.has_pending()
    ops = eng.take_ops()
    assert [op["op"] for op in ops] == ["meta"] and ops[0]["value"]["classroom"] == classroom
    eng.set_classroom({"presenting": True, "scenario": dict(scenario)})  # equal: nothing to send
    assert eng.take_ops() == []
    classroom["scenario"]["step"] = 1  # the caller's dict is not the published one
    assert eng.state()["meta"]["classroom"]["scenario"]["step"] == 0
    eng.set_classroom(classroom)
    (op,) = eng.take_ops()
    assert op["value"]["classroom"]["scenario"]["step"] == 1
    eng.set_classroom(None)
    (op,) = eng.take_ops()
    assert op["op"] == "meta" and op["value"]["classroom"] is None
    assert eng.state()["meta"]["classroom"] is None
