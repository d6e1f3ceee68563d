"""Deployment controller: one ReplicaSet per pod template (`<deploy>-<pod-template-hash>`),
scaling, RollingUpdate (maxSurge / maxUnavailable) and Recreate rollouts, old ReplicaSet
cleanup, and the status and conditions `kubectl get deploy` reads."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from app.sim.clock import SimClock, Timer
from app.sim.controllers.common import WorkQueue, controller_ref, is_terminating, owner_ref, selector_matches
from app.sim.controllers.events import EventRecorder
from app.sim.errors import ApiError
from app.sim.store import Key, ObjectStore, StoreEvent, key_of
from app.timefmt import parse_rfc3339, rfc3339

Obj = dict[str, Any]
COMPONENT = "deployment-controller"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand SafeEncodeString


# ---- pure helpers ------------------------------------------------------------------------------
def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in text)


def pod_template_hash(template: Obj, collision_count: int = 0) -> str:
    """Like controller.ComputeHash: FNV-32a of the template (and collision count), its decimal
    digits mapped onto the name alphabet, e.g. "8465d5b4d7"."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def resolve_int_or_percent(value: object, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        frac = int(value[:-1] or 0) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(value or 0)  # type: ignore[call-overload]


def surge_and_unavailable(deploy: Obj) -> tuple[int, int]:
    spec = deploy.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, replicas
    ru = strategy.get("rollingUpdate") or {}
    surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: unchanged status+reason is a no-op; a changed one moves to the end,
    keeping lastTransitionTime when only the reason changed."""
    conds = status.get("conditions") or []
    current = next((c for c in conds if c["type"] == cond["type"]), None)
    if (
        current is not None
        and current["status"] == cond["status"]
        and current.get("reason") == cond.get("reason")
    ):
        return
    if current is not None and current["status"] == cond["status"]:
        cond = {**cond, "lastTransitionTime": current["lastTransitionTime"]}
    status["conditions"] = [c for c in conds if c["type"] != cond["type"]] + [cond]


def _cond(type_: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _st(rs: Obj, name: str) -> int:
    return int((rs.get("status") or {}).get(name, 0))


def _revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


class DeploymentController:
    def __init__(self, store: ObjectStore, clock: SimClock, *, events: EventRecorder | None = None) -> None:
        self.store = store
        self.clock = clock
        self.events = events or EventRecorder(store, clock)
        self._queue = WorkQueue(clock, self._sync)
        self._deadline_timers: dict[Key, Timer] = {}
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for d in self.store.list("Deployment"):
            self._queue.add(key_of(d))

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def _on_event(self, event: StoreEvent) -> None:
        if event.kind == "Deployment":
            if event.type != "DELETED":
                self._queue.add(key_of(event.obj))
            elif (timer := self._deadline_timers.pop(key_of(event.obj), None)) is not None:
                timer.cancel()
        elif event.kind == "ReplicaSet":
            ns = event.obj["metadata"].get("namespace", "")
            ref = controller_ref(event.obj)
            if ref is not None:
                if ref.get("kind") == "Deployment":
                    self._queue.add((ns, ref["name"]))
            elif event.type != "DELETED":
                labels = event.obj["metadata"].get("labels")
                for d in self.store.list("Deployment", ns):
                    if selector_matches((d.get("spec") or {}).get("selector"), labels):
                        self._queue.add(key_of(d))

    # ---- sync ----------------------------------------------------------------------------------
    def _sync(self, key: Key) -> None:
        d = self.store.get("Deployment", *key)
        if d is None or is_terminating(d):
            return
        all_rs = self._claim_replicasets(d)
        template = (d.get("spec") or {}).get("template") or {}
        new_rs = next(
            (rs for rs in all_rs if without_hash(rs["spec"]["template"]) == without_hash(template)), None
        )
        old_rs = [rs for rs in all_rs if rs is not new_rs]
        if (d.get("spec") or {}).get("paused"):
            self._sync_status(d, new_rs, old_rs)
            return
        if self._is_scaling_event(d, all_rs) and new_rs is not None:
            new_rs, old_rs = self._scale(d, new_rs, old_rs)
            self._sync_status(d, new_rs, old_rs)
            return
        if ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            new_rs, old_rs = self._recreate(d, new_rs, old_rs)
        else:
            new_rs, old_rs = self._rolling(d, new_rs, old_rs)
        old_rs = self._cleanup(d, new_rs, old_rs)
        self._sync_status(d, new_rs, old_rs)

    def _claim_replicasets(self, d: Obj) -> list[Obj]:
        ns, uid = d["metadata"]["namespace"], d["metadata"]["uid"]
        selector = (d.get("spec") or {}).get("selector")
        out = []
        for rs in self.store.list("ReplicaSet", ns):
            ref = controller_ref(rs)
            if ref is not None and ref.get("uid") == uid:
                out.append(rs)
            elif (
                ref is None
                and not is_terminating(rs)
                and selector_matches(selector, rs["metadata"].get("labels"))
            ):

                def adopt(draft: Obj) -> None:
                    draft["metadata"]["ownerReferences"] = [
                        *(draft["metadata"].get("ownerReferences") or []),
                        owner_ref(d),
                    ]

                try:
                    out.append(self.store.mutate("ReplicaSet", *key_of(rs), adopt))
                except ApiError:
                    pass
        return out

    def _is_scaling_event(self, d: Obj, all_rs: list[Obj]) -> bool:
        want = str((d.get("spec") or {}).get("replicas", 1))
        for rs in all_rs:
            if _replicas(rs) > 0:
                desired = (rs["metadata"].get("annotations") or {}).get(DESIRED)
                if desired is not None and desired != want:
                    return True
        return False

    def _scale_rs(self, d: Obj, rs: Obj, replicas: int) -> Obj:
        surge, _ = surge_and_unavailable(d)
        want = int((d.get("spec") or {}).get("replicas", 1))
        before = _replicas(rs)
        annotations = {DESIRED: str(want), MAX_REPLICAS: str(want + surge)}
        if before == replicas and all(
            (rs["metadata"].get("annotations") or {}).get(k) == v for k, v in annotations.items()
        ):
            return rs

        def put(draft: Obj) -> None:
            draft["spec"]["replicas"] = replicas
            draft["metadata"].setdefault("annotations", {}).update(annotations)

        out = self.store.mutate("ReplicaSet", *key_of(rs), put)
        if before != replicas:
            verb = "up" if replicas > before else "down"
            self.events.record(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {replicas}",
                COMPONENT,
            )
        return out

    def _scale(self, d: Obj, new_rs: Obj, old_rs: list[Obj]) -> tuple[Obj, list[Obj]]:
        """A replicas change with no template change: the one active RS takes it all; during a
        rollout the difference is spread over the RSes in proportion to their size."""
        want = int((d.get("spec") or {}).get("replicas", 1))
        active = [rs for rs in [new_rs, *old_rs] if _replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else new_rs
            scaled = self._scale_rs(d, target, want)
            return (scaled if target is new_rs else new_rs), [scaled if rs is target else rs for rs in old_rs]
        surge, _ = surge_and_unavailable(d)
        total = sum(_replicas(rs) for rs in active)
        to_add = want + surge - total
        sizes = {id(rs): _replicas(rs) for rs in active}
        if to_add:
            shares = {id(rs): (_replicas(rs) * to_add) // total if total else 0 for rs in active}
            left = to_add - sum(shares.values())
            order = sorted(active, key=lambda rs: (-_replicas(rs), -_revision(rs)))
            shares[id(order[0])] += left
            for rs in active:
                sizes[id(rs)] = max(0, sizes[id(rs)] + shares[id(rs)])
        result = {id(rs): self._scale_rs(d, rs, sizes.get(id(rs), _replicas(rs))) for rs in [new_rs, *old_rs]}
        return result[id(new_rs)], [result[id(rs)] for rs in old_rs]

    def _new_replicaset(self, d: Obj, old_rs: list[Obj], replicas: int) -> Obj | None:
        template = copy.deepcopy((d.get("spec") or {}).get("template") or {})
        collisions = int((d.get("status") or {}).get("collisionCount", 0))
        ns = d["metadata"]["namespace"]
        revision = max([_revision(rs) for rs in old_rs], default=0) + 1
        surge, _ = surge_and_unavailable(d)
        want = int((d.get("spec") or {}).get("replicas", 1))
        for _ in range(10):
            h = pod_template_hash(template, collisions)
            name = f"{d['metadata']['name']}-{h}"
            if self.store.get("ReplicaSet", ns, name) is None:
                break
            collisions += 1
        else:
            return None
        tmd = template.setdefault("metadata", {})
        tmd["labels"] = {**(tmd.get("labels") or {}), HASH_LABEL: h}
        selector = copy.deepcopy((d.get("spec") or {}).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: h}
        spec: Obj = {"replicas": replicas, "selector": selector, "template": template}
        if (d.get("spec") or {}).get("minReadySeconds"):
            spec["minReadySeconds"] = d["spec"]["minReadySeconds"]
        rs = {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": dict(tmd["labels"]),
                "annotations": {DESIRED: str(want), MAX_REPLICAS: str(want + surge), REVISION: str(revision)},
                "ownerReferences": [owner_ref(d)],
            },
            "spec": spec,
        }
        created = self.store.create(rs)
        if replicas:
            self.events.record(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to {replicas}",
                COMPONENT,
            )
        now = rfc3339(self.clock.now())

        def mark(draft: Obj) -> None:
            status = draft.setdefault("status", {})
            if collisions:
                status["collisionCount"] = collisions
            set_condition(
                status,
                _cond(
                    "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"', now
                ),
            )
            draft["metadata"].setdefault("annotations", {})[REVISION] = str(revision)

        self.store.mutate("Deployment", *key_of(d), mark)
        return created

    def _ensure_revision(self, d: Obj, new_rs: Obj, old_rs: list[Obj]) -> Obj:
        """A template rolled back to an old RS makes it the newest revision again."""
        top = max([_revision(rs) for rs in old_rs], default=0)
        if _revision(new_rs) > top:
            return new_rs
        rev = str(top + 1)

        def put(draft: Obj) -> None:
            draft["metadata"].setdefault("annotations", {})[REVISION] = rev

        return self.store.mutate("ReplicaSet", *key_of(new_rs), put)

    def _rolling(self, d: Obj, new_rs: Obj | None, old_rs: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        want = int((d.get("spec") or {}).get("replicas", 1))
        surge, max_unavailable = surge_and_unavailable(d)
        current = sum(_replicas(rs) for rs in old_rs)
        if new_rs is None:
            first = min(want, max(0, want + surge - current)) if old_rs else want
            new_rs = self._new_replicaset(d, old_rs, first)
            if new_rs is None:
                return None, old_rs
            return new_rs, old_rs
        new_rs = self._ensure_revision(d, new_rs, old_rs)
        # Scale up the new RS as far as maxSurge allows.
        total = current + _replicas(new_rs)
        if _replicas(new_rs) > want:
            new_rs = self._scale_rs(d, new_rs, want)
        elif _replicas(new_rs) < want and total < want + surge:
            new_rs = self._scale_rs(
                d, new_rs, _replicas(new_rs) + min(want + surge - total, want - _replicas(new_rs))
            )
        # Scale down old RSes as far as maxUnavailable allows.
        if sum(_replicas(rs) for rs in old_rs) == 0:
            return new_rs, old_rs
        all_pods = sum(_replicas(rs) for rs in old_rs) + _replicas(new_rs)
        min_available = want - max_unavailable
        new_unavailable = _replicas(new_rs) - _st(new_rs, "availableReplicas")
        max_scale_down = all_pods - min_available - new_unavailable
        if max_scale_down <= 0:
            return new_rs, old_rs
        old_rs = sorted(old_rs, key=lambda rs: parse_rfc3339(rs["metadata"].get("creationTimestamp")) or 0)
        # First the old RSes' unhealthy replicas ...
        cleaned = 0
        out: list[Obj] = []
        for rs in old_rs:
            unhealthy = _replicas(rs) - _st(rs, "availableReplicas")
            if cleaned >= max_scale_down or unhealthy <= 0 or _replicas(rs) == 0:
                out.append(rs)
                continue
            n = min(unhealthy, max_scale_down - cleaned)
            cleaned += n
            out.append(self._scale_rs(d, rs, _replicas(rs) - n))
        old_rs = out
        # ... then available ones, keeping minAvailable.
        available = sum(_st(rs, "availableReplicas") for rs in [*old_rs, new_rs])
        budget = min(available - min_available, max_scale_down - cleaned)
        out = []
        for rs in old_rs:
            if budget <= 0 or _replicas(rs) == 0:
                out.append(rs)
                continue
            n = min(_replicas(rs), budget)
            budget -= n
            out.append(self._scale_rs(d, rs, _replicas(rs) - n))
        return new_rs, out

    def _recreate(self, d: Obj, new_rs: Obj | None, old_rs: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        want = int((d.get("spec") or {}).get("replicas", 1))
        old_rs = [self._scale_rs(d, rs, 0) if _replicas(rs) else rs for rs in old_rs]
        if any(_st(rs, "replicas") or _st(rs, "terminatingReplicas") for rs in old_rs):
            return new_rs, old_rs  # wait for every old pod to be gone
        if new_rs is None:
            return self._new_replicaset(d, old_rs, want), old_rs
        new_rs = self._ensure_revision(d, new_rs, old_rs)
        return self._scale_rs(d, new_rs, want), old_rs

    def _cleanup(self, d: Obj, new_rs: Obj | None, old_rs: list[Obj]) -> list[Obj]:
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [rs for rs in old_rs if _replicas(rs) == 0 and _st(rs, "replicas") == 0]
        idle.sort(key=_revision)
        doomed = idle[: max(0, len(idle) - limit)]
        for rs in doomed:
            try:
                self.store.delete("ReplicaSet", *key_of(rs))
            except ApiError:
                pass
        return [rs for rs in old_rs if rs not in doomed]

    # ---- status --------------------------------------------------------------------------------
    def _sync_status(self, d: Obj, new_rs: Obj | None, old_rs: list[Obj]) -> None:
        key = key_of(d)
        d = self.store.get("Deployment", *key) or d
        spec = d.get("spec") or {}
        want = int(spec.get("replicas", 1))
        _, max_unavailable = surge_and_unavailable(d)
        all_rs = [rs for rs in [new_rs, *old_rs] if rs is not None]
        replicas = sum(_st(rs, "replicas") for rs in all_rs)
        updated = _st(new_rs, "replicas") if new_rs else 0
        ready = sum(_st(rs, "readyReplicas") for rs in all_rs)
        available = sum(_st(rs, "availableReplicas") for rs in all_rs)
        total_spec = sum(_replicas(rs) for rs in all_rs)
        old_status = d.get("status") or {}
        status: Obj = {"observedGeneration": d["metadata"].get("generation", 1)}
        for name, value in (
            ("replicas", replicas),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("unavailableReplicas", max(0, total_spec - available)),
        ):
            if value:
                status[name] = value
        status["terminatingReplicas"] = sum(_st(rs, "terminatingReplicas") for rs in all_rs)
        if old_status.get("collisionCount"):
            status["collisionCount"] = old_status["collisionCount"]
        status["conditions"] = copy.deepcopy(old_status.get("conditions") or [])
        now_ts = rfc3339(self.clock.now())
        if available >= want - max_unavailable:
            set_condition(
                status,
                _cond(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now_ts,
                ),
            )
        else:
            set_condition(
                status,
                _cond(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now_ts,
                ),
            )
        if new_rs is not None and not spec.get("paused"):
            self._progressing(d, status, old_status, new_rs, old_rs, now_ts)
        if status == old_status:
            return

        def put(draft: Obj) -> None:
            draft["status"] = status

        self.store.mutate("Deployment", *key, put)

    def _progressing(
        self, d: Obj, status: Obj, old: Obj, new_rs: Obj, old_rs: list[Obj], now_ts: str
    ) -> None:
        name = new_rs["metadata"]["name"]
        want = int((d.get("spec") or {}).get("replicas", 1))
        complete = (
            status.get("updatedReplicas", 0) == want
            and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and all(_st(rs, "replicas") == 0 for rs in old_rs)
        )
        current = next((c for c in status["conditions"] if c["type"] == "Progressing"), None)
        old_old = int(old.get("replicas", 0)) - int(old.get("updatedReplicas", 0))
        new_old = int(status.get("replicas", 0)) - int(status.get("updatedReplicas", 0))
        progressed = (
            status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
            or new_old < old_old
            or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or status.get("availableReplicas", 0) > old.get("availableReplicas", 0)
        )
        if complete:
            set_condition(
                status,
                _cond(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{name}" has successfully progressed.',
                    now_ts,
                ),
            )
        elif progressed:
            cond = _cond(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.', now_ts
            )
            if current is not None and current["status"] == "True":
                cond["lastTransitionTime"] = current["lastTransitionTime"]
            status["conditions"] = [c for c in status["conditions"] if c["type"] != "Progressing"] + [cond]
        elif current is None:
            set_condition(
                status,
                _cond("Progressing", "True", "FoundNewReplicaSet", f'Found new replica set "{name}"', now_ts),
            )
        else:
            self._check_deadline(d, status, current, name, now_ts)

    def _check_deadline(self, d: Obj, status: Obj, current: Obj, name: str, now_ts: str) -> None:
        if current.get("reason") in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
            return
        deadline_s = (d.get("spec") or {}).get("progressDeadlineSeconds")
        if deadline_s is None:
            return
        since = parse_rfc3339(current.get("lastUpdateTime")) or self.clock.now()
        due = since + float(deadline_s)
        if self.clock.now() >= due:
            set_condition(
                status,
                _cond(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{name}" has timed out progressing.',
                    now_ts,
                ),
            )
            return
        key = key_of(d)
        timer = self._deadline_timers.get(key)
        if timer is None or timer.cancelled or timer.when != due:
            if timer is not None:
                timer.cancel()
            self._deadline_timers[key] = self.clock.call_at(due, lambda: self._queue.add(key))
