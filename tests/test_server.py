"""The non-streaming routes, in process (httpx ASGITransport) with the lifespan running: snapshot
shape, actions and their errors, read-only real clusters, explanations, static cache busting,
escaping of cluster strings in the page, the simulated cluster's Kubernetes API mount."""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import re
from typing import Any

import httpx
import pytest

from app.kinds import WATCHED_KINDS
from app.paths import STATIC_DIR
from app.sources.base import ClusterInfo, Resync, Status
from app.static_files import AssetHasher
from tests.fixtures_app import app_client, await_for, make_settings

SERVICE_KEYS = {
    "key", "namespace", "name", "type", "clusterIP", "headless", "externalName", "selector",
    "publishNotReadyAddresses", "ports", "slices", "endpoints", "excluded", "counts", "diagnosis",
}  # fmt: skip
POD_KEYS = {
    "key", "namespace", "name", "ip", "node", "phase", "status", "ready", "readyText", "terminating",
    "notReadyReason", "labels", "owner", "services", "endpointOf", "created",
}  # fmt: skip


async def snapshot(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/api/snapshot")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def shipping_pods(snap: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in snap["pods"].values() if p["labels"].get("app") == "shipping-api"]


async def lesson_ready(client: httpx.AsyncClient, replicas: int = 4) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        snap = await snapshot(client)
        pods = shipping_pods(snap)
        ok = len(pods) == replicas and all(p["ready"] for p in pods)
        return snap if ok else None

    return await await_for(check, what=f"{replicas} ready shipping-api pods")


async def post(client: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    if isinstance(body, (bytes, str)):
        return await client.post(path, content=body, headers={"content-type": "application/json"})
    return await client.post(path, json=body)


# ---- snapshot -------------------------------------------------------------------
async def test_snapshot_follows_the_contract() -> None:
    async with app_client() as client:
        snap = await lesson_ready(client)
        assert set(snap) == {"seq", "meta", "services", "pods", "deployments", "timeline"}
        assert isinstance(snap["seq"], int) and snap["seq"] > 0
        meta = snap["meta"]
        assert meta["cluster"] == {
            "mode": "sim",
            "name": "simulated cluster",
            "server": "",
            "namespaces": [],
            "readOnly": False,
        }
        assert meta["connection"]["state"] == "live"
        assert meta["actions"] is True
        assert meta["namespaces"] == ["default"]
        assert meta["timelineLimit"] == 200
        assert meta["classroom"] is None  # not presenting, no scenario
        assert set(snap["deployments"]) == {"default/shipping-api", "default/web"}
        svc = snap["services"]["default/shipping-api-service"]
        assert set(svc) == SERVICE_KEYS
        assert svc["selector"] == {"app": "shipping-api"}
        assert svc["counts"]["ready"] == 4
        ips = sorted(e["ip"] for s in svc["slices"] for e in s["endpoints"])
        assert ips == sorted(p["ip"] for p in shipping_pods(snap))
        for pod in snap["pods"].values():
            assert set(pod) == POD_KEYS
            assert pod["key"] == f"{pod['namespace']}/{pod['name']}"
        # the snapshot's seq is the hub's: nothing pending, nothing newer
        assert snap["seq"] == client.app.state.runtime.hub.seq


async def test_healthz_reports_source_and_connection() -> None:
    async with app_client() as client:
        r = await client.get("/healthz")
        assert r.status_code == 200
        assert r.json() == {"ok": True, "source": "sim", "connection": "live"}


# ---- actions --------------------------------------------------------------------
async def test_scale_action_changes_the_cluster_and_the_timeline() -> None:
    async with app_client() as client:
        await lesson_ready(client)
        r = await post(
            client, "/api/actions/scale", {"namespace": "default", "name": "shipping-api", "replicas": 6}
        )
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True
        snap = await lesson_ready(client, replicas=6)
        texts = [e["text"] for e in snap["timeline"] if e["kind"] == "action"]
        assert texts and "shipping-api" in texts[0] and "6" in texts[0]


async def test_label_readiness_and_delete_actions() -> None:
    async with app_client() as client:
        snap = await lesson_ready(client)
        a, b, c = (p["name"] for p in shipping_pods(snap)[:3])

        r = await post(client, "/api/actions/readiness", {"namespace": "default", "pod": a, "passing": False})
        assert r.status_code == 200, r.text
        r = await post(
            client, "/api/actions/label", {"namespace": "default", "pod": b, "labels": {"app": "debug"}}
        )
        assert r.status_code == 200, r.text
        r = await post(client, "/api/actions/delete", {"namespace": "default", "pod": c})
        assert r.status_code == 200, r.text

        async def done() -> dict[str, Any] | None:
            s = await snapshot(client)
            pa, pb = s["pods"].get(f"default/{a}"), s["pods"].get(f"default/{b}")
            pc = s["pods"].get(f"default/{c}")
            ok = (
                pa is not None
                and not pa["ready"]
                and pb is not None
                and pb["services"] == []
                and (pc is None or pc["terminating"])
            )
            return s if ok else None

        s = await await_for(done, what="probe failing, pod relabelled out, pod deleted")
        actions = [e["text"] for e in s["timeline"] if e["kind"] == "action"]
        assert len(actions) == 3
        assert any(b in t and "app=debug" in t for t in actions)

        # a null label value removes the label
        r = await post(
            client, "/api/actions/label", {"namespace": "default", "pod": b, "labels": {"app": None}}
        )
        assert r.status_code == 200, r.text
        await await_for(
            lambda: _labels_of(client, b, lambda labels: "app" not in labels), what="label removed"
        )


async def _labels_of(client: httpx.AsyncClient, pod: str, check: Any) -> bool:
    s = await snapshot(client)
    p = s["pods"].get(f"default/{pod}")
    return p is not None and check(p["labels"])


D = "default"
DEP = "shipping-api"
NOPE = "no-such-pod"
BAD_REQUESTS = [
    ("/api/actions/scale", b"{not json", 400, "not JSON"),
    ("/api/actions/scale", b"[1, 2]", 400, "JSON object"),
    ("/api/actions/scale", {"namespace": D, "name": DEP}, 400, "replicas"),
    ("/api/actions/scale", {"namespace": D, "name": DEP, "replicas": "3"}, 400, "replicas"),
    ("/api/actions/scale", {"namespace": D, "name": DEP, "replicas": True}, 400, "replicas"),
    ("/api/actions/scale", {"namespace": D, "name": DEP, "replicas": -1}, 400, "between"),
    ("/api/actions/scale", {"namespace": D, "name": "Bad_Name", "replicas": 1}, 400, "name"),
    ("/api/actions/scale", {"namespace": "Nope!", "name": DEP, "replicas": 1}, 400, "namespace"),
    ("/api/actions/scale", {"namespace": D, "name": "no-such-deploy", "replicas": 1}, 404, "not found"),
    ("/api/actions/label", {"namespace": D, "pod": "x"}, 400, "labels"),
    ("/api/actions/label", {"namespace": D, "pod": "x", "labels": {"bad key!": "v"}}, 400, "label key"),
    ("/api/actions/label", {"namespace": D, "pod": "x", "labels": {"app": "a b"}}, 400, "value"),
    ("/api/actions/label", {"namespace": D, "pod": "x", "labels": {"app": 3}}, 400, "string"),
    ("/api/actions/label", {"namespace": D, "pod": NOPE, "labels": {"a": "b"}}, 404, "not found"),
    ("/api/actions/readiness", {"namespace": D, "pod": "x", "passing": "no"}, 400, "passing"),
    ("/api/actions/readiness", {"namespace": D, "pod": NOPE, "passing": True}, 404, "not found"),
    ("/api/actions/delete", {"namespace": D}, 400, "pod"),
    ("/api/actions/delete", {"namespace": D, "pod": NOPE}, 404, "not found"),
]


async def test_bad_actions_get_clear_json_errors() -> None:
    async with app_client() as client:
        await lesson_ready(client)
        before = await snapshot(client)
        for path, body, status, words in BAD_REQUESTS:
            r = await post(client, path, body)
            assert r.status_code == status, (path, body, r.text)
            err = r.json()
            assert set(err) == {"error"}, err
            assert words.lower() in err["error"].lower(), (body, err)
        after = await snapshot(client)
        assert not [e for e in after["timeline"] if e["kind"] == "action"], "failed actions are not recorded"
        assert len(after["pods"]) == len(before["pods"])


# ---- a real cluster (a fake kube source) ---------------------------------------------
EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)>&amp;\u2028'


def pod_obj(name: str, labels: dict[str, str], ip: str = "10.0.0.7") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "resourceVersion": "5",
            "labels": labels,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}}],
        },
    }


