"""API errors of the simulated cluster, shaped so the HTTP layer can turn them into Status objects."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    code: int
    reason: str  # Kubernetes StatusReason: NotFound, AlreadyExists, Conflict, Invalid, Expired, ...
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        """The metav1.Status the real API server sends for this error."""
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        return out


def _details(kind: str, name: str) -> dict[str, Any]:
    from app.kinds import KINDS

    info = KINDS.get(kind)
    d: dict[str, Any] = {"name": name, "kind": info.plural if info else kind.lower()}
    if info and info.group:
        d["group"] = info.group
    return d


def _resource(kind: str) -> str:
    from app.kinds import KINDS

    info = KINDS.get(kind)
    if not info:
        return kind.lower()
    return f"{info.plural}.{info.group}" if info.group else info.plural


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_resource(kind)} "{name}" not found', _details(kind, name))


def already_exists(kind: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_resource(kind)} "{name}" already exists', _details(kind, name))


def conflict(kind: str, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_resource(kind)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(kind, name),
    )


def forbidden(kind: str, name: str, message: str) -> ApiError:
    """admission.NewForbidden: what an admission plugin's refusal looks like."""
    text = f'{_resource(kind)} "{name}" is forbidden: {message}'
    return ApiError(403, "Forbidden", text, _details(kind, name))


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """causes: (field path, message) pairs, like field.ErrorList."""
    text = ", ".join(f"{f}: {m}" for f, m in causes)
    details = _details(kind, name) | {
        "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]
    }
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}', details)


def expired(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")
