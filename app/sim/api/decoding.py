"""Decoding a request object as the API server's typed JSON decoder does: type mismatches are
errors (`json: cannot unmarshal ...`), unknown and duplicate fields are strict-decoding problems
that the `fieldValidation` directive turns into an error (Strict), warnings (Warn, the default)
or nothing (Ignore); unknown fields and nulls are dropped from what is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.sim.api.fielderr import invalid, invalid_error, not_supported
from app.sim.api.schema import FieldType, TypeDef, root, type_defs
from app.sim.errors import ApiError

Obj = dict[str, Any]

IGNORE, WARN, STRICT = "Ignore", "Warn", "Strict"
_MAX_STRICT_ERRORS = 100
_INT32 = (-(2**31), 2**31 - 1)
_INT64_FIELDS = {
    "generation",
    "observedGeneration",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "deletionGracePeriodSeconds",
    "gracePeriodSeconds",
    "tolerationSeconds",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "supplementalGroups",
    "expirationSeconds",
}


class DupDict(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> DupDict:
    out = DupDict()
    out.duplicates = []
    for key, value in pairs:
        if key in out and key not in out.duplicates:
            out.duplicates.append(key)
        out[key] = value
    return out


def loads_json(raw: bytes | str) -> Any:
    """json.loads that keeps track of duplicate keys (for strict decoding)."""
    return json.loads(raw, object_pairs_hook=_pairs)


def directive(params: Any, options_kind: str) -> str:
    """The request's fieldValidation directive; an unknown value is 422 like on the server."""
    value = params.get("fieldValidation") or ""
    if value not in ("", IGNORE, WARN, STRICT):
        cause = not_supported("fieldValidation", value, ["", IGNORE, STRICT, WARN])
        raise invalid_error(options_kind, "", [cause], group="meta.k8s.io")
    return value or WARN


@dataclass
class _Walk:
    strict: list[str] = field(default_factory=list)
    mismatch: str | None = None

    def add_strict(self, kind: str, path: str) -> None:
        text = f'{kind} "{path}"'
        if len(self.strict) < _MAX_STRICT_ERRORS and text not in self.strict:
            self.strict.append(text)

    def type_error(self, text: str) -> None:
        if self.mismatch is None:
            self.mismatch = text


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_type(ft: FieldType, name: str) -> str:
    if ft.kind == "ref":
        return type_defs()[ft.ref or ""].go_name
    if ft.kind == "list":
        return "[]" + _go_type(ft.item or FieldType("any"), name)
    if ft.kind == "map":
        return "map[string]" + _go_type(ft.item or FieldType("any"), name)
    return {
        "string": "string",
        "integer": "int64" if name in _INT64_FIELDS else "int32",
        "boolean": "bool",
        "number": "float64",
        "quantity": "resource.Quantity",
        "int-or-string": "intstr.IntOrString",
        "date-time": "v1.Time",
    }.get(ft.kind, "interface {}")


class _Decoder:
    def __init__(self) -> None:
        self.walk = _Walk()

    def _mismatch(self, value: Any, ft: FieldType, name: str, struct: str, fields: list[str]) -> None:
        kind = _json_kind(value)
        if kind == "number" and ft.kind in ("integer",):
            kind = f"number {json.dumps(value)}"
        where = f"Go struct field {struct}.{'.'.join(fields)}" if struct else "Go value"
        self.walk.type_error(f"json: cannot unmarshal {kind} into {where} of type {_go_type(ft, name)}")

    def value(self, value: Any, ft: FieldType, path: str, name: str, struct: str, fields: list[str]) -> Any:
        """The value as stored (unknown fields and nulls dropped), noting problems on the way."""
        kind = ft.kind
        if value is None or kind in ("any", "date-time"):
            return value
        if kind == "ref":
            if not isinstance(value, dict):
                self._mismatch(value, ft, name, struct, fields)
                return value
            return self.struct(value, type_defs()[ft.ref or ""], path, fields)
        if kind == "list":
            if not isinstance(value, list):
                self._mismatch(value, ft, name, struct, fields)
                return value
            item = ft.item or FieldType("any")
            return [self.value(v, item, f"{path}[{i}]", name, struct, fields) for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                self._mismatch(value, ft, name, struct, fields)
                return value
            for key in getattr(value, "duplicates", ()):
                self.walk.add_strict("duplicate field", f"{path}.{key}")
            item = ft.item or FieldType("any")
            return {k: self.value(v, item, f"{path}.{k}", name, struct, fields) for k, v in value.items()}
        if kind == "int-or-string":
            if isinstance(value, bool) or not isinstance(value, int | str):
                kind_text = _json_kind(value)
                if kind_text == "number":
                    kind_text = f"number {json.dumps(value)}"
                self.walk.type_error(f"json: cannot unmarshal {kind_text} into Go value of type int32")
            return value
        if kind == "quantity":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                self._mismatch(value, ft, name, struct, fields)
            return value
        ok = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
        }.get(kind, True)
        if ok and kind == "integer" and name not in _INT64_FIELDS and not _INT32[0] <= value <= _INT32[1]:
            ok = False
        if not ok:
            self._mismatch(value, ft, name, struct, fields)
        return value

    def struct(self, obj: Obj, td: TypeDef, path: str, fields: list[str]) -> Obj:
        out: Obj = {}
        struct = td.go_name.split(".", 1)[1]
        duplicates = set(getattr(obj, "duplicates", ()))
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else key
            ft = td.fields.get(key)
            if ft is None:
                self.walk.add_strict("unknown field", sub)
            elif value is not None:
                out[key] = self.value(value, ft, sub, key, struct, [*fields, key])
            if key in duplicates:
                self.walk.add_strict("duplicate field", sub)
        return out


