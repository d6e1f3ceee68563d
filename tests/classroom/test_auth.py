"""Presenter mode: with --present every state-changing route needs the presenter's token; a viewer
gets 403 on each and nothing changes; reading stays open; without --present nothing is guarded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.routing import Mount

from app.classroom.auth import FORBIDDEN, needs_token, token_matches
from tests.classroom.helpers import AUTH, TOKEN, views
from tests.fixtures_app import app_client, await_for, make_settings

BODIES: dict[str, Any] = {
    "/api/actions/scale": {"name": "shipping-api", "replicas": 1},
    "/api/actions/label": {"pod": "POD", "labels": {"app": "debug"}},
    "/api/actions/readiness": {"pod": "POD", "passing": False},
    "/api/actions/delete": {"pod": "POD"},
    "/api/scenarios/start": {"name": "readiness"},
    "/api/record/start": {"path": "class.jsonl"},
    "/api/replay/speed": {"speed": 2},
    "/api/replay/seek": {"position": 1},
    "/api/console/run": {"command": "kubectl scale deployment shipping-api --replicas=1"},
    "/api/console/stream": {"command": "kubectl delete pod POD"},
}


def post_routes(app: Any) -> list[str]:
    """Every POST route the app serves (so a route added later is covered too)."""
    out: list[str] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, Mount):
                continue
            inner = getattr(route, "original_router", None)  # an included router (FastAPI 0.16x)
            if inner is not None:
                walk(inner.routes)
            elif "POST" in (getattr(route, "methods", None) or ()):
                out.append(route.path)

    walk(app.routes)
    return sorted(out)


async def ready_lesson(client: httpx.AsyncClient) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        snap = (await client.get("/api/snapshot")).json()
        pods = [p for p in snap["pods"].values() if p["labels"].get("app") == "shipping-api"]
        return snap if len(pods) == 4 and all(p["ready"] for p in pods) else None

    return await await_for(check, within=20, what="the lesson's pods to be ready")


async def test_a_viewer_without_the_token_changes_nothing(tmp_path: Path) -> None:
    settings = make_settings(present=True, present_token=TOKEN, recordings_dir=str(tmp_path))
    async with app_client(settings) as client:
        snap = await ready_lesson(client)
        assert snap["meta"]["classroom"] == {"presenting": True, "scenario": None}
        pod = sorted(p["name"] for p in snap["pods"].values() if p["labels"].get("app") == "shipping-api")[0]
        routes = post_routes(client.app)  # type: ignore[attr-defined]
        expected = {
            *BODIES,
            "/api/scenarios/next", "/api/scenarios/back", "/api/scenarios/restart", "/api/scenarios/stop",
            "/api/record/stop", "/api/replay/play", "/api/replay/pause",
        }  # fmt: skip
        assert expected <= set(routes), set(routes) ^ expected
        for path in routes:
            body = BODIES.get(path, {})
            body = {k: (pod if v == "POD" else v) for k, v in body.items()}
            for headers in ({}, {"X-Slicescope-Token": "wrong-token"}, {"X-Slicescope-Token": ""}):
                r = await client.post(path, json=body, headers=headers)
                assert r.status_code == 403, (path, r.status_code, r.text)
                assert r.json() == {"error": FORBIDDEN}
        r = await client.get("/api/console/stream", params={"command": f"kubectl delete pod {pod}"})
        assert r.status_code == 403 and r.json() == {"error": FORBIDDEN}

        after = await ready_lesson(client)
        assert views(after) == views(snap)
        assert [e for e in after["timeline"] if e["kind"] == "action"] == []
        assert not any(tmp_path.iterdir())  # noqa: ASYNC240 (a tmp folder: instant)
        assert (await client.get("/api/record")).json()["recording"] is False
        assert (await client.get("/api/scenarios")).json()["active"] is None
        # reading stays open to the class
        for path in (
            "/",
            "/api/snapshot",
            "/api/scenarios",
            "/api/record",
            "/api/console/status",
            "/healthz",
        ):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get(f"/api/explain/pod/default/{pod}")).status_code == 200


async def test_the_presenter_token_opens_every_control(tmp_path: Path) -> None:
    settings = make_settings(present=True, present_token=TOKEN, recordings_dir=str(tmp_path))
    async with app_client(settings) as client:
        await ready_lesson(client)
        r = await client.post(
            "/api/actions/scale", json={"name": "shipping-api", "replicas": 2}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        r = await client.post("/api/record/start", json={"path": "class"}, headers=AUTH)
        assert r.status_code == 200 and r.json()["recording"] is True
        assert (await client.post("/api/record/stop", headers=AUTH)).json()["recording"] is False
        assert (tmp_path / "class.jsonl").exists()
        r = await client.post("/api/scenarios/start", json={"name": "readiness"}, headers=AUTH)
        assert r.status_code == 200 and r.json()["step"] == 0
        classroom = (await client.get("/api/snapshot")).json()["meta"]["classroom"]
        assert classroom["presenting"] is True and classroom["scenario"]["name"] == "readiness"
        r = await client.post("/api/replay/play", headers=AUTH)
        assert r.status_code == 404  # past the guard: not replaying


async def test_without_present_nothing_is_guarded() -> None:
    async with app_client(make_settings()) as client:
        r = await client.post("/api/actions/scale", json={"name": "shipping-api", "replicas": 2})
        assert r.status_code == 200
        assert client.app.state.runtime.present_token is None  # type: ignore[attr-defined]


async def test_present_without_a_token_makes_one() -> None:
    async with app_client(make_settings(present=True)) as client:
        token = client.app.state.runtime.present_token  # type: ignore[attr-defined]
        assert isinstance(token, str) and len(token) >= 16
        body = {"name": "shipping-api", "replicas": 2}
        assert (await client.post("/api/actions/scale", json=body)).status_code == 403
        r = await client.post("/api/actions/scale", json=body, headers={"X-Slicescope-Token": token})
        assert r.status_code == 200


def test_which_requests_need_the_token() -> None:
    assert needs_token("POST", "/api/actions/scale")
    assert needs_token("DELETE", "/api/anything")
    assert needs_token("GET", "/api/console/stream")
    assert not needs_token("GET", "/api/console/status")
    assert not needs_token("GET", "/api/snapshot")
    assert not needs_token("GET", "/events")
    assert not needs_token("POST", "/k8s/api/v1/namespaces/default/pods")  # the API has its own token
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN + "x", TOKEN)
    assert not token_matches(None, TOKEN) and not token_matches("", TOKEN)
    assert not token_matches("pr\u00e9senter", TOKEN)
