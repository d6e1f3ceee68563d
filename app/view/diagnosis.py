"""Why a pod is not a ready endpoint of a Service, and why a Service has no ready endpoints
(with the closest near-miss when no pod matches its selector). Pure functions over the index."""

from __future__ import annotations

import difflib
from collections import Counter
from typing import Any

from app.view.index import Index, selector_matches
from app.view.slim import Labels, Pod, Service, SliceEndpoint

SIMILAR = 0.75  # difflib ratio above which two label keys or values look like a typo of each other


def fmt_selector(selector: Labels | None) -> str:
    return ",".join(f"{k}={v}" for k, v in selector or ())


def pods_word(n: int) -> str:
    return f"{n} pod" if n == 1 else f"{n} pods"


def _similar(a: str, b: str) -> bool:
    if a.lower() == b.lower():
        return True
    matcher = difflib.SequenceMatcher(None, a, b)
    # the cheap upper bounds first: a namespace with hundreds of label values is compared often
    return (
        matcher.real_quick_ratio() >= SIMILAR
        and matcher.quick_ratio() >= SIMILAR
        and matcher.ratio() >= SIMILAR
    )


# ---------------------------------------------------------------- pod against one Service


def missing_ports(svc: Service, pod: Pod) -> list[str]:
    """Named targetPorts of the Service that no container port of the pod declares (name and protocol)."""
    missing = []
    for sp in svc.ports:
        if isinstance(sp.target_port, str) and not any(
            cp.name == sp.target_port and cp.protocol == sp.protocol for cp in pod.ports
        ):
            missing.append(sp.target_port)
    return missing


def exclusion(svc: Service, pod: Pod) -> tuple[str, str] | None:
    """For a pod matching the selector: (reason code, text) when it gets no traffic, else None."""
    if pod.terminal:
        return ("terminal", f"phase is {pod.phase}: finished pods are never endpoints")
    if not pod.ip:
        return ("no-ip", pod.reason or "no IP yet")
    if pod.terminating and not svc.publish_not_ready:
        still = " (still serving existing connections)" if pod.ready else ""
        return ("terminating", f"terminating: being deleted, gets no new traffic{still}")
    if not pod.ready and not svc.publish_not_ready:
        return ("not-ready", f"Ready is False: {pod.reason or 'not ready'}")
    missing = missing_ports(svc, pod)
    if svc.ports and len(missing) == len(svc.ports):
        names = ", ".join(f"'{m}'" for m in missing)
        return ("missing-port", f"no container port named {names} (the Service's targetPort)")
    return None


def endpoint_reason(ep: SliceEndpoint, pod: Pod | None) -> str | None:
    """Why an address in a slice gets no new traffic; None when it is ready."""
    if ep.terminating:
        return "terminating, still serving" if ep.serving else "terminating"
    if ep.ready:
        return None
    if pod is not None and pod.reason:
        return pod.reason
    return "not ready"


def listed_endpoints(index: Index, svc: Service, pod: Pod) -> list[SliceEndpoint]:
    out = []
    for sl in index.slices_of(svc.namespace, svc.name):
        for ep in sl.endpoints:
            if ep.pod == pod.name or (ep.pod is None and pod.ip and ep.ip == pod.ip):
                out.append(ep)
    return out


def best_state(eps: list[SliceEndpoint]) -> str:
    states = {ep.state for ep in eps}
    for s in ("ready", "terminating", "not-ready"):
        if s in states:
            return s
    return "absent"


def label_mismatch(selector: Labels, labels: Labels) -> list[str]:
    """The selector terms a label set fails, as `app=debug` (value differs) or `no label app`."""
    have = dict(labels)
    out = []
    for k, v in selector:
        if k not in have:
            out.append(f"no label {k}")
        elif have[k] != v:
            out.append(f"{k}={have[k]}")
    return out