class FakeKubeSource:
    """Stands in for KubeSource: fixed objects, and `act` calls recorded or failed on demand."""

    def __init__(self, name: str = "prod-context", pods: list[dict[str, Any]] | None = None) -> None:
        self.info = ClusterInfo(mode="kube", name=name, server="https://10.0.0.1:6443", read_only=True)
        self.pods = pods or []
        self.acts: list[tuple[str, dict[str, Any]]] = []
        self.fail: Exception | None = None

    async def run(self, emit: Any) -> None:
        emit(Status("live", since=1767225600.0))
        for kind in WATCHED_KINDS:
            emit(Resync(kind, self.pods if kind == "Pod" else []))
        await asyncio.Event().wait()

    async def act(self, action: str, **params: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        self.acts.append((action, params))
        return {}


ACTION_BODIES = {
    "scale": {"namespace": "default", "name": "web", "replicas": 2},
    "label": {"namespace": "default", "pod": "web-1", "labels": {"app": "debug"}},
    "readiness": {"namespace": "default", "pod": "web-1", "passing": False},
    "delete": {"namespace": "default", "pod": "web-1"},
}


async def test_real_cluster_is_read_only_without_allow_actions() -> None:
    source = FakeKubeSource()
    async with app_client(make_settings(source="kube"), source=source) as client:
        snap = await snapshot(client)
        assert snap["meta"]["actions"] is False
        for action, body in ACTION_BODIES.items():
            r = await post(client, f"/api/actions/{action}", body)
            assert r.status_code == 403
            assert r.json() == {"error": "read-only: start with --allow-actions"}
        assert source.acts == []
        assert (await client.get("/k8s/api/v1/pods")).status_code == 404  # no sim API for a real cluster


async def test_real_cluster_actions_with_allow_actions_go_through_the_source() -> None:
    from app.sources.watching import ApiError

    source = FakeKubeSource()
    async with app_client(make_settings(source="kube", allow_actions=True), source=source) as client:
        r = await post(client, "/api/actions/scale", ACTION_BODIES["scale"])
        assert r.status_code == 200, r.text
        r = await post(client, "/api/actions/label", ACTION_BODIES["label"])
        assert r.status_code == 200, r.text
        assert source.acts == [
            ("scale", {"namespace": "default", "name": "web", "replicas": 2}),
            ("label", {"namespace": "default", "name": "web-1", "labels": {"app": "debug"}}),
        ]
        r = await post(client, "/api/actions/readiness", ACTION_BODIES["readiness"])
        assert r.status_code == 400 and "simulated cluster" in r.json()["error"]

        source.fail = ApiError(403, "Forbidden", 'cannot delete pods in "default": needs delete on pods')
        r = await post(client, "/api/actions/delete", ACTION_BODIES["delete"])
        assert r.status_code == 403
        assert r.json() == {"error": 'cannot delete pods in "default": needs delete on pods'}
        source.fail = ApiError(404, "NotFound", 'pods "web-1" not found')
        r = await post(client, "/api/actions/delete", ACTION_BODIES["delete"])
        assert r.status_code == 404 and r.json()["error"] == 'pods "web-1" not found'


async def test_cluster_strings_are_escaped_in_the_page() -> None:
    source = FakeKubeSource(name=EVIL, pods=[pod_obj("evil-pod", {"app": EVIL, "tier": "a&b"})])
    async with app_client(make_settings(source="kube"), source=source) as client:
        await await_for(lambda: _has_pod(client, "default/evil-pod"), what="the fake pod in the view")
        r = await client.get("/")
        assert r.status_code == 200
        page = r.text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        # the page's data comes on the stream; whatever JSON block the page has stays JSON
        for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S):
            assert "<" not in block and "&" not in block
            json.loads(block)
        title = re.search(r"<title>(.*?)</title>", page, re.S)
        assert title and EVIL not in title.group(1)
        assert EVIL in html.unescape(title.group(1))
        snap = await snapshot(client)  # the same strings, exact, in the data the page draws
        assert snap["meta"]["cluster"]["name"] == EVIL
        assert snap["pods"]["default/evil-pod"]["labels"] == {"app": EVIL, "tier": "a&b"}


