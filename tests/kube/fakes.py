"""Test doubles for the kube source's layers: a clock that never sleeps, scripted watch streams and
a transport serving them, and a sink that records what the watch loop reports."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.sources.base import Change, Resync, SourceItem, Status
from app.sources.watching import ApiError, Obj, Target
from tests.paths import FIXTURES


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_lines(name: str) -> list[bytes]:
    return [line.encode() for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


class FakeClock:
    """now() is a number the test controls; sleep() yields a few times (so anything already
    available wins a race against it, as it would in real time), then moves now forward by the delay
    and records it in `sleeps` (a sleep cancelled before that, like a timer that lost a race, is
    not recorded). rand() is fixed so jitter is predictable."""

    def __init__(self, start: float = 1_000_000.0, rand: float = 0.0) -> None:
        self.t = start
        self.sleeps: list[float] = []
        self._rand = rand

    def now(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        for _ in range(10):
            await asyncio.sleep(0)
        self.sleeps.append(delay)
        self.t += delay

    def rand(self) -> float:
        return self._rand


HANG = "hang"  # the stream stays open and silent
EOF = "eof"  # the server ends the stream


@dataclass
class Script:
    """One watch answer: raise `error` at open, or serve `lines`, then end (`EOF`), hang, or raise."""

    lines: list[bytes | str] = field(default_factory=list)
    end: str | BaseException = EOF
    error: BaseException | None = None


class FakeStream:
    def __init__(self, script: Script) -> None:
        self.lines = list(script.lines)
        self.end = script.end
        self.closed = False
        self._forever = asyncio.Event()

    async def next_batch(self) -> list[bytes] | None:
        """One line a call (the slowest a real stream can be), then the scripted end."""
        await asyncio.sleep(0)
        if self.lines:
            line = self.lines.pop(0)
            return [line.encode() if isinstance(line, str) else line]
        if isinstance(self.end, BaseException):
            raise self.end
        if self.end == HANG:
            await self._forever.wait()
        return None

    async def aclose(self) -> None:
        self.closed = True


class FakeTransport:
    """Lists come from `objects[path]` (paged by `limit`); watches from `scripts[path]`, one Script
    per call (when they run out, the watch hangs). `list_errors[path]` raise before listing."""

    def __init__(self) -> None:
        self.objects: dict[str, list[Obj]] = defaultdict(list)
        self.list_rv: dict[str, str] = defaultdict(lambda: "100")
        self.scripts: dict[str, list[Script]] = defaultdict(list)
        self.list_errors: dict[str, list[BaseException]] = defaultdict(list)
        self.list_calls: list[tuple[str, int, str | None]] = []
        self.watch_calls: list[tuple[str, str]] = []
        self.streams: list[FakeStream] = []
        self.changed = asyncio.Event()

    async def list(self, target: Target, *, limit: int, cont: str | None) -> Obj:
        await asyncio.sleep(0)
        path = target.path()
        self.list_calls.append((path, limit, cont))
        if self.list_errors[path]:
            raise self.list_errors[path].pop(0)
        items = self.objects[path]
        start = int(cont or 0)
        page = [json.loads(json.dumps(o)) for o in items[start : start + limit]]
        meta: dict[str, Any] = {"resourceVersion": self.list_rv[path]}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        return {"kind": f"{target.kind.kind}List", "metadata": meta, "items": page}

    async def watch(self, target: Target, *, resource_version: str, timeout_seconds: int) -> FakeStream:
        await asyncio.sleep(0)
        path = target.path()
        self.watch_calls.append((path, resource_version))
        self.changed.set()
        script = self.scripts[path].pop(0) if self.scripts[path] else Script(end=HANG)
        if script.error is not None:
            raise script.error
        # A server is at least at the versions it streams: later lists say so.
        for line in script.lines:
            rv = (json.loads(line).get("object") or {}).get("metadata", {}).get("resourceVersion", "")
            if rv.isdigit() and self.list_rv[path].isdigit() and int(rv) > int(self.list_rv[path]):
                self.list_rv[path] = rv
        stream = FakeStream(script)
        self.streams.append(stream)
        return stream


def event(type_: str, obj: Obj) -> bytes:
    return json.dumps({"type": type_, "object": obj}).encode()


def expired(rv: str = "5") -> bytes:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {rv} (400)",
        "reason": "Expired",
        "code": 410,
    }
    return event("ERROR", status)


def forbidden(verb: str, resource: str, group: str, namespace: str | None) -> ApiError:
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{resource}{"." + group if group else ""} is forbidden: User "system:serviceaccount:x:y" '
        f'cannot {verb} resource "{resource}" in API group "{group}"{where}',
    )


def pod(name: str, rv: str, ns: str = "default", **labels: str) -> Obj:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "labels": labels},
    }


@dataclass
class RecordingSink:
    """A WatchSink that remembers everything, in order."""

    log: list[tuple[str, Any]] = field(default_factory=list)
    refuse_returns: bool = True

    def listed(self, target: Target, objs: list[Obj], *, more: bool = False, cont: bool = False) -> None:
        names = [o["metadata"]["name"] for o in objs]
        if cont and self.log and self.log[-1][0] == "listed":
            self.log[-1][1].extend(names)  # pages of one list read as one list here
        else:
            self.log.append(("listed", names))

    def changed(self, target: Target, type_: str, obj: Obj) -> None:
        self.log.append(("changed", (type_, obj["metadata"].get("name"))))

    def up(self, target: Target) -> None:
        self.log.append(("up", str(target)))

    def down(self, target: Target, error: BaseException) -> None:
        self.log.append(("down", type(error).__name__))

    def refused(self, target: Target, verb: str, error: ApiError) -> bool:
        self.log.append(("refused", (verb, error.status)))
        return self.refuse_returns

    def kinds(self) -> list[str]:
        return [k for k, _ in self.log]

    def of(self, what: str) -> list[Any]:
        return [v for k, v in self.log if k == what]


async def until(predicate: Any, *, rounds: int = 2000) -> None:
    """Let the loop run until predicate() holds (fake clock: no real waiting)."""
    for _ in range(rounds):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


def names(objs: Iterable[Obj]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


class Mirror:
    """What a consumer of the source ends up holding: objects by (kind, namespace, name), replaced
    per kind (and namespace) on Resync, so ghosts would show here; plus every Status seen."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.statuses: list[Status] = []
        self.items: list[SourceItem] = []

    def __call__(self, item: SourceItem) -> None:
        self.items.append(item)
        if isinstance(item, Status):
            self.statuses.append(item)
        elif isinstance(item, Resync):
            for key in [k for k in self.objects if k[0] == item.kind and not item.cont]:
                if item.namespace is None or key[1] == item.namespace:
                    del self.objects[key]
            for obj in item.objs:
                self.objects[self.key(item.kind, obj)] = obj
        elif isinstance(item, Change):
            key = self.key(item.kind, item.obj)
            if item.type == "DELETED":
                self.objects.pop(key, None)
            else:
                self.objects[key] = item.obj

    @staticmethod
    def key(kind: str, obj: Obj) -> tuple[str, str, str]:
        meta = obj["metadata"]
        return (kind, meta.get("namespace", ""), meta["name"])

    def names(self, kind: str) -> list[str]:
        return sorted(k[2] for k in self.objects if k[0] == kind)

    @property
    def status(self) -> Status:
        return self.statuses[-1] if self.statuses else Status("connecting")

    def states(self) -> list[str]:
        return [s.state for s in self.statuses]
