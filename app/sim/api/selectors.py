"""Label and field selectors as the API server parses them from `labelSelector` / `fieldSelector`
query strings: equality (`=`, `==`, `!=`), set-based (`in`, `notin`), existence (`key`, `!key`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.sim.errors import ApiError

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return has and value == self.values[0]
        if self.op == "!=":
            return not has or value != self.values[0]
        if self.op == "in":
            return has and value in self.values
        if self.op == "notin":
            return not has or value not in self.values
        if self.op == "exists":
            return has
        return not has  # "!"


def _bad(text: str, why: str) -> ApiError:
    return ApiError(400, "BadRequest", f"unable to parse requirement: {why}: {text!r}")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)$")
_EQ_RE = re.compile(r"^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$")
_KEY_RE = re.compile(r"^(!?)\s*([^\s!=(),]+)$")


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse a label selector string; 400 BadRequest on syntax errors."""
    reqs: list[Requirement] = []
    for part in _split_top(text or ""):
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            if m.group(2) == "in" and not values:
                raise _bad(part, "for 'in', 'notin' operators, values set can't be empty")
            reqs.append(Requirement(m.group(1), m.group(2), values))
        elif m := _EQ_RE.match(part):
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append(Requirement(m.group(1), op, (m.group(3),)))
        elif m := _KEY_RE.match(part):
            reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise _bad(part, "invalid selector")
    return reqs


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


def equality_part(reqs: list[Requirement]) -> dict[str, str]:
    """The `key=value` requirements, which the store's label index can answer directly."""
    return {r.key: r.values[0] for r in reqs if r.op == "="}


# ---- field selectors -------------------------------------------------------------------------

_COMMON_FIELDS: dict[str, Callable[[Obj], str]] = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name") or "",
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get("namespace") or "",
}


def _dig(*path: str) -> Callable[[Obj], str]:
    def get(obj: Obj) -> str:
        cur: Any = obj
        for p in path:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(p)
        if cur is None:
            return ""
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return get


_KIND_FIELDS: dict[str, dict[str, Callable[[Obj], str]]] = {
    "Pod": {
        "status.phase": _dig("status", "phase"),
        "spec.nodeName": _dig("spec", "nodeName"),
        "spec.restartPolicy": _dig("spec", "restartPolicy"),
        "spec.schedulerName": _dig("spec", "schedulerName"),
        "spec.serviceAccountName": _dig("spec", "serviceAccountName"),
        "status.podIP": _dig("status", "podIP"),
        "status.nominatedNodeName": _dig("status", "nominatedNodeName"),
    },
    "Event": {
        **{
            f"involvedObject.{f}": _dig("involvedObject", f)
            for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": _dig("reason"),
        "reportingComponent": _dig("reportingComponent"),
        "source": _dig("source", "component"),
        "type": _dig("type"),
    },
    "Namespace": {"status.phase": _dig("status", "phase")},
    "Node": {
        "spec.unschedulable": lambda o: "true" if (o.get("spec") or {}).get("unschedulable") else "false"
    },
    "ReplicaSet": {"status.replicas": _dig("status", "replicas")},
    "Service": {"spec.clusterIP": _dig("spec", "clusterIP"), "spec.type": _dig("spec", "type")},
}


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    negate: bool
    value: str
    getter: Callable[[Obj], str]

    def matches(self, obj: Obj) -> bool:
        return (self.getter(obj) == self.value) != self.negate


def parse_field_selector(kind: str, text: str | None) -> list[FieldRequirement]:
    """Parse a field selector for a kind; unsupported fields are 400 BadRequest like the real server."""
    out: list[FieldRequirement] = []
    fields = {**_COMMON_FIELDS, **_KIND_FIELDS.get(kind, {})}
    for part in _split_top(text or ""):
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector: {part!r}")
        name = m.group(1).strip()
        getter = fields.get(name)
        if getter is None:
            raise ApiError(
                400,
                "BadRequest",
                f'Unable to find "/v1, Resource={kind.lower()}" that match label selector "", '
                f'field selector "{text}": field label not supported: {name}',
            )
        out.append(FieldRequirement(name, m.group(2) == "!=", m.group(3).strip(), getter))
    return out


def fields_match(reqs: list[FieldRequirement], obj: Obj) -> bool:
    return all(r.matches(obj) for r in reqs)


def format_label_selector(selector: Obj | None) -> str:
    """metav1.LabelSelector as kubectl prints it: requirements sorted by key, `<none>` when empty."""
    if not selector:
        return "<none>"
    parts: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        parts.append((k, f"{k}={v}"))
    for expr in selector.get("matchExpressions") or []:
        key, op, vals = expr.get("key", ""), expr.get("operator", ""), sorted(expr.get("values") or [])
        if op == "In":
            parts.append((key, f"{key} in ({','.join(vals)})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({','.join(vals)})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    if not parts:
        return "<none>"
    return ",".join(p for _, p in sorted(parts))


def label_selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """Does a metav1.LabelSelector (matchLabels + matchExpressions) select these labels?"""
    labels = labels or {}
    sel = selector or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            return False
        req = Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ()))
        if not req.matches(labels):
            return False
    return True