async def _has_pod(client: httpx.AsyncClient, key: str) -> bool:
    return key in (await snapshot(client))["pods"]


# ---- explanations ---------------------------------------------------------------------
async def test_explain_routes() -> None:
    async with app_client() as client:
        snap = await lesson_ready(client)
        pod = shipping_pods(snap)[0]
        r = await client.get(f"/api/explain/pod/default/{pod['name']}")
        assert r.status_code == 200
        assert r.json()["pod"]["key"] == pod["key"]
        r = await client.get("/api/explain/service/default/shipping-api-service")
        assert r.status_code == 200
        assert "shipping-api-service" in json.dumps(r.json())
        r = await client.get("/api/explain/pod/default/nobody")
        assert r.status_code == 404 and r.json() == {"error": "pod default/nobody not found"}
        r = await client.get("/api/explain/service/default/nothing")
        assert r.status_code == 404 and "nothing" in r.json()["error"]


# ---- static files ---------------------------------------------------------------------
async def test_page_links_static_files_with_content_hashes() -> None:
    async with app_client() as client:
        page = (await client.get("/")).text
        urls = set(re.findall(r'"\.?/?(static/[^"?]+\?v=[0-9a-f]+)"', page))
        assert any(u.startswith("static/js/main.js?v=") for u in urls), urls
        for url in urls:
            path, _, digest = url.partition("?v=")
            data = (STATIC_DIR / path.removeprefix("static/")).read_bytes()
            assert digest == hashlib.sha256(data).hexdigest()[: len(digest)]
            assert len(digest) >= 8
            r = await client.get("/" + url)
            assert r.status_code == 200
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert r.content == data
        main = "/static/js/main.js"
        r = await client.get(main)  # an unhashed request (ES module imports) revalidates
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
        r = await client.get(main + "?v=0000000000")  # a stale hash is never cached for a year
        assert r.headers["cache-control"] == "no-cache"
        r = await client.get("/static/js/none.js")
        assert r.status_code == 404


