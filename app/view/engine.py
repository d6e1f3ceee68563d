"""The view engine: applies source items to the index, marks only the affected views dirty, and on
take_ops() recomputes those, publishing put/del/timeline/timeline-clear/meta ops per
docs/view-model.md. No I/O."""

from __future__ import annotations

import copy
import heapq
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

from app.kinds import WATCHED_KINDS
from app.sources.base import Change, ClusterInfo, Resync, SourceItem, Status
from app.view.diagnosis import pod_verdict
from app.view.index import Index, Key, selector_matches
from app.view.projector import (
    Cache,
    DeploymentPub,
    PodPub,
    ServicePub,
    project_deployment,
    project_pod,
    project_service,
    render_deployment,
    render_pod,
    render_service,
    selected_pods,
)
from app.view.slim import (
    SLIMMERS,
    Deployment,
    Endpoints,
    EndpointSlice,
    Pod,
    ReplicaSet,
    Service,
    Slim,
    compact,
    object_key,
    slim,
)
from app.view.timeline import Entry, diff_deployment, diff_pod, diff_service, draft, rollout

log = logging.getLogger(__name__)

NEAR_MISS_PODS = 20  # pods shown by explain_service when none matches the selector
LOUD = 1  # a dirty pod's change goes into the timeline (not a first list's)
RESELECT = 2  # the Services selecting or listing a dirty pod may have changed