def pod_verdict(index: Index, svc: Service, pod: Pod) -> dict[str, Any]:
    """Whether this pod is an endpoint of this Service, its state there, and plain-words reasons why."""
    listed = listed_endpoints(index, svc, pod)
    state = best_state(listed)
    reasons: list[str] = []
    sel = fmt_selector(svc.selector)
    if svc.type == "ExternalName":
        reasons.append(
            "An ExternalName Service has no endpoints: DNS answers with a CNAME to "
            f"{svc.external_name or '?'}."
        )
    elif svc.selector is None:
        reasons.append(
            "The Service has no selector, so Kubernetes never adds pods to it; "
            "its endpoints are written by hand."
        )
        if listed:
            reasons.append(f"This pod's IP {pod.ip} is listed in them by hand.")
    elif not selector_matches(svc.selector, pod.labels):
        have = ", ".join(label_mismatch(svc.selector, pod.labels))
        reasons.append(f"The selector wants {sel}; this pod has {have}.")
        if listed:
            reasons.append("It is still listed in the EndpointSlices: the controller has not caught up yet.")
    else:
        reasons.append(f"Its labels match the selector {sel}.")
        why = exclusion(svc, pod)
        if why is not None:
            reasons.append(_exclusion_sentence(svc, pod, why[0]))
        if svc.publish_not_ready and not pod.ready and why is None:
            reasons.append(
                "publishNotReadyAddresses is true, so it counts as ready even though it is not Ready."
            )
        missing = missing_ports(svc, pod)
        if missing and (why is None or why[0] != "missing-port"):
            for name in missing:
                ports = [str(sp.port) for sp in svc.ports if sp.target_port == name]
                reasons.append(
                    f"Service port {'/'.join(ports)} targets the named port '{name}', which no container of "
                    "this pod declares: that port gets no traffic here."
                )
        if why is None and not listed:
            reasons.append(
                "It is ready but not listed in the EndpointSlices yet: the controller has not caught up."
            )
        elif state == "ready" and why is None:
            reasons.append(f"It is a ready endpoint at {pod.ip}: the Service sends it traffic.")
    return {
        "service": f"{svc.namespace}/{svc.name}",
        "endpoint": bool(listed),
        "state": state,
        "reasons": reasons,
    }


def _exclusion_sentence(svc: Service, pod: Pod, code: str) -> str:
    if code == "terminal":
        return f"The pod has finished (phase {pod.phase}); finished pods are never endpoints."
    if code == "no-ip":
        why = pod.status if not pod.reason or pod.reason.startswith("no IP yet") else pod.reason
        return f"The pod has no IP yet ({why}), so it cannot be an endpoint."
    if code == "terminating":
        return (
            "The pod is being deleted: it stays listed as terminating (ready=false"
            f"{', serving=true' if pod.ready else ''}) so open connections can finish, "
            "but gets no new traffic."
        )
    if code == "not-ready":
        return (
            f"The pod is not Ready: {pod.reason or 'not ready'}. It is listed with ready=false "
            "(notReadyAddresses in Endpoints) and gets no traffic until it is Ready."
        )
    names = ", ".join(f"'{m}'" for m in missing_ports(svc, pod))
    return f"No container of the pod declares a port named {names}, so no Service port reaches it."


# ---------------------------------------------------------------- a Service with no ready endpoints


