"""Kubelet stand-in: starts the pods bound to the simulated nodes after a delay with an IP from
the node's podCIDR, runs readiness probes on the clock, and finishes graceful deletion. A pod's
probe outcome is its annotation `sim.slicescope.io/readiness` ("fail" makes every readiness probe
of the pod fail; absent or "pass" lets them pass)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from app.sim.clock import SimClock, Timer
from app.sim.controllers.common import (
    READINESS_ANNOTATION,
    WorkQueue,
    condition,
    is_terminal,
    is_terminating,
    light_mutate,
    shared,
    stamp,
)
from app.sim.controllers.events import EventRecorder
from app.sim.controllers.nodes import NodeCache, NodeInfo
from app.sim.errors import ApiError
from app.sim.store import Key, ObjectStore, StoreEvent, key_of
from app.timefmt import parse_rfc3339

Obj = dict[str, Any]


def probe_passing(pod: Obj) -> bool:
    value = ((pod["metadata"].get("annotations") or {}).get(READINESS_ANNOTATION) or "pass").strip().lower()
    return value != "fail"


def probe_failure_message(probe: Obj, pod: Obj, port_hint: object = None) -> str:
    if "httpGet" in probe:
        return "Readiness probe failed: HTTP probe failed with statuscode: 503"
    if "tcpSocket" in probe:
        ip = (pod.get("status") or {}).get("podIP", "")
        port = probe["tcpSocket"].get("port", port_hint)
        return f"Readiness probe failed: dial tcp {ip}:{port}: connect: connection refused"
    return "Readiness probe failed: command exited with non-zero status 1"


# ---- kubelet ---------------------------------------------------------------------------------
@dataclass(slots=True)
class _Probe:
    container: str
    spec: Obj
    origin: float  # time of the first probe: container start + initialDelaySeconds
    period: float
    success: int
    failure: int
    ready: bool = False
    last: bool | None = None
    run: int = 0  # consecutive results equal to `last`
    last_at: float | None = None
    timer: Timer | None = None


@dataclass(slots=True)
class _Runtime:
    uid: str
    node: str
    accepted: float
    phase: str = "creating"  # creating | running | killing
    ip: str | None = None
    started: float | None = None
    passing: bool = True
    timer: Timer | None = None  # start or final-removal timer
    probes: list[_Probe] = field(default_factory=list)  # one per container with a readinessProbe

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for p in self.probes:
            if p.timer is not None:
                p.timer.cancel()
                p.timer = None


class Kubelet:
    """One kubelet stand-in for every simulated node. Per-pod work is timers on the clock that
    are cancelled when the pod goes; a pod that is Ready with passing probes costs nothing."""

    def __init__(
        self,
        store: ObjectStore,
        clock: SimClock,
        *,
        events: EventRecorder | None = None,
        start_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events or EventRecorder(store, clock)
        self.start_seconds = start_seconds
        self._nodes = NodeCache()
        self._queue = WorkQueue(clock, self._sync)
        self._pods: dict[Key, _Runtime] = {}
        self._writing = False  # the kubelet's own pod writes: nothing to react to
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for node in self.store.list("Node"):
            self._nodes.on_node(StoreEvent("ADDED", "Node", node, 0))
        for pod in self.store.list("Pod"):
            if (pod.get("spec") or {}).get("nodeName"):
                self._queue.add(key_of(pod))

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        for rt in self._pods.values():
            rt.cancel()

    def _on_event(self, event: StoreEvent) -> None:
        if event.kind == "Node":
            self._nodes.on_node(event)
        elif event.kind == "Pod" and not self._writing:
            key = key_of(event.obj)
            if key in self._pods or (event.obj.get("spec") or {}).get("nodeName"):
                self._queue.add(key)

    def _write(self, key: Key, fn: Any) -> Obj:
        self._writing = True
        try:
            return light_mutate(self.store, "Pod", *key, fn)
        finally:
            self._writing = False

    # ---- the sync pass ---------------------------------------------------------------------
    def _sync(self, key: Key) -> None:
        pod = self.store.get("Pod", *key)
        rt = self._pods.get(key)
        if rt is not None and (pod is None or pod["metadata"].get("uid") != rt.uid):
            self._forget(key)
            rt = None
        if pod is None:
            return
        node = self._nodes.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None or is_terminal(pod):
            return
        if rt is None:
            if is_terminating(pod):
                self._delete_now(key, pod["metadata"]["uid"])
                return
            rt = self._adopt(key, pod, node) if (pod.get("status") or {}).get("podIP") else None
            if rt is None:
                self._begin(key, pod, node)
            return
        if is_terminating(pod):
            self._kill(key, pod, rt)
            return
        if rt.phase == "running":
            passing = probe_passing(pod)
            if passing != rt.passing:
                rt.passing = passing
                for probe in rt.probes:
                    self._poke(key, rt, probe)
            self._write_readiness(key, rt)

    def _begin(self, key: Key, pod: Obj, node: NodeInfo) -> None:
        """Accept the pod: ContainerCreating, then running after start_seconds."""
        uid = pod["metadata"]["uid"]
        now = self.clock.now()
        rt = _Runtime(uid=uid, node=node.name, accepted=now)
        self._pods[key] = rt
        containers = (pod.get("spec") or {}).get("containers") or []
        names = ", ".join(c["name"] for c in containers)
        ts = stamp(now)

        def creating(draft: Obj) -> None:
            status = draft.setdefault("status", {})
            scheduled = condition(draft, "PodScheduled") or _cond("PodScheduled", True, ts)
            unready = {
                "reason": "ContainersNotReady",
                "message": f"containers with unready status: [{names}]",
            }
            status["phase"] = "Pending"
            status["conditions"] = [
                _cond("PodReadyToStartContainers", False, ts),
                _cond("Initialized", True, ts),
                _cond("Ready", False, ts, **unready),
                _cond("ContainersReady", False, ts, **unready),
                scheduled,
            ]
            status["hostIP"] = node.host_ip
            status["hostIPs"] = _ip_list(node.host_ip)
            status["startTime"] = ts
            status["containerStatuses"] = [
                {
                    "name": c["name"],
                    "state": _CREATING,
                    "lastState": _NO_STATE,
                    "ready": False,
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "imageID": "",
                    "started": False,
                }
                for c in containers
            ]

        self._write(key, creating)
        rt.timer = self.clock.call_later(self.start_seconds, lambda: self._start(key, uid))

    def _start(self, key: Key, uid: str) -> None:
        rt = self._pods.get(key)
        pod = self.store.get("Pod", *key)
        if rt is None or rt.uid != uid or rt.phase != "creating" or pod is None or is_terminating(pod):
            return
        rt.timer = None
        node = self._nodes.nodes.get(rt.node)
        ip = node.allocate_ip() if node else None
        if ip is None:
            self.events.record(
                pod,
                "Warning",
                "FailedCreatePodSandBox",
                "Failed to create pod sandbox: failed to allocate an IP: no IP addresses available in range",
                "kubelet",
                host=rt.node,
            )
            rt.timer = self.clock.call_later(10.0, lambda: self._start(key, uid))
            return
        now = self.clock.now()
        rt.ip, rt.started, rt.phase = ip, now, "running"
        rt.passing = probe_passing(pod)
        containers = (pod.get("spec") or {}).get("containers") or []
        for c in containers:
            spec = c.get("readinessProbe")
            if isinstance(spec, dict):
                rt.probes.append(_new_probe(c["name"], spec, now))
        ts = stamp(now)
        host_ip = node.host_ip if node else ""

        def running(draft: Obj) -> None:
            status = draft.setdefault("status", {})
            scheduled = condition(draft, "PodScheduled") or _cond("PodScheduled", True, ts)
            status["phase"] = "Running"
            status["conditions"] = [
                _cond("PodReadyToStartContainers", True, ts),
                _cond("Initialized", True, status.get("startTime") or ts),
                *_readiness_conditions(draft, rt, ts),
                scheduled,
            ]
            status["hostIP"] = host_ip
            status["hostIPs"] = _ip_list(host_ip)
            status["podIP"] = ip
            status["podIPs"] = [{"ip": ip}]
            status.setdefault("startTime", ts)
            status["containerStatuses"] = [
                {
                    "name": c["name"],
                    "state": _running_state(ts),
                    "lastState": _NO_STATE,
                    "ready": _container_ready(rt, c["name"]),
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "imageID": _image_id(c.get("image", "")),
                    "containerID": "containerd://"
                    + hashlib.sha256(f"{uid}/{c['name']}".encode()).hexdigest(),
                    "started": True,
                }
                for c in containers
            ]

        self._write(key, running)
        for probe in rt.probes:
            probe.timer = self.clock.call_at(probe.origin, lambda p=probe: self._probe(key, uid, p))

    def _adopt(self, key: Key, pod: Obj, node: NodeInfo) -> _Runtime | None:
        """A pod already running when the kubelet starts (e.g. loaded from a scenario)."""
        status = pod.get("status") or {}
        if status.get("phase") != "Running":
            return None
        now = self.clock.now()
        started = parse_rfc3339(status.get("startTime")) or now
        rt = _Runtime(uid=pod["metadata"]["uid"], node=node.name, accepted=started, phase="running")
        rt.ip, rt.started, rt.passing = status["podIP"], started, probe_passing(pod)
        node.reserve_ip(rt.ip)
        ready_by_name = {
            cs.get("name"): bool(cs.get("ready")) for cs in status.get("containerStatuses") or []
        }
        for c in (pod.get("spec") or {}).get("containers") or []:
            spec = c.get("readinessProbe")
            if isinstance(spec, dict):
                probe = _new_probe(c["name"], spec, started)
                probe.ready = ready_by_name.get(c["name"], False)
                probe.last, probe.run, probe.last_at = probe.ready, 10**6, now
                rt.probes.append(probe)
        self._pods[key] = rt
        for probe in rt.probes:
            if not (probe.ready and rt.passing):
                probe.timer = self.clock.call_later(probe.period, lambda p=probe: self._probe(key, rt.uid, p))
        return rt

    # ---- probes ----------------------------------------------------------------------------
    def _probe(self, key: Key, uid: str, probe: _Probe) -> None:
        rt = self._pods.get(key)
        pod = self.store.get("Pod", *key)
        if rt is None or rt.uid != uid or rt.phase != "running" or pod is None:
            return
        probe.timer = None
        now = self.clock.now()
        result = probe_passing(pod)
        rt.passing = result
        probe.last_at = now
        if result == probe.last:
            probe.run += 1
        else:
            probe.last, probe.run = result, 1
        if result and not probe.ready and probe.run >= probe.success:
            probe.ready = True
        if not result:
            self.events.record(
                pod,
                "Warning",
                "Unhealthy",
                probe_failure_message(probe.spec, pod),
                "kubelet",
                host=rt.node,
                field_path=f"spec.containers{{{probe.container}}}",
            )
            if probe.ready and probe.run >= probe.failure:
                probe.ready = False
        self._write_readiness(key, rt)
        if not (probe.ready and result):
            probe.timer = self.clock.call_later(probe.period, lambda: self._probe(key, uid, probe))

    def _poke(self, key: Key, rt: _Runtime, probe: _Probe) -> None:
        """Restart a probe that went quiet (Ready and passing) on its period grid."""
        if probe.timer is not None:
            return
        now = self.clock.now()
        base = probe.last_at if probe.last_at is not None else probe.origin - probe.period
        steps = max(1, math.ceil((now - base) / probe.period - 1e-9))
        uid = rt.uid
        probe.timer = self.clock.call_at(base + steps * probe.period, lambda: self._probe(key, uid, probe))

    def _write_readiness(self, key: Key, rt: _Runtime) -> None:
        pod = self.store.get("Pod", *key)
        if pod is None or rt.phase != "running":
            return
        ts = stamp(self.clock.now())
        want = _readiness_conditions(pod, rt, ts)
        have = [condition(pod, "Ready"), condition(pod, "ContainersReady")]
        flags = {
            cs.get("name"): cs.get("ready") for cs in (pod.get("status") or {}).get("containerStatuses") or []
        }
        same_flags = all(flags.get(n) == _container_ready(rt, n) for n in flags)
        if same_flags and all(
            h is not None and h.get("status") == w["status"] and h.get("message") == w.get("message")
            for h, w in zip(have, want, strict=True)
        ):
            return

        def update(draft: Obj) -> None:
            status = draft["status"]
            by_type = {c["type"]: c for c in want}
            conds = []
            for c in status.get("conditions") or []:
                new = by_type.get(c["type"])
                if new is None:
                    conds.append(c)
                elif c.get("status") == new["status"]:
                    conds.append(shared({**new, "lastTransitionTime": c.get("lastTransitionTime", ts)}))
                else:
                    conds.append(new)
            status["conditions"] = conds
            status["containerStatuses"] = [
                {**cs, "ready": _container_ready(rt, cs["name"])}
                for cs in status.get("containerStatuses") or []
            ]

        self._write(key, update)

    # ---- termination -----------------------------------------------------------------------
    def _kill(self, key: Key, pod: Obj, rt: _Runtime) -> None:
        md = pod["metadata"]
        grace = float(md.get("deletionGracePeriodSeconds") or 0)
        deadline = self.clock.now() + grace
        if rt.phase == "killing":
            if rt.timer is not None and deadline < rt.timer.when:  # grace period shortened
                rt.timer.cancel()
                rt.timer = self.clock.call_at(deadline, lambda: self._delete_now(key, rt.uid))
            return
        was_running = rt.phase == "running"
        rt.cancel()
        rt.phase = "killing"
        if not was_running or grace <= 0:
            self._delete_now(key, rt.uid)
            return
        for c in (pod.get("spec") or {}).get("containers") or []:
            self.events.record(
                pod,
                "Normal",
                "Killing",
                f"Stopping container {c['name']}",
                "kubelet",
                host=rt.node,
                field_path=f"spec.containers{{{c['name']}}}",
            )
        uid = rt.uid
        rt.timer = self.clock.call_at(deadline, lambda: self._delete_now(key, uid))

    def _delete_now(self, key: Key, uid: str) -> None:
        pod = self.store.get("Pod", *key)
        if pod is not None and pod["metadata"].get("uid") == uid:
            try:
                self.store.delete("Pod", *key)
            except ApiError:
                pass
        rt = self._pods.get(key)
        if rt is not None and rt.uid == uid:
            self._forget(key)

    def _forget(self, key: Key) -> None:
        rt = self._pods.pop(key)
        rt.cancel()
        node = self._nodes.nodes.get(rt.node)
        if node is not None and rt.ip:
            node.used.discard(rt.ip)


# ---- status helpers ------------------------------------------------------------------------
def _new_probe(container: str, spec: Obj, started: float) -> _Probe:
    period = float(spec.get("periodSeconds") or 10)
    return _Probe(
        container=container,
        spec=spec,
        origin=started + float(spec.get("initialDelaySeconds") or 0),
        period=max(1.0, period),
        success=max(1, int(spec.get("successThreshold") or 1)),
        failure=max(1, int(spec.get("failureThreshold") or 3)),
    )


def _cond(type_: str, ok: bool, ts: str, **extra: str) -> Obj:
    c: Obj = {
        "type": type_,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": ts,
    }
    c.update(extra)
    return shared(c)


# Shared, frozen pieces of container statuses (thousands of pods hold the same ones).
_CREATING: Obj = {"waiting": {"reason": "ContainerCreating"}}
_NO_STATE: Obj = {}


@lru_cache(maxsize=256)
def _running_state(ts: str) -> Obj:
    return {"running": {"startedAt": ts}}


@lru_cache(maxsize=256)
def _ip_list(ip: str) -> list[Obj]:
    return [{"ip": ip}]


def _container_ready(rt: _Runtime, name: str) -> bool:
    return all(p.ready for p in rt.probes if p.container == name)


def _readiness_conditions(pod: Obj, rt: _Runtime, ts: str) -> list[Obj]:
    """Ready and ContainersReady for the pod's current container readiness and readiness gates."""
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    unready = [n for n in names if not _container_ready(rt, n)]
    if unready:
        extra = {
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{' '.join(unready)}]",
        }
        return [_cond("Ready", False, ts, **extra), _cond("ContainersReady", False, ts, **extra)]
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        gtype = gate.get("conditionType", "")
        got = condition(pod, gtype)
        if got is None:
            msg = f'corresponding condition of pod readiness gate "{gtype}" does not exist.'
        elif got.get("status") != "True":
            msg = f'the status of pod readiness gate "{gtype}" is not "True", but {got.get("status")}'
        else:
            continue
        return [
            _cond("Ready", False, ts, reason="ReadinessGatesNotReady", message=msg),
            _cond("ContainersReady", True, ts),
        ]
    return [_cond("Ready", True, ts), _cond("ContainersReady", True, ts)]


@lru_cache(maxsize=256)
def _image_id(image: str) -> str:
    if not image:
        return ""
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)
    if ":" in last[-1]:
        repo = repo[: repo.rfind(":")]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
