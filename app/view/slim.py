"""Slim raw Kubernetes API dicts into small frozen records holding only what the view needs.
Derived facts (kubectl STATUS, why a pod is not ready) are computed here once per object version."""

from __future__ import annotations

import contextlib
import socket
import sys
from dataclasses import dataclass, field, replace
from typing import Any

from app.timefmt import parse_rfc3339

Labels = tuple[tuple[str, str], ...]  # sorted (key, value) pairs, shared between identical label sets

TERMINAL_PHASES = ("Succeeded", "Failed")
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SERVICE_NAME = "kubernetes.io/service-name"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
DERIVED = "slicescope"  # in a compact() pod: the facts the view derived, read back as they were


class Malformed(ValueError):
    """The object lacks what every object of its kind has (metadata, name): it is skipped."""


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ContainerPort:
    name: str
    port: int
    protocol: str


@dataclass(frozen=True, slots=True)
class PodState:
    """What a pod's status says, as the view reads it: one shared copy per distinct state (most pods
    of a cluster are in one of a few), so a pod pays a reference for it."""

    phase: str
    status: str  # kubectl's STATUS column
    ready: bool  # the Ready condition is True
    ready_text: str  # "1/1"
    terminating: bool  # deletionTimestamp set
    reason: str | None  # why it is not ready, None when Ready
    # (time, reason): the reason that takes over at that time without the object changing
    # (a readiness probe's initial delay runs out); None when the reason does not depend on time
    later: tuple[float, str] | None = None


@dataclass(slots=True)
class Pod:
    """A pod as the view keeps it. Treated as immutable (replaced, never changed in place); not
    frozen only because a frozen dataclass sets each field through object.__setattr__."""

    namespace: str
    name: str
    labels: Labels
    owner: tuple[str, str] | None  # (kind, name) of the controller, None for an orphan
    ip: str | None
    node: str | None
    ports: tuple[ContainerPort, ...]
    created: str | None
    state: PodState
    # (namespace, name), made once: the index's tables share this one tuple instead of making their own
    key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = (self.namespace, self.name)

    phase = property(lambda self: self.state.phase)
    status = property(lambda self: self.state.status)
    ready = property(lambda self: self.state.ready)
    ready_text = property(lambda self: self.state.ready_text)
    terminating = property(lambda self: self.state.terminating)
    reason = property(lambda self: self.state.reason)
    later = property(lambda self: self.state.later)

    @property
    def terminal(self) -> bool:
        return self.state.phase in TERMINAL_PHASES

    def label(self, key: str) -> str | None:
        for k, v in self.labels:
            if k == key:
                return v
        return None

    def with_state(self, **changes: Any) -> Pod:
        """The same pod in another state (e.g. when a timed reason runs out)."""
        return Pod(
            self.namespace,
            self.name,
            self.labels,
            self.owner,
            self.ip,
            self.node,
            self.ports,
            self.created,
            pod_state(*astuple_state(replace(self.state, **changes))),
        )


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str  # a number, or the name of a container port
    protocol: str


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    type: str
    cluster_ip: str | None
    external_name: str | None
    selector: Labels | None  # None: no selector (an empty selector counts as none, as in Kubernetes)
    publish_not_ready: bool
    ports: tuple[ServicePort, ...]
    created: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"


@dataclass(frozen=True, slots=True)
class SlicePort:
    name: str
    port: int | None
    protocol: str


@dataclass(frozen=True, slots=True)
class Place:
    """Where an endpoint is and how it stands: shared by every endpoint alike (a node holds many)."""

    node: str | None
    zone: str | None
    ready: bool
    serving: bool
    terminating: bool


@dataclass(frozen=True, slots=True)
class SliceEndpoint:
    ip: str
    pod: str | None  # targetRef name when it is a Pod
    place: Place

    node = property(lambda self: self.place.node)
    zone = property(lambda self: self.place.zone)
    ready = property(lambda self: self.place.ready)
    serving = property(lambda self: self.place.serving)
    terminating = property(lambda self: self.place.terminating)

    @property
    def state(self) -> str:
        place = self.place
        if place.terminating:
            return "terminating"
        return "ready" if place.ready else "not-ready"


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    namespace: str
    name: str
    service: str | None  # the kubernetes.io/service-name label
    address_type: str
    managed_by: str | None
    ports: tuple[SlicePort, ...]
    endpoints: tuple[SliceEndpoint, ...]  # sorted by IP

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class Address:
    ip: str
    pod: str | None
    node: str | None


