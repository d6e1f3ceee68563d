"""Pure helpers shared by the endpoint controllers: pod readiness, named-port lookup, address
families, the Service selector index and the last-change-trigger-time tracker (no store, no clock).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.timefmt import parse_rfc3339

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_SLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LABEL_ENDPOINTS_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
ANNOTATION_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
ANNOTATION_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
MIRROR_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
ENDPOINTS_CONTROLLER = "endpoint-controller"


# ---- pods ------------------------------------------------------------------
def _status(pod: Obj) -> Obj:
    return pod.get("status") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def ready_condition(pod: Obj) -> Obj | None:
    for cond in _status(pod).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond
    return None


def is_pod_ready(pod: Obj) -> bool:
    """The pod's Ready condition is True (what the endpoint controllers call serving)."""
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_terminal(pod: Obj) -> bool:
    return _status(pod).get("phase") in ("Succeeded", "Failed")


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def pod_ips(pod: Obj) -> list[str]:
    """status.podIPs, falling back to status.podIP."""
    status = _status(pod)
    ips = [p.get("ip") for p in status.get("podIPs") or () if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """endpointsliceutil.ShouldPodBeInEndpoints: not terminal, has an IP, terminating only if asked."""
    if is_terminal(pod) or not pod_ips(pod):
        return False
    return include_terminating or not is_terminating(pod)


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What the endpoint controllers read of a pod, from one pass over it."""

    ready: bool  # the Ready condition is True
    ready_at: float | None  # the Ready condition's lastTransitionTime
    terminal: bool  # Succeeded or Failed
    terminating: bool  # deletionTimestamp set
    ips: tuple[str, ...]  # status.podIPs, else status.podIP


def status_facts(pod: Obj) -> StatusFacts:
    """The pod's StatusFacts (the last pod asked about is remembered: controllers ask in turn)."""
    if _last_facts[0] is pod:
        return _last_facts[1]  # type: ignore[no-any-return]
    status = pod.get("status") or {}
    ready, ready_at = False, None
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
            ready_at = parse_rfc3339(cond.get("lastTransitionTime"))
            break
    ips = tuple(p["ip"] for p in status.get("podIPs") or () if p.get("ip"))
    if not ips and status.get("podIP"):
        ips = (status["podIP"],)
    facts = StatusFacts(
        ready,
        ready_at,
        status.get("phase") in ("Succeeded", "Failed"),
        bool((pod.get("metadata") or {}).get("deletionTimestamp")),
        ips,
    )
    _last_facts[:] = [pod, facts]
    return facts


_last_facts: list[Any] = [None, None]


def should_set_hostname(pod: Obj, svc: Obj) -> bool:
    spec = _spec(pod)
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == svc["metadata"]["name"]
        and (svc["metadata"].get("namespace") or "") == (pod["metadata"].get("namespace") or "")
    )


def is_ipv6(ip: str) -> bool:
    return ":" in ip


def pod_trigger_time(pod: Obj) -> float | None:
    cond = ready_condition(pod)
    return parse_rfc3339(cond.get("lastTransitionTime")) if cond else None


# ---- services --------------------------------------------------------------
def selector_of(svc: Obj) -> dict[str, str] | None:
    """spec.selector, or None when absent or empty (an empty map does not survive the API round trip)."""
    sel = _spec(svc).get("selector")
    return dict(sel) if sel else None


def is_external_name(svc: Obj) -> bool:
    return _spec(svc).get("type") == "ExternalName"


def is_headless(svc: Obj) -> bool:
    # Kubernetes tests "ClusterIP unset or None"; an unallocated ClusterIP only happens in the
    # simulator before allocation, so only the explicit None counts here.
    return _spec(svc).get("clusterIP") == "None"


def ip_families(svc: Obj) -> list[str]:
    """spec.ipFamilies, else the family of spec.clusterIP, else IPv4."""
    fams = [f for f in _spec(svc).get("ipFamilies") or () if f in ("IPv4", "IPv6")]
    if fams:
        return list(dict.fromkeys(fams))
    cip = _spec(svc).get("clusterIP") or ""
    if cip and cip != "None" and is_ipv6(cip):
        return ["IPv6"]
    return ["IPv4"]


def port_protocol(port: Obj) -> str:
    return port.get("protocol") or "TCP"


