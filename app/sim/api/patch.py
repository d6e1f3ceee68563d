"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the strategic merge patch
that `kubectl apply/label/annotate/scale` send (lists of containers, ports, env... merged by key)."""

from __future__ import annotations

import copy
from typing import Any

from app.sim.errors import ApiError

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
SUPPORTED = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH)


def _bad(msg: str, code: int = 422, reason: str = "Invalid") -> ApiError:
    return ApiError(code, reason, msg)


# ---- JSON merge patch ------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- JSON patch ------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _bad(f"invalid JSON pointer {path!r}", 400, "BadRequest")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError) as exc:
                raise _bad(f"jsonpatch: path element {p!r} not found") from exc
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise _bad(f"jsonpatch: path element {p!r} not found")
    return cur, parts[-1]


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts)
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise _bad(f"jsonpatch: path {'/'.join(parts)!r} not found") from exc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent, last = _parent(doc, parts)
    try:
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        raise _bad(
            f"jsonpatch remove operation does not apply: doc is missing path: /{'/'.join(parts)}"
        ) from exc


def _add(doc: Any, parts: list[str], value: Any, replace: bool = False) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
            return doc
        try:
            idx = int(last)
        except ValueError as exc:
            raise _bad(f"jsonpatch: invalid index {last!r}") from exc
        if replace:
            if not 0 <= idx < len(parent):
                raise _bad(
                    f"jsonpatch replace operation does not apply: doc is missing key: /{'/'.join(parts)}"
                )
            parent[idx] = value
        else:
            if not 0 <= idx <= len(parent):
                raise _bad(f"jsonpatch: index {idx} out of range")
            parent.insert(idx, value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise _bad(f"jsonpatch replace operation does not apply: doc is missing key: /{'/'.join(parts)}")
        parent[last] = value
    else:
        raise _bad(f"jsonpatch: cannot add to /{'/'.join(parts)}")
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 add/remove/replace/move/copy/test."""
    if not isinstance(ops, list):
        raise _bad("json patch must be a list of operations", 400, "BadRequest")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _bad(f"invalid json patch operation: {op!r}", 400, "BadRequest")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), replace=True)
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = _remove(doc, src) if kind == "move" else copy.deepcopy(_get(doc, src))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise _bad(f"testing value /{'/'.join(parts)} failed")
        else:
            raise _bad(f"Unexpected kind: {kind}", 400, "BadRequest")
    return doc


# ---- strategic merge patch -------------------------------------------------------------------

# Merge keys by the path of field names leading to a list (patchMergeKey in k8s.io/api types).
_SUFFIX_KEYS: list[tuple[tuple[str, ...], str]] = [
    (("containers", "ports"), "containerPort"),
    (("initContainers", "ports"), "containerPort"),
    (("containers",), "name"),
    (("initContainers",), "name"),
    (("ephemeralContainers",), "name"),
    (("env",), "name"),
    (("volumeMounts",), "mountPath"),
    (("volumeDevices",), "devicePath"),
    (("volumes",), "name"),
    (("imagePullSecrets",), "name"),
    (("hostAliases",), "ip"),
    (("topologySpreadConstraints",), "topologyKey"),
    (("resourceClaims",), "name"),
    (("ownerReferences",), "uid"),
    (("conditions",), "type"),
    (("podIPs",), "ip"),
    (("hostIPs",), "ip"),
    (("addresses",), "type"),  # Node status.addresses
    (("taints",), "key"),
]
# Lists whose merge key only applies at an exact path (Service spec.ports, not EndpointSlice ports).
_EXACT_KEYS: dict[tuple[str, ...], str] = {("spec", "ports"): "port"}
# Primitive lists merged as sets.
_MERGED_PRIMITIVES = {"finalizers"}


def _merge_key(kind: str, path: tuple[str, ...]) -> str | None:
    if path in _EXACT_KEYS and kind == "Service":
        return _EXACT_KEYS[path]
    if kind == "EndpointSlice" and path in (("endpoints",), ("ports",)):
        return None
    if path and path[-1] == "addresses" and kind != "Node":
        return None
    for suffix, key in _SUFFIX_KEYS:
        if path[-len(suffix) :] == suffix:
            return key
    return None


def strategic_merge_patch(target: Any, patch: Any, kind: str) -> Any:
    """Apply a strategic merge patch to a Kubernetes object dict of the given kind."""
    if not isinstance(patch, dict):
        raise _bad("strategic merge patch must be a JSON object", 400, "BadRequest")
    return _smp_map(target if isinstance(target, dict) else {}, patch, kind, ())


def _smp_map(orig: Obj, patch: Obj, kind: str, path: tuple[str, ...]) -> Obj:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    out = dict(orig)
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v or []
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            drop = set(v or [])
            if isinstance(out.get(field), list):
                out[field] = [x for x in out[field] if x not in drop]
            continue
        if v is None:
            out.pop(k, None)
            continue
        sub = (*path, k)
        cur = out.get(k)
        if isinstance(v, dict):
            if v.get("$patch") == "delete":
                out.pop(k, None)
            else:
                out[k] = _smp_map(cur if isinstance(cur, dict) else {}, v, kind, sub)
        elif isinstance(v, list):
            out[k] = _smp_list(cur if isinstance(cur, list) else [], v, kind, sub)
        else:
            out[k] = v
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _reorder(out[field], order, _merge_key(kind, (*path, field)))
    if isinstance(retain, list):
        keep = set(retain)
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(x: Any) -> Any:
        if key and isinstance(x, dict):
            return x.get(key)
        return x

    wanted = [ident(o) for o in order]
    rank = {repr(w): i for i, w in enumerate(wanted)}
    return sorted(items, key=lambda x: rank.get(repr(ident(x)), len(rank)))


def _smp_list(orig: list[Any], patch: list[Any], kind: str, path: tuple[str, ...]) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    key = _merge_key(kind, path)
    if path and path[-1] in _MERGED_PRIMITIVES:
        out = list(orig)
        out.extend(p for p in patch if p not in out)
        return out
    if key is None:
        return copy.deepcopy(patch)
    out = [copy.deepcopy(o) for o in orig]
    for item in patch:
        if not isinstance(item, dict):
            out.append(copy.deepcopy(item))
            continue
        if key not in item:
            if item.get("$patch") == "delete":
                continue
            raise _bad(f"map: {item!r} does not contain declared merge key: {key}")
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_smp_map({}, item, kind, path))
        else:
            out[idx] = _smp_map(out[idx], item, kind, path)
    return out


def apply_patch(obj: Obj, content_type: str, body: Any, kind: str) -> Obj:
    """Dispatch on the PATCH content type; 415 UnsupportedMediaType for anything else."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == MERGE_PATCH:
        return merge_patch(obj, body)
    if ctype == JSON_PATCH:
        return json_patch(obj, body)
    if ctype == STRATEGIC_PATCH:
        return strategic_merge_patch(obj, body, kind)
    raise ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(SUPPORTED),
    )