def test_asset_hash_follows_the_file(tmp_path: Any) -> None:
    (tmp_path / "js").mkdir()
    f = tmp_path / "js" / "a.js"
    f.write_text("one")
    hasher = AssetHasher(tmp_path)
    first = hasher.url("js/a.js")
    assert first == f"static/js/a.js?v={hashlib.sha256(b'one').hexdigest()[:12]}"
    f.write_text("two!")
    second = hasher.url("js/a.js")
    assert second != first and second.endswith(hashlib.sha256(b"two!").hexdigest()[:12])
    assert hasher.url("js/missing.js") == "static/js/missing.js"
    assert hasher.digest("../../etc/passwd") is None


# ---- debug hook and the k8s API mount -----------------------------------------------
async def test_drop_streams_hook_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLICESCOPE_DEBUG_HOOKS", raising=False)
    async with app_client() as client:
        r = await client.post("/api/debug/drop-streams")
        assert r.status_code in (404, 405)
    async with app_client(debug_hooks=True) as client:
        r = await client.post("/api/debug/drop-streams")
        assert r.status_code == 200 and r.json() == {"dropped": 0}
    monkeypatch.setenv("SLICESCOPE_DEBUG_HOOKS", "1")
    async with app_client() as client:
        assert (await client.post("/api/debug/drop-streams")).status_code == 200


async def test_sim_kubernetes_api_is_mounted_with_its_token() -> None:
    async with app_client(make_settings(api_token="sekrit")) as client:
        await lesson_ready(client)
        r = await client.get("/k8s/api/v1/namespaces/default/pods")
        assert r.status_code == 401
        r = await client.get(
            "/k8s/api/v1/namespaces/default/pods", headers={"Authorization": "Bearer sekrit"}
        )
        assert r.status_code == 200
        names = {p["metadata"]["name"] for p in r.json()["items"]}
        snap = await snapshot(client)
        assert names == {p["name"] for p in snap["pods"].values()}