def find_port(pod: Obj, svc_port: Obj) -> int | None:
    """podutil.FindPort: a numeric targetPort as is (missing: the port), a named one looked up
    among the pod's container ports (and restartable init containers) by name and protocol."""
    target = svc_port.get("targetPort")
    if target is None or target == 0 or target == "":
        return int(svc_port.get("port") or 0) or None
    if isinstance(target, int):
        return target
    proto = port_protocol(svc_port)
    spec = _spec(pod)
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for c in containers:
        for cp in c.get("ports") or ():
            if cp.get("name") == target and port_protocol(cp) == proto:
                return int(cp["containerPort"])
    return None


# ---- Service selector index -------------------------------------------------
@dataclass
class SelectorIndex:
    """Which Services (by key) select a pod, without scanning every Service.

    Each Service is filed under one (namespace, label key, value) pair of its selector; a pod is
    checked only against the Services filed under one of its own labels. Answers are remembered
    per labels dict (the pods of a ReplicaSet share theirs) until a Service changes.
    """

    _selectors: dict[Key, dict[str, str]] = field(default_factory=dict)
    _filed_under: dict[Key, tuple[str, str, str]] = field(default_factory=dict)
    _buckets: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    _answers: dict[tuple[int, str], tuple[dict[str, str], frozenset[Key]]] = field(default_factory=dict)

    def set(self, key: Key, selector: dict[str, str] | None) -> None:
        self.remove(key)
        if not selector:
            return
        self._selectors[key] = dict(selector)
        # File under the pair shared by the fewest Services so far (rare labels make small buckets).
        bucket_key = min(
            ((key[0], k, v) for k, v in selector.items()),
            key=lambda b: (len(self._buckets.get(b, ())), b),
        )
        self._filed_under[key] = bucket_key
        self._buckets.setdefault(bucket_key, set()).add(key[1])

    def remove(self, key: Key) -> None:
        self._answers.clear()
        self._selectors.pop(key, None)
        bucket_key = self._filed_under.pop(key, None)
        if bucket_key is not None:
            bucket = self._buckets.get(bucket_key)
            if bucket is not None:
                bucket.discard(key[1])
                if not bucket:
                    del self._buckets[bucket_key]

    def selector(self, key: Key) -> dict[str, str] | None:
        return self._selectors.get(key)

    def services_for(self, namespace: str, labels: dict[str, str] | None) -> frozenset[Key]:
        if not labels:
            return frozenset()
        known = self._answers.get((id(labels), namespace))
        if known is not None and known[0] is labels:
            return known[1]
        out: set[Key] = set()
        for k, v in labels.items():
            for name in self._buckets.get((namespace, k, v), ()):
                sel = self._selectors[(namespace, name)]
                if all(labels.get(sk) == sv for sk, sv in sel.items()):
                    out.add((namespace, name))
        answer = frozenset(out)
        if len(self._answers) >= 4096:
            self._answers.clear()
        self._answers[(id(labels), namespace)] = (labels, answer)  # holding labels keeps its id unique
        return answer


# ---- pod change filter -----------------------------------------------------
def pod_endpoint_state(pod: Obj) -> tuple[Any, ...]:
    """What about a pod can change its endpoints (podEndpointsChanged), labels aside. Both endpoint
    controllers ask about the same (frozen, stored) pod in turn: the last answer is kept."""
    if _last_state[0] is pod:
        return _last_state[1]
    state = _endpoint_state(pod)
    _last_state[:] = [pod, state]
    return state


_last_state: list[Any] = [None, ()]


def _endpoint_state(pod: Obj) -> tuple[Any, ...]:
    f = status_facts(pod)
    spec = _spec(pod)
    return (
        f.terminating,
        f.ready,
        f.terminal,
        f.ips,
        spec.get("nodeName"),
        spec.get("hostname"),
        spec.get("subdomain"),
    )


_NO_LABELS: dict[str, str] = {}
_NO_SERVICES: frozenset[Key] = frozenset()


