"""Why a pod is not ready, read from the pod object as a real kubelet reports it (the v1.36 captures:
containerStatuses[].state.running.startedAt, conditions[].lastTransitionTime), one case per reason,
and how the engine shows them: PodView, slice endpoints, excluded, explain, timeline."""

from __future__ import annotations

import copy
import json
from typing import Any

from app.sources.base import Change
from app.timefmt import parse_rfc3339
from app.view.slim import slim_pod
from tests.paths import FIXTURES
from tests.view.builders import engine, service, slice_, texts

START = "2026-11-22T03:07:30Z"  # the captured pods' container start
T0 = parse_rfc3339(START) or 0.0


def captured(rv: str) -> dict[str, Any]:
    for line in (FIXTURES / "watch-pods.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] != "BOOKMARK" and event["object"]["metadata"]["resourceVersion"] == rv:
            return copy.deepcopy(event["object"])
    raise AssertionError(f"no pod at resourceVersion {rv}")


def not_ready_since(since: str) -> dict[str, Any]:
    """The captured g4r8r pod (Running, Ready False, probe with initialDelaySeconds 5, started 03:07:30)
    with its Ready and ContainersReady conditions last changed at `since`."""
    raw = captured("289")
    for cond in raw["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["lastTransitionTime"] = since
    return raw


def test_the_captured_pod_is_as_these_tests_assume() -> None:
    raw = captured("289")
    (container,) = raw["spec"]["containers"]
    assert container["readinessProbe"]["initialDelaySeconds"] == 5
    (cs,) = raw["status"]["containerStatuses"]
    assert cs["state"]["running"]["startedAt"] == START and cs["ready"] is False


def test_within_the_initial_delay_it_waits_for_the_first_probe() -> None:
    raw = not_ready_since(START)
    waiting = slim_pod(raw, now=T0 + 2)
    assert waiting.reason == "waiting for the first readiness probe (initial delay 5s)"
    assert waiting.later == (T0 + 5, "readiness probe has not passed yet")
    assert slim_pod(raw, now=T0 + 5).reason == "readiness probe has not passed yet"
    assert slim_pod(raw).reason == "readiness probe has not passed yet", "no clock: the delay is over"


def test_never_ready_since_the_container_started() -> None:
    # Ready went False when the pod was scheduled (before the start) or as the container started
    for since in ("2026-11-22T03:07:29Z", START, "2026-11-22T03:07:31Z"):
        assert slim_pod(not_ready_since(since), now=T0 + 60).reason == "readiness probe has not passed yet"


def test_ready_then_not_ready_is_a_failing_probe() -> None:
    # the capture itself: Ready went False at 03:07:58, 28 s after the container started
    assert slim_pod(captured("289"), now=T0 + 60).reason == "readiness probe failing"
    assert slim_pod(not_ready_since("2026-11-22T03:07:33Z"), now=T0 + 60).reason == "readiness probe failing"


def test_a_container_restarted_within_its_delay_waits_again() -> None:
    raw = captured("289")  # failing since 03:07:58; the container restarts at 03:08:20
    raw["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": "2026-11-22T03:08:20Z"}}
    assert slim_pod(raw, now=T0 + 52).reason == "waiting for the first readiness probe (initial delay 5s)"
    assert slim_pod(raw, now=T0 + 60).reason == "readiness probe has not passed yet"


def test_without_timestamps_it_does_not_guess() -> None:
    raw = captured("289")
    del raw["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert slim_pod(raw, now=T0 + 60).reason == "readiness probe not passing"


def test_unscheduled_starting_and_without_ip() -> None:
    assert slim_pod(captured("300")).reason == "not scheduled yet"  # Pending, no nodeName
    assert slim_pod(captured("306")).reason == "no IP yet"  # bound to a node, nothing reported yet
    creating = captured("306")
    creating["status"]["containerStatuses"] = [
        {
            "name": "shipping-api",
            "ready": False,
            "started": False,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }
    ]
    p = slim_pod(creating)
    assert (p.status, p.reason) == ("ContainerCreating", "container starting")


def test_readiness_gate_and_terminating() -> None:
    gated = captured("307")  # Running and Ready
    gated["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    gated["status"]["conditions"] = [
        {**c, "status": "False"} if c["type"] == "Ready" else c for c in gated["status"]["conditions"]
    ] + [{"type": "example.com/lb", "status": "False", "lastTransitionTime": "2026-11-22T03:08:02Z"}]
    assert slim_pod(gated).reason == "readiness gate example.com/lb is False"
    going = not_ready_since("2026-11-22T03:08:40Z")
    going["metadata"]["deletionTimestamp"] = "2026-11-22T03:08:40Z"
    assert slim_pod(going).reason == "terminating"
    assert slim_pod(captured("316")).reason is None, "terminating but still Ready: nothing to explain"


def test_the_engine_moves_on_when_the_initial_delay_runs_out() -> None:
    eng, clock = engine()
    clock.t = T0 + 2
    name = "shipping-api-8465d5b4d7-g4r8r"
    raw = not_ready_since(START)
    eng.apply(Change("ADDED", "Service", service("shipping-api-service", {"app": "shipping-api"})))
    eng.apply(Change("ADDED", "Pod", raw))
    eng.apply(
        Change(
            "ADDED",
            "EndpointSlice",
            slice_(
                "shipping-api-service-x", "shipping-api-service", [("10.244.1.2", name, False, False, False)]
            ),
        )
    )
    eng.take_ops()
    waiting = "waiting for the first readiness probe (initial delay 5s)"
    state = eng.state()
    assert state["pods"][f"default/{name}"]["notReadyReason"] == waiting
    svc = state["services"]["default/shipping-api-service"]
    assert svc["slices"][0]["endpoints"][0]["reason"] == waiting
    assert svc["excluded"][0]["text"] == f"Ready is False: {waiting}"
    assert svc["diagnosis"]["text"].endswith(f": 1 {waiting}")
    explained = eng.explain_pod("default", name)
    assert explained is not None
    assert f"The pod is not Ready: {waiting}." in " ".join(explained["services"][0]["reasons"])

    clock.t = T0 + 4.9
    assert not eng.has_pending() and eng.take_ops() == []
    clock.t = T0 + 5  # the pod object has not changed, but its delay is over
    assert eng.has_pending()
    ops = eng.take_ops()
    after = "readiness probe has not passed yet"
    assert {(op["coll"], op["key"]) for op in ops if op["op"] == "put"} == {
        ("pods", f"default/{name}"),
        ("services", "default/shipping-api-service"),
    }
    assert texts(ops) == [], "still not ready: no news for the timeline"
    state = eng.state()
    assert state["pods"][f"default/{name}"]["notReadyReason"] == after
    assert state["services"]["default/shipping-api-service"]["slices"][0]["endpoints"][0]["reason"] == after
    # the same object again changes nothing
    eng.apply(Change("MODIFIED", "Pod", raw))
    assert eng.take_ops() == [] and not eng.has_pending()


def test_the_timeline_says_why_a_new_pod_joins_not_ready() -> None:
    eng, clock = engine()
    clock.t = T0 + 1
    name = "shipping-api-8465d5b4d7-g4r8r"
    eng.apply(Change("ADDED", "Service", service("shipping-api-service", {"app": "shipping-api"})))
    eng.apply(Change("ADDED", "Pod", not_ready_since(START)))
    eng.take_ops()
    eng.apply(
        Change(
            "ADDED",
            "EndpointSlice",
            slice_(
                "shipping-api-service-x", "shipping-api-service", [("10.244.1.2", name, False, False, False)]
            ),
        )
    )
    assert texts(eng.take_ops()) == [
        f"10.244.1.2 joined as not ready ({name}: waiting for the first readiness probe (initial delay 5s))"
    ]


def test_a_pending_pod_shows_the_schedulers_reason() -> None:
    """A full cluster: the scheduler says why in the PodScheduled condition, and that is what the pod,
    the Service's excluded list and its diagnosis say (not "no IP yet")."""
    message = "0/3 nodes are available: 3 Too many pods."
    raw = captured("300")  # Pending, no nodeName
    raw["status"]["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": START,
        }
    ]
    pod = slim_pod(raw)
    assert pod.reason == f"not scheduled: {message}" and pod.status == "Pending" and pod.ip is None
    gated = copy.deepcopy(raw)
    gated["status"]["conditions"][0].update(reason="SchedulingGated", message="")
    assert slim_pod(gated).reason == "not scheduled (SchedulingGated)"

    eng, _ = engine()
    eng.apply(Change("ADDED", "Service", service("shipping-api-service", {"app": "shipping-api"})))
    eng.apply(Change("ADDED", "Pod", raw))
    eng.take_ops()
    view = eng.state()
    name = raw["metadata"]["name"]
    assert view["pods"][f"default/{name}"]["notReadyReason"] == f"not scheduled: {message}"
    svc = view["services"]["default/shipping-api-service"]
    assert [(e["pod"], e["reason"], e["text"]) for e in svc["excluded"]] == [
        (name, "no-ip", f"not scheduled: {message}")
    ]
    assert message in svc["diagnosis"]["text"] and "no IP yet" not in svc["diagnosis"]["text"]