def closest_miss(index: Index, namespace: str, selector: Labels) -> str:
    """The nearest thing to a match among the pods of a namespace, in words."""
    by_key = index.pod_labels.get(namespace, {})
    terms = list(selector)
    if len(terms) > 1:
        hits: Counter[str] = Counter()
        for k, v in terms:
            for name in by_key.get(k, {}).get(v, ()):
                hits[name] += 1
        best = max(hits.values(), default=0)
        if best > 0:
            groups: Counter[tuple[str, str | None]] = Counter()
            for name, count in hits.items():
                if count != best:
                    continue
                pod = index.pods[(namespace, name)]
                for k, v in terms:
                    actual = pod.label(k)
                    if actual != v:
                        groups[(k, actual)] += 1
                        break
            (k, actual), n = min(groups.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))
            matched = fmt_selector(tuple((tk, tv) for tk, tv in terms if tk != k))
            wanted = dict(terms)[k]
            if actual is None:
                return (
                    f"{pods_word(n)} match {matched} but lack the label {k}; the selector wants {k}={wanted}"
                )
            typo = " (a typo?)" if _similar(actual, wanted) else ""
            return (
                f"label {k} is {actual} on {pods_word(n)} matching {matched}; "
                f"the selector wants {wanted}{typo}"
            )
    # no pod matches any term: look at each selector key among the namespace's labels
    best_phrase: tuple[int, str] | None = None
    for k, v in terms:
        values = by_key.get(k)
        if not values:
            continue
        similar = sorted(
            (val for val in values if _similar(val, v)), key=lambda val: (-len(values[val]), val)
        )
        pick = similar[0] if similar else min(values, key=lambda val: (-len(values[val]), val))
        n = len(values[pick])
        typo = " (a typo?)" if similar else ""
        phrase = f"label {k} is {pick} on {pods_word(n)}; the selector wants {v}{typo}"
        if best_phrase is None or n > best_phrase[0]:
            best_phrase = (n, phrase)
    if best_phrase is not None:
        return best_phrase[1]
    for k, v in terms:
        close = sorted(key for key in by_key if _similar(key, k))
        if close:
            k2 = close[0]
            same = by_key[k2].get(v)
            if same:
                return (
                    f"label {k2}={v} on {pods_word(len(same))}; the selector wants {k}={v} "
                    "(is the key misspelt?)"
                )
            val = min(by_key[k2], key=lambda val: (-len(by_key[k2][val]), val))
            return (
                f"label {k2} is {val} on {pods_word(len(by_key[k2][val]))}; the selector wants {k}={v} "
                "(is the key misspelt?)"
            )
    k, v = terms[0]
    total = index.pods_in_ns.get(namespace, 0)
    return f"none of the {pods_word(total)} in {namespace} has a label {k}; the selector wants {k}={v}"


def diagnose(index: Index, svc: Service, ready: int, matched: list[Pod]) -> dict[str, str] | None:
    """Why the Service has no ready endpoints (None when it has some)."""
    if svc.type == "ExternalName":
        return {
            "code": "external-name",
            "text": f"ExternalName Service: DNS answers with a CNAME to {svc.external_name or '?'}; "
            "it has no endpoints",
        }
    if ready > 0:
        return None
    if svc.selector is None:
        has_manual = any(sl.endpoints for sl in index.slices_of(svc.namespace, svc.name))
        ep = index.endpoints.get(svc.key)
        if ep is not None and any(s.addresses for s in ep.subsets):
            return None  # ready hand-written addresses; the mirrored slices have not caught up
        if ep is not None and any(s.not_ready for s in ep.subsets):
            has_manual = True
        if not has_manual:
            return {
                "code": "no-selector-no-endpoints",
                "text": "no selector, so Kubernetes adds no pods: write an Endpoints object "
                "(or EndpointSlices) of the same name by hand",
            }
        return {"code": "none-ready", "text": "no selector, and none of its hand-written addresses is ready"}
    sel = fmt_selector(svc.selector)
    if not index.pods_in_ns.get(svc.namespace):
        return {"code": "no-pods", "text": f"no pods in namespace {svc.namespace}; the selector wants {sel}"}
    if not matched:
        return {"code": "no-pods-match", "text": closest_miss(index, svc.namespace, svc.selector)}
    why: Counter[str] = Counter()
    waiting = 0
    for pod in matched:
        ex = exclusion(svc, pod)
        if ex is None:
            waiting += 1
        elif ex[0] == "not-ready":
            why[pod.reason or "not ready"] += 1
        elif ex[0] == "no-ip":
            why[pod.reason or "no IP yet"] += 1
        elif ex[0] == "terminal":
            why[f"pod {pod.phase}"] += 1
        elif ex[0] == "missing-port":
            why["no container port with the targetPort's name"] += 1
        else:
            why[ex[0]] += 1
    if waiting:
        why["ready, not yet in the EndpointSlices (the controller is catching up)"] += waiting
    detail = ", ".join(f"{n} {text}" for text, n in sorted(why.items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "code": "none-ready",
        "text": f"{pods_word(len(matched))} match {sel} but none is a ready endpoint: {detail}",
    }
