"""The scenario format as plain frozen dataclasses: a scenario, its setup, its steps, and the
actions, highlights and expectations inside a step (docs/scenarios.md documents the YAML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.security.safe_yaml import YamlLimits

Manifest = dict[str, Any]

# What a scenario file may be: far above any real lesson (the built-in ones are under 6 KiB, 500 nodes
# and 15 levels deep), low enough that a hostile file is refused at once.
YAML_LIMITS = YamlLimits(max_bytes=1 << 20, max_depth=64, max_aliases=1000, max_nodes=100_000)

# How a pod reference chooses among the pods its selector matches (sorted by name; pods being
# deleted are never picked). "all" acts on every one of them.
PICKS: tuple[str, ...] = ("first", "last", "first-ready", "last-ready", "first-not-ready", "all")


@dataclass(frozen=True)
class PodRef:
    """Which pod(s) an action or highlight means: pods get random name suffixes, so a scenario names
    them by a rule (a selector and a pick) or by a name an earlier action remembered."""

    namespace: str = "default"
    selector: dict[str, str] | None = None
    pick: str = "first"
    ref: str | None = None  # a name given with `remember:` by an earlier action

    def describe(self) -> str:
        if self.ref:
            return f"pod remembered as {self.ref!r}"
        sel = ",".join(f"{k}={v}" for k, v in (self.selector or {}).items()) or "<any>"
        return f"{self.pick} pod in {self.namespace} with {sel}"


# ---- actions -----------------------------------------------------------------
@dataclass(frozen=True)
class Apply:
    """Create or update Kubernetes objects (like kubectl apply)."""

    manifests: tuple[Manifest, ...]


@dataclass(frozen=True)
class Scale:
    namespace: str
    name: str  # a Deployment
    replicas: int


@dataclass(frozen=True)
class Label:
    """Set labels on pods; a value of None removes the label (like `kubectl label key-`)."""

    pod: PodRef
    labels: dict[str, str | None]
    remember: str | None = None


@dataclass(frozen=True)
class Readiness:
    """Flip the simulated readiness probe of pods to passing or failing."""

    pod: PodRef
    passing: bool
    remember: str | None = None


@dataclass(frozen=True)
class DeletePod:
    pod: PodRef
    grace_seconds: int | None = None
    remember: str | None = None


@dataclass(frozen=True)
class Delete:
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class Wait:
    """Let `seconds` of simulated time pass, so controllers, kubelets and probes do their work."""

    seconds: float


@dataclass(frozen=True)
class Flap:
    """Fail then pass the readiness probe of pods `times` times; each half lasts `period` seconds."""

    pod: PodRef
    times: int
    period: float
    remember: str | None = None


Action = Apply | Scale | Label | Readiness | DeletePod | Delete | Wait | Flap
ACTION_NAMES: tuple[str, ...] = (
    "apply",
    "scale",
    "label",
    "readiness",
    "deletePod",
    "delete",
    "wait",
    "flap",
)


# ---- what the diagram should emphasise ------------------------------------------
@dataclass(frozen=True)
class Highlight:
    services: tuple[str, ...] = ()  # "namespace/name" keys
    selectors: tuple[dict[str, str], ...] = ()  # label selectors to mark on pods and Services
    pods: tuple[PodRef, ...] = ()  # resolved to pod keys (and their IPs) at run time
    ips: tuple[str, ...] = ()  # literal addresses, e.g. hand-written Endpoints


# ---- expectations checked against the store ---------------------------------------
@dataclass(frozen=True)
class ServiceCheck:
    """Counts over all EndpointSlices of a Service (label kubernetes.io/service-name). Each field left
    None is not checked. ready: endpoints with ready=true; notReady: ready=false and not terminating;
    terminating: terminating=true; total: all endpoints; sliceSizes: endpoints per slice, largest
    first; ips: the set of ready addresses; ports: the set of slice port numbers."""

    namespace: str
    name: str
    exists: bool | None = None
    ready: int | None = None
    notReady: int | None = None
    terminating: int | None = None
    serving: int | None = None
    total: int | None = None
    slices: int | None = None
    sliceSizes: tuple[int, ...] | None = None
    ips: tuple[str, ...] | None = None
    ports: tuple[int, ...] | None = None
    managedBy: str | None = None
    sliceLabels: dict[str, str] | None = None


@dataclass(frozen=True)
class EndpointsCheck:
    """The legacy v1 Endpoints object of that name: address counts over all subsets."""

    namespace: str
    name: str
    exists: bool | None = None
    addresses: int | None = None
    notReadyAddresses: int | None = None
    overCapacity: bool | None = None
    ips: tuple[str, ...] | None = None  # the set of ready addresses
    ports: tuple[int, ...] | None = None


@dataclass(frozen=True)
class PodsCheck:
    """Pods matching a label selector in a namespace (an empty selector means every pod)."""

    namespace: str
    selector: dict[str, str]
    count: int | None = None  # pods not being deleted
    ready: int | None = None  # of those, Ready=True
    terminating: int | None = None  # pods with a deletionTimestamp
    orphans: int | None = None  # pods (not being deleted) without an owner


@dataclass(frozen=True)
class UnmatchedPodsCheck:
    """Pods (not being deleted) whose labels match no Service selector in their namespace."""

    namespace: str
    count: int


Check = ServiceCheck | EndpointsCheck | PodsCheck | UnmatchedPodsCheck


# ---- the scenario -----------------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    """The starting state: the built-in lesson objects and/or manifests, then `wait` seconds."""

    lesson: str | None = None  # "default": SimCluster.load_lesson()
    manifests: tuple[Manifest, ...] = ()
    wait: float = 0.0


@dataclass(frozen=True)
class Step:
    title: str
    narration: str
    actions: tuple[Action, ...] = ()
    highlight: Highlight = field(default_factory=Highlight)
    expect: tuple[Check, ...] = ()
    line: int = 0  # where the step starts in its file, for messages
    commands: tuple[str, ...] = ()  # kubectl commands the console suggests during this step


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    summary: str
    setup: Setup
    steps: tuple[Step, ...]
    namespace: str = "default"
    source: str = ""  # the file it was read from
    commands: tuple[str, ...] = ()  # kubectl commands the console suggests in every step
