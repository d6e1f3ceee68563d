"""A stand-in server for page development and page-only tests: the routes of docs/view-model.md over a
tiny hand-rolled cluster (no simulator). Run: python -m tests.browser.stub_server [port]."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.paths import STATIC_DIR, TEMPLATES_DIR

SLICE_MAX = 100


@dataclass
class Pod:
    ns: str
    name: str
    ip: str
    node: str
    labels: dict[str, str]
    owner: str | None  # ReplicaSet name
    ready: bool = True
    terminating: bool = False
    probe_ok: bool = True


@dataclass
class Svc:
    ns: str
    name: str
    selector: dict[str, str] | None
    cluster_ip: str
    port: int = 80
    target: int = 8080


@dataclass
class World:
    pods: dict[str, Pod] = field(default_factory=dict)
    svcs: dict[str, Svc] = field(default_factory=dict)
    next_ip: int = 2
    next_name: int = 0
    deployments: dict[tuple[str, str], tuple[str, dict[str, str], int]] = field(default_factory=dict)

    def add_pod(self, ns: str, rs: str, labels: dict[str, str], ready: bool = True) -> Pod:
        self.next_name += 1
        suffix = f"{self.next_name:05x}"[-5:].replace("0", "z")
        ip_n = self.next_ip
        self.next_ip += 1
        pod = Pod(
            ns,
            f"{rs}-{suffix}",
            f"10.244.{1 + ip_n // 250}.{ip_n % 250 + 2}",
            f"node-{1 + ip_n % 3}",
            dict(labels),
            rs,
            ready=ready,
        )
        self.pods[f"{ns}/{pod.name}"] = pod
        return pod


def matches(sel: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return bool(sel) and all(labels.get(k) == v for k, v in (sel or {}).items())


def ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(p) for p in ip.split("."))


def project(world: World, meta: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for key, s in world.svcs.items():
        pods = [p for p in world.pods.values() if p.ns == s.ns and matches(s.selector, p.labels)]
        pods.sort(key=lambda p: ip_key(p.ip))
        eps = [
            {
                "ip": p.ip,
                "pod": p.name,
                "node": p.node,
                "zone": "zone-a",
                "state": "terminating" if p.terminating else "ready" if p.ready else "not-ready",
                "ready": p.ready and not p.terminating,
                "serving": p.ready,
                "terminating": p.terminating,
                "reason": None if p.ready and not p.terminating else "readiness probe failing",
            }
            for p in pods
        ]
        slices = []
        if s.selector is not None:
            chunks = [eps[i : i + SLICE_MAX] for i in range(0, len(eps), SLICE_MAX)] or [[]]
            for i, chunk in enumerate(chunks):
                slices.append(
                    {
                        "name": f"{s.name}-{'abcdefghij'[i]}x7k{i}",
                        "addressType": "IPv4",
                        "managedBy": "endpointslice-controller.k8s.io",
                        "ports": [{"name": "", "port": s.target, "protocol": "TCP"}] if chunk else [],
                        "endpoints": chunk,
                    }
                )
        ready = [e for e in eps if e["state"] == "ready"]
        not_ready = [e for e in eps if e["state"] == "not-ready"]
        term = [e for e in eps if e["state"] == "terminating"]
        diagnosis = None
        if s.selector is None:
            diagnosis = {
                "code": "no-selector-no-endpoints",
                "text": "no selector and nobody wrote an Endpoints object",
            }
        elif not pods:
            diagnosis = {"code": "no-pods-match", "text": "no pod has app=" + s.selector.get("app", "?")}
        elif not ready:
            diagnosis = {"code": "none-ready", "text": f"{len(pods)} pods match, none is ready"}
        services[key] = {
            "key": key,
            "namespace": s.ns,
            "name": s.name,
            "type": "ClusterIP",
            "clusterIP": s.cluster_ip,
            "headless": False,
            "externalName": None,
            "selector": s.selector,
            "publishNotReadyAddresses": False,
            "ports": [{"name": "", "port": s.port, "targetPort": s.target, "protocol": "TCP"}],
            "slices": slices,
            "endpoints": None
            if s.selector is None
            else {
                "overCapacity": len(eps) > 1000,
                "subsets": []
                if not eps
                else [
                    {
                        "addresses": [{"ip": e["ip"], "pod": e["pod"], "node": e["node"]} for e in ready],
                        "notReadyAddresses": [
                            {"ip": e["ip"], "pod": e["pod"], "node": e["node"]} for e in not_ready
                        ],
                        "ports": [{"name": "", "port": s.target, "protocol": "TCP"}],
                    }
                ],
            },
            "excluded": [
                {
                    "pod": e["pod"],
                    "ip": e["ip"],
                    "node": e["node"],
                    "reason": e["state"],
                    "text": "Ready is False: readiness probe failing"
                    if e["state"] == "not-ready"
                    else "the pod is shutting down",
                }
                for e in not_ready + term
            ],
            "counts": {
                "ready": len(ready),
                "notReady": len(not_ready),
                "terminating": len(term),
                "slices": len(slices),
            },
            "diagnosis": diagnosis,
        }
    pods_view: dict[str, Any] = {}
    for key, p in world.pods.items():
        svc_keys = sorted(k for k, s in world.svcs.items() if s.ns == p.ns and matches(s.selector, p.labels))
        pods_view[key] = {
            "key": key,
            "namespace": p.ns,
            "name": p.name,
            "ip": p.ip,
            "node": p.node,
            "phase": "Running",
            "status": "Terminating" if p.terminating else "Running",
            "ready": p.ready and not p.terminating,
            "readyText": "1/1" if p.ready else "0/1",
            "terminating": p.terminating,
            "notReadyReason": None if p.ready else "readiness probe failing",
            "labels": dict(p.labels),
            "owner": {"kind": "ReplicaSet", "name": p.owner} if p.owner else None,
            "services": svc_keys,
            "endpointOf": svc_keys,
            "created": "2026-11-22T03:07:29Z",
        }
    deployments: dict[str, Any] = {}
    for (ns, name), (rs, labels, want) in world.deployments.items():
        mine = [p for p in world.pods.values() if p.owner == rs and p.ns == ns and not p.terminating]
        ready = sum(1 for p in mine if p.ready)
        deployments[f"{ns}/{name}"] = {
            "key": f"{ns}/{name}",
            "namespace": ns,
            "name": name,
            "replicas": want,
            "readyReplicas": ready,
            "updatedReplicas": len(mine),
            "availableReplicas": ready,
            "selector": {k: v for k, v in labels.items() if k != "pod-template-hash"},
            "services": sorted(
                k for k, sv in world.svcs.items() if sv.ns == ns and matches(sv.selector, labels)
            ),
        }
    namespaces = sorted({s.ns for s in world.svcs.values()} | {p.ns for p in world.pods.values()})
    return {
        "meta": {**meta, "namespaces": namespaces},
        "services": services,
        "pods": pods_view,
        "deployments": deployments,
    }


class Hub:
    def __init__(self, world: World, meta: dict[str, Any]) -> None:
        self.world = world
        self.meta = meta
        self.seq = 0
        self.view = project(world, meta)
        self.timeline: list[dict[str, Any]] = []
        self.buffer: list[tuple[int, str]] = []
        self.queues: set[asyncio.Queue[tuple[str, int, str] | None]] = set()
        self.next_entry = 1

    def snapshot(self) -> dict[str, Any]:
        return {"seq": self.seq, **copy.deepcopy(self.view), "timeline": list(self.timeline)}

    def commit(self, texts: list[tuple[str, str]], *, clear: bool = False) -> None:
        new = project(self.world, self.meta)
        ops: list[dict[str, Any]] = []
        if clear:
            self.timeline = []
            ops.append({"op": "timeline-clear"})
        for coll in ("services", "pods", "deployments"):
            old = self.view[coll]
            for k, v in new[coll].items():
                if old.get(k) != v:
                    ops.append({"op": "put", "coll": coll, "key": k, "value": v})
            for k in old:
                if k not in new[coll]:
                    ops.append({"op": "del", "coll": coll, "key": k})
        if new["meta"] != self.view["meta"]:
            ops.append({"op": "meta", "value": new["meta"]})
        for kind, text in texts:
            entry = {"id": self.next_entry, "time": time.time(), "kind": kind, "service": None, "text": text}
            self.next_entry += 1
            self.timeline = [entry, *self.timeline][:200]
            ops.append({"op": "timeline", "entry": entry})
        self.view = new
        if not ops:
            return
        self.seq += 1
        data = json.dumps({"seq": self.seq, "ops": ops})
        self.buffer = [*self.buffer, (self.seq, data)][-1024:]
        for q in self.queues:
            q.put_nowait(("delta", self.seq, data))

    def drop_all(self) -> int:
        n = len(self.queues)
        for q in self.queues:
            q.put_nowait(None)
        return n


def lesson_world() -> World:
    w = World()
    w.svcs["default/shipping-api-service"] = Svc(
        "default", "shipping-api-service", {"app": "shipping-api"}, "10.96.188.203"
    )
    w.svcs["default/web-svc"] = Svc("default", "web-svc", {"app": "web"}, "10.96.14.7", 80, 80)
    w.svcs["default/legacy-db"] = Svc("default", "legacy-db", None, "10.96.200.31", 5432, 5432)
    w.svcs["shop/cart"] = Svc("shop", "cart", {"app": "cart"}, "10.96.77.1", 8080, 8080)
    w.add_pod("shop", "cart-5f7d9c8b6", {"app": "cart", "pod-template-hash": "5f7d9c8b6"})
    for _ in range(4):
        w.add_pod(
            "default", "shipping-api-8465d5b4d7", {"app": "shipping-api", "pod-template-hash": "8465d5b4d7"}
        )
    for _ in range(2):
        w.add_pod("default", "web-6d4c8b9f7", {"app": "web", "pod-template-hash": "6d4c8b9f7"})
    w.deployments[("default", "shipping-api")] = (
        "shipping-api-8465d5b4d7",
        {"app": "shipping-api", "pod-template-hash": "8465d5b4d7"},
        4,
    )
    w.deployments[("default", "web")] = ("web-6d4c8b9f7", {"app": "web", "pod-template-hash": "6d4c8b9f7"}, 2)
    return w


STUB_SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "endpoints-basics",
        "title": "Endpoints basics: shipping-api",
        "summary": "Four pods behind a Service; one fails its probe, then one is relabelled.",
        "steps": [
            {
                "title": "A Service selects four pods",
                "narration": "shipping-api-service forwards port 80 to 8080 on four ready pods.",
                "do": None,
                "services": ["default/shipping-api-service"],
            },
            {
                "title": "One probe fails",
                "narration": "One pod fails its readiness probe: its address stays listed, not ready.",
                "do": "fail",
                "services": ["default/shipping-api-service"],
            },
            {
                "title": "The probe passes again",
                "narration": "The probe passes again and the address is ready once more.",
                "do": "pass",
                "services": ["default/shipping-api-service"],
            },
        ],
    },
    {
        "name": "readiness",
        "title": "Readiness",
        "summary": "web-svc and a pod that fails its probe.",
        "steps": [{"title": "web-svc", "narration": "web-svc has two pods.", "do": None, "services": []}],
    },
]


def create_stub_app(
    *,
    mode: str = "sim",
    actions: bool = True,
    ready_after: float = 0.3,
    present_token: str | None = None,
) -> FastAPI:
    """`mode`: sim, kube or replay. `present_token`: like --present, every POST then needs
    X-Slicescope-Token. GET api/debug/calls lists the classroom POSTs the page made."""
    meta = {
        "cluster": {
            "mode": mode,
            "name": "simulated cluster" if mode == "sim" else "kind-dev",
            "server": "" if mode == "sim" else "https://127.0.0.1:6443",
            "namespaces": [],
            "readOnly": not actions,
        },
        "connection": {"state": "live", "message": "", "since": time.time(), "problems": []},
        "actions": actions,
        "timelineLimit": 200,
        "classroom": {"presenting": present_token is not None, "scenario": None},
    }
    world = lesson_world()
    hub = Hub(world, meta)
    app = FastAPI()
    app.state.hub = hub
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(("html",)))

    def owned(dep: tuple[str, str]) -> list[Pod]:
        rs = world.deployments[dep][0]
        return [p for p in world.pods.values() if p.owner == rs and p.ns == dep[0] and not p.terminating]

    def reconcile_later() -> None:
        asyncio.get_running_loop().call_later(0.05, reconcile)

    def reconcile() -> None:
        for dep, (rs, labels, want) in world.deployments.items():
            have = owned(dep)
            for _ in range(want - len(have)):
                pod = world.add_pod(dep[0], rs, labels, ready=False)
                asyncio.get_running_loop().call_later(ready_after, become_ready, f"{pod.ns}/{pod.name}")
            for pod in have[want:]:
                start_delete(pod)
        hub.commit([])

    def become_ready(key: str) -> None:
        pod = world.pods.get(key)
        if pod and pod.probe_ok and not pod.ready:
            pod.ready = True
            hub.commit([])

    def start_delete(pod: Pod) -> None:
        pod.terminating = True
        key = f"{pod.ns}/{pod.name}"
        asyncio.get_running_loop().call_later(
            ready_after * 2, lambda: (world.pods.pop(key, None), hub.commit([]))
        )

    def static_url(path: str) -> str:
        return f"static/{path}?v=dev"

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        snap = (
            json.dumps(hub.snapshot()).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        )
        html = env.get_template("index.html").render(
            static_url=static_url, bootstrap=Markup(snap), cluster=meta["cluster"]
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/api/snapshot")
    async def snapshot() -> JSONResponse:
        return JSONResponse(hub.snapshot())

    @app.get("/events")
    async def events(request: Request, lastEventId: str | None = None) -> EventSourceResponse:
        raw = request.headers.get("last-event-id") or lastEventId
        last = int(raw) if raw and raw.isdigit() else None
        q: asyncio.Queue[tuple[str, int, str] | None] = asyncio.Queue()
        buffered = {seq for seq, _ in hub.buffer}
        if last is None or last > hub.seq or (last < hub.seq and last + 1 not in buffered):
            q.put_nowait(("snapshot", hub.seq, json.dumps(hub.snapshot())))
        else:
            for seq, data in hub.buffer:
                if seq > last:
                    q.put_nowait(("delta", seq, data))
        hub.queues.add(q)

        async def stream() -> AsyncIterator[ServerSentEvent]:
            try:
                while True:
                    item = await q.get()
                    if item is None:
                        return
                    yield ServerSentEvent(data=item[2], event=item[0], id=str(item[1]))
            finally:
                hub.queues.discard(q)

        return EventSourceResponse(stream(), ping=5)

    def forbidden() -> JSONResponse | None:
        return None if actions else JSONResponse({"error": "read-only"}, status_code=403)

    @app.post("/api/actions/readiness")
    async def readiness(body: dict[str, Any]) -> Any:
        pod = world.pods.get(f"{body['namespace']}/{body['pod']}")
        if not pod:
            return JSONResponse({"error": "no such pod"}, status_code=404)
        pod.probe_ok = bool(body["passing"])
        pod.ready = pod.probe_ok
        hub.commit(
            [
                (
                    "action",
                    f"readiness probe of pod {pod.ns}/{pod.name} set to {'passing' if pod.ready else 'failing'}",  # noqa: E501
                )
            ]
        )
        return {"ok": True}

    @app.post("/api/actions/label")
    async def label(body: dict[str, Any]) -> Any:
        pod = world.pods.get(f"{body['namespace']}/{body['pod']}")
        if not pod:
            return JSONResponse({"error": "no such pod"}, status_code=404)
        for k, v in body["labels"].items():
            if v is None:
                pod.labels.pop(k, None)
            else:
                pod.labels[k] = v
        for rs, labels, _ in world.deployments.values():
            if pod.owner == rs and not all(
                pod.labels.get(k) == v for k, v in labels.items() if k != "pod-template-hash"
            ):
                pod.owner = None
        hub.commit([("action", f"labelled pod {pod.ns}/{pod.name}")])
        reconcile_later()
        return {"ok": True}

    @app.post("/api/actions/delete")
    async def delete(body: dict[str, Any]) -> Any:
        pod = world.pods.get(f"{body['namespace']}/{body['pod']}")
        if not pod:
            return JSONResponse({"error": "no such pod"}, status_code=404)
        start_delete(pod)
        hub.commit([("action", f"deleted pod {pod.ns}/{pod.name}")])
        reconcile_later()
        return {"ok": True}

    @app.post("/api/actions/scale")
    async def scale(body: dict[str, Any]) -> Any:
        dep = (body["namespace"], body["name"])
        if dep not in world.deployments:
            return JSONResponse({"error": "no such deployment"}, status_code=404)
        rs, labels, _ = world.deployments[dep]
        world.deployments[dep] = (rs, labels, int(body["replicas"]))
        hub.commit([("action", f"scaled deployment {dep[0]}/{dep[1]} to {body['replicas']}")])
        reconcile_later()
        return {"ok": True}

    @app.get("/api/explain/pod/{ns}/{name}")
    async def explain_pod(ns: str, name: str) -> Any:
        pod = hub.view["pods"].get(f"{ns}/{name}")
        if not pod:
            return JSONResponse({"error": "not found"}, status_code=404)
        return {
            "summary": "ready endpoint" if pod["ready"] else "not ready",
            "checks": [{"text": "labels match", "ok": bool(pod["services"])}],
        }

    @app.get("/api/explain/service/{ns}/{name}")
    async def explain_service(ns: str, name: str) -> Any:
        return {"summary": f"service {ns}/{name}"}

    @app.post("/api/debug/drop-streams")
    async def drop() -> Any:
        return {"dropped": hub.drop_all()}

    @app.post("/api/debug/skip-seq")
    async def skip_seq() -> Any:
        """Lose one message on purpose: the next delta leaves a gap the page must notice."""
        hub.seq += 1
        return {"seq": hub.seq}

    @app.post("/api/debug/source")
    async def source(body: dict[str, Any]) -> Any:
        meta["connection"] = {
            "state": body.get("state", "live"),
            "message": body.get("message", ""),
            "since": time.time(),
            "problems": body.get("problems", []),
        }
        hub.commit([("source", f"cluster watch {meta['connection']['state']}")])
        return {"ok": True}

    # ---- classroom: scenarios, replay, record, console (stand-ins with the real routes' shapes) ----
    calls: list[dict[str, Any]] = []
    lesson: dict[str, Any] = {"scenario": None, "step": 0, "picked": None}
    replay = {"playing": True, "speed": 1.0, "position": 12.0, "duration": 120.0, "stoppedAt": None}
    if mode == "replay":
        replay["stoppedAt"] = "line 812: cut short (the recording was truncated)"
    record: dict[str, Any] = {
        "recording": False,
        "path": None,
        "items": 0,
        "bytes": 0,
        "seconds": 0.0,
        "message": None,
    }

    @app.middleware("http")
    async def presenter_only(request: Request, call_next: Any) -> Any:
        if request.method == "POST":
            calls.append({"path": request.url.path, "token": request.headers.get("x-slicescope-token")})
            if present_token is not None and request.headers.get("x-slicescope-token") != present_token:
                return JSONResponse({"error": "only the presenter can do that"}, status_code=403)
        return await call_next(request)

    def scenario_state() -> dict[str, Any] | None:
        sc = lesson["scenario"]
        if sc is None:
            return None
        n = lesson["step"]
        step = sc["steps"][n - 1] if n > 0 else None
        picked = lesson["picked"]
        pods = [picked] if picked and step and step["do"] else []
        ips = [world.pods[picked].ip] if pods and picked in world.pods else []
        ready = sum(
            1
            for p in world.pods.values()
            if p.labels.get("app") == "shipping-api" and p.ready and p.ns == "default"
        )
        return {
            "name": sc["name"],
            "title": sc["title"],
            "summary": sc["summary"],
            "step": n,
            "total": len(sc["steps"]),
            "stepTitle": step["title"] if step else None,
            "narration": step["narration"] if step else None,
            "highlight": {"services": step["services"] if step else [], "pods": pods, "ips": ips},
            "checks": [{"text": f"shipping-api-service has {ready} ready endpoints", "ok": True}]
            + ([{"text": "every shipping-api pod is ready", "ok": ready == 4}] if n else []),
            "busy": False,
        }

    def publish(clear: bool = False) -> dict[str, Any] | None:
        state = scenario_state()
        meta["classroom"] = {"presenting": present_token is not None, "scenario": state}
        hub.commit([], clear=clear)
        return state

    def run_step(n: int) -> None:
        do = lesson["scenario"]["steps"][n - 1]["do"]
        if do is None:
            return
        if lesson["picked"] is None:
            first = sorted(
                k for k, p in world.pods.items() if p.labels.get("app") == "shipping-api" and p.ready
            )[0]
            lesson["picked"] = first
        pod = world.pods[lesson["picked"]]
        pod.probe_ok = pod.ready = do == "pass"

    def rebuild(to: int) -> None:
        for pod in world.pods.values():
            pod.probe_ok = pod.ready = True
        lesson["step"] = 0
        for n in range(1, to + 1):
            run_step(n)
            lesson["step"] = n

    @app.get("/api/scenarios")
    async def list_scenarios() -> Any:
        return {
            "scenarios": [
                {"name": x["name"], "title": x["title"], "summary": x["summary"], "steps": len(x["steps"])}
                for x in STUB_SCENARIOS
            ],
            "active": scenario_state(),
        }

    @app.post("/api/scenarios/start")
    async def start(body: dict[str, Any]) -> Any:
        found = [x for x in STUB_SCENARIOS if x["name"] == body.get("name")]
        if not found:
            return JSONResponse({"error": f"no scenario named {body.get('name')}"}, status_code=404)
        lesson.update(scenario=found[0], step=0, picked=None)
        rebuild(0)
        return publish(clear=True)

    def need_scenario() -> JSONResponse | None:
        return None if lesson["scenario"] else JSONResponse({"error": "no scenario running"}, status_code=409)

    @app.post("/api/scenarios/next")
    async def next_step() -> Any:
        if (r := need_scenario()) is not None:
            return r
        if lesson["step"] < len(lesson["scenario"]["steps"]):
            run_step(lesson["step"] + 1)
            lesson["step"] += 1
        return publish()

    @app.post("/api/scenarios/back")
    async def back_step() -> Any:
        if (r := need_scenario()) is not None:
            return r
        rebuild(max(0, lesson["step"] - 1))
        return publish(clear=True)

    @app.post("/api/scenarios/restart")
    async def restart() -> Any:
        if (r := need_scenario()) is not None:
            return r
        lesson["picked"] = None
        rebuild(0)
        return publish(clear=True)

    @app.post("/api/scenarios/stop")
    async def stop() -> Any:
        lesson.update(scenario=None, step=0, picked=None)
        return publish()

    @app.get("/api/replay")
    async def replay_state() -> Any:
        if mode != "replay":
            return JSONResponse({"error": "not replaying"}, status_code=404)
        return replay

    @app.post("/api/replay/{what}")
    async def replay_control(what: str, request: Request) -> Any:
        if mode != "replay":
            return JSONResponse({"error": "not replaying"}, status_code=404)
        body = await request.json() if what in ("speed", "seek") else {}
        if what == "play":
            replay["playing"] = True
        elif what == "pause":
            replay["playing"] = False
        elif what == "speed":
            replay["speed"] = float(body["speed"])
        elif what == "seek":
            replay["position"] = max(0.0, min(float(body["position"]), replay["duration"]))
            hub.commit([], clear=True)
        return replay

    @app.get("/api/record")
    async def record_state() -> Any:
        if mode == "replay":
            return JSONResponse({"error": "not available while replaying"}, status_code=404)
        return record

    @app.post("/api/record/start")
    async def record_start(request: Request) -> Any:
        body = await request.json()
        name = (body or {}).get("path") or "slicescope-20261122-030729.jsonl"
        record.update(recording=True, path=f"recordings/{name}", items=9, bytes=2048, seconds=0.0)
        return record

    @app.post("/api/record/stop")
    async def record_stop() -> Any:
        record.update(recording=False, items=record["items"] + 3)
        return record

    @app.post("/api/console/run")
    async def console_run(body: dict[str, Any]) -> Any:
        if mode != "sim":
            return JSONResponse({"error": "the kubectl console works only with the simulated cluster"}, 403)
        command = str(body.get("command", ""))
        if command.startswith("kubectl get endpoints"):
            eps = hub.view["services"]["default/shipping-api-service"]["endpoints"]["subsets"]
            ips = ",".join(f"{a['ip']}:8080" for sub in eps for a in sub["addresses"])
            out = f"NAME                   ENDPOINTS   AGE\nshipping-api-service   {ips}   5m\n"
            return {"exitCode": 0, "output": out, "timedOut": False, "truncated": False, "streaming": False}
        if not command.startswith("kubectl "):
            return JSONResponse({"error": "refused: the command must start with kubectl"}, status_code=400)
        return {
            "exitCode": 1,
            "output": f"<b>stub</b> cannot run: {command}\n",
            "timedOut": False,
            "truncated": False,
            "streaming": False,
        }

    @app.get("/api/debug/calls")
    async def debug_calls() -> Any:
        return calls

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_stub_app(), host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