def _skey(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def _take(dirty: dict[Key, Any], limit: int) -> tuple[list[tuple[Key, Any]], dict[Key, Any]]:
    """Up to `limit` of the dirty keys in order, and what is left for the next call (a new dict once
    all are taken: a dict keeps the table of its largest size, which after a first list is big)."""
    if len(dirty) <= limit:
        return sorted(dirty.items()), {}
    keys = sorted(itertools.islice(dirty, limit))  # first come, first published
    return [(key, dirty.pop(key)) for key in keys], dirty


class ViewEngine:
    """Holds the cluster's slimmed objects and the published view; the hub drives it."""

    def __init__(
        self,
        cluster: ClusterInfo,
        *,
        actions_enabled: bool,
        timeline_limit: int = 200,
        now: Callable[[], float] = time.time,
        batch: int = 4000,
    ) -> None:
        self._cluster = cluster
        self._actions = actions_enabled
        self._limit = max(1, timeline_limit)
        # Objects projected a take_ops at most (a first list of 100,000 pods is published over several
        # calls): each call, and each delta, stays small; the rest stays pending for the next call.
        self._batch = max(1, batch)
        self._now = now
        self.index = Index()
        self._cache = Cache()
        self._connection: dict[str, Any] = {
            "state": "connecting",
            "message": "",
            "since": now(),
            "problems": [],
        }
        self._was_live = False
        self._classroom: dict[str, Any] | None = None
        # published state, as compact records rendered into view dicts only for ops and snapshots
        self._services: dict[Key, ServicePub] = {}
        self._pods: dict[Key, PodPub] = {}
        self._deployments: dict[Key, DeploymentPub] = {}
        self._timeline: deque[Entry] = deque(maxlen=self._limit)
        self._meta = self._build_meta()
        # pending work: dirty keys -> quiet (True when only a first list touched them: no timeline entries)
        self._dirty_services: dict[Key, bool] = {}
        self._dirty_pods: dict[Key, int] = {}  # LOUD | RESELECT flags
        self._dirty_unmatched: dict[str, bool] = {}  # namespaces whose unmatched Services are dirty
        self._dirty_deployments: dict[Key, bool] = {}
        self._drafts: list[Entry] = []  # entries from outside (actions, connection), stamped on take_ops
        self._meta_dirty = False
        self._clear_timeline = False  # reset() happened: the next take_ops starts with timeline-clear
        # (time, pod key): pods whose not-ready reason changes at that time by itself (probe initial delay)
        self._timed: list[tuple[float, Key]] = []
        self._next_id = 1
        self._synced: set[tuple[str, str | None]] = set()
        # (kind, namespace) -> (keys listed so far, quiet) while a list arrives in pages
        self._listing: dict[tuple[str, str | None], tuple[set[Key], bool]] = {}
        self._applied = False  # any item seen yet
        self.stats: Counter[str] = Counter()  # projections done and objects skipped (tests and debugging)

    # ------------------------------------------------------------ input

    def apply(self, item: SourceItem) -> None:
        self._applied = True
        try:
            if isinstance(item, Change):
                self._change(item.type, item.kind, item.obj, quiet=False)
            elif isinstance(item, Resync):
                self._resync(item)
            elif isinstance(item, Status):
                self._status(item)
            else:
                log.warning("view: ignored an unknown source item %r", type(item).__name__)
        except Exception:
            self.stats["errors"] += 1
            log.exception("view: could not apply a %s", type(item).__name__)

    def record(self, text: str, *, kind: str = "action", service: str | None = None) -> None:
        entry = draft(kind, text, service=service)
        entry["time"] = self._now()
        self._drafts.append(entry)

    def has_pending(self) -> bool:
        return bool(
            self._dirty_services
            or self._dirty_pods
            or self._dirty_deployments
            or self._dirty_unmatched
            or self._drafts
            or self._meta_dirty
            or self._clear_timeline
            or (self._timed and self._timed[0][0] <= self._now())
        )

    def reset(self) -> None:
        """Forget every object: the view is about to be rebuilt from fresh Resyncs (a scenario restarted,
        a replay seeked). Apply them before the next take_ops, which then deletes what was not listed
        again, starts with a timeline-clear op, and (as after start-up) takes the first list of each kind
        quietly. Entries recorded but not yet published are dropped with the old timeline."""
        self.index = Index()
        self._cache = Cache()
        self._synced.clear()
        self._listing.clear()
        self._timed.clear()
        self._drafts.clear()
        self._timeline.clear()
        self._clear_timeline = True
        self._meta_dirty = True
        self._dirty_unmatched.clear()
        for published, dirty, mark in (
            (self._services, self._dirty_services, True),
            (self._pods, self._dirty_pods, RESELECT),
            (self._deployments, self._dirty_deployments, True),
        ):
            dirty.clear()
            for key in published:
                dirty[key] = mark  # type: ignore[index]

    def set_classroom(self, value: dict[str, Any] | None) -> None:
        """Set meta.classroom (docs/view-model.md ClassroomState, or None); a meta op follows on the next
        take_ops when it changed."""
        value = copy.deepcopy(value)
        if value != self._classroom:
            self._classroom = value
            self._meta_dirty = True

    def _change(self, type_: str, kind: str, obj: Any, *, quiet: bool) -> None:
        if kind not in SLIMMERS:
            return  # Nodes and other kinds carry nothing the view shows yet
        try:
            if type_ == "DELETED":
                self._remove(kind, object_key(obj), quiet)
            elif type_ in ("ADDED", "MODIFIED"):
                self._put(slim(kind, obj, self._now()), quiet)
            else:
                log.debug("view: ignored a %s event for %s", type_, kind)
        except Exception as exc:
            self.stats["skipped"] += 1
            log.warning("view: skipped a malformed %s (%s: %s)", kind, type(exc).__name__, exc)

    def _resync(self, item: Resync) -> None:
        kind, ns = item.kind, item.namespace
        if kind not in SLIMMERS:
            return
        listing = self._listing.pop((kind, ns), None)  # a list broken off ends when the next one starts
        if not item.cont:
            listing = None
        if listing is None:
            # The first list of a kind builds the picture silently; later relists are missed changes: shown.
            quiet = (kind, ns) not in self._synced and (kind, None) not in self._synced
            listing = (set(), quiet)
        seen, quiet = listing
        now = self._now()
        for obj in item.objs if isinstance(item.objs, list) else ():
            try:
                new = slim(kind, obj, now)
            except Exception as exc:
                self.stats["skipped"] += 1
                log.warning("view: skipped a malformed %s in a list (%s: %s)", kind, type(exc).__name__, exc)
                continue
            if ns is not None and new.namespace != ns:
                continue
            seen.add(new.key)
            self._put(new, quiet)
        if item.more:  # another page of this list follows: only the last one removes what is gone
            self._listing[(kind, ns)] = listing
            return
        self._synced.add((kind, ns))
        for key in self.index.keys_of(kind, ns):
            if key not in seen:
                self._remove(kind, key, quiet)

    def _status(self, item: Status) -> None:
        prev = self._connection["state"]
        self._connection = {
            "state": item.state,
            "message": item.message,
            "since": item.since or self._now(),
            "problems": list(item.problems),
        }
        self._meta_dirty = True
        if item.state == "live":
            if self._was_live and prev != "live":
                self.record("connection back: live", kind="source")
            self._was_live = True
        elif prev == "live":
            self.record(f"connection lost{': ' + item.message if item.message else ''}", kind="source")

    # ------------------------------------------------------------ index updates and dirty marks

    def _mark_service(self, key: Key, quiet: bool) -> None:
        self._dirty_services[key] = self._dirty_services.get(key, True) and quiet

    def _mark_pod(self, key: Key, quiet: bool, reselect: bool = True) -> None:
        """`reselect`: which Services select or list the pod may have changed (else only the pod did)."""
        flags = (0 if quiet else LOUD) | (RESELECT if reselect else 0)
        dirty = self._dirty_pods
        dirty[key] = dirty.get(key, 0) | flags

    def _mark_deployment(self, key: Key, quiet: bool) -> None:
        self._dirty_deployments[key] = self._dirty_deployments.get(key, True) and quiet

    def _put(self, new: Slim, quiet: bool) -> None:
        idx = self.index
        if isinstance(new, Pod):
            old_pod = idx.pods.get(new.key)
            if old_pod != new:
                idx.put_pod(new)
                self._pod_touched(old_pod, new, quiet)
                if new.later is not None:
                    heapq.heappush(self._timed, (new.later[0], new.key))
        elif isinstance(new, Service):
            old_svc = idx.services.get(new.key)
            if old_svc != new:
                idx.put_service(new)
                self._service_touched(old_svc, new, quiet)
        elif isinstance(new, EndpointSlice):
            old_sl = idx.slices.get(new.key)
            if old_sl != new:
                idx.put_slice(new)
                self._slice_touched(old_sl, new, quiet)
        elif isinstance(new, Endpoints):
            if idx.endpoints.get(new.key) != new:
                idx.put_endpoints(new)
                self._mark_service(new.key, quiet)
        elif isinstance(new, Deployment):
            if idx.deployments.get(new.key) != new:
                idx.put_deployment(new)
                self._mark_deployment(new.key, quiet)
        elif isinstance(new, ReplicaSet):
            old_rs = idx.replicasets.get(new.key)
            if old_rs != new:
                idx.put_replicaset(new)
                if not quiet and old_rs is None and new.deployment:
                    self._rollout(new)

    def _remove(self, kind: str, key: Key, quiet: bool) -> None:
        idx = self.index
        if kind == "Pod":
            old_pod = idx.remove_pod(key)
            if old_pod is not None:
                self._pod_touched(old_pod, None, quiet)
        elif kind == "Service":
            old_svc = idx.remove_service(key)
            if old_svc is not None:
                self._service_touched(old_svc, None, quiet)
        elif kind == "EndpointSlice":
            old_sl = idx.remove_slice(key)
            self._cache.forget_slice(key)
            if old_sl is not None:
                self._slice_touched(old_sl, None, quiet)
        elif kind == "Endpoints":
            if idx.remove_endpoints(key) is not None:
                self._mark_service(key, quiet)
        elif kind == "Deployment":
            if idx.remove_deployment(key) is not None:
                self._mark_deployment(key, quiet)
        elif kind == "ReplicaSet":
            idx.remove_replicaset(key)

    def _rollout(self, rs: ReplicaSet) -> None:
        """A new ReplicaSet beside others of the same Deployment: a rolling update has started (the first
        ReplicaSet of a new Deployment is no news: the Deployment's own entry says it was added)."""
        assert rs.deployment is not None
        idx = self.index
        if len(idx.replicasets_of(rs.namespace, rs.deployment)) < 2:
            return
        dep = idx.deployments.get((rs.namespace, rs.deployment))
        services = sorted(idx.services_selecting(rs.namespace, dep.template_labels)) if dep else []
        service = f"{rs.namespace}/{services[0]}" if services else None
        self._drafts.append(rollout(rs.deployment, rs.name, service))

    def _expire(self, now: float) -> None:
        """Pods whose reason ran out (a probe's initial delay passed) take the reason that follows it."""
        while self._timed and self._timed[0][0] <= now:
            _, key = heapq.heappop(self._timed)
            pod = self.index.pods.get(key)
            if pod is not None and pod.later is not None and pod.later[0] <= now:
                self._put(pod.with_state(reason=pod.later[1], later=None), False)

    def _pod_touched(self, old: Pod | None, new: Pod | None, quiet: bool) -> None:
        """A pod changed: it, the Services selecting it before or after, the Services listing it, and
        (when its labels changed) the Services that select nothing in its namespace."""
        cur = new or old
        assert cur is not None
        ns, idx = cur.namespace, self.index
        moved = old is None or new is None or old.labels != new.labels or old.ip != new.ip
        self._mark_pod(cur.key, quiet, moved)
        names = set(idx.services_selecting(ns, cur.labels)) | idx.services_listing_pod(cur)
        if moved:
            for pod in (old, new):
                if pod is not None and pod is not cur:
                    names |= idx.services_selecting(ns, pod.labels)
                    names |= idx.services_listing_pod(pod)
            # Services that select nothing here explain themselves by every pod of the namespace
            self._dirty_unmatched[ns] = self._dirty_unmatched.get(ns, True) and quiet
            self._meta_dirty = self._meta_dirty or old is None or new is None
        for name in names:
            self._mark_service((ns, name), quiet)

    def _service_touched(self, old: Service | None, new: Service | None, quiet: bool) -> None:
        cur = new or old
        assert cur is not None
        self._mark_service(cur.key, quiet)
        if old is None or new is None:
            self._meta_dirty = True
        if old is None or new is None or old.selector != new.selector:
            for svc in (old, new):
                if svc is not None and svc.selector:
                    for name in self.index.pods_matching(svc.namespace, svc.selector):
                        self._mark_pod((svc.namespace, name), quiet)
                    for name in self.index.deployments_selected_by(svc.namespace, svc.selector):
                        self._mark_deployment((svc.namespace, name), quiet)

    def _slice_pods(self, sl: EndpointSlice) -> set[str]:
        out = set()
        for ep in sl.endpoints:
            if ep.pod:
                out.add(ep.pod)
            else:
                pod = self.index.pod_by_ip(sl.namespace, ep.ip)
                if pod is not None:
                    out.add(pod.name)
        return out

    def _slice_touched(self, old: EndpointSlice | None, new: EndpointSlice | None, quiet: bool) -> None:
        cur = new or old
        assert cur is not None
        ns = cur.namespace
        for sl in (old, new):
            if sl is not None and sl.service:
                self._mark_service((ns, sl.service), quiet)
        before = self._slice_pods(old) if old else set()
        after = self._slice_pods(new) if new else set()
        same_service = old is not None and new is not None and old.service == new.service
        changed = (before ^ after) if same_service else (before | after)
        for name in changed:
            self._mark_pod((ns, name), quiet)

    # ------------------------------------------------------------ output

    def _build_meta(self) -> dict[str, Any]:
        return {
            "cluster": self._cluster.as_json(),
            "connection": dict(self._connection),
            "actions": self._actions,
            "namespaces": self.index.namespaces(),
            "timelineLimit": self._limit,
            "classroom": copy.deepcopy(self._classroom),
        }

    def take_ops(self) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        now = self._now()
        self._expire(now)
        drafts, self._drafts = self._drafts, []
        idx = self.index

        # Deployments, then pods, then Services: in the timeline a cause (scaled, a pod's change)
        # precedes its effects (pods added, endpoints' changes)
        taken, self._dirty_deployments = _take(self._dirty_deployments, self._batch)
        for key, quiet in taken:
            old_dep = self._deployments.get(key)
            dep = idx.deployments.get(key)
            if dep is None:
                if old_dep is not None:
                    del self._deployments[key]
                    ops.append({"op": "del", "coll": "deployments", "key": _skey(key)})
                    if not quiet:
                        drafts += diff_deployment(render_deployment(old_dep), None)
                continue
            self.stats["deployment_projections"] += 1
            dep_pub = project_deployment(idx, dep)
            if dep_pub != old_dep:
                self._deployments[key] = dep_pub
                view = render_deployment(dep_pub)
                ops.append({"op": "put", "coll": "deployments", "key": _skey(key), "value": view})
                if not quiet:
                    drafts += diff_deployment(render_deployment(old_dep) if old_dep else None, view)

        pods = self._pods
        taken_pods, self._dirty_pods = _take(self._dirty_pods, self._batch)
        for key, flags in taken_pods:
            old_pod = pods.get(key)
            pod = idx.pods.get(key)
            if pod is None:
                if old_pod is not None:
                    del pods[key]
                    ops.append({"op": "del", "coll": "pods", "key": _skey(key)})
                    if flags & LOUD:
                        drafts += diff_pod(old_pod, None)
                continue
            self.stats["pod_projections"] += 1
            if flags & RESELECT or old_pod is None:
                pod_pub = project_pod(idx, pod)
            else:  # only the pod changed: the same Services select and list it
                pod_pub = PodPub(pod, old_pod.services, old_pod.endpoint_of)
            if pod_pub != old_pod:
                pods[key] = pod_pub
                ops.append({"op": "put", "coll": "pods", "key": _skey(key), "value": render_pod(pod_pub)})
                if flags & LOUD:
                    drafts += diff_pod(old_pod, pod_pub)

        if any(kind == "Pod" for kind, _ in self._listing):
            # Pods are still arriving in pages: Services (their diagnoses especially, which read every
            # pod of a namespace) are projected once the list is whole, not again at every page.
            return self._finish(ops, drafts, now)
        unmatched_dirty, self._dirty_unmatched = self._dirty_unmatched, {}
        for ns, quiet_ns in unmatched_dirty.items():
            for name in idx.unmatched.get(ns, ()):
                self._mark_service((ns, name), quiet_ns)

        taken, self._dirty_services = _take(self._dirty_services, max(1, self._batch // 4))  # heavier
        for key, quiet in taken:
            old = self._services.get(key)
            svc = idx.services.get(key)
            if svc is None:
                idx.unmatched.get(key[0], set()).discard(key[1])
                self._cache.forget_service(key)
                if old is not None:
                    del self._services[key]
                    ops.append({"op": "del", "coll": "services", "key": _skey(key)})
                    if not quiet:
                        drafts += diff_service(idx, old, None)
                continue
            self.stats["service_projections"] += 1
            pub, unmatched = project_service(idx, svc, self._cache)
            if unmatched:
                idx.unmatched[key[0]].add(key[1])
            else:
                idx.unmatched.get(key[0], set()).discard(key[1])
            if pub != old:
                self._services[key] = pub
                ops.append({"op": "put", "coll": "services", "key": _skey(key), "value": render_service(pub)})
                if not quiet:
                    drafts += diff_service(idx, old, pub)

        return self._finish(ops, drafts, now)

    def _finish(self, ops: list[dict[str, Any]], drafts: list[Entry], now: float) -> list[dict[str, Any]]:
        """Put the meta and timeline-clear ops first and the timeline entries last."""
        head: list[dict[str, Any]] = []
        if self._meta_dirty:
            self._meta_dirty = False
            meta = self._build_meta()
            if meta != self._meta:
                self._meta = meta
                head.append({"op": "meta", "value": meta})
        if self._clear_timeline:
            self._clear_timeline = False
            head.append({"op": "timeline-clear"})
        ops[:0] = head

        for d in drafts[-self._limit :]:
            entry = {
                "id": self._next_id,
                "time": d.get("time", now),
                "kind": d["kind"],
                "service": d.get("service"),
                "ip": d.get("ip"),
                "pod": d.get("pod"),
                "text": d["text"],
            }
            self._next_id += 1
            self._timeline.appendleft(entry)
            ops.append({"op": "timeline", "entry": entry})
        return ops

    def opening_items(self, page_size: int = 500) -> Iterator[SourceItem]:
        """The state this view holds, as source items: the last Status, then every kind's whole list
        (in pages of compact objects that slim back to the very records held; empty lists too, so a
        replay starts from exactly this). Nothing before the first item. For a recording started in
        the middle of a session: the view keeps no raw object, so this is what it can say."""
        if not self._applied:
            return
        c = self._connection
        yield Status(c["state"], c["message"], c["since"], tuple(c["problems"]))
        idx = self.index
        tables: dict[str, dict[Key, Slim]] = {
            "Service": idx.services,  # type: ignore[dict-item]
            "Deployment": idx.deployments,  # type: ignore[dict-item]
            "ReplicaSet": idx.replicasets,  # type: ignore[dict-item]
            "Pod": idx.pods,  # type: ignore[dict-item]
            "EndpointSlice": idx.slices,  # type: ignore[dict-item]
            "Endpoints": idx.endpoints,  # type: ignore[dict-item]
        }
        for kind in dict.fromkeys([*WATCHED_KINDS, *tables]):
            table = tables.get(kind, {})
            keys = sorted(table)
            if not keys:
                yield Resync(kind, [])
            for i in range(0, len(keys), page_size):
                objs = [compact(table[k]) for k in keys[i : i + page_size]]
                yield Resync(kind, objs, more=i + page_size < len(keys), cont=i > 0)

    def state(self) -> dict[str, Any]:
        return {
            "meta": self._meta,
            "services": {_skey(k): render_service(p) for k, p in self._services.items()},
            "pods": {_skey(k): render_pod(p) for k, p in self._pods.items()},
            "deployments": {_skey(k): render_deployment(p) for k, p in self._deployments.items()},
            "timeline": list(self._timeline),
        }

    # ------------------------------------------------------------ explanations (current objects)

    def explain_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        idx = self.index
        pod = idx.pods.get((namespace, name))
        if pod is None:
            return None
        names = set(idx.services_selecting(namespace, pod.labels)) | idx.services_listing_pod(pod)
        keys = {k for k, _ in pod.labels}
        for svc_name in idx.services_by_ns.get(namespace, ()):
            svc = idx.services[(namespace, svc_name)]
            if svc.selector and keys & {k for k, _ in svc.selector}:
                names.add(svc_name)  # a near miss: the selector uses a label key this pod has
        return {
            "pod": render_pod(project_pod(idx, pod)),
            "services": [pod_verdict(idx, idx.services[(namespace, n)], pod) for n in sorted(names)],
        }

    def explain_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        idx = self.index
        svc = idx.services.get((namespace, name))
        if svc is None:
            return None
        pub, _ = project_service(idx, svc)
        pods: dict[str, Pod] = {p.name: p for p in selected_pods(idx, svc)}
        for sl in idx.slices_of(namespace, name):
            for ep in sl.endpoints:
                pod = idx.pods.get((namespace, ep.pod)) if ep.pod else idx.pod_by_ip(namespace, ep.ip)
                if pod is not None:
                    pods.setdefault(pod.name, pod)
        if not pods and svc.selector and svc.type != "ExternalName":
            wanted = {k for k, _ in svc.selector}
            near = sorted(
                n
                for n in idx.pod_names_in(namespace)
                if wanted & {k for k, _ in idx.pods[(namespace, n)].labels}
            )
            pods = {n: idx.pods[(namespace, n)] for n in near[:NEAR_MISS_PODS]}
        verdicts = []
        for pod_name in sorted(pods):
            pod = pods[pod_name]
            v = pod_verdict(idx, svc, pod)
            verdicts.append(
                {
                    "pod": pod.name,
                    "ip": pod.ip,
                    "matches": bool(svc.selector) and selector_matches(svc.selector or (), pod.labels),
                    "endpoint": v["endpoint"],
                    "state": v["state"],
                    "reasons": v["reasons"],
                }
            )
        return {
            "service": _skey(svc.key),
            "readyCount": pub.counts[0],
            "diagnosis": pub.diagnosis,
            "pods": verdicts,
        }
