"""Timeline entries for each transition: endpoint joins, state changes and leaves, pod and Service
life-cycle, connection lost/back, user actions; ids increase and the list is cut at the limit."""

from __future__ import annotations

from typing import Any

from app.sources.base import Change, Resync, Status
from app.view.engine import ViewEngine
from tests.view.builders import Model, engine, pod, service, slice_, texts

SVC = "default/web"


def started() -> ViewEngine:
    """web selects app=web; pods a (10.244.1.2) and b (10.244.1.3) are ready endpoints; lists are quiet."""
    eng, _ = engine()
    eng.apply(Resync("Service", [service("web", {"app": "web"})]))
    eng.apply(Resync("Pod", [pod("a", ip="10.244.1.2"), pod("b", ip="10.244.1.3")]))
    eng.apply(
        Resync("EndpointSlice", [slice_("web-x", "web", [ep("10.244.1.2", "a"), ep("10.244.1.3", "b")])])
    )
    assert texts(eng.take_ops()) == []
    return eng


def ep(ip: str, name: str, state: str = "ready") -> tuple[str, str, bool, bool, bool]:
    return {
        "ready": (ip, name, True, True, False),
        "not-ready": (ip, name, False, False, False),
        "terminating": (ip, name, False, True, True),
    }[state]  # type: ignore[return-value]