@dataclass(frozen=True, slots=True)
class Decoded:
    obj: Obj  # what the server keeps: unknown fields and nulls dropped
    strict: list[str]  # `unknown field "spec.portz"`, `duplicate field "..."`, in document order
    mismatch: str | None  # the first type error, Go's wording


def decode(obj: Obj, kind: str) -> Decoded:
    decoder = _Decoder()
    pruned = decoder.struct(obj, root(kind), "", [])
    return Decoded(pruned, decoder.walk.strict, decoder.walk.mismatch)


def strict_error_text(problems: list[str]) -> str:
    return "strict decoding error: " + ", ".join(problems)


def cannot_handle(kind: str, version: str, detail: str) -> ApiError:
    """transformDecodeError: the 400 the create and update handlers give for a bad body."""
    return ApiError(
        400, "BadRequest", f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}'
    )


def warning_header(text: str) -> str:
    """The RFC 7234 Warning value the API server sends: code 299, agent '-', quoted text."""
    return "299 - " + json.dumps(text, ensure_ascii=False)


@dataclass
class Outcome:
    """The object to store after strict decoding, and the warnings to send."""

    obj: Obj
    warnings: list[str] = field(default_factory=list)


def check_body(obj: Obj, kind: str, version: str, mode: str) -> Outcome:
    """Create/update: decode the body; Strict refuses unknown or duplicate fields, Warn reports them."""
    decoded = decode(obj, kind)
    if decoded.mismatch:
        raise cannot_handle(kind, version, decoded.mismatch)
    if decoded.strict and mode == STRICT:
        raise cannot_handle(kind, version, strict_error_text(decoded.strict))
    return Outcome(decoded.obj, decoded.strict if mode == WARN else [])


def check_patched(
    obj: Obj, kind: str, mode: str, patch_problems: list[str], ignore: set[str] | frozenset[str] = frozenset()
) -> Outcome:
    """Patch: the patched object decoded; the patch's own duplicate fields count too. Problems the
    stored object already had (`ignore`) are not the request's."""
    decoded = decode(obj, kind)
    if decoded.mismatch:
        as_json = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        raise invalid_error("", "", [invalid("patch", as_json, decoded.mismatch)], group="")
    found = [p for p in decoded.strict if p not in ignore]
    problems = [*patch_problems, *found] if mode != IGNORE else []
    if problems and mode == STRICT:
        raise ApiError(400, "BadRequest", strict_error_text(problems))
    return Outcome(decoded.obj, problems if mode == WARN else [])


def patch_duplicates(patch: Any, path: str = "") -> list[str]:
    """Duplicate keys anywhere in a parsed JSON patch document."""
    out: list[str] = []
    if isinstance(patch, dict):
        for key, value in patch.items():
            sub = f"{path}.{key}" if path else key
            if key in getattr(patch, "duplicates", ()):
                out.append(f'duplicate field "{sub}"')
            out += patch_duplicates(value, sub)
    elif isinstance(patch, list):
        for i, value in enumerate(patch):
            out += patch_duplicates(value, f"{path}[{i}]")
    return out
