"""What every source (simulated cluster, real cluster, replay) hands the dashboard, and the
small interface it implements. The view never knows which source it is fed by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One watch event for one object, exactly as the API serves it (ADDED / MODIFIED / DELETED)."""

    type: Literal["ADDED", "MODIFIED", "DELETED"]
    kind: str  # "Pod", "Service", "EndpointSlice", "Endpoints", "Node"
    obj: Obj


@dataclass(frozen=True, slots=True)
class Resync:
    """The complete current list of one kind (after a list or a relist on 410): it replaces
    whatever the view held for that kind, so objects missing here are gone (no ghosts).
    `namespace` limits the replacement to one namespace when the source lists per namespace.

    A long list may come in pages, each handed on as it arrives: `more` says another page of the
    same list follows, `cont` that this page continues the one before. Only the last page (more
    False) removes what the whole list did not hold. A list that breaks off (more True, and the next
    Resync of that kind starts afresh with cont False) removes nothing."""

    kind: str
    objs: list[Obj]
    namespace: str | None = None
    more: bool = False
    cont: bool = False


@dataclass(frozen=True, slots=True)
class Status:
    """How fresh the data is. `state`: connecting | live | reconnecting | error.
    `problems`: lasting issues to show (e.g. a Forbidden naming the missing permission)."""

    state: Literal["connecting", "live", "reconnecting", "error"]
    message: str = ""
    since: float = 0.0  # epoch seconds when this state began
    problems: tuple[str, ...] = ()


SourceItem = Change | Resync | Status
Emit = Callable[[SourceItem], None]


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What the page shows about where the data comes from, so nobody mistakes one for another."""

    mode: Literal["sim", "kube", "replay"]
    name: str  # "simulated cluster", the kubeconfig context, or the recording's file name
    server: str = ""  # API server URL for real clusters
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    read_only: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "name": self.name,
            "server": self.server,
            "namespaces": list(self.namespaces),
            "readOnly": self.read_only,
            **({"extra": self.extra} if self.extra else {}),
        }


class Source(Protocol):
    info: ClusterInfo

    async def run(self, emit: Emit) -> None:
        """Feed items to `emit` until cancelled. Starts with a Resync per kind, then Changes.
        Never raises for cluster trouble: it reports Status items and retries."""
        ...
