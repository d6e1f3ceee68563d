"""The store of slimmed objects and the indexes the view joins through: by kind/namespace/name,
pods by label (key, value) postings and by IP, Services by selector term, slices by Service name,
Deployments by pod-template label, ReplicaSets by Deployment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from app.view.slim import Deployment, Endpoints, EndpointSlice, Labels, Pod, ReplicaSet, Service

Key = tuple[str, str]  # (namespace, name)


def selector_matches(selector: Labels, labels: Labels) -> bool:
    """Equality-based selector over sorted label pairs (every term must be present with its value)."""
    have = dict(labels)
    return all(have.get(k) == v for k, v in selector)


class Index:
    """Current objects and their indexes. Pure data: callers decide what the changes mean."""

    def __init__(self) -> None:
        self.pods: dict[Key, Pod] = {}
        self.services: dict[Key, Service] = {}
        self.slices: dict[Key, EndpointSlice] = {}
        self.endpoints: dict[Key, Endpoints] = {}
        # namespace -> label key -> label value -> pod names (a dict used as an ordered set: a small dict
        # costs half what a small set does, and most postings hold a ReplicaSet's few pods)
        self.pod_labels: dict[str, dict[str, dict[str, dict[str, None]]]] = {}
        self.pods_in_ns: dict[str, int] = {}  # namespace -> how many pods it holds
        self.pods_by_ip: dict[str, Key | set[Key]] = {}  # one key, or a set when several pods share an IP
        self.services_by_ns: dict[str, set[str]] = {}
        self._selecting: dict[tuple[str, Labels], frozenset[str]] = {}  # services_selecting, remembered
        # (namespace, key, value) -> names of Services whose selector holds that term
        self.service_terms: dict[tuple[str, str, str], str | set[str]] = {}
        # (namespace, service name) -> slice names
        self.slices_by_service: dict[Key, str | set[str]] = {}
        # namespace -> pod name -> slice names listing it (one name, or a set when several do);
        # (namespace, ip) -> the same for endpoints without a Pod targetRef (matched to pods by IP)
        self.slices_by_pod: dict[str, dict[str, str | set[str]]] = {}
        self.slices_by_ip: dict[Key, str | set[str]] = {}
        # namespace -> Services that currently select no pod (their diagnosis depends on every pod there)
        self.unmatched: dict[str, set[str]] = defaultdict(set)
        self.deployments: dict[Key, Deployment] = {}
        self.replicasets: dict[Key, ReplicaSet] = {}
        # (namespace, key, value) -> names of Deployments whose pod template has that label
        self.deployment_terms: dict[tuple[str, str, str], str | set[str]] = {}
        # (namespace, deployment name) -> names of its ReplicaSets
        self.replicasets_by_deployment: dict[Key, str | set[str]] = {}

    # ------------------------------------------------------------ pods

    def put_pod(self, pod: Pod) -> Pod | None:
        old = self.pods.get(pod.key)
        if old is not None:
            if old.labels == pod.labels and old.ip == pod.ip:  # a status change: the postings hold
                self.pods[pod.key] = pod
                return old
            self._unindex_pod(old)
        self.pods[pod.key] = pod
        ns = pod.namespace
        by_key = self.pod_labels.setdefault(ns, {})
        for k, v in pod.labels:
            by_key.setdefault(k, {}).setdefault(v, {})[pod.name] = None
        self.pods_in_ns[ns] = self.pods_in_ns.get(ns, 0) + 1
        if pod.ip:
            _add_one(self.pods_by_ip, pod.ip, pod.key)
        return old

    def remove_pod(self, key: Key) -> Pod | None:
        old = self.pods.pop(key, None)
        if old is not None:
            self._unindex_pod(old)
        return old

    def _unindex_pod(self, pod: Pod) -> None:
        ns = pod.namespace
        by_key = self.pod_labels.get(ns, {})
        for k, v in pod.labels:
            values = by_key.get(k)
            if values is None:
                continue
            names = values.get(v)
            if names is not None:
                names.pop(pod.name, None)
                if not names:
                    del values[v]
            if not values:
                del by_key[k]
        if not by_key:
            self.pod_labels.pop(ns, None)
        left = self.pods_in_ns.get(ns, 0) - 1
        if left > 0:
            self.pods_in_ns[ns] = left
        else:
            self.pods_in_ns.pop(ns, None)
        if pod.ip:
            _discard_one(self.pods_by_ip, pod.ip, pod.key)

    def pods_matching(self, namespace: str, selector: Labels) -> set[str]:
        """Names of the pods in `namespace` whose labels hold every selector term (posting intersection)."""
        by_key = self.pod_labels.get(namespace)
        if not by_key or not selector:
            return set()
        sets = []
        for k, v in selector:
            names = by_key.get(k, {}).get(v)
            if not names:
                return set()
            sets.append(names)
        sets.sort(key=len)
        result = set(sets[0])
        for s in sets[1:]:
            result.intersection_update(s.keys())
        return result

    def pod_names_in(self, namespace: str) -> list[str]:
        """Names of the pods of a namespace (a scan: for explanations, not for every change)."""
        return [name for ns, name in self.pods if ns == namespace]

    def pod_by_ip(self, namespace: str, ip: str) -> Pod | None:
        for key in sorted(_members(self.pods_by_ip.get(ip))):
            if key[0] == namespace:
                return self.pods[key]
        return None

    # ------------------------------------------------------------ services

    def put_service(self, svc: Service) -> Service | None:
        self._selecting.clear()
        old = self.services.get(svc.key)
        if old is not None:
            self._unindex_service(old)
        self.services[svc.key] = svc
        self.services_by_ns.setdefault(svc.namespace, set()).add(svc.name)
        for k, v in svc.selector or ():
            _add_one(self.service_terms, (svc.namespace, k, v), svc.name)
        return old

    def remove_service(self, key: Key) -> Service | None:
        self._selecting.clear()
        old = self.services.pop(key, None)
        if old is not None:
            self._unindex_service(old)
        return old

    def _unindex_service(self, svc: Service) -> None:
        _discard(self.services_by_ns, svc.namespace, svc.name)
        for k, v in svc.selector or ():
            _discard_one(self.service_terms, (svc.namespace, k, v), svc.name)
        self.unmatched[svc.namespace].discard(svc.name)

    def services_selecting(self, namespace: str, labels: Labels) -> frozenset[str]:
        """Names of the Services in `namespace` whose selector matches these labels (via term postings);
        remembered per label set until a Service changes (the pods of a ReplicaSet share theirs)."""
        key = (namespace, labels)
        got = self._selecting.get(key)
        if got is None:
            if len(self._selecting) >= 50_000:
                self._selecting.clear()
            got = self._selecting[key] = frozenset(self._services_selecting(namespace, labels))
        return got

    def _services_selecting(self, namespace: str, labels: Labels) -> set[str]:
        candidates: set[str] = set()
        for k, v in labels:
            candidates.update(_members(self.service_terms.get((namespace, k, v))))
        out = set()
        for name in candidates:
            svc = self.services.get((namespace, name))
            if svc is not None and svc.selector and selector_matches(svc.selector, labels):
                out.add(name)
        return out

    # ------------------------------------------------------------ slices

    def put_slice(self, sl: EndpointSlice) -> EndpointSlice | None:
        old = self.slices.get(sl.key)
        if old is not None:
            self._unindex_slice(old)
        self.slices[sl.key] = sl
        ns = sl.namespace
        if sl.service:
            _add_one(self.slices_by_service, (ns, sl.service), sl.name)
        for ep in sl.endpoints:
            if ep.pod:
                _add_one(self.slices_by_pod.setdefault(ns, {}), ep.pod, sl.name)
            else:
                _add_one(self.slices_by_ip, (ns, ep.ip), sl.name)
        return old

    def remove_slice(self, key: Key) -> EndpointSlice | None:
        old = self.slices.pop(key, None)
        if old is not None:
            self._unindex_slice(old)
        return old

    def _unindex_slice(self, sl: EndpointSlice) -> None:
        ns = sl.namespace
        if sl.service:
            _discard_one(self.slices_by_service, (ns, sl.service), sl.name)
        for ep in sl.endpoints:
            if ep.pod:
                by_pod = self.slices_by_pod.get(ns)
                if by_pod is not None:
                    _discard_one(by_pod, ep.pod, sl.name)
                    if not by_pod:
                        del self.slices_by_pod[ns]
            else:
                _discard_one(self.slices_by_ip, (ns, ep.ip), sl.name)

    def slices_of(self, namespace: str, service: str) -> list[EndpointSlice]:
        names = _members(self.slices_by_service.get((namespace, service)))
        return [self.slices[(namespace, n)] for n in sorted(names)]

    def services_listing_pod(self, pod: Pod) -> set[str]:
        """Names of the Services whose slices list this pod (by targetRef, or by IP when there is none)."""
        ns = pod.namespace
        out = set()
        for slice_name in _members(self.slices_by_pod.get(ns, {}).get(pod.name)):
            svc = self.slices[(ns, slice_name)].service
            if svc:
                out.add(svc)
        if pod.ip:
            for slice_name in _members(self.slices_by_ip.get((ns, pod.ip))):
                sl = self.slices[(ns, slice_name)]
                if sl.service and any(ep.ip == pod.ip and ep.pod is None for ep in sl.endpoints):
                    out.add(sl.service)
        return out

    # ------------------------------------------------------------ endpoints

    def put_endpoints(self, ep: Endpoints) -> Endpoints | None:
        old = self.endpoints.get(ep.key)
        self.endpoints[ep.key] = ep
        return old

    def remove_endpoints(self, key: Key) -> Endpoints | None:
        return self.endpoints.pop(key, None)

    # ------------------------------------------------------------ workloads

    def put_deployment(self, dep: Deployment) -> Deployment | None:
        old = self.remove_deployment(dep.key)
        self.deployments[dep.key] = dep
        for k, v in dep.template_labels:
            _add_one(self.deployment_terms, (dep.namespace, k, v), dep.name)
        return old

    def remove_deployment(self, key: Key) -> Deployment | None:
        old = self.deployments.pop(key, None)
        if old is not None:
            for k, v in old.template_labels:
                _discard_one(self.deployment_terms, (old.namespace, k, v), old.name)
        return old

    def deployments_selected_by(self, namespace: str, selector: Labels | None) -> set[str]:
        """Names of the Deployments whose pod template's labels hold every term of a Service's selector."""
        if not selector:
            return set()
        result: set[str] | None = None
        for k, v in selector:
            names = set(_members(self.deployment_terms.get((namespace, k, v))))
            result = names if result is None else result & names
            if not result:
                return set()
        return result or set()

    def put_replicaset(self, rs: ReplicaSet) -> ReplicaSet | None:
        old = self.remove_replicaset(rs.key)
        self.replicasets[rs.key] = rs
        if rs.deployment:
            _add_one(self.replicasets_by_deployment, (rs.namespace, rs.deployment), rs.name)
        return old

    def remove_replicaset(self, key: Key) -> ReplicaSet | None:
        old = self.replicasets.pop(key, None)
        if old is not None and old.deployment:
            _discard_one(self.replicasets_by_deployment, (old.namespace, old.deployment), old.name)
        return old

    def replicasets_of(self, namespace: str, deployment: str) -> list[str]:
        return sorted(_members(self.replicasets_by_deployment.get((namespace, deployment))))

    def deployment_of(self, pod: Pod) -> str | None:
        """The Deployment that owns a pod through its ReplicaSet, None when there is none (or not known)."""
        if pod.owner is None or pod.owner[0] != "ReplicaSet":
            return None
        rs = self.replicasets.get((pod.namespace, pod.owner[1]))
        return rs.deployment if rs is not None else None

    # ------------------------------------------------------------ namespaces

    def namespaces(self) -> list[str]:
        """Every namespace that holds a Service or a Pod, sorted."""
        return sorted(
            {ns for ns, n in self.pods_in_ns.items() if n}
            | {ns for ns, names in self.services_by_ns.items() if names}
        )

    def keys_of(self, kind: str, namespace: str | None = None) -> Iterable[Key]:
        table: dict[Key, Any] = {
            "Pod": self.pods,
            "Service": self.services,
            "EndpointSlice": self.slices,
            "Endpoints": self.endpoints,
            "Deployment": self.deployments,
            "ReplicaSet": self.replicasets,
        }[kind]
        return [k for k in table if namespace is None or k[0] == namespace]


def _discard(table: dict[Any, set[Any]], key: Any, value: Any) -> None:
    names = table.get(key)
    if names is not None:
        names.discard(value)
        if not names:
            del table[key]


# Most pods have one IP of their own and sit in one slice: such postings hold the single member
# itself, and become a set only when a second member arrives (a set costs 200 bytes, a reference 8).


def _members(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    return value if isinstance(value, set) else (value,)


def _add_one(table: dict[Any, Any], key: Any, value: Any) -> None:
    have = table.get(key)
    if have is None:
        table[key] = value
    elif isinstance(have, set):
        have.add(value)
    elif have != value:
        table[key] = {have, value}


def _discard_one(table: dict[Any, Any], key: Any, value: Any) -> None:
    have = table.get(key)
    if have is None:
        return
    if isinstance(have, set):
        have.discard(value)
        if len(have) == 1:
            table[key] = next(iter(have))
        elif not have:
            del table[key]
    elif have == value:
        del table[key]
