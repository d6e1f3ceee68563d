"""The page's action buttons as HTTP endpoints: scale, label, readiness, delete pod. Validates input,
answers 4xx {"error": "..."} on bad requests, records every action in the view's timeline."""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.jsonbody import BodyError, json_object

log = logging.getLogger(__name__)

# The scale box's limit when the target does not name its own (a real cluster: a click should not
# ask it for more than this). The simulated cluster names its admission limit (`max_replicas`).
MAX_REPLICAS = 10_000
READ_ONLY = "read-only: start with --allow-actions"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class ActionTarget(Protocol):
    """What performs the actions: the SimCluster, or KubeActions for a real cluster."""

    def scale(self, namespace: str, name: str, replicas: int) -> object: ...

    # Optionally, `max_replicas: int`: the most replicas `scale` may ask for (see replica_limit).

    def set_pod_labels(self, namespace: str, name: str, labels: dict[str, str | None]) -> object: ...

    def set_probe(self, namespace: str, name: str, passing: bool) -> object: ...

    def delete_pod(self, namespace: str, name: str) -> object: ...


class Recorder(Protocol):
    def record(self, text: str, kind: str = "action", service: str | None = None) -> object: ...


class ActionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ActionContext:
    target: ActionTarget | None
    recorder: Recorder
    enabled: bool
    after: Callable[[], None] = lambda: None  # e.g. poke the hub so the timeline entry goes out