def step(eng: ViewEngine, *changes: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    for type_, kind, obj in changes:
        eng.apply(Change(type_, kind, obj))  # type: ignore[arg-type]
    return [op["entry"] for op in eng.take_ops() if op["op"] == "timeline"]


def test_readiness_flip_and_back() -> None:
    eng = started()
    entries = step(
        eng,
        ("MODIFIED", "Pod", pod("a", ip="10.244.1.2", ready=False)),
        (
            "MODIFIED",
            "EndpointSlice",
            slice_("web-x", "web", [ep("10.244.1.2", "a", "not-ready"), ep("10.244.1.3", "b")]),
        ),
    )
    assert [e["text"] for e in entries if e["kind"] == "endpoint"] == [
        "10.244.1.2 → not ready (a: readiness probe failing)"
    ]
    e = next(e for e in entries if e["kind"] == "endpoint")
    assert (e["service"], e["ip"], e["pod"]) == (SVC, "10.244.1.2", "a")
    entries = step(
        eng,
        ("MODIFIED", "Pod", pod("a", ip="10.244.1.2")),
        ("MODIFIED", "EndpointSlice", slice_("web-x", "web", [ep("10.244.1.2", "a"), ep("10.244.1.3", "b")])),
    )
    assert [e["text"] for e in entries] == ["10.244.1.2 → ready"]


def test_relabelled_pod_leaves_and_is_orphaned() -> None:
    eng = started()
    got = step(eng, ("MODIFIED", "Pod", pod("b", {"app": "debug"}, ip="10.244.1.3")))
    assert [e["text"] for e in got] == ["pod b relabelled (app=debug): no longer selected by web"]
    got = step(
        eng,
        ("MODIFIED", "EndpointSlice", slice_("web-x", "web", [ep("10.244.1.2", "a")])),
        ("MODIFIED", "Pod", pod("b", {"app": "debug"}, ip="10.244.1.3", owner=None)),
    )
    assert [e["text"] for e in got] == [
        "pod b orphaned: ReplicaSet web-rs released it (it keeps running)",
        "10.244.1.3 left (pod relabelled: app=debug)",
    ]
    assert (got[0]["kind"], got[0]["pod"], got[0]["ip"]) == ("pod", "b", "10.244.1.3")


def test_deleted_pod_goes_terminating_then_leaves() -> None:
    eng = started()
    got = step(
        eng,
        ("MODIFIED", "Pod", pod("b", ip="10.244.1.3", deleting=True)),
        (
            "MODIFIED",
            "EndpointSlice",
            slice_("web-x", "web", [ep("10.244.1.2", "a"), ep("10.244.1.3", "b", "terminating")]),
        ),
    )
    assert [e["text"] for e in got] == [
        "pod b terminating",
        "10.244.1.3 → terminating (b: terminating, still serving)",
    ]
    got = step(
        eng,
        ("DELETED", "Pod", pod("b", ip="10.244.1.3", deleting=True)),
        ("MODIFIED", "EndpointSlice", slice_("web-x", "web", [ep("10.244.1.2", "a")])),
    )
    assert [e["text"] for e in got] == ["pod b deleted", "10.244.1.3 left (pod deleted)"]


def test_new_pod_added_then_joins_not_ready_then_ready() -> None:
    eng = started()
    got = step(eng, ("ADDED", "Pod", pod("c", ip=None, node=None, phase="Pending", ready=False)))
    assert [e["text"] for e in got] == ["pod c added by ReplicaSet web-rs"]
    got = step(
        eng,
        # its container has just started and Ready has been False ever since: not "failing"
        ("MODIFIED", "Pod", pod("c", ip="10.244.1.10", ready=False, ready_since="2026-11-22T03:07:30Z")),
        (
            "MODIFIED",
            "EndpointSlice",
            slice_(
                "web-x",
                "web",
                [ep("10.244.1.2", "a"), ep("10.244.1.3", "b"), ep("10.244.1.10", "c", "not-ready")],
            ),
        ),
    )
    assert [e["text"] for e in got] == [
        "10.244.1.10 joined as not ready (c: readiness probe has not passed yet)"
    ]


def test_lost_every_ready_endpoint_says_why() -> None:
    eng = started()
    got = step(
        eng,
        ("MODIFIED", "Pod", pod("a", ip="10.244.1.2", ready=False)),
        ("MODIFIED", "Pod", pod("b", ip="10.244.1.3", ready=False)),
        (
            "MODIFIED",
            "EndpointSlice",
            slice_("web-x", "web", [ep("10.244.1.2", "a", "not-ready"), ep("10.244.1.3", "b", "not-ready")]),
        ),
    )
    assert got[-1]["kind"] == "service"
    assert got[-1]["text"] == (
        "service web has no ready endpoints: 2 pods match app=web but none is a ready endpoint: "
        "2 readiness probe failing"
    )


def test_service_added_selector_changed_removed() -> None:
    eng = started()
    got = step(eng, ("ADDED", "Service", service("api", {"app": "api"})))
    assert [e["text"] for e in got] == ["service api added (selector app=api)"]
    got = step(eng, ("MODIFIED", "Service", service("api", {"app": "web"})))
    assert [e["text"] for e in got] == ["service api selector changed: app=api → app=web"]
    assert eng.state()["pods"]["default/a"]["services"] == ["default/api", SVC]
    got = step(eng, ("DELETED", "Service", service("api", {"app": "web"})))
    assert [e["text"] for e in got] == ["service api removed"]
    assert eng.state()["pods"]["default/a"]["services"] == [SVC]


def test_connection_lost_and_back_and_user_actions() -> None:
    eng = started()
    eng.apply(Status("live", "watching", since=1.0))
    assert texts(eng.take_ops()) == []  # the first live is no news
    eng.apply(Status("reconnecting", "watch closed: EOF", since=2.0))
    ops = eng.take_ops()
    assert texts(ops) == ["connection lost: watch closed: EOF"]
    assert ops[0]["op"] == "meta" and ops[0]["value"]["connection"]["state"] == "reconnecting"
    eng.apply(Status("live", "", since=3.0))
    eng.record("scaled deployment web to 3", service=SVC)
    assert eng.has_pending()
    ops = eng.take_ops()
    entries = [op["entry"] for op in ops if op["op"] == "timeline"]
    assert [(e["kind"], e["text"]) for e in entries] == [
        ("source", "connection back: live"),
        ("action", "scaled deployment web to 3"),
    ]
    assert entries[1]["service"] == SVC and entries[0]["id"] < entries[1]["id"]
    assert eng.state()["meta"]["connection"] == {"state": "live", "message": "", "since": 3.0, "problems": []}


def test_timeline_is_cut_at_the_limit_and_ids_keep_increasing() -> None:
    eng, _ = engine(limit=3)
    model = Model(eng.state())
    for i in range(5):
        eng.record(f"action {i}")
        model.apply(eng.take_ops())
    for i in range(4):
        eng.record(f"burst {i}")
    model.apply(eng.take_ops())
    timeline = eng.state()["timeline"]
    assert [e["text"] for e in timeline] == ["burst 3", "burst 2", "burst 1"]
    assert [e["id"] for e in timeline] == sorted((e["id"] for e in timeline), reverse=True)
    assert model.timeline == timeline
    assert set(timeline[0]) == {"id", "time", "kind", "service", "ip", "pod", "text"}
