"""ReplicaSet controller: keeps `spec.replicas` active pods owned through a controller
ownerReference, adopting matching orphans, releasing pods relabelled out of its selector, and
reporting replicas / fullyLabeled / ready / available / terminating in its status.

What a sync needs of the pods is kept up to date from store events (each pod's facts and each
ReplicaSet's tallies), so a sync costs the same for 10 pods or 10,000; pods are created and
deleted by a job that works in batches across clock callbacks (the controller's expectations:
no new job for a ReplicaSet while one is under way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.sim.clock import SimClock, Timer
from app.sim.controllers.common import (
    BATCH,
    WorkQueue,
    condition,
    controller_ref,
    is_active,
    is_terminal,
    is_terminating,
    light_mutate,
    owner_ref,
    request_delete,
    selector_matches,
)
from app.sim.controllers.events import EventRecorder
from app.sim.errors import ApiError
from app.sim.store import Key, ObjectStore, StoreEvent, key_of, matches
from app.timefmt import parse_rfc3339

Obj = dict[str, Any]
COMPONENT = "replicaset-controller"
# Backoff after a failed pod creation (e.g. a quota): 1 s, doubling, at most 5 minutes.
RETRY_FIRST, RETRY_MAX = 1.0, 300.0
# How long a pod the controller created takes to reach its pod cache (the informer's watch): until
# then it is not counted, so the ReplicaSet's status right after a scale-up still shows the old
# number, and no new creations start (the controller's expectations).
CACHE_LATENCY = 0.005


DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_cost(pod: Obj) -> int:
    """GetDeletionCostFromPodAnnotations: an int32, 0 when absent or not a valid number."""
    text = (pod["metadata"].get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    if text is None:
        return 0
    try:
        cost = int(str(text).strip(), 10)
    except ValueError:
        return 0
    return cost if -(2**31) <= cost < 2**31 else 0


def log2_bucket(since: float | None, now: float) -> int:
    """logarithmicRankDiff's rank of a timestamp: int(log2(nanoseconds since it)), -1 for none
    elapsed. A missing timestamp sorts first (afterOrZero: the zero time is the newest)."""
    if since is None:
        return -2
    elapsed_ns = round((now - since) * 1e9)
    return int(math.log2(elapsed_ns)) if elapsed_ns > 0 else -1


def max_restarts(pod: Obj) -> int:
    return max(
        (int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or ()),
        default=0,
    )


def deletion_rank(pod: Obj, colocated: int, now: float) -> tuple[int, int, int, int, int, int, int, int, str]:
    """The sort key of ActivePodsWithRanks.Less (pkg/controller/controller_utils.go): lower sorts
    first = deleted first. Unassigned before assigned; Pending < Unknown < Running; not ready
    before ready; lower pod-deletion-cost first; more active pods of the Deployment on the same
    node (`colocated`, getPodsRankedByRelatedPodsOnSameNode) first; ready for less time, in log2
    buckets; more container restarts; newer, in log2 buckets of age; then the UID, the
    pseudo-random tie-break."""
    status = pod.get("status") or {}
    md = pod["metadata"]
    ready_cond = condition(pod, "Ready")
    ready = ready_cond is not None and ready_cond.get("status") == "True"
    ready_bucket = log2_bucket(parse_rfc3339(ready_cond.get("lastTransitionTime")), now) if ready else 0
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        _PHASE_ORDINAL.get(status.get("phase", ""), 0),
        1 if ready else 0,
        deletion_cost(pod),
        -colocated,
        ready_bucket,
        -max_restarts(pod),
        log2_bucket(parse_rfc3339(md.get("creationTimestamp")), now),
        str(md.get("uid") or ""),
    )


def pod_from_template(rs: Obj, owner_refs: list[Obj] | None = None) -> Obj:
    """A new pod of the ReplicaSet (`owner_refs`: its ownerReferences list, which the pods of one
    ReplicaSet may share, as stored objects are frozen)."""
    template = (rs.get("spec") or {}).get("template") or {}
    tmd = template.get("metadata") or {}
    md: Obj = {
        "generateName": rs["metadata"]["name"] + "-",
        "namespace": rs["metadata"].get("namespace", "default"),
        # Stored objects are frozen: every pod of the ReplicaSet may hold the template's labels
        # dict (a relabel replaces it, never edits it).
        "labels": tmd.get("labels") or {},
        "ownerReferences": owner_refs or [owner_ref(rs)],
    }
    if tmd.get("annotations"):
        md["annotations"] = tmd["annotations"]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": md,
        "spec": dict(template.get("spec") or {}),
    }


# ---- what the controller keeps of pods and ReplicaSets ------------------------------------------
@dataclass(frozen=True, slots=True)
class Shape:
    """The parts of a ReplicaSet its pods are judged against."""

    selector: Obj | None
    template_labels: dict[str, str]

    def judge(self, labels: dict[str, str] | None) -> tuple[bool, bool]:
        """(matches the selector, carries the template's labels) for a pod's labels."""
        return selector_matches(self.selector, labels), matches(labels, self.template_labels)


class _Judged:
    """Shape.judge remembered for the last labels dict seen per ReplicaSet (its pods share the
    template's labels dict, frozen like every stored object)."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[Shape, dict[str, str] | None, tuple[bool, bool]]] = {}

    def __call__(self, shape: Shape, labels: dict[str, str] | None) -> tuple[bool, bool]:
        hit = self._last.get(id(shape))
        if hit is not None and hit[0] is shape and hit[1] is labels:
            return hit[2]
        verdict = shape.judge(labels)
        if len(self._last) > 1000:
            self._last.clear()
        self._last[id(shape)] = (shape, labels, verdict)
        return verdict


_judged = _Judged()


@dataclass(frozen=True, slots=True)
class PodFacts:
    """What a pod counts for: its controlling ReplicaSet (uid, name) and how it counts there."""

    owner: tuple[str, str] | None
    orphan: bool = False  # active, no controller: a ReplicaSet whose selector matches adopts it
    claimed: bool = False  # owned, active, matching the owner's selector
    misfit: bool = False  # owned and active but outside the selector: to be released
    ready: bool = False
    labeled: bool = False
    terminating: bool = False  # owned, terminating, not finished
    ready_since: float | None = None


def pod_facts(pod: Obj, shape: Shape | None) -> PodFacts:
    """Classify a pod against its owner's shape (None: owner unknown or not a ReplicaSet)."""
    ref = controller_ref(pod)
    active = is_active(pod)
    if ref is None:
        return PodFacts(None, orphan=active)
    if ref.get("kind") != "ReplicaSet" or not ref.get("uid"):
        return PodFacts(None)
    owner = (ref["uid"], ref.get("name", ""))
    terminating = is_terminating(pod) and not is_terminal(pod)
    if not active or shape is None:
        return PodFacts(owner, terminating=terminating)
    fits, labeled = _judged(shape, pod["metadata"].get("labels"))
    if not fits:
        return PodFacts(owner, misfit=True)
    ready_cond = condition(pod, "Ready")
    ready = ready_cond is not None and ready_cond.get("status") == "True"
    since = parse_rfc3339(ready_cond.get("lastTransitionTime")) if ready and ready_cond else None
    return PodFacts(owner, claimed=True, ready=ready, labeled=labeled, ready_since=since)


@dataclass
class Tally:
    """Counts over a ReplicaSet's pods, kept from the pods' facts."""

    claimed: int = 0
    ready: int = 0
    labeled: int = 0
    terminating: int = 0
    pods: set[str] = field(default_factory=set)  # names of the pods it owns, in any state
    misfits: set[str] = field(default_factory=set)

    def add(self, name: str, f: PodFacts, sign: int) -> None:
        if (name in self.pods) != (sign < 0):
            return  # counted already, or never counted (its owner was unknown then)
        self.claimed += sign * f.claimed
        self.ready += sign * (f.claimed and f.ready)
        self.labeled += sign * (f.claimed and f.labeled)
        self.terminating += sign * f.terminating
        if sign > 0:
            self.pods.add(name)
            if f.misfit:
                self.misfits.add(name)
        else:
            self.pods.discard(name)
            self.misfits.discard(name)


@dataclass
class Job:
    """Pods being created (`left` more) or deleted (`victims`, in order) for one ReplicaSet."""

    key: Key
    uid: str
    create: bool
    left: int = 0
    victims: list[str] = field(default_factory=list)  # the next victim last


class ReplicaSetController:
    def __init__(
        self,
        store: ObjectStore,
        clock: SimClock,
        *,
        events: EventRecorder | None = None,
        burst_replicas: int = 500,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events or EventRecorder(store, clock)
        self.burst_replicas = burst_replicas  # most pods one job creates or deletes
        self.batch = max(1, batch)  # most pods one clock callback of a job creates or deletes
        self._queue = WorkQueue(clock, self._sync)
        self._shapes: dict[str, Shape] = {}  # rs uid -> shape
        self._facts: dict[Key, PodFacts] = {}
        self._distinct: dict[PodFacts, PodFacts] = {}
        self._tallies: dict[str, Tally] = {}  # rs uid -> tally
        self._orphans: dict[str, dict[str, None]] = {}  # namespace -> orphan pod names
        self._jobs: dict[str, Job] = {}  # rs uid -> job under way
        self._failures: dict[str, int] = {}  # rs uid -> failed creations in a row
        self._owner_refs: dict[str, list[Obj]] = {}  # rs uid -> the ownerReferences its pods share
        self._timers: dict[Key, Timer] = {}  # minReadySeconds re-checks
        self._retries: dict[Key, Timer] = {}  # syncs after a failed pod creation
        self._creating = False  # inside the controller's own pod creations
        self._unseen: dict[Key, str] = {}  # pods it created, not in its cache yet -> owner uid
        self._arrivals: dict[float, list[Key]] = {}  # when they reach the cache -> which
        self._expected: dict[str, int] = {}  # rs uid -> its creations not seen yet
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for rs in self.store.list("ReplicaSet"):
            self._on_event(StoreEvent("ADDED", "ReplicaSet", rs, 0))
        for pod in self.store.list("Pod"):
            self._on_event(StoreEvent("ADDED", "Pod", pod, 0))

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    # ---- events: only bookkeeping and enqueueing ---------------------------------------------
    def _on_event(self, event: StoreEvent) -> None:
        if event.kind == "ReplicaSet":
            self._on_replicaset(event)
        elif event.kind == "Pod":
            pod = event.obj
            key = key_of(pod)
            if key in self._unseen:
                return  # its arrival in the cache reads the pod as it is then
            if self._creating and event.type == "ADDED":
                self._expect_arrival(key, pod)
                return
            shape = None
            ref = controller_ref(pod)
            if ref is not None:
                shape = self._shapes.get(ref.get("uid", ""))
            self._set_facts(key_of(pod), None if event.type == "DELETED" else pod_facts(pod, shape), pod)

    def _expect_arrival(self, key: Key, pod: Obj) -> None:
        """A pod this controller just created reaches its cache CACHE_LATENCY later, together
        with every other pod created at the same instant."""
        ref = controller_ref(pod)
        uid = (ref or {}).get("uid", "")
        self._unseen[key] = uid
        self._expected[uid] = self._expected.get(uid, 0) + 1
        when = self.clock.now() + CACHE_LATENCY
        batch = self._arrivals.get(when)
        if batch is None:
            batch = self._arrivals[when] = []
            self.clock.call_at(when, lambda: self._arrive(when))
        batch.append(key)

    def _arrive(self, when: float) -> None:
        for key in self._arrivals.pop(when, ()):
            uid = self._unseen.pop(key, None)
            if uid is None:
                continue
            left = self._expected.get(uid, 0) - 1
            if left > 0:
                self._expected[uid] = left
            else:
                self._expected.pop(uid, None)
            pod = self.store.get("Pod", *key)
            if pod is None:
                continue
            ref = controller_ref(pod)
            shape = self._shapes.get(ref.get("uid", "")) if ref is not None else None
            self._set_facts(key, pod_facts(pod, shape), pod)

    def _on_replicaset(self, event: StoreEvent) -> None:
        rs = event.obj
        uid = rs["metadata"].get("uid", "")
        if event.type == "DELETED":
            self._shapes.pop(uid, None)
            self._jobs.pop(uid, None)
            self._failures.pop(uid, None)
            self._owner_refs.pop(uid, None)
            self._expected.pop(uid, None)
            tally = self._tallies.pop(uid, None)
            if tally is not None:  # its pods now count for no ReplicaSet (the GC deletes them)
                ns = rs["metadata"].get("namespace", "")
                for name in list(tally.pods):
                    self._facts[(ns, name)] = PodFacts(self._facts[(ns, name)].owner)
            for timers in (self._timers, self._retries):
                timer = timers.pop(key_of(rs), None)
                if timer is not None:
                    timer.cancel()
            return
        spec = rs.get("spec") or {}
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        shape = Shape(spec.get("selector"), tlabels)
        old = self._shapes.get(uid)
        self._shapes[uid] = shape
        if old is not None and old != shape:
            self._reclassify(rs, shape)
        self._queue.add(key_of(rs))

    def _reclassify(self, rs: Obj, shape: Shape) -> None:
        """A ReplicaSet's template labels changed: judge its pods again."""
        ns, uid = rs["metadata"].get("namespace", ""), rs["metadata"]["uid"]
        for name in list(self._tallies.get(uid, Tally()).pods):
            pod = self.store.get("Pod", ns, name)
            if pod is not None:
                self._set_facts((ns, name), pod_facts(pod, shape), pod)

    def _set_facts(self, key: Key, new: PodFacts | None, pod: Obj) -> None:
        ns, name = key
        if new is not None:  # most pods have the same facts as many others: keep one of each
            if len(self._distinct) > 10_000:
                self._distinct.clear()
            new = self._distinct.setdefault(new, new)
        old = self._facts.get(key)
        if old == new:
            if new is not None and new.orphan:  # its labels may have changed: who adopts it now?
                self._enqueue_adopters(ns, pod)
            return
        if old is not None:
            if old.owner is not None and (tally := self._tallies.get(old.owner[0])) is not None:
                tally.add(name, old, -1)
            if old.orphan:
                self._orphans.get(ns, {}).pop(name, None)
        if new is None:
            self._facts.pop(key, None)
        else:
            self._facts[key] = new
            if new.owner is not None and new.owner[0] in self._shapes:
                self._tallies.setdefault(new.owner[0], Tally()).add(name, new, 1)
            if new.orphan:
                self._orphans.setdefault(ns, {})[name] = None
        for facts in (old, new):
            if facts is not None and facts.owner is not None:
                self._queue.add((ns, facts.owner[1]))
        if new is not None and new.orphan:
            self._enqueue_adopters(ns, pod)

    def _enqueue_adopters(self, ns: str, pod: Obj) -> None:
        labels = pod["metadata"].get("labels")
        for rs in self.store.list("ReplicaSet", ns):
            if selector_matches((rs.get("spec") or {}).get("selector"), labels):
                self._queue.add(key_of(rs))

    # ---- the sync pass -----------------------------------------------------------------------
    def _sync(self, key: Key) -> None:
        rs = self.store.get("ReplicaSet", *key)
        if rs is None or is_terminating(rs):
            return
        ns, uid = key[0], rs["metadata"]["uid"]
        selector = (rs.get("spec") or {}).get("selector")
        tally = self._tallies.setdefault(uid, Tally())
        for name in list(tally.misfits):
            pod = self.store.get("Pod", ns, name)
            if pod is not None:
                self._release(pod, uid)
        for name in list(self._orphans.get(ns, ())):
            pod = self.store.get("Pod", ns, name)
            if pod is not None and selector_matches(selector, pod["metadata"].get("labels")):
                self._adopt(pod, rs)
        if uid not in self._jobs and key not in self._retries:
            self._manage(rs, tally)
        self._update_status(rs, tally)

    def _release(self, pod: Obj, uid: str) -> None:
        def drop(draft: Obj) -> None:
            refs = [r for r in draft["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:
                draft["metadata"]["ownerReferences"] = refs
            else:
                draft["metadata"].pop("ownerReferences", None)

        try:
            light_mutate(self.store, "Pod", *key_of(pod), drop)
        except ApiError:
            pass

    def _adopt(self, pod: Obj, rs: Obj) -> Obj | None:
        def add(draft: Obj) -> None:
            refs = list(draft["metadata"].get("ownerReferences") or [])
            refs.append(owner_ref(rs))
            draft["metadata"]["ownerReferences"] = refs

        try:
            return light_mutate(self.store, "Pod", *key_of(pod), add)
        except ApiError:
            return None

    def _manage(self, rs: Obj, tally: Tally) -> None:
        want = int((rs.get("spec") or {}).get("replicas", 1))
        key, uid = key_of(rs), rs["metadata"]["uid"]
        # Pods it created that its cache has not shown it yet count as there (so a scale-up's
        # creations all go at once and arrive together); victims are only chosen among pods seen.
        expected = self._expected.get(uid, 0)
        diff = tally.claimed + expected - want
        if diff > 0 and expected:
            return  # the arrivals requeue it
        if diff < 0:
            job = Job(key, uid, create=True, left=min(-diff, self.burst_replicas))
        elif diff > 0:
            victims = self._pods_to_delete(rs, tally, min(diff, self.burst_replicas))
            job = Job(key, uid, create=False, victims=victims[::-1])
        else:
            return
        self._jobs[uid] = job
        self._step(job)

    def _pods_to_delete(self, rs: Obj, tally: Tally, n: int) -> list[str]:
        """getPodsToDelete: the first n of the ReplicaSet's active pods in deletion order, each
        ranked by the active pods on its node of every ReplicaSet of the same owner."""
        ns = rs["metadata"].get("namespace", "")
        claimed = [
            p
            for name in tally.pods
            if self._facts.get((ns, name), PodFacts(None)).claimed
            and (p := self.store.get("Pod", ns, name)) is not None
        ]
        if n >= len(claimed):
            return [p["metadata"]["name"] for p in claimed]
        on_node: dict[str, int] = {}
        for pod in self._related_pods(rs, claimed):
            if is_active(pod):
                node = (pod.get("spec") or {}).get("nodeName") or ""
                on_node[node] = on_node.get(node, 0) + 1
        now = self.clock.now()
        claimed.sort(
            key=lambda p: deletion_rank(p, on_node.get((p.get("spec") or {}).get("nodeName") or "", 0), now)
        )
        return [p["metadata"]["name"] for p in claimed[:n]]

    def _related_pods(self, rs: Obj, own: list[Obj]) -> list[Obj]:
        """getIndirectlyRelatedPods: the pods of every ReplicaSet controlled by this one's owner
        (only its own when it has none)."""
        owner = controller_ref(rs)
        if owner is None:
            return own
        ns = rs["metadata"].get("namespace", "")
        out: list[Obj] = []
        for sibling in self.store.list("ReplicaSet", ns):
            ref = controller_ref(sibling)
            if ref is None or ref.get("uid") != owner.get("uid"):
                continue
            tally = self._tallies.get(sibling["metadata"].get("uid", ""))
            for name in tally.pods if tally is not None else ():
                pod = self.store.get("Pod", ns, name)
                if pod is not None:
                    out.append(pod)
        return out

    def _step(self, job: Job) -> None:
        """One batch of a job; the rest in a later clock callback, then a resync."""
        if self._jobs.get(job.uid) is not job:
            return
        rs = self.store.get("ReplicaSet", *job.key)
        if rs is None or rs["metadata"].get("uid") != job.uid or is_terminating(rs):
            self._jobs.pop(job.uid, None)
            return
        tally = self._tallies.setdefault(job.uid, Tally())
        want = int((rs.get("spec") or {}).get("replicas", 1))
        more = (
            self._create_some(rs, job, tally, want) if job.create else self._delete_some(rs, job, tally, want)
        )
        if more:
            self.clock.call_soon(lambda: self._step(job))
        else:
            self._jobs.pop(job.uid, None)
            self._queue.add(job.key)

    def _create_some(self, rs: Obj, job: Job, tally: Tally, want: int) -> bool:
        n = min(self.batch, job.left, want - tally.claimed - self._expected.get(job.uid, 0))
        refs = self._owner_refs.get(job.uid)
        if refs is None:
            refs = self._owner_refs[job.uid] = [owner_ref(rs)]
        for _ in range(max(0, n)):
            try:
                self._creating = True
                try:
                    pod = self.store.create(pod_from_template(rs, refs))
                finally:
                    self._creating = False
            except ApiError as err:
                self.events.record(rs, "Warning", "FailedCreate", f"Error creating: {err}", COMPONENT)
                self._retry_later(job.key, job.uid)
                return False
            job.left -= 1
            self._failures.pop(job.uid, None)
            self.events.record(
                rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", COMPONENT
            )
        return job.left > 0 and tally.claimed + self._expected.get(job.uid, 0) < want

    def _delete_some(self, rs: Obj, job: Job, tally: Tally, want: int) -> bool:
        ns = job.key[0]
        done = 0
        while job.victims and done < self.batch and tally.claimed > want:
            name = job.victims.pop()
            if not self._facts.get((ns, name), PodFacts(None)).claimed:
                continue
            try:
                request_delete(self.store, "Pod", ns, name)
            except ApiError:
                continue
            done += 1
            self.events.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}", COMPONENT)
        return bool(job.victims) and tally.claimed > want

    def _retry_later(self, key: Key, uid: str) -> None:
        n = self._failures.get(uid, 0)
        self._failures[uid] = n + 1
        delay = min(RETRY_MAX, RETRY_FIRST * 2**n)
        old = self._retries.pop(key, None)
        if old is not None:
            old.cancel()
        self._retries[key] = self.clock.call_later(delay, lambda: self._retry(key))

    def _retry(self, key: Key) -> None:
        self._retries.pop(key, None)
        self._queue.add(key)

    def _update_status(self, rs: Obj, tally: Tally) -> None:
        spec = rs.get("spec") or {}
        min_ready = float(spec.get("minReadySeconds") or 0)
        available = tally.ready
        if min_ready and tally.ready:
            available = self._available(rs, tally, min_ready)
        status: Obj = {"replicas": tally.claimed}
        if tally.labeled:
            status["fullyLabeledReplicas"] = tally.labeled
        if tally.ready:
            status["readyReplicas"] = tally.ready
        if available:
            status["availableReplicas"] = available
        status["terminatingReplicas"] = tally.terminating
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        for c in (rs.get("status") or {}).get("conditions") or []:
            status.setdefault("conditions", []).append(c)
        if status == rs.get("status"):
            return

        def put(draft: Obj) -> None:
            draft["status"] = status

        light_mutate(self.store, "ReplicaSet", *key_of(rs), put)

    def _available(self, rs: Obj, tally: Tally, min_ready: float) -> int:
        """Ready pods that have been ready for minReadySeconds (a re-check is set for the next)."""
        ns, now = rs["metadata"].get("namespace", ""), self.clock.now()
        available = 0
        next_check: float | None = None
        for name in tally.pods:
            f = self._facts.get((ns, name))
            if f is None or not (f.claimed and f.ready):
                continue
            since = now if f.ready_since is None else f.ready_since
            if since + min_ready <= now:
                available += 1
            else:
                next_check = min(next_check or since + min_ready, since + min_ready)
        key = key_of(rs)
        if next_check is not None and key not in self._timers:
            self._timers[key] = self.clock.call_at(next_check, lambda: self._recheck(key))
        return available

    def _recheck(self, key: Key) -> None:
        self._timers.pop(key, None)
        self._queue.add(key)