# ---- the sim source -------------------------------------------------------------------
def test_sim_source_lists_every_watched_kind_then_streams_changes() -> None:
    from app.sim.clock import SimClock
    from app.sim.cluster import SimCluster
    from app.sources.base import Change
    from app.sources.sim import SimSource

    clock = SimClock()
    cluster = SimCluster(clock)
    cluster.start()
    items: list[Any] = []
    unsubscribe = SimSource(cluster).start(items.append)
    assert isinstance(items[0], Status) and items[0].state == "live"
    resyncs = items[1:]
    assert [r.kind for r in resyncs] == list(WATCHED_KINDS)
    assert all(isinstance(r, Resync) for r in resyncs)
    nodes = next(r for r in resyncs if r.kind == "Node").objs
    assert {n["metadata"]["name"] for n in nodes} == {"node-1", "node-2", "node-3"}

    items.clear()
    cluster.load_lesson()
    clock.advance(30)
    assert items and all(isinstance(i, Change) for i in items)
    assert {i.kind for i in items} <= set(WATCHED_KINDS)  # no Events
    assert any(i.kind == "Pod" and i.type == "ADDED" for i in items)
    assert any(i.kind == "EndpointSlice" for i in items)

    unsubscribe()
    items.clear()
    cluster.scale("default", "shipping-api", 1)
    clock.advance(30)
    assert items == []


# ---- record, replay, console, classroom wiring ------------------------------------------
async def test_every_source_item_is_tapped_by_the_recorder(tmp_path: Any) -> None:
    from app.recording import read_recording

    async with app_client(make_settings(recordings_dir=str(tmp_path))) as client:
        await lesson_ready(client)
        assert (await client.get("/api/replay")).status_code == 404  # not replaying
        status = (await client.get("/api/record")).json()
        assert status["recording"] is False
        r = await client.post("/api/record/start", json={"path": "mid"})
        assert r.status_code == 200 and r.json()["recording"] is True
        await post(client, "/api/actions/scale", {"name": "shipping-api", "replicas": 2})
        await lesson_ready(client, replicas=2)
        assert (await client.post("/api/record/stop")).json()["recording"] is False
    recording = read_recording(tmp_path / "mid.jsonl")
    kinds = {type(e.item).__name__ for e in recording.entries}
    assert {"Status", "Resync", "Change"} <= kinds
    assert recording.header.cluster.mode == "sim"


async def test_a_replay_is_a_read_only_source_with_the_recorded_clock(tmp_path: Any) -> None:
    from tests.recording import record_lesson

    session = record_lesson(tmp_path / "lesson.jsonl")
    settings = make_settings(source="replay", replay=str(session.path), replay_speed=100.0)
    async with app_client(settings) as client:
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        assert rt.engine is not None and rt.live is None and rt.source.on_seek == rt.reset_view
        state = (await client.get("/api/replay")).json()
        assert state["speed"] == 100.0 and state["duration"] > 0
        snap = await snapshot(client)
        assert snap["meta"]["cluster"]["mode"] == "replay" and snap["meta"]["actions"] is False
        r = await post(client, "/api/actions/scale", {"name": "shipping-api", "replicas": 1})
        assert r.status_code == 403
        r = await post(client, "/api/scenarios/start", {"name": "readiness"})
        assert r.status_code == 409
        assert (await client.get("/api/console/status")).json()["enabled"] is False
        assert (await client.get("/api/record")).json()["recording"] is False  # a replay can be recorded
        await await_for(lambda: not rt.source.state()["playing"], what="the replay to end")
        started = rt.source.recording.header.started
        assert started <= rt.engine._now() <= started + state["duration"] + 1e-6  # the recorded time


async def test_console_is_enabled_for_the_simulated_cluster() -> None:
    async with app_client(make_settings()) as client:
        status = (await client.get("/api/console/status")).json()
        assert status["enabled"] is True
        assert status["kubectl"] is False or "reason" not in status