@dataclass(frozen=True, slots=True)
class Subset:
    addresses: tuple[Address, ...]  # sorted by IP
    not_ready: tuple[Address, ...]
    ports: tuple[SlicePort, ...]


@dataclass(frozen=True, slots=True)
class Endpoints:
    namespace: str
    name: str
    over_capacity: bool
    subsets: tuple[Subset, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class Deployment:
    namespace: str
    name: str
    replicas: int  # spec.replicas (the API defaults it to 1)
    ready: int  # status.readyReplicas
    updated: int  # status.updatedReplicas
    available: int  # status.availableReplicas
    selector: Labels  # spec.selector.matchLabels
    template_labels: Labels  # spec.template.metadata.labels

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class ReplicaSet:
    namespace: str
    name: str
    deployment: str | None  # the controlling Deployment's name, None for a bare ReplicaSet

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


Slim = Pod | Service | EndpointSlice | Endpoints | Deployment | ReplicaSet

# ---------------------------------------------------------------- sharing


def ip_sort_key(ip: str) -> tuple[int, Any]:
    """Numeric order for IPv4 and IPv6 (10.244.1.9 before 10.244.1.10); anything else after, by text.
    Not cached: a cache would hold a key per address (about 130 bytes a pod) for a microsecond saved."""
    try:
        if ip.count(".") == 3:
            return (0, socket.inet_aton(ip))
        return (1, socket.inet_pton(socket.AF_INET6, ip))
    except (OSError, ValueError, TypeError):
        return (2, ip)


_SHARED: dict[Any, Any] = {}
_SHARED_MAX = 200_000


def _share(value: Any) -> Any:
    """One copy of equal immutable values (label sets, port lists) across all objects."""
    if value is None:
        return None
    got = _SHARED.get(value)
    if got is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        _SHARED[value] = value
        got = value
    return got


share = _share


def _istr(value: Any) -> str | None:
    return sys.intern(value) if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _labels(value: Any) -> Labels:
    if value.__class__ is not dict or not value:
        return _share(())
    try:
        pairs = tuple(sorted(value.items()))
        got = _SHARED.get(pairs)  # the label set of its ReplicaSet's other pods, interned already
        if got is not None:
            return got
    except TypeError:  # a value that is not a string (a malformed object): sorted the careful way
        pass
    pairs = tuple(
        sorted(
            (sys.intern(k), sys.intern(v))
            for k, v in value.items()
            if isinstance(k, str) and isinstance(v, str)
        )
    )
    return _share(pairs)


def _meta(obj: Any) -> tuple[dict[str, Any], str, str]:
    if not isinstance(obj, dict):
        raise Malformed("not an object")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise Malformed("no metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise Malformed("no metadata.name")
    ns = meta.get("namespace")
    if ns is None:
        ns = "default"
    if not isinstance(ns, str) or not ns:
        raise Malformed("bad metadata.namespace")
    return meta, sys.intern(ns), name


def object_key(obj: Any) -> tuple[str, str]:
    """(namespace, name) of a raw object; raises Malformed."""
    _, ns, name = _meta(obj)
    return (ns, name)


# ---------------------------------------------------------------- pods


def _condition(status: dict[str, Any], kind: str) -> str | None:
    conditions = status.get("conditions")
    if conditions.__class__ is not list:
        return None
    for cond in conditions:
        if cond.__class__ is dict and cond.get("type") == kind:
            value = cond.get("status")
            return value if value.__class__ is str else None
    return None


def _owner(meta: dict[str, Any]) -> tuple[str, str] | None:
    refs = meta.get("ownerReferences")
    if refs.__class__ is not list or not refs:
        return None
    if len(refs) == 1:  # the usual: one controller
        chosen = refs[0] if refs[0].__class__ is dict else None
    else:
        dicts = [r for r in refs if r.__class__ is dict]
        chosen = next((r for r in dicts if r.get("controller") is True), dicts[0] if dicts else None)
    if chosen is None:
        return None
    kind, name = chosen.get("kind"), chosen.get("name")
    if kind.__class__ is not str or name.__class__ is not str:
        return None
    pair = (kind, name)
    got = _SHARED.get(pair)
    return got if got is not None else _share((sys.intern(kind), sys.intern(name)))


def kubectl_status(meta: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]) -> str:
    """The STATUS column of `kubectl get pods` (printers.go printPod, simplified where harmless)."""
    phase = status.get("phase") if isinstance(status.get("phase"), str) else ""
    reason = status.get("reason") if isinstance(status.get("reason"), str) and status.get("reason") else phase
    init_specs = _list(spec.get("initContainers"))
    initializing = False
    for i, cs in enumerate(_list(status.get("initContainerStatuses"))):
        if not isinstance(cs, dict):
            continue
        state = _dict(cs.get("state"))
        term, wait = _dict(state.get("terminated")), _dict(state.get("waiting"))
        if state.get("terminated") is not None and term.get("exitCode") == 0:
            continue
        if cs.get("started") is True and _restartable(init_specs, cs.get("name")):
            continue
        if state.get("terminated") is not None:
            if term.get("reason"):
                reason = f"Init:{term.get('reason')}"
            elif term.get("signal"):
                reason = f"Init:Signal:{term.get('signal')}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode')}"
        elif wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = f"Init:{wait.get('reason')}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing or _condition(status, "Initialized") == "True":
        has_running = False
        for cs in reversed(_list(status.get("containerStatuses"))):
            if not isinstance(cs, dict):
                continue
            state = _dict(cs.get("state"))
            term, wait = _dict(state.get("terminated")), _dict(state.get("waiting"))
            if wait.get("reason"):
                reason = str(wait["reason"])
            elif state.get("terminated") is not None and term.get("reason"):
                reason = str(term["reason"])
            elif state.get("terminated") is not None:
                reason = (
                    f"Signal:{term.get('signal')}"
                    if term.get("signal")
                    else f"ExitCode:{term.get('exitCode')}"
                )
            elif cs.get("ready") is True and state.get("running") is not None:
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running" if _condition(status, "Ready") == "True" else "NotReady"
    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in TERMINAL_PHASES:
            reason = "Terminating"
    return reason or "Unknown"


def _restartable(init_specs: list[Any], name: Any) -> bool:
    for c in init_specs:
        if isinstance(c, dict) and c.get("name") == name:
            return c.get("restartPolicy") == "Always"
    return False


READY_SLACK = 1.0  # seconds: a Ready=False stamped this close to the container's start is its first state
CLOCK_SKEW = 30.0  # seconds: a clock further behind a container's start is not comparable with it
Reason = tuple[str | None, tuple[float, str] | None]  # (reason now, (time, reason from then on) or None)


def _ready_condition(status: dict[str, Any]) -> dict[str, Any]:
    for cond in _list(status.get("conditions")):
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond
    return {}


def _probe_reason(
    probe: dict[str, Any], started_at: Any, ready_cond: dict[str, Any], now: float | None
) -> Reason:
    """A running container whose readiness probe has not made it ready: still in the initial delay,
    never passed since the container started, or failing after having passed."""
    started = parse_rfc3339(started_at)
    since = parse_rfc3339(ready_cond.get("lastTransitionTime"))
    if started is None or since is None:
        after: str = "readiness probe not passing"
    elif since <= started + READY_SLACK:
        after = "readiness probe has not passed yet"
    else:
        after = "readiness probe failing"
    delay = _int(probe.get("initialDelaySeconds")) or 0
    if (
        started is not None
        and delay > 0
        and now is not None
        and started - CLOCK_SKEW <= now < started + delay
    ):
        waiting = f"waiting for the first readiness probe (initial delay {delay}s)"
        return waiting, (started + delay, after)
    return after, None


def _unscheduled(status: dict[str, Any]) -> str:
    """Why a pod has no node: the scheduler's own words from the PodScheduled condition
    ("0/3 nodes are available: 3 Too many pods."), else that it is not scheduled yet."""
    for cond in _list(status.get("conditions")):
        if isinstance(cond, dict) and cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            message, why = cond.get("message"), cond.get("reason")
            if isinstance(message, str) and message.strip():
                return f"not scheduled: {message.strip()}"
            if isinstance(why, str) and why:
                return f"not scheduled ({why})"
    return "not scheduled yet"


def pod_reason(
    meta: dict[str, Any],
    spec: dict[str, Any],
    status: dict[str, Any],
    kubectl: str,
    now: float | None = None,
) -> Reason:
    """Plain words for why the pod is not Ready (None when it is), and the reason that takes over
    later when it only depends on time (`now`: the current time, None when unknown)."""
    phase = status.get("phase")
    if phase in TERMINAL_PHASES:
        return f"pod {phase}", None
    ready_cond = _ready_condition(status)
    if ready_cond.get("status") == "True":
        return None, None
    if meta.get("deletionTimestamp"):
        return "terminating", None
    if not spec.get("nodeName"):
        return _unscheduled(status), None
    containers = {c.get("name"): c for c in _list(spec.get("containers")) if isinstance(c, dict)}
    statuses = [cs for cs in _list(status.get("containerStatuses")) if isinstance(cs, dict)]
    creating = kubectl == "ContainerCreating" or any(
        _dict(_dict(cs.get("state")).get("waiting")).get("reason") == "ContainerCreating" for cs in statuses
    )
    if creating:
        return "container starting", None
    if not status.get("podIP"):
        return ("no IP yet" if kubectl in ("Pending", "Running") else f"no IP yet ({kubectl})"), None
    if phase == "Pending" or not statuses:
        return ("Pending" if kubectl == "Pending" else f"Pending: {kubectl}"), None
    for cs in statuses:
        if cs.get("ready") is True:
            continue
        name = cs.get("name")
        state = _dict(cs.get("state"))
        wait, term = _dict(state.get("waiting")), state.get("terminated")
        if wait.get("reason"):
            return f"container {name}: {wait['reason']}", None
        if term is not None:
            why = _dict(term).get("reason") or f"exit code {_dict(term).get('exitCode')}"
            return f"container {name} terminated: {why}", None
        spec_c = _dict(containers.get(name))
        if cs.get("started") is False and spec_c.get("startupProbe"):
            return "startup probe not passed yet", None
        probe = spec_c.get("readinessProbe")
        if isinstance(probe, dict):
            started_at = _dict(state.get("running")).get("startedAt")
            return _probe_reason(probe, started_at, ready_cond, now)
        return f"container {name} not ready", None
    if _condition(status, "ContainersReady") == "True":
        for gate in _list(spec.get("readinessGates")):
            ctype = _dict(gate).get("conditionType")
            if not ctype:
                continue
            value = _condition(status, str(ctype))
            if value is None:
                return f"readiness gate {ctype} is not set yet", None
            if value != "True":
                return f"readiness gate {ctype} is {value}", None
    cond_reason = ready_cond.get("reason")
    if isinstance(cond_reason, str) and cond_reason:
        return f"Ready is False ({cond_reason})", None
    return "Ready is not True", None


def not_ready_reason(
    meta: dict[str, Any], spec: dict[str, Any], status: dict[str, Any], kubectl: str, now: float | None = None
) -> str | None:
    """Plain words for why the pod is not Ready at `now`; None when it is."""
    return pod_reason(meta, spec, status, kubectl, now)[0]


_STATES: dict[tuple[Any, ...], PodState] = {}


def pod_state(
    phase: str,
    status: str,
    ready: bool,
    ready_text: str,
    terminating: bool,
    reason: str | None,
    later: tuple[float, str] | None = None,
) -> PodState:
    """The one shared PodState with these facts (looked up by a plain tuple: hashing the dataclass
    itself costs a Python call)."""
    key = (phase, status, ready, ready_text, terminating, reason, later)
    got = _STATES.get(key)
    if got is None:
        if len(_STATES) >= _SHARED_MAX:
            _STATES.clear()
        got = _STATES[key] = PodState(
            sys.intern(phase),
            sys.intern(status),
            ready,
            sys.intern(ready_text),
            terminating,
            sys.intern(reason) if reason else None,
            (later[0], sys.intern(later[1])) if later else None,
        )
    return got


_PLACES: dict[tuple[Any, ...], Place] = {}


def place(node: str | None, zone: str | None, ready: bool, serving: bool, terminating: bool) -> Place:
    """The one shared Place with these facts."""
    key = (node, zone, ready, serving, terminating)
    got = _PLACES.get(key)
    if got is None:
        if len(_PLACES) >= _SHARED_MAX:
            _PLACES.clear()
        got = _PLACES[key] = Place(
            sys.intern(node) if node else None,
            sys.intern(zone) if zone else None,
            ready,
            serving,
            terminating,
        )
    return got


_PORTS: dict[tuple[Any, ...], tuple[ContainerPort, ...]] = {}


def _container_ports(declared: tuple[tuple[Any, Any, Any], ...]) -> tuple[ContainerPort, ...]:
    """(name, containerPort, protocol) as declared -> the pod's ports, one shared tuple per shape."""
    try:
        got = _PORTS.get(declared)
    except TypeError:  # something unhashable where a port was expected
        got = None
        declared = tuple((n, p, pr) for n, p, pr in declared if _int(p) is not None)
    if got is not None:
        return got
    ports = []
    for name, number, protocol in declared:
        number = _int(number)
        if number is not None:
            ports.append(
                ContainerPort(
                    sys.intern(name) if name.__class__ is str else "",
                    number,
                    sys.intern(protocol) if protocol.__class__ is str and protocol else "TCP",
                )
            )
    shared = _share(tuple(ports))
    if len(_PORTS) >= _SHARED_MAX:
        _PORTS.clear()
    with contextlib.suppress(TypeError):
        _PORTS[declared] = shared
    return shared


def astuple_state(state: PodState) -> tuple[Any, ...]:
    return (
        state.phase,
        state.status,
        state.ready,
        state.ready_text,
        state.terminating,
        state.reason,
        state.later,
    )


def _all_running(meta: dict[str, Any], status: dict[str, Any], statuses: Any) -> bool:
    """The common case, read without kubectl's general rules: Running, every container running, no
    init containers, not being deleted (kubectl then says Running)."""
    if status.get("phase") != "Running" or status.get("reason") or status.get("initContainerStatuses"):
        return False
    if meta.get("deletionTimestamp") or statuses.__class__ is not list or not statuses:
        return False
    for cs in statuses:
        if cs.__class__ is not dict:
            return False
        state = cs.get("state")
        if state.__class__ is not dict or len(state) != 1 or state.get("running") is None:
            return False
    return True


def slim_pod(obj: Any, now: float | None = None) -> Pod:
    """`now`: the current time, for reasons that depend on it (None: as if every delay had run out)."""
    meta, ns, name = _meta(obj)
    spec, status = obj.get("spec"), obj.get("status")
    spec = spec if spec.__class__ is dict else {}
    status = status if status.__class__ is dict else {}
    derived = obj.get(DERIVED)
    if derived.__class__ is dict:
        return _recorded_pod(obj, meta, ns, name, spec, status, derived)
    containers = spec.get("containers")
    containers = [c for c in containers if c.__class__ is dict] if containers.__class__ is list else []
    declared_ports: list[tuple[Any, Any, Any]] = []
    for c in containers:
        declared = c.get("ports")
        if declared.__class__ is list:
            for p in declared:
                if p.__class__ is dict:
                    declared_ports.append((p.get("name"), p.get("containerPort"), p.get("protocol")))
    ports = _container_ports(tuple(declared_ports))
    statuses = status.get("containerStatuses")
    if _all_running(meta, status, statuses):
        ready_n = sum(1 for cs in statuses if cs.get("ready") is True)
        ready_text = f"{ready_n}/{len(containers)}"
        if _condition(status, "Ready") == "True":
            state = pod_state("Running", "Running", True, ready_text, False, None)
        else:
            reason, later = pod_reason(meta, spec, status, "Running", now)
            state = pod_state("Running", "Running", False, ready_text, False, reason, later)
    else:
        kubectl = kubectl_status(meta, spec, status)
        reason, later = pod_reason(meta, spec, status, kubectl, now)
        ready_containers = sum(
            1
            for cs in _list(statuses)
            if isinstance(cs, dict)
            and cs.get("ready") is True
            and _dict(cs.get("state")).get("running") is not None
        )
        phase = status.get("phase")
        state = pod_state(
            phase if phase.__class__ is str and phase else "Pending",
            kubectl,
            _condition(status, "Ready") == "True",
            f"{ready_containers}/{len(containers)}",
            bool(meta.get("deletionTimestamp")),
            reason,
            later,
        )
    ip = status.get("podIP")
    node = spec.get("nodeName")
    created = meta.get("creationTimestamp")
    return Pod(
        ns,
        sys.intern(name),
        _labels(meta.get("labels")),
        _owner(meta),
        sys.intern(ip) if ip.__class__ is str and ip else None,
        sys.intern(node) if node.__class__ is str and node else None,
        ports,
        sys.intern(created) if created.__class__ is str and created else None,
        state,
    )


def _recorded_pod(
    obj: Any,
    meta: dict[str, Any],
    ns: str,
    name: str,
    spec: dict[str, Any],
    status: dict[str, Any],
    derived: Any,
) -> Pod:
    """A pod written by compact(): the facts the view derived are read back, not derived again."""
    later = derived.get("later")
    if not (
        isinstance(later, list)
        and len(later) == 2
        and isinstance(later[0], int | float)
        and isinstance(later[1], str)
    ):
        later = None
    reason = derived.get("reason")
    ports = []
    for c in _list(spec.get("containers")):
        for p in _list(_dict(c).get("ports")):
            p = _dict(p)
            number = _int(p.get("containerPort"))
            if number is not None:
                ports.append(
                    ContainerPort(_istr(p.get("name")) or "", number, _istr(p.get("protocol")) or "TCP")
                )
    ip = status.get("podIP")
    state = pod_state(
        _istr(status.get("phase")) or "Pending",
        _istr(derived.get("status")) or "Unknown",
        _condition(status, "Ready") == "True",
        _istr(derived.get("readyText")) or "0/0",
        bool(meta.get("deletionTimestamp")),
        reason if isinstance(reason, str) and reason else None,
        (float(later[0]), later[1]) if later else None,
    )
    return Pod(
        ns,
        sys.intern(name),
        _labels(meta.get("labels")),
        _owner(meta),
        sys.intern(ip) if isinstance(ip, str) and ip else None,
        _istr(spec.get("nodeName")),
        _share(tuple(ports)),
        _istr(meta.get("creationTimestamp")),
        state,
    )


# ---------------------------------------------------------------- services


def slim_service(obj: Any) -> Service:
    meta, ns, name = _meta(obj)
    spec = _dict(obj.get("spec"))
    ports = []
    for p in _list(spec.get("ports")):
        p = _dict(p)
        number = _int(p.get("port"))
        if number is None:
            continue
        target = p.get("targetPort")
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        if not (isinstance(target, str) and target) and _int(target) is None:
            target = number  # the API server defaults targetPort to port
        ports.append(
            ServicePort(
                _istr(p.get("name")) or "",
                number,
                sys.intern(target) if isinstance(target, str) else target,
                _istr(p.get("protocol")) or "TCP",
            )
        )
    selector = _labels(spec.get("selector")) or None
    svc_type = _istr(spec.get("type")) or "ClusterIP"
    cluster_ip = (
        spec.get("clusterIP") if isinstance(spec.get("clusterIP"), str) and spec.get("clusterIP") else None
    )
    return Service(
        namespace=ns,
        name=name,
        type=svc_type,
        cluster_ip=cluster_ip,
        external_name=spec.get("externalName") if isinstance(spec.get("externalName"), str) else None,
        selector=selector,
        publish_not_ready=spec.get("publishNotReadyAddresses") is True,
        ports=_share(tuple(ports)),
        created=_istr(meta.get("creationTimestamp")),
    )


# ---------------------------------------------------------------- slices and endpoints


def _ports(value: Any) -> tuple[SlicePort, ...]:
    out = []
    for p in _list(value):
        p = _dict(p)
        out.append(
            SlicePort(_istr(p.get("name")) or "", _int(p.get("port")), _istr(p.get("protocol")) or "TCP")
        )
    return _share(tuple(out))


def _pod_ref(ref: Any) -> str | None:
    ref = _dict(ref)
    name = ref.get("name")
    return sys.intern(name) if ref.get("kind") == "Pod" and isinstance(name, str) and name else None


def slim_slice(obj: Any) -> EndpointSlice:
    meta, ns, name = _meta(obj)
    labels = _dict(meta.get("labels"))
    endpoints = []
    for ep in _list(obj.get("endpoints")):
        ep = _dict(ep)
        addrs = [a for a in _list(ep.get("addresses")) if isinstance(a, str) and a]
        if not addrs:
            continue
        cond = _dict(ep.get("conditions"))
        # nil ready means "unknown" and is read as ready; nil serving follows ready (discovery/v1 docs)
        ready = cond.get("ready") is not False
        serving = cond.get("serving") is not False if cond.get("serving") is not None else ready
        endpoints.append(
            SliceEndpoint(
                sys.intern(addrs[0]),
                _pod_ref(ep.get("targetRef")),
                place(
                    ep.get("nodeName") if ep.get("nodeName").__class__ is str else None,
                    ep.get("zone") if ep.get("zone").__class__ is str else None,
                    ready,
                    serving,
                    cond.get("terminating") is True,
                ),
            )
        )
    service = labels.get(SERVICE_NAME)
    return EndpointSlice(
        namespace=ns,
        name=name,
        service=sys.intern(service) if isinstance(service, str) and service else None,
        address_type=_istr(obj.get("addressType")) or "IPv4",
        managed_by=_istr(labels.get(MANAGED_BY)),
        ports=_ports(obj.get("ports")),
        endpoints=tuple(sorted(endpoints, key=lambda e: ip_sort_key(e.ip))),
    )


def _addresses(value: Any) -> tuple[Address, ...]:
    out = []
    for a in _list(value):
        a = _dict(a)
        ip = a.get("ip")
        if isinstance(ip, str) and ip:
            out.append(Address(sys.intern(ip), _pod_ref(a.get("targetRef")), _istr(a.get("nodeName"))))
    return tuple(sorted(out, key=lambda a: ip_sort_key(a.ip)))


def slim_endpoints(obj: Any) -> Endpoints:
    meta, ns, name = _meta(obj)
    subsets = []
    for s in _list(obj.get("subsets")):
        s = _dict(s)
        subsets.append(
            Subset(
                _addresses(s.get("addresses")), _addresses(s.get("notReadyAddresses")), _ports(s.get("ports"))
            )
        )
    return Endpoints(
        namespace=ns,
        name=name,
        over_capacity=_dict(meta.get("annotations")).get(OVER_CAPACITY) == "truncated",
        subsets=tuple(subsets),
    )


# ---------------------------------------------------------------- workloads


def slim_deployment(obj: Any) -> Deployment:
    _, ns, name = _meta(obj)
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    replicas = _int(spec.get("replicas"))
    return Deployment(
        namespace=ns,
        name=sys.intern(name),
        replicas=1 if replicas is None else replicas,
        ready=_int(status.get("readyReplicas")) or 0,
        updated=_int(status.get("updatedReplicas")) or 0,
        available=_int(status.get("availableReplicas")) or 0,
        selector=_labels(_dict(spec.get("selector")).get("matchLabels")),
        template_labels=_labels(_dict(_dict(spec.get("template")).get("metadata")).get("labels")),
    )


def slim_replicaset(obj: Any) -> ReplicaSet:
    meta, ns, name = _meta(obj)
    owner = _owner(meta)
    return ReplicaSet(
        namespace=ns,
        name=sys.intern(name),
        deployment=sys.intern(owner[1]) if owner and owner[0] == "Deployment" else None,
    )


SLIMMERS = {
    "Pod": slim_pod,
    "Service": slim_service,
    "EndpointSlice": slim_slice,
    "Endpoints": slim_endpoints,
    "Deployment": slim_deployment,
    "ReplicaSet": slim_replicaset,
}


def slim(kind: str, obj: Any, now: float | None = None) -> Slim:
    """Slim one raw object of a known kind; raises Malformed (or KeyError for an unknown kind).
    `now` is the current time, which some pod reasons depend on."""
    if kind == "Pod":
        return slim_pod(obj, now)
    return SLIMMERS[kind](obj)


# ---------------------------------------------------------------- back to objects


def _meta_of(namespace: str, name: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def _ports_of(ports: tuple[SlicePort, ...]) -> list[dict[str, Any]]:
    return [{"name": p.name, "port": p.port, "protocol": p.protocol} for p in ports]


def _ref(pod: str | None, namespace: str) -> dict[str, Any] | None:
    return {"kind": "Pod", "namespace": namespace, "name": pod} if pod else None


def compact(record: Slim) -> dict[str, Any]:
    """The smallest API object that slims back to this very record: what a recording started in
    the middle of a session writes for the state so far (the view keeps no raw objects). A pod
    carries the facts the view derived (kubectl status, ready count, reason) under DERIVED."""
    if isinstance(record, Pod):
        owner = (
            [{"kind": record.owner[0], "name": record.owner[1], "controller": True}] if record.owner else None
        )
        meta = _meta_of(
            record.namespace,
            record.name,
            labels=dict(record.labels) or None,
            ownerReferences=owner,
            creationTimestamp=record.created,
            deletionTimestamp=record.created or "1970-01-01T00:00:00Z" if record.terminating else None,
        )
        ports = [{"name": p.name, "containerPort": p.port, "protocol": p.protocol} for p in record.ports]
        spec: dict[str, Any] = {"containers": [{"name": "main", "ports": ports}]}
        if record.node:
            spec["nodeName"] = record.node
        status: dict[str, Any] = {
            "phase": record.phase,
            "conditions": [{"type": "Ready", "status": "True" if record.ready else "False"}],
        }
        if record.ip:
            status["podIP"] = record.ip
        derived: dict[str, Any] = {
            "status": record.status,
            "readyText": record.ready_text,
            "reason": record.reason,
        }
        if record.later is not None:
            derived["later"] = list(record.later)
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": meta,
            "spec": spec,
            "status": status,
            DERIVED: derived,
        }
    if isinstance(record, Service):
        svc_spec: dict[str, Any] = {
            "type": record.type,
            "ports": [
                {"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol}
                for p in record.ports
            ],
        }
        if record.selector:
            svc_spec["selector"] = dict(record.selector)
        if record.cluster_ip:
            svc_spec["clusterIP"] = record.cluster_ip
        if record.external_name is not None:
            svc_spec["externalName"] = record.external_name
        if record.publish_not_ready:
            svc_spec["publishNotReadyAddresses"] = True
        meta = _meta_of(record.namespace, record.name, creationTimestamp=record.created)
        return {"kind": "Service", "apiVersion": "v1", "metadata": meta, "spec": svc_spec}
    if isinstance(record, EndpointSlice):
        labels = {}
        if record.service:
            labels[SERVICE_NAME] = record.service
        if record.managed_by:
            labels[MANAGED_BY] = record.managed_by
        endpoints = []
        for ep in record.endpoints:
            item: dict[str, Any] = {
                "addresses": [ep.ip],
                "conditions": {"ready": ep.ready, "serving": ep.serving, "terminating": ep.terminating},
            }
            ref = _ref(ep.pod, record.namespace)
            if ref:
                item["targetRef"] = ref
            if ep.node:
                item["nodeName"] = ep.node
            if ep.zone:
                item["zone"] = ep.zone
            endpoints.append(item)
        return {
            "kind": "EndpointSlice",
            "apiVersion": "discovery.k8s.io/v1",
            "metadata": _meta_of(record.namespace, record.name, labels=labels or None),
            "addressType": record.address_type,
            "endpoints": endpoints,
            "ports": _ports_of(record.ports),
        }
    if isinstance(record, Endpoints):

        def addresses(items: tuple[Address, ...]) -> list[dict[str, Any]]:
            out = []
            for a in items:
                addr: dict[str, Any] = {"ip": a.ip}
                ref = _ref(a.pod, record.namespace)
                if ref:
                    addr["targetRef"] = ref
                if a.node:
                    addr["nodeName"] = a.node
                out.append(addr)
            return out

        annotations = {OVER_CAPACITY: "truncated"} if record.over_capacity else None
        return {
            "kind": "Endpoints",
            "apiVersion": "v1",
            "metadata": _meta_of(record.namespace, record.name, annotations=annotations),
            "subsets": [
                {
                    "addresses": addresses(sub.addresses),
                    "notReadyAddresses": addresses(sub.not_ready),
                    "ports": _ports_of(sub.ports),
                }
                for sub in record.subsets
            ],
        }
    if isinstance(record, Deployment):
        return {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": _meta_of(record.namespace, record.name),
            "spec": {
                "replicas": record.replicas,
                "selector": {"matchLabels": dict(record.selector)},
                "template": {"metadata": {"labels": dict(record.template_labels)}},
            },
            "status": {
                "readyReplicas": record.ready,
                "updatedReplicas": record.updated,
                "availableReplicas": record.available,
            },
        }
    owner = (
        [{"kind": "Deployment", "name": record.deployment, "controller": True}] if record.deployment else None
    )
    return {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": _meta_of(record.namespace, record.name, ownerReferences=owner),
    }
