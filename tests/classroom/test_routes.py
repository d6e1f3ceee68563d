"""The scenario routes in process (lifespan running, the cluster's clock driven at sim speed 50):
listing, start/next/back/restart/stop, the state in meta.classroom, a user scenario, and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from app.scenarios import builtin_scenarios
from app.sim.cluster import READINESS_ANNOTATION
from app.sources.base import ClusterInfo, Status
from tests.fixtures_app import app_client, await_for, make_settings

STATE_KEYS = {
    "name", "title", "summary", "step", "total", "stepTitle", "narration", "next", "highlight",
    "checks", "busy", "clock", "error", "commands",
}  # fmt: skip

USER_SCENARIO = """\
name: my-lesson
title: "My lesson"
summary: One web pod.
steps:
  - title: Start one pod
    narration: A single pod called solo starts.
    actions:
      - apply:
          kind: Pod
          metadata: {name: solo, labels: {app: solo}}
          spec: {containers: [{name: c, image: nginx}]}
      - wait: 10
    highlight:
      pods: [{selector: {app: solo}}]
    expect:
      - {pods: {app: solo}, count: 1, ready: 1}
"""


async def snapshot(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/api/snapshot")).json()


async def classroom(client: httpx.AsyncClient) -> Any:
    return (await snapshot(client))["meta"]["classroom"]


async def step_done(client: httpx.AsyncClient, step: int) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        c = await classroom(client)
        st = c and c["scenario"]
        return st if st and st["step"] == step and not st["busy"] else None

    return await await_for(check, within=20, what=f"step {step} to finish")


async def test_listing_names_every_builtin_scenario_and_none_is_active() -> None:
    async with app_client(make_settings()) as client:
        r = await client.get("/api/scenarios")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["active"] is None
        library = builtin_scenarios()
        assert [s["name"] for s in body["scenarios"]] == list(library)
        first = body["scenarios"][0]
        sc = library[first["name"]]
        assert first == {"name": sc.name, "title": sc.title, "summary": sc.summary, "steps": len(sc.steps)}
        assert (await classroom(client)) is None  # not presenting, no scenario: meta.classroom is null


async def test_start_next_back_restart_stop_drive_the_live_view() -> None:
    async with app_client(make_settings()) as client:
        before = await snapshot(client)
        assert "default/shipping-api-service" in before["services"]  # the default lesson

        r = await client.post("/api/scenarios/start", json={"name": "readiness"})
        assert r.status_code == 200, r.text
        state = r.json()
        assert set(state) == STATE_KEYS
        assert (state["name"], state["step"], state["total"], state["busy"]) == ("readiness", 0, 4, False)
        assert state["stepTitle"] is None and state["next"] == "Three web pods listening on 3000"
        snap = await snapshot(client)
        # the scenario's own cluster is now the live one: the lesson's objects are gone
        assert "default/shipping-api-service" not in snap["services"]
        assert snap["meta"]["classroom"] == {"presenting": False, "scenario": state}
        listed = (await client.get("/api/scenarios")).json()["active"]
        assert listed["name"] == "readiness" and listed["step"] == 0

        assert state["clock"] == "paused"  # set up, waiting for step 1
        r = await client.post("/api/scenarios/next")
        assert r.status_code == 200 and r.json()["busy"] is True and r.json()["step"] == 1
        playing = r.json()
        assert playing["clock"] == "running" and playing["checks"], playing
        # not judged while the step plays: pending, neither passed nor failed with problems
        assert all(c["pending"] and not c["ok"] and c["problems"] == [] for c in playing["checks"])
        refused = await client.post("/api/scenarios/next")  # still running: the page queues its Next
        assert refused.status_code == 409 and refused.json()["code"] == "busy", refused.text
        st = await step_done(client, 1)
        assert st["checks"] and all(c["ok"] and not c["pending"] for c in st["checks"]), st
        assert st["clock"] == "paused"
        pods = {k for k, p in (await snapshot(client))["pods"].items() if p["labels"].get("app") == "web"}
        assert len(pods) == 3

        # before web-svc exists the console suggests nothing about it; once it does, its slices
        assert not any("web-svc" in c for c in st["commands"]), st["commands"]
        await client.post("/api/scenarios/next")
        st = await step_done(client, 2)
        assert st["highlight"]["services"] == ["default/web-svc"]
        assert "kubectl get endpointslices -l kubernetes.io/service-name=web-svc" in st["commands"]
        assert "kubectl get endpoints" in st["commands"] and len(st["commands"]) <= 8
        assert "default/web-svc" in (await snapshot(client))["services"]

        r = await client.post("/api/scenarios/back")
        assert r.status_code == 200 and r.json()["step"] == 1 and r.json()["busy"] is False
        assert all(c["ok"] for c in r.json()["checks"])
        snap = await snapshot(client)
        assert "default/web-svc" not in snap["services"]
        web = {k for k, p in snap["pods"].items() if p["labels"].get("app") == "web"}
        assert web == pods  # rebuilt by replay: the same pod names as the first run
        assert snap["timeline"] == [] or all(e["kind"] != "service" for e in snap["timeline"])

        r = await client.post("/api/scenarios/restart")
        assert r.status_code == 200 and r.json()["step"] == 0
        assert not any(p["labels"].get("app") == "web" for p in (await snapshot(client))["pods"].values())

        r = await client.post("/api/scenarios/stop")
        assert r.status_code == 200 and r.json() is None
        snap = await snapshot(client)
        assert "default/shipping-api-service" in snap["services"]
        assert snap["meta"]["classroom"] is None
        assert (await client.get("/api/scenarios")).json()["active"] is None


async def test_actions_and_the_api_follow_the_scenario_cluster() -> None:
    async with app_client(make_settings()) as client:
        await client.post("/api/scenarios/start", json={"name": "readiness"})
        await client.post("/api/scenarios/next")
        await step_done(client, 1)
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        assert rt.cluster is rt.session.runner.cluster
        pod = sorted(
            p["name"] for p in (await snapshot(client))["pods"].values() if p["name"].startswith("web")
        )[0]
        r = await client.post("/api/actions/label", json={"pod": pod, "labels": {"tier": "front"}})
        assert r.status_code == 200, r.text
        assert rt.cluster.store.get("Pod", "default", pod)["metadata"]["labels"]["tier"] == "front"
        r = await client.post("/api/actions/readiness", json={"pod": pod, "passing": False})
        assert r.status_code == 200, r.text
        assert (
            rt.cluster.store.get("Pod", "default", pod)["metadata"]["annotations"][READINESS_ANNOTATION]
            == "fail"
        )
        # a change from outside the lesson lets the held clock run again (what the class did plays
        # out), and the checks then say how the cluster stands
        assert rt.live.paused is False
        await await_for(
            lambda: (st := rt.session.state()) and st["clock"] == "running" and not st["checks"][0]["ok"],
            within=30,
            what="the failing probe to take the pod out of the Service",
        )
        token = rt.api_token
        r = await client.get(
            f"/k8s/api/v1/namespaces/default/pods/{pod}", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200 and r.json()["metadata"]["labels"]["tier"] == "front"


async def test_a_user_scenario_is_listed_first_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(USER_SCENARIO)
    async with app_client(make_settings(scenario=str(path))) as client:
        listed = (await client.get("/api/scenarios")).json()["scenarios"]
        assert listed[0] == {"name": "my-lesson", "title": "My lesson", "summary": "One web pod.", "steps": 1}
        assert (await client.post("/api/scenarios/start", json={"name": "my-lesson"})).status_code == 200
        await client.post("/api/scenarios/next")
        st = await step_done(client, 1)
        assert st["checks"] == [
            {"text": st["checks"][0]["text"], "ok": True, "pending": False, "problems": []}
        ]
        assert st["highlight"]["pods"] == ["default/solo"] and len(st["highlight"]["ips"]) == 1
        assert (await snapshot(client))["pods"]["default/solo"]["ip"] == st["highlight"]["ips"][0]
        r = await client.post("/api/scenarios/next")
        assert r.status_code == 409 and "last step" in r.json()["error"]


async def test_bad_requests_get_json_errors() -> None:
    async with app_client(make_settings()) as client:
        for path in ("next", "back", "restart"):
            r = await client.post(f"/api/scenarios/{path}")
            assert r.status_code == 409 and r.json() == {"error": "no scenario is running; start one first"}
        r = await client.post("/api/scenarios/start", json={"name": "nope"})
        assert r.status_code == 404 and "nope" in r.json()["error"] and "readiness" in r.json()["error"]
        r = await client.post("/api/scenarios/start", json={})
        assert r.status_code == 400 and "name" in r.json()["error"]
        r = await client.post(
            "/api/scenarios/start", content=b"{oops", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "JSON" in r.json()["error"]
        assert (await client.post("/api/scenarios/stop")).json() is None  # nothing to stop: fine
        assert "default/shipping-api-service" in (await snapshot(client))["services"]


class _StillSource:
    info = ClusterInfo(mode="kube", name="prod", read_only=True)

    async def run(self, emit: Any) -> None:
        emit(Status("live", since=0.0))
        import asyncio

        await asyncio.Event().wait()


async def test_scenarios_need_the_simulated_cluster() -> None:
    async with app_client(make_settings(source="kube"), source=_StillSource()) as client:
        assert (await client.get("/api/scenarios")).json()["active"] is None
        r = await client.post("/api/scenarios/start", json={"name": "readiness"})
        assert r.status_code == 409 and "simulated cluster" in r.json()["error"]
        r = await client.get("/api/console/status")
        assert r.status_code == 200 and r.json()["enabled"] is False
