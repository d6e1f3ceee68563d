"""Turn refusals from the API server (403 Forbidden, 401, 404) into one-line messages that name the
missing permission, and decide how the dashboard degrades without it. Pure: no I/O."""

from __future__ import annotations

from app.kinds import KindInfo

# What the dashboard loses without a kind, appended to the message so a learner knows what is missing.
CONSEQUENCES: dict[str, str] = {
    "EndpointSlice": "showing legacy Endpoints only",
    "Endpoints": "the legacy Endpoints view is empty",
    "Node": "node zones are not shown",
    "Pod": "pods left out of a Service cannot be explained",
    "Service": "no Services can be shown",
}


def resource_name(kind: KindInfo) -> str:
    """`discovery.k8s.io endpointslices`, or just `pods` for the core group."""
    return f"{kind.group} {kind.plural}" if kind.group else kind.plural


def where(kind: KindInfo, namespace: str | None) -> str:
    if not kind.namespaced:
        return "(cluster-scoped)"
    if namespace is None:
        return "in all namespaces"
    return f"in namespace {namespace}"


def forbidden_message(
    verb: str, kind: KindInfo, namespace: str | None, *, consequence: str | None = None
) -> str:
    """e.g. `cannot watch endpointslices in namespace shop: ask for list/watch on discovery.k8s.io
    endpointslices (showing legacy Endpoints only)`."""
    scope = "cluster-wide " if kind.namespaced and namespace is None else ""
    msg = (
        f"cannot {verb} {kind.plural} {where(kind, namespace)}: "
        f"ask for {scope}list/watch on {resource_name(kind)}"
    )
    if consequence is None:
        consequence = CONSEQUENCES.get(kind.kind)
    return f"{msg} ({consequence})" if consequence else msg


def fallback_message(verb: str, kind: KindInfo, namespaces: tuple[str, ...]) -> str:
    """A cluster-wide list was refused, so only some namespaces are watched."""
    shown = ", ".join(namespaces)
    return (
        f"cannot {verb} {kind.plural} in all namespaces: ask for cluster-wide list/watch on "
        f"{resource_name(kind)} (showing namespace {shown} only; pass --namespace to choose)"
    )


def unauthorized_message(server: str) -> str:
    return f"{server} rejected the credentials (401 Unauthorized): log in again or check the kubeconfig user"


def not_served_message(kind: KindInfo, server: str) -> str:
    return (
        f"{server} does not serve {kind.api_version} {kind.plural} (404): "
        f"{CONSEQUENCES.get(kind.kind, 'this kind is not shown')}"
    )


def action_forbidden_message(verb: str, resource: str, group: str, namespace: str) -> str:
    """For --allow-actions: e.g. `cannot patch deployments/scale in namespace shop: ask for patch on
    apps deployments/scale`."""
    res = f"{group} {resource}" if group else resource
    return f"cannot {verb} {resource} in namespace {namespace}: ask for {verb} on {res}"


def can_fall_back(kind: KindInfo, namespace: str | None, fallback: tuple[str, ...]) -> bool:
    """A refused cluster-wide list of a namespaced kind can be narrowed to some namespaces."""
    return kind.namespaced and namespace is None and bool(fallback)