@dataclass
class PodServiceMap:
    """Maps pod changes to the Service keys to resync (GetServicesToUpdateOnPodChange), keeping the
    selector index and each pod's last labels (the stored, frozen dict) and endpoint-relevant state."""

    index: SelectorIndex = field(default_factory=SelectorIndex)
    _pods: dict[Key, tuple[dict[str, str], tuple[Any, ...]]] = field(default_factory=dict)
    _answers: OrderedDict[int, Any] = field(default_factory=OrderedDict)  # by event resourceVersion

    def service_changed(self, event_type: str, svc: Obj) -> Key:
        md = svc["metadata"]
        key = (md.get("namespace") or "", md["name"])
        if event_type == "DELETED" or is_external_name(svc):
            self.index.remove(key)
        else:
            self.index.set(key, selector_of(svc))
        return key

    def pod_event(self, rv: int, event_type: str, pod: Obj) -> frozenset[Key]:
        """pod_changed, worked out once per store event (by its resourceVersion) however many
        controllers share the map."""
        return self._once(rv, lambda: self.pod_changed(event_type, pod))  # type: ignore[no-any-return]

    def service_event(self, rv: int, event_type: str, svc: Obj) -> Key:
        """service_changed, worked out once per store event."""
        return self._once(rv, lambda: self.service_changed(event_type, svc))  # type: ignore[no-any-return]

    def _once(self, rv: int, work: Callable[[], Any]) -> Any:
        answers = self._answers
        if rv in answers:
            return answers[rv]
        answer = answers[rv] = work()
        if len(answers) > 64:  # the events being handed round (more than one when writes nest)
            answers.popitem(last=False)
        return answer

    def pod_changed(self, event_type: str, pod: Obj) -> frozenset[Key]:
        md = pod["metadata"]
        key = (md.get("namespace") or "", md["name"])
        ns = key[0]
        labels = md.get("labels") or _NO_LABELS
        if event_type == "DELETED":
            old = self._pods.pop(key, None)
            return self.index.services_for(ns, old[0] if old else labels)
        state = pod_endpoint_state(pod)
        old = self._pods.get(key)
        self._pods[key] = (labels, state)
        if event_type == "ADDED" or old is None:
            return self.index.services_for(ns, labels)
        labels_changed = old[0] is not labels and old[0] != labels
        pod_changed = old[1] != state
        if not labels_changed and not pod_changed:
            return _NO_SERVICES
        services = self.index.services_for(ns, labels)
        if labels_changed:
            before = self.index.services_for(ns, old[0])
            services = services | before if pod_changed else services ^ before
        return services


_SHARED_MAPS: weakref.WeakKeyDictionary[object, PodServiceMap] = weakref.WeakKeyDictionary()


def shared_pod_service_map(store: object) -> PodServiceMap:
    """The PodServiceMap the endpoint controllers of one store share (as the controllers of a
    kube-controller-manager share their informers' caches): one record per pod, one answer per
    store event."""
    found = _SHARED_MAPS.get(store)
    if found is None:
        found = _SHARED_MAPS[store] = PodServiceMap()
    return found


# ---- last-change-trigger-time ----------------------------------------------
@dataclass
class _TriggerState:
    service_time: float | None
    pod_times: dict[str, float]


@dataclass
class TriggerTimeTracker:
    """endpointsliceutil.TriggerTimeTracker: the earliest pod Ready transition (or Service creation)
    not seen at the previous sync; None means "no new trigger": the annotation is removed."""

    _states: dict[Key, _TriggerState] = field(default_factory=dict)

    def compute(self, svc: Obj, pods: Iterable[Obj]) -> float | None:
        return self.compute_times(svc, ((p["metadata"]["name"], pod_trigger_time(p)) for p in pods))

    def compute_times(self, svc: Obj, times: Iterable[tuple[str, float | None]]) -> float | None:
        """`compute` from each selected pod's (name, Ready transition time)."""
        md = svc["metadata"]
        key = (md.get("namespace") or "", md["name"])
        state = self._states.get(key)
        was_known = state is not None
        last_pods = state.pod_times if state else {}
        last_svc = state.service_time if state else None
        changed: float | None = None
        pod_times: dict[str, float] = {}
        for name, t in times:
            if t is None:
                continue
            pod_times[name] = t
            prev = last_pods.get(name)
            if prev is None or t > prev:
                changed = t if changed is None else min(changed, t)
        svc_time = parse_rfc3339(md.get("creationTimestamp"))
        if svc_time is not None and (last_svc is None or svc_time > last_svc):
            changed = svc_time if changed is None else min(changed, svc_time)
        self._states[key] = _TriggerState(svc_time, pod_times)
        if not was_known:
            return svc_time
        return changed

    def forget(self, key: Key) -> None:
        self._states.pop(key, None)
