"""Classroom mode on a real uvicorn: the presenter steps a scenario over HTTP while the class's SSE
streams follow (meta.classroom and the services); back and restart rebuild exactly what a fresh
run shows; kubectl keeps working across scenario swaps; a --record session replays the same views."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import write_kubeconfig
from tests.classroom.helpers import AUTH, TOKEN, reduce, scenario_of, settled, views
from tests.fixtures_app import SSEReader, make_settings, running_app, wait_for

Model = dict[str, Any]


@contextlib.contextmanager
def stream(http: httpx.Client) -> Iterator[SSEReader]:
    with http.stream("GET", "/events", timeout=httpx.Timeout(30.0)) as r:
        assert r.status_code == 200
        yield SSEReader(r)


class Follower:
    """One browser: a stream and the model it keeps, with every op name it has seen."""

    def __init__(self, reader: SSEReader) -> None:
        self.reader = reader
        self.model: Model | None = None
        self.ops: set[str] = set()

    def until(self, pred: Callable[[Model], Any], what: str, timeout: float = 30.0) -> Model:
        deadline = time.monotonic() + timeout
        while self.model is None or not pred(self.model):
            assert time.monotonic() < deadline, f"timed out waiting for {what}; classroom: {self.classroom()}"
            event, _, data = self.reader.next_json()
            if event == "delta":
                self.ops |= {op["op"] for op in data["ops"]}
            self.model = reduce(self.model, event, data)
        return self.model

    def classroom(self) -> Any:
        return self.model and self.model["meta"]["classroom"]


def at_step(step: int, *, done: bool = True) -> Callable[[Model], bool]:
    def pred(model: Model) -> bool:
        st = scenario_of(model)
        return bool(
            st
            and st["step"] == step
            and (not done or (not st["busy"] and all(c["ok"] for c in st["checks"])))
        )

    return pred


def web_pods(model: Model) -> set[str]:
    return {k for k, p in model["pods"].items() if p["labels"].get("app") == "web"}


def test_the_class_follows_the_presenters_steps_over_sse() -> None:
    settings = make_settings(present=True, present_token=TOKEN)
    with (
        running_app(settings) as base,
        httpx.Client(base_url=base, timeout=30) as presenter,
        httpx.Client(base_url=base, timeout=30) as viewer,
        stream(viewer) as viewer_events,
        stream(presenter) as presenter_events,
    ):
        class_view, own_view = Follower(viewer_events), Follower(presenter_events)
        for f in (class_view, own_view):
            f.until(lambda m: m["meta"]["classroom"] == {"presenting": True, "scenario": None}, "presenting")
            f.until(lambda m: "default/shipping-api-service" in m["services"], "the lesson")

        # a viewer cannot step; nothing moves
        assert viewer.post("/api/scenarios/start", json={"name": "readiness"}).status_code == 403

        r = presenter.post("/api/scenarios/start", json={"name": "readiness"}, headers=AUTH)
        assert r.status_code == 200 and r.json()["step"] == 0
        for f in (class_view, own_view):
            m = f.until(at_step(0), "the scenario at its set-up")
            f.until(
                lambda m: "default/shipping-api-service" not in m["services"], "the lesson's objects to go"
            )
            assert scenario_of(m)["title"] == "Readiness: matching is not enough"
            assert "timeline-clear" in f.ops

        presenter.post("/api/scenarios/next", headers=AUTH).raise_for_status()
        seen_busy = class_view.until(at_step(1, done=False), "step 1 to begin")
        assert scenario_of(seen_busy)["stepTitle"] == "Three web pods listening on 3000"
        m = class_view.until(lambda m: at_step(1)(m) and len(web_pods(m)) == 3, "step 1 done, 3 web pods")
        assert all(m["pods"][k]["ready"] for k in web_pods(m))

        presenter.post("/api/scenarios/next", headers=AUTH).raise_for_status()
        m = class_view.until(lambda m: at_step(2)(m) and "default/web-svc" in m["services"], "web-svc")
        assert scenario_of(m)["highlight"]["services"] == ["default/web-svc"]
        assert m["services"]["default/web-svc"]["counts"]["ready"] == 3

        presenter.post("/api/scenarios/next", headers=AUTH).raise_for_status()
        m = class_view.until(at_step(3), "one pod failing its probe")
        sick = scenario_of(m)["highlight"]["pods"]
        assert len(sick) == 1 and m["pods"][sick[0]]["ready"] is False
        assert m["services"]["default/web-svc"]["counts"] == {
            **m["services"]["default/web-svc"]["counts"],
            "ready": 2,
        }

        # both browsers end with the server's own view
        snap = presenter.get("/api/snapshot").json()
        for f in (class_view, own_view):
            f.until(lambda m: m["seq"] >= snap["seq"], "the stream to catch up")
        latest = presenter.get("/api/snapshot").json()
        class_view.until(lambda m: m["seq"] >= latest["seq"], "the class to catch up")
        own_view.until(lambda m: m["seq"] >= latest["seq"], "the presenter to catch up")
        assert views(class_view.model) == views(own_view.model)  # type: ignore[arg-type]

        presenter.post("/api/scenarios/stop", headers=AUTH).raise_for_status()
        class_view.until(
            lambda m: scenario_of(m) is None and "default/shipping-api-service" in m["services"],
            "the lesson back",
        )


def test_back_and_restart_rebuild_what_a_fresh_run_shows() -> None:
    with running_app(make_settings()) as base, httpx.Client(base_url=base, timeout=30) as http:
        http.post("/api/scenarios/start", json={"name": "endpoints-basics"}).raise_for_status()
        fresh0 = views(settled(http, 0))
        http.post("/api/scenarios/next").raise_for_status()
        fresh1 = views(settled(http, 1))
        http.post("/api/scenarios/next").raise_for_status()
        two = views(settled(http, 2))
        assert two != fresh1

        r = http.post("/api/scenarios/back")
        assert r.status_code == 200 and r.json()["step"] == 1
        wait_for(lambda: views(http.get("/api/snapshot").json()) == fresh1, what="back to step 1's view")

        r = http.post("/api/scenarios/restart")
        assert r.status_code == 200 and r.json()["step"] == 0
        wait_for(lambda: views(http.get("/api/snapshot").json()) == fresh0, what="restart to the set-up")

        http.post("/api/scenarios/next").raise_for_status()
        settled(http, 1)
        wait_for(lambda: views(http.get("/api/snapshot").json()) == fresh1, what="step 1 again, the same")


def kubectl(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(config), *args], capture_output=True, text=True, timeout=60
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.kubectl
def test_kubectl_follows_the_cluster_across_scenario_swaps(tmp_path: Path) -> None:
    settings = make_settings()
    with running_app(settings) as base, httpx.Client(base_url=base, timeout=30) as http:
        rt = running_app.last_app.state.runtime  # type: ignore[attr-defined]
        config = tmp_path / "kubeconfig"
        write_kubeconfig(str(config), settings, rt.api_token, port=int(base.rsplit(":", 1)[1]))
        assert "shipping-api" in kubectl(config, "get", "deployments").stdout

        http.post("/api/scenarios/start", json={"name": "services-without-selectors"}).raise_for_status()
        http.post("/api/scenarios/next").raise_for_status()
        settled(http, 1)
        http.post("/api/scenarios/next").raise_for_status()
        settled(http, 2)
        assert "No resources found" in kubectl(config, "get", "deployments").stderr
        eps = json.loads(kubectl(config, "get", "endpoints", "external-db", "-o", "json").stdout)
        assert sorted(a["ip"] for s in eps["subsets"] for a in s["addresses"]) == ["1.2.3.4", "5.6.7.8"]
        slices = kubectl(
            config, "get", "endpointslices", "-l", "kubernetes.io/service-name=external-db"
        ).stdout
        assert "1.2.3.4,5.6.7.8" in slices

        # kubectl changes the scenario's cluster, and the view shows it
        kubectl(config, "label", "service", "external-db", "owner=class")
        wait_for(
            lambda: "owner=class" in kubectl(config, "get", "svc", "--show-labels").stdout, what="the label"
        )

        http.post("/api/scenarios/restart").raise_for_status()
        gone = kubectl(config, "get", "endpoints", "external-db", check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr

        http.post("/api/scenarios/stop").raise_for_status()
        assert "shipping-api" in kubectl(config, "get", "deployments").stdout
        kubectl(config, "scale", "deployment", "shipping-api", "--replicas=2")
        wait_for(
            lambda: len([p for p in http.get("/api/snapshot").json()["pods"].values()
                         if p["labels"].get("app") == "shipping-api"]) == 2,
            what="the page to show kubectl's scale",
        )  # fmt: skip


def test_a_recorded_session_replays_the_same_views(tmp_path: Path) -> None:
    path = tmp_path / "class.jsonl"
    with (
        running_app(make_settings(record=str(path))) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        wait_for(
            lambda: len([p for p in http.get("/api/snapshot").json()["pods"].values() if p["ready"]]) == 7,
            what="the lesson's pods ready",
        )
        http.post("/api/actions/scale", json={"name": "shipping-api", "replicas": 2}).raise_for_status()
        http.post("/api/scenarios/start", json={"name": "readiness"}).raise_for_status()
        http.post("/api/scenarios/next").raise_for_status()
        settled(http, 1)
        assert http.get("/api/record").json()["recording"] is True
        snap = http.get("/api/snapshot").json()
        live, lesson = views(snap), snap["meta"]["classroom"]["scenario"]
    assert live["services"] and len(web_pods(live)) == 3
    assert lesson["step"] == 1 and lesson["narration"] and not lesson["busy"]

    replay = make_settings(source="replay", replay=str(path), replay_speed=100.0)
    with running_app(replay) as base, httpx.Client(base_url=base, timeout=30) as http:
        snap = http.get("/api/snapshot").json()
        assert snap["meta"]["cluster"]["mode"] == "replay"
        # it opens paused at the start: the session as it began, before the lesson
        opening = http.get("/api/replay").json()
        assert opening["playing"] is False and opening["position"] == 0 < opening["duration"]
        assert snap["meta"]["classroom"] is None
        http.post("/api/replay/play").raise_for_status()
        wait_for(lambda: not http.get("/api/replay").json()["playing"], what="the replay to reach its end")
        snap = http.get("/api/snapshot").json()
        assert views(snap) == live
        # the lesson's step, narration and checks come back with it; nobody presents a replay
        assert snap["meta"]["classroom"] == {"presenting": False, "scenario": lesson}

        # seek back to the start and to the end again: rebuilt, no ghosts
        r = http.post("/api/replay/seek", json={"position": 0})
        assert r.status_code == 200 and r.json()["position"] == 0
        early = http.get("/api/snapshot").json()
        # at 0: the session's opening lists, before any pod had an address
        assert views(early) != live and not any(p["ip"] for p in early["pods"].values())
        r = http.post("/api/replay/seek", json={"position": r.json()["duration"] + 1})  # clamped to the end
        assert r.status_code == 200 and r.json()["position"] == r.json()["duration"]
        wait_for(lambda: views(http.get("/api/snapshot").json()) == live, what="the end state after a seek")
        assert http.post("/api/actions/scale", json={"name": "web", "replicas": 1}).status_code == 403


@pytest.mark.kubectl
def test_a_running_kubectl_watch_ends_when_a_scenario_replaces_the_cluster(tmp_path: Path) -> None:
    """A watch on the replaced cluster would show nothing more, ever: it ends instead, so the class
    sees `kubectl get -w` stop rather than a terminal that silently stopped following."""
    settings = make_settings()
    with running_app(settings) as base, httpx.Client(base_url=base, timeout=30) as http:
        rt = running_app.last_app.state.runtime  # type: ignore[attr-defined]
        config = tmp_path / "kubeconfig"
        write_kubeconfig(str(config), settings, rt.api_token, port=int(base.rsplit(":", 1)[1]))
        watch = subprocess.Popen(
            ["kubectl", "--kubeconfig", str(config), "get", "pods", "-w"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert watch.stdout is not None
            assert watch.stdout.readline().split()[:2] == ["NAME", "READY"]
            http.post("/api/scenarios/start", json={"name": "readiness"}).raise_for_status()
            assert watch.wait(timeout=60) is not None  # the stream ended and kubectl with it
        finally:
            if watch.poll() is None:
                watch.kill()
            watch.wait(timeout=5)
            if watch.stdout is not None:
                watch.stdout.close()
