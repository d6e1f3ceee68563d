"""A stand-in server for page development and page-only tests: the routes of docs/view-model.md over a
tiny hand-rolled cluster (no simulator). Run: python -m tests.browser.stub_server [port]."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
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
    version: int = 0  # bumped when pods come, go or change labels (the indexes follow)
    _index: tuple[int, Any] | None = None

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
        self.version += 1
        return pod

    def indexes(self) -> tuple[Index, dict[tuple[str, str], list[Pod]]]:
        """The pod and Service indexes and pods by owner, rebuilt only when the pods' shape changed."""
        if self._index is None or self._index[0] != self.version:
            self._index = (self.version, (Index(self), _owned(self)))
        return self._index[1]


def matches(sel: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return bool(sel) and all(labels.get(k) == v for k, v in (sel or {}).items())


def ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(p) for p in ip.split("."))


def _endpoint(p: Pod) -> dict[str, Any]:
    return {
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


class Index:
    """Pods by (namespace, app label) and Services by namespace, so a big world projects in O(pods)."""

    def __init__(self, world: World) -> None:
        self.pods_by_app: dict[tuple[str, str | None], list[Pod]] = {}
        self.pods_by_ns: dict[str, list[Pod]] = {}
        for p in world.pods.values():
            self.pods_by_app.setdefault((p.ns, p.labels.get("app")), []).append(p)
            self.pods_by_ns.setdefault(p.ns, []).append(p)
        self.svcs_by_ns: dict[str, list[tuple[str, Svc]]] = {}
        for k, s in world.svcs.items():
            self.svcs_by_ns.setdefault(s.ns, []).append((k, s))

    def pods_of(self, s: Svc) -> list[Pod]:
        if not s.selector:
            return []
        pool = (
            self.pods_by_app.get((s.ns, s.selector["app"]), [])
            if "app" in s.selector
            else self.pods_by_ns.get(s.ns, [])
        )
        return [p for p in pool if matches(s.selector, p.labels)]

    def services_of(self, p: Pod) -> list[str]:
        return sorted(k for k, s in self.svcs_by_ns.get(p.ns, []) if matches(s.selector, p.labels))


def project_service(s: Svc, pods: list[Pod]) -> dict[str, Any]:
    key = f"{s.ns}/{s.name}"
    pods = sorted(pods, key=lambda p: ip_key(p.ip))
    eps = [_endpoint(p) for p in pods]
    slices = []
    if s.selector is not None:
        chunks = [eps[i : i + SLICE_MAX] for i in range(0, len(eps), SLICE_MAX)] or [[]]
        for i, chunk in enumerate(chunks):
            slices.append(
                {
                    "name": f"{s.name}-{'abcdefghijklmnopqrstuvwxyz'[i % 26]}x7k{i}",
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
    return {
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
                    "addresses": [{"ip": e["ip"], "pod": e["pod"], "node": e["node"]} for e in ready[:1000]],
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


def project_pod(p: Pod, svc_keys: list[str]) -> dict[str, Any]:
    return {
        "key": f"{p.ns}/{p.name}",
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


def project_deployment(
    world: World, ns: str, name: str, idx: Index, owned: dict[tuple[str, str], list[Pod]]
) -> dict[str, Any]:
    rs, labels, want = world.deployments[(ns, name)]
    mine = [p for p in owned.get((ns, rs), []) if not p.terminating]
    ready = sum(1 for p in mine if p.ready)
    selector = {k: v for k, v in labels.items() if k != "pod-template-hash"}
    return {
        "key": f"{ns}/{name}",
        "namespace": ns,
        "name": name,
        "replicas": want,
        "readyReplicas": ready,
        "updatedReplicas": len(mine),
        "availableReplicas": ready,
        "selector": selector,
        "services": sorted(k for k, sv in idx.svcs_by_ns.get(ns, []) if matches(sv.selector, labels)),
    }


def _owned(world: World) -> dict[tuple[str, str], list[Pod]]:
    out: dict[tuple[str, str], list[Pod]] = {}
    for p in world.pods.values():
        if p.owner:
            out.setdefault((p.ns, p.owner), []).append(p)
    return out


def project(world: World, meta: dict[str, Any]) -> dict[str, Any]:
    idx = Index(world)
    services = {k: project_service(s, idx.pods_of(s)) for k, s in world.svcs.items()}
    pods_view = {k: project_pod(p, idx.services_of(p)) for k, p in world.pods.items()}
    owned = _owned(world)
    deployments = {
        f"{ns}/{name}": project_deployment(world, ns, name, idx, owned) for ns, name in world.deployments
    }
    namespaces = sorted({s.ns for s in world.svcs.values()} | {p.ns for p in world.pods.values()})
    return {
        "meta": {**meta, "namespaces": namespaces},
        "services": services,
        "pods": pods_view,
        "deployments": deployments,
    }


def project_some(
    world: World, meta: dict[str, Any], old: dict[str, Any], pod_keys: set[str]
) -> dict[str, Any]:
    """The view after changes to these pods only: their Services (before and after) and Deployments
    are projected again, everything else is kept (a big world changes in O(touched))."""
    idx, owned_all = world.indexes()
    svc_keys: set[str] = set()
    dep_keys: set[str] = set()
    pods_view = dict(old["pods"])
    rs_to_dep = {(ns, rs): f"{ns}/{name}" for (ns, name), (rs, _, _) in world.deployments.items()}
    for k in pod_keys:
        before = old["pods"].get(k)
        if before:
            svc_keys.update(before["services"])
            if before["owner"]:
                dep_keys.add(rs_to_dep.get((before["namespace"], before["owner"]["name"]), ""))
        p = world.pods.get(k)
        if p is None:
            pods_view.pop(k, None)
            continue
        mine = idx.services_of(p)
        svc_keys.update(mine)
        if p.owner:
            dep_keys.add(rs_to_dep.get((p.ns, p.owner), ""))
        pods_view[k] = project_pod(p, mine)
    services = dict(old["services"])
    for k in svc_keys:
        if k in world.svcs:
            services[k] = project_service(world.svcs[k], idx.pods_of(world.svcs[k]))
    deployments = dict(old["deployments"])
    for k in dep_keys - {""}:
        ns, name = k.split("/", 1)
        deployments[k] = project_deployment(world, ns, name, idx, owned_all)
    return {"meta": old["meta"], "services": services, "pods": pods_view, "deployments": deployments}


class Hub:
    def __init__(self, world: World, meta: dict[str, Any]) -> None:
        self.world = world
        self.meta = meta
        self.seq = 0
        self.view = project(world, meta)
        self.timeline: list[dict[str, Any]] = []
        self.buffer: list[tuple[int, str]] = []
        self.queues: set[asyncio.Queue[tuple[str, int, str] | None]] = set()
        self.written: dict[int, int] = {}  # per open stream (by queue id): the last seq written to it
        self.next_entry = 1
        self._snap: tuple[int, str] | None = None

    def snapshot(self) -> dict[str, Any]:
        return {"seq": self.seq, **self.view, "timeline": list(self.timeline)}

    def snapshot_text(self) -> str:
        """The snapshot encoded once per seq (a big world's is megabytes)."""
        if self._snap is None or self._snap[0] != self.seq:
            self._snap = (self.seq, json.dumps(self.snapshot()))
        return self._snap[1]

    def commit(
        self,
        texts: list[tuple[str, str]],
        *,
        clear: bool = False,
        touched: set[str] | None = None,
        entries: list[dict[str, Any]] | None = None,
    ) -> None:
        """Project the world again (only `touched` pods and what they belong to, when given), send
        the difference as one delta."""
        new = (
            project(self.world, self.meta)
            if touched is None
            else project_some(self.world, self.meta, self.view, touched)
        )
        ops: list[dict[str, Any]] = []
        if clear:
            self.timeline = []
            ops.append({"op": "timeline-clear"})
        for coll in ("services", "pods", "deployments"):
            old = self.view[coll]
            for k, v in new[coll].items():
                if old.get(k) is not v and old.get(k) != v:
                    ops.append({"op": "put", "coll": coll, "key": k, "value": v})
            for k in old:
                if k not in new[coll]:
                    ops.append({"op": "del", "coll": coll, "key": k})
        if new["meta"] != self.view["meta"]:
            ops.append({"op": "meta", "value": new["meta"]})
        stamped = [
            {"id": 0, "time": time.time(), "kind": kind, "service": None, "text": text}
            for kind, text in texts
        ] + list(entries or [])
        for entry in stamped:
            entry["id"] = self.next_entry
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


def big_world(pods: int = 10_000, services: int = 1_000, namespaces: int = 10) -> World:
    """A cluster at real-cluster scale: one Service with 1,100 endpoints (eleven full slices), nine with
    200, the rest small; every Service has its Deployment; 2% of the pods match no Service, 3% are
    not ready and a few terminating. Deterministic (seeded)."""
    rnd = random.Random(8)
    w = World()
    spread = [1100] + [200] * 9
    orphans = pods // 50
    rest = pods - sum(spread) - orphans
    small = services - len(spread)
    spread += [rest // small + (1 if i < rest % small else 0) for i in range(small)]
    for i, n in enumerate(spread):
        ns = "default" if i == 0 else f"team-{i % namespaces:02d}"
        name = "shipping-api" if i == 0 else f"svc-{i:04d}"
        w.svcs[f"{ns}/{name}-service"] = Svc(
            ns, f"{name}-service", {"app": name}, f"10.96.{i // 250}.{i % 250 + 2}"
        )
        rs = f"{name}-{rnd.randrange(16**9):09x}"[: len(name) + 10]
        labels = {"app": name, "pod-template-hash": rs.rsplit("-", 1)[1]}
        w.deployments[(ns, name)] = (rs, labels, n)
        for _ in range(n):
            pod = w.add_pod(ns, rs, labels, ready=rnd.random() > 0.03)
            pod.probe_ok = pod.ready
            pod.terminating = rnd.random() < 0.005
    for i in range(orphans):
        ns = f"team-{i % namespaces:02d}"
        rs = f"batch-{i % 7}-5d8f9c7b4"
        w.add_pod(ns, rs, {"app": f"batch-{i % 7}", "pod-template-hash": "5d8f9c7b4"})
    w.svcs["default/kubernetes"] = Svc("default", "kubernetes", None, "10.96.0.1", 443, 6443)
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
    world: World | None = None,
) -> FastAPI:
    """`mode`: sim, kube or replay. `present_token`: like --present, every POST then needs
    X-Slicescope-Token. GET api/debug/calls lists the classroom POSTs the page made. `world`: the
    cluster to serve (big_world() for the page at scale; POST api/debug/churn then flips readiness of
    random pods at a given rate)."""
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
    world = world if world is not None else lesson_world()
    hub = Hub(world, meta)
    app = FastAPI()
    app.state.hub = hub
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(("html",)))

    def reconcile_later() -> None:
        asyncio.get_running_loop().call_later(0.05, reconcile)

    def reconcile() -> None:
        by_owner = _owned(world)
        touched: set[str] = set()
        for (ns, _), (rs, labels, want) in world.deployments.items():
            have = [p for p in by_owner.get((ns, rs), []) if not p.terminating]
            for _ in range(want - len(have)):
                pod = world.add_pod(ns, rs, labels, ready=False)
                touched.add(f"{pod.ns}/{pod.name}")
                asyncio.get_running_loop().call_later(ready_after, become_ready, f"{pod.ns}/{pod.name}")
            for pod in have[want:]:
                touched.add(start_delete(pod))
        hub.commit([], touched=touched)

    def become_ready(key: str) -> None:
        pod = world.pods.get(key)
        if pod and pod.probe_ok and not pod.ready:
            pod.ready = True
            hub.commit([], touched={key})

    def bump() -> None:
        world.version += 1

    def start_delete(pod: Pod) -> str:
        pod.terminating = True
        key = f"{pod.ns}/{pod.name}"
        asyncio.get_running_loop().call_later(
            ready_after * 2, lambda: (world.pods.pop(key, None), bump(), hub.commit([], touched={key}))
        )
        return key

    def static_url(path: str) -> str:
        return f"static/{path}?v=dev"

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        html = env.get_template("index.html").render(static_url=static_url, cluster=meta["cluster"])
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/api/snapshot")
    async def snapshot() -> Response:
        headers = {"Cache-Control": "no-store", "X-Slicescope-Event-Id": str(hub.seq)}
        return Response(hub.snapshot_text(), media_type="application/json", headers=headers)

    @app.get("/events")
    async def events(request: Request, lastEventId: str | None = None) -> EventSourceResponse:
        raw = request.headers.get("last-event-id") or lastEventId
        last = int(raw) if raw and raw.isdigit() else None
        q: asyncio.Queue[tuple[str, int, str] | None] = asyncio.Queue()
        buffered = {seq for seq, _ in hub.buffer}
        if last is None or last > hub.seq or (last < hub.seq and last + 1 not in buffered):
            q.put_nowait(("snapshot", hub.seq, hub.snapshot_text()))
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
                    hub.written[id(q)] = item[1]  # resumed once the response has sent it
            finally:
                hub.queues.discard(q)
                hub.written.pop(id(q), None)

        return EventSourceResponse(stream(), ping=5)

    churn: dict[str, Any] = {"task": None, "flips": 0, "log": []}

    async def run_churn(rate: float, seconds: float, tick: float, deltas: int) -> None:
        rnd = random.Random(11)
        keys = sorted(k for k, p in world.pods.items() if p.owner and not p.terminating)
        carry = 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await asyncio.sleep(tick)
            carry += rate * tick
            n, carry = int(carry), carry - int(carry)
            # the tick's flips as `deltas` messages sent back to back
            for part_n in [n // deltas + (1 if i < n % deltas else 0) for i in range(deltas)]:
                touched: set[str] = set()
                entries = []
                for _ in range(part_n):
                    key = rnd.choice(keys)
                    pod = world.pods.get(key)
                    if pod is None or pod.terminating:
                        continue
                    pod.ready = pod.probe_ok = not pod.ready
                    touched.add(key)
                    churn["log"].append((key, "ready" if pod.ready else "not-ready", time.time()))
                    svc = next(iter(hub.view["pods"][key]["services"]), None)
                    entries.append(
                        {
                            "id": 0,
                            "time": time.time(),
                            "kind": "endpoint",
                            "service": svc,
                            "ip": pod.ip,
                            "pod": pod.name,
                            "text": f"{pod.ip} → {'ready' if pod.ready else 'not ready'}",
                        }
                    )
                if touched:
                    hub.commit([], touched=touched, entries=entries)
                    churn["flips"] += len(touched)

    @app.post("/api/debug/churn")
    async def start_churn(body: dict[str, Any]) -> Any:
        """Flip the readiness of `rate` random pods a second for `seconds`: every `tick`, in `deltas`
        messages sent back to back (1 by default)."""
        task = asyncio.get_running_loop().create_task(
            run_churn(
                float(body.get("rate", 200)),
                float(body.get("seconds", 10)),
                float(body.get("tick", 0.05)),
                int(body.get("deltas", 1)),
            )
        )
        churn["task"] = task
        return {"ok": True}

    @app.get("/api/debug/churn")
    async def churn_state() -> Any:
        task = churn["task"]
        log = churn["log"][-20000:]
        return {
            "running": bool(task and not task.done()),
            "flips": churn["flips"],
            "seq": hub.seq,
            "log": log,
        }

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
            touched={f"{pod.ns}/{pod.name}"},
            texts=[
                (
                    "action",
                    f"readiness probe of pod {pod.ns}/{pod.name} set to {'passing' if pod.ready else 'failing'}",  # noqa: E501
                )
            ],
        )
        return {"ok": True}

    @app.post("/api/actions/label")
    async def label(body: dict[str, Any]) -> Any:
        pod = world.pods.get(f"{body['namespace']}/{body['pod']}")
        if not pod:
            return JSONResponse({"error": "no such pod"}, status_code=404)
        world.version += 1
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
        hub.commit([("action", f"labelled pod {pod.ns}/{pod.name}")], touched={f"{pod.ns}/{pod.name}"})
        reconcile_later()
        return {"ok": True}

    @app.post("/api/actions/delete")
    async def delete(body: dict[str, Any]) -> Any:
        pod = world.pods.get(f"{body['namespace']}/{body['pod']}")
        if not pod:
            return JSONResponse({"error": "no such pod"}, status_code=404)
        start_delete(pod)
        hub.commit([("action", f"deleted pod {pod.ns}/{pod.name}")], touched={f"{pod.ns}/{pod.name}"})
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
        """The engine's shape: each pod the selector matches or the slices list, with its verdict."""
        svc = hub.view["services"].get(f"{ns}/{name}")
        if svc is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        pods = []
        for ep in (e for sl in svc["slices"] for e in sl["endpoints"]):
            why = [] if ep["state"] == "ready" else [ep["reason"] or ep["state"]]
            pods.append(
                {
                    "pod": ep["pod"],
                    "ip": ep["ip"],
                    "matches": True,
                    "endpoint": True,
                    "state": ep["state"],
                    "reasons": ["labels match the selector", *why],
                }
            )
        return {
            "service": f"{ns}/{name}",
            "readyCount": svc["counts"]["ready"],
            "diagnosis": svc["diagnosis"],
            "pods": pods,
        }

    @app.get("/api/debug/streams")
    async def streams() -> Any:
        """The seq of the last message written to each open stream (a test holds a page until a
        burst has gone out to it)."""
        return {"seq": hub.seq, "written": [hub.written.get(id(q), -1) for q in hub.queues]}

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