# ---- validation ---------------------------------------------------------------
def _str(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise ActionError(400, f"{field} is required (a string)")
    return value


def namespace_of(body: dict[str, Any]) -> str:
    ns = body.get("namespace", "default")
    if not isinstance(ns, str) or len(ns) > 63 or not _DNS_LABEL.match(ns):
        raise ActionError(400, f"namespace {ns!r} is not a valid namespace name")
    return ns


def object_name(body: dict[str, Any], field: str) -> str:
    name = _str(body, field)
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise ActionError(400, f"{field} {name!r} is not a valid object name")
    return name


def replicas_of(body: dict[str, Any], limit: int = MAX_REPLICAS) -> int:
    value = body.get("replicas")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(400, "replicas must be a whole number")
    if not 0 <= value <= limit:
        raise ActionError(400, f"replicas must be between 0 and {limit}")
    return value


def replica_limit(target: object) -> int:
    """The most replicas the scale action asks of `target`: its own `max_replicas`, if it has one."""
    limit = getattr(target, "max_replicas", None)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0 else MAX_REPLICAS


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: the prefix must be a DNS subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            f"label key {key!r}: the name must be 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def label_value_problem(key: str, value: str) -> str | None:
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return (
            f"label {key}: value {value!r} must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def labels_of(body: dict[str, Any]) -> dict[str, str | None]:
    labels = body.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise ActionError(400, 'labels must be an object like {"app": "debug"} (null removes a label)')
    out: dict[str, str | None] = {}
    for key, value in labels.items():
        problem = label_key_problem(key)
        if problem is None and value is not None and not isinstance(value, str):
            problem = f"label {key}: the value must be a string, or null to remove the label"
        if problem is None and isinstance(value, str):
            problem = label_value_problem(key, value)
        if problem:
            raise ActionError(400, problem)
        out[key] = value
    return out


def passing_of(body: dict[str, Any]) -> bool:
    value = body.get("passing")
    if not isinstance(value, bool):
        raise ActionError(400, "passing must be true or false")
    return value


def describe_labels(labels: dict[str, str | None]) -> str:
    return ", ".join(f"{k}={v}" if v is not None else f"{k}-" for k, v in labels.items())


# ---- the endpoints -------------------------------------------------------------
def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        return await json_object(request)
    except BodyError as e:
        raise ActionError(400, str(e)) from None


def _cluster_error(e: Exception) -> ActionError | None:
    """Errors of the simulated cluster or the kubernetes client, as the status they carry."""
    from app.sim.errors import ApiError

    if isinstance(e, ActionError):
        return e
    if isinstance(e, ApiError):
        return ActionError(e.code if 400 <= e.code < 600 else 400, e.message)
    if isinstance(e, PermissionError):
        return ActionError(403, str(e) or READ_ONLY)
    status = getattr(e, "status", None)
    if isinstance(status, int) and 400 <= status < 600:  # the kube source's ApiError, or ApiException
        message = getattr(e, "message", "")
        if not isinstance(message, str) or not message:
            try:
                message = json.loads(getattr(e, "body", "") or "{}").get("message", "")
            except (ValueError, AttributeError):
                message = ""
        return ActionError(status, message or getattr(e, "reason", "") or str(e))
    if type(e).__name__ == "ConnectionProblem":
        return ActionError(502, f"cannot reach the cluster: {e}")
    if isinstance(e, (ValueError, KeyError)):
        return ActionError(400, str(e.args[0]) if e.args else type(e).__name__)
    return None


def build_router(ctx: ActionContext) -> APIRouter:
    router = APIRouter()

    async def perform(request: Request, act: Callable[[dict[str, Any]], tuple[Callable[[], object], str]]):
        if not ctx.enabled or ctx.target is None:
            return error(403, READ_ONLY)
        try:
            call, text = act(await _body(request))
            try:
                result = call()
                if inspect.isawaitable(result):
                    result = await result
            except Exception as e:
                mapped = _cluster_error(e)
                if mapped is None:
                    raise
                raise mapped from None
        except ActionError as e:
            return error(e.status, e.message)
        except Exception:
            log.exception("action failed")
            return error(500, "the action failed inside the server; see its log")
        try:
            ctx.recorder.record(text, kind="action")
        except Exception:
            log.exception("could not record the action in the timeline")
        ctx.after()
        return {"ok": True, "text": text}

    @router.post("/api/actions/scale")
    async def scale(request: Request):
        def act(body: dict[str, Any]):
            ns, name = namespace_of(body), object_name(body, "name")
            n = replicas_of(body, replica_limit(ctx.target))
            return (lambda: ctx.target.scale(ns, name, n)), f"scaled deployment {ns}/{name} to {n}"

        return await perform(request, act)

    @router.post("/api/actions/label")
    async def label(request: Request):
        def act(body: dict[str, Any]):
            ns, pod, labels = namespace_of(body), object_name(body, "pod"), labels_of(body)
            return (
                (lambda: ctx.target.set_pod_labels(ns, pod, labels)),
                f"labelled pod {ns}/{pod}: {describe_labels(labels)}",
            )

        return await perform(request, act)

    @router.post("/api/actions/readiness")
    async def readiness(request: Request):
        def act(body: dict[str, Any]):
            ns, pod, passing = namespace_of(body), object_name(body, "pod"), passing_of(body)
            word = "passing" if passing else "failing"
            return (
                (lambda: ctx.target.set_probe(ns, pod, passing)),
                f"readiness probe of pod {ns}/{pod} set to {word}",
            )

        return await perform(request, act)

    @router.post("/api/actions/delete")
    async def delete(request: Request):
        def act(body: dict[str, Any]):
            ns, pod = namespace_of(body), object_name(body, "pod")
            return (lambda: ctx.target.delete_pod(ns, pod)), f"deleted pod {ns}/{pod}"

        return await perform(request, act)

    return router


# ---- a real cluster --------------------------------------------------------------
class SourceActions:
    """The actions through a source's async `act` (KubeSource, which allows them only with
    --allow-actions and explains a Forbidden by the missing permission)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    async def scale(self, namespace: str, name: str, replicas: int) -> object:
        return await self.source.act("scale", namespace=namespace, name=name, replicas=replicas)

    async def set_pod_labels(self, namespace: str, name: str, labels: dict[str, str | None]) -> object:
        return await self.source.act("label", namespace=namespace, name=name, labels=labels)

    async def set_probe(self, namespace: str, name: str, passing: bool) -> object:
        raise ActionError(400, "a readiness probe can only be switched on the simulated cluster")

    async def delete_pod(self, namespace: str, name: str) -> object:
        return await self.source.act("delete", namespace=namespace, name=name)
