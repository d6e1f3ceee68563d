"""The recording file format (JSON Lines, docs/recording.md): header and item lines to and from
source items and classroom notes, and the fold that turns a prefix of a recording into the state it
describes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from app.kinds import WATCHED_KINDS
from app.sources.base import Change, ClusterInfo, Obj, Resync, SourceItem, Status

FORMAT_KEY = "slicescope-recording"
FORMAT_VERSION = 1
CHANGE_TYPES = ("ADDED", "MODIFIED", "DELETED")
STATES = ("connecting", "live", "reconnecting", "error")


class RecordingError(Exception):
    """A file that cannot be played at all (missing, empty, no header, unknown version) or a
    recording that cannot be made (cannot write, already recording)."""


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    cluster: ClusterInfo
    started: float  # epoch seconds when the recording began


@dataclass(frozen=True, slots=True)
class ClassroomNote:
    """The lesson panel's state (meta.classroom: the scenario, its step, narration, checks) from this
    moment on: recorded next to the cluster's items so a replay shows the lesson as it was given."""

    value: dict[str, Any] | None


RecordedItem = SourceItem | ClassroomNote


@dataclass(frozen=True, slots=True)
class Entry:
    t: float  # seconds since the recording began
    item: RecordedItem
    line: int  # 1-based line in the file (the header is line 1)


def _dumps(data: Any) -> str:
    # allow_nan=False: NaN/Infinity are not JSON and other readers would reject the line
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# ---------------------------------------------------------------- ClusterInfo


def cluster_from_json(data: Any) -> ClusterInfo:
    """The inverse of ClusterInfo.as_json (ValueError when it is not one)."""
    if not isinstance(data, dict):
        raise ValueError("cluster is not an object")
    mode = data.get("mode")
    if mode not in ("sim", "kube", "replay"):
        raise ValueError(f"cluster mode {mode!r} is not sim, kube or replay")
    name, server = data.get("name", ""), data.get("server", "")
    namespaces, extra = data.get("namespaces") or [], data.get("extra") or {}
    if not isinstance(name, str) or not isinstance(server, str):
        raise ValueError("cluster name and server must be strings")
    if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
        raise ValueError("cluster namespaces must be a list of strings")
    if not isinstance(extra, dict):
        raise ValueError("cluster extra must be an object")
    return ClusterInfo(
        mode=mode,
        name=name,
        server=server,
        namespaces=tuple(namespaces),
        read_only=bool(data.get("readOnly", False)),
        extra={str(k): str(v) for k, v in extra.items()},
    )


# ---------------------------------------------------------------- lines


def header_line(cluster: ClusterInfo, started: float) -> str:
    return _dumps({FORMAT_KEY: FORMAT_VERSION, "cluster": cluster.as_json(), "started": started})


def parse_header(data: Any) -> Header:
    """A decoded first line as a Header. ValueError says why it is not a header we can read."""
    if not isinstance(data, dict) or FORMAT_KEY not in data:
        raise ValueError(f'the first line has no "{FORMAT_KEY}" header; this is not a slicescope recording')
    version = data[FORMAT_KEY]
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ValueError(
            f"recording format version {version!r} is not supported "
            f"(this slicescope reads version {FORMAT_VERSION})"
        )
    started = data.get("started", 0.0)
    if not _is_number(started):
        raise ValueError('the header\'s "started" is not a number')
    try:
        cluster = cluster_from_json(data.get("cluster"))
    except ValueError as e:
        raise ValueError(f"the header's cluster is invalid: {e}") from None
    return Header(version, cluster, float(started))


def item_json(item: RecordedItem) -> dict[str, Any]:
    if isinstance(item, ClassroomNote):
        return {"item": "classroom", "value": item.value}
    if isinstance(item, Change):
        return {"item": "change", "type": item.type, "kind": item.kind, "obj": item.obj}
    if isinstance(item, Resync):
        out = {"item": "resync", "kind": item.kind, "namespace": item.namespace, "objs": item.objs}
        if item.more:
            out["more"] = True
        if item.cont:
            out["cont"] = True
        return out
    if isinstance(item, Status):
        return {
            "item": "status",
            "state": item.state,
            "message": item.message,
            "since": item.since,
            "problems": list(item.problems),
        }
    raise TypeError(f"not a source item: {type(item).__name__}")


def item_line(t: float, item: RecordedItem) -> str:
    """One item line: {"t": seconds since start, "item": ..., fields}. TypeError/ValueError when
    the item holds something JSON cannot carry."""
    return _dumps({"t": round(t, 6), **item_json(item)})


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def parse_item(data: Any) -> tuple[float, RecordedItem]:
    """A decoded item line as (t, item). ValueError says what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("the line is not a JSON object")
    t = data.get("t")
    if not _is_number(t) or t < 0:
        raise ValueError(f'"t" must be a number of seconds >= 0, not {t!r}')
    what = data.get("item")
    kind = data.get("kind")
    if what in ("change", "resync") and (not isinstance(kind, str) or not kind):
        raise ValueError(f'a {what} needs a "kind"')
    if what == "change":
        type_, obj = data.get("type"), data.get("obj")
        if type_ not in CHANGE_TYPES:
            raise ValueError(f"change type {type_!r} is not ADDED, MODIFIED or DELETED")
        if not isinstance(obj, dict):
            raise ValueError('a change needs an object in "obj"')
        return float(t), Change(type_, kind, obj)
    if what == "resync":
        objs, ns = data.get("objs"), data.get("namespace")
        if not isinstance(objs, list) or not all(isinstance(o, dict) for o in objs):
            raise ValueError('a resync needs a list of objects in "objs"')
        if ns is not None and not isinstance(ns, str):
            raise ValueError('a resync\'s "namespace" must be a string or null')
        more, cont = data.get("more", False), data.get("cont", False)
        if not isinstance(more, bool) or not isinstance(cont, bool):
            raise ValueError('a resync\'s "more" and "cont" must be true or false')
        return float(t), Resync(kind, objs, ns, more=more, cont=cont)
    if what == "status":
        state, message, since = data.get("state"), data.get("message", ""), data.get("since", 0.0)
        problems = data.get("problems", [])
        if state not in STATES:
            raise ValueError(f"status state {state!r} is not one of {', '.join(STATES)}")
        if not isinstance(message, str) or not _is_number(since):
            raise ValueError('a status needs a string "message" and a number "since"')
        if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
            raise ValueError('a status\'s "problems" must be a list of strings')
        return float(t), Status(state, message, float(since), tuple(problems))
    if what == "classroom":
        value = data.get("value")
        if value is not None and not isinstance(value, dict):
            raise ValueError('a classroom note\'s "value" must be an object or null')
        return float(t), ClassroomNote(value)
    raise ValueError(f'"item" must be change, resync, status or classroom, not {what!r}')


# ---------------------------------------------------------------- state at a point in time


def _key(obj: Obj) -> tuple[str, str] | None:
    md = obj.get("metadata")
    if not isinstance(md, dict) or not isinstance(md.get("name"), str):
        return None
    ns = md.get("namespace")
    return (ns if isinstance(ns, str) else "", md["name"])


class State:
    """Folds recorded items into the objects they leave behind, per kind, plus the last Status and the
    last classroom note: what a recording started mid-session must begin with, and what a seek rebuilds."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self.status: Status | None = None
        self.classroom: ClassroomNote | None = None
        self._listing: dict[tuple[str, str | None], set[tuple[str, str]]] = {}  # lists arriving in pages

    @property
    def empty(self) -> bool:
        """True until the first item: there is no state to begin a recording with."""
        return self.status is None and not self.objects

    def apply(self, item: RecordedItem) -> None:
        if isinstance(item, ClassroomNote):
            self.classroom = item
        elif isinstance(item, Status):
            self.status = item
        elif isinstance(item, Resync):
            # As the view does: pages put their objects, the last page removes what none listed.
            objs = self.objects.setdefault(item.kind, {})
            scope = (item.kind, item.namespace)
            seen = self._listing.pop(scope, None) if item.cont else None
            if seen is None:
                seen = set()
            for obj in item.objs:
                key = _key(obj) if isinstance(obj, dict) else None
                if key is not None and (item.namespace is None or key[0] == item.namespace):
                    objs[key] = obj
                    seen.add(key)
            if item.more:
                self._listing[scope] = seen
                return
            for key in [k for k in objs if (item.namespace is None or k[0] == item.namespace)]:
                if key not in seen:
                    del objs[key]
        elif isinstance(item, Change):
            objs = self.objects.setdefault(item.kind, {})
            key = _key(item.obj) if isinstance(item.obj, dict) else None
            if key is None:
                return
            if item.type == "DELETED":
                objs.pop(key, None)
            else:
                objs[key] = item.obj

    def items(self, kinds: tuple[str, ...] = ()) -> list[RecordedItem]:
        """The state as items: the last Status (if any), then one whole-cluster Resync per kind
        (the watched kinds first, then `kinds` and any other seen, even when empty: no ghosts),
        then the last classroom note (if any)."""
        out: list[RecordedItem] = [self.status] if self.status is not None else []
        order = list(dict.fromkeys([*WATCHED_KINDS, *kinds, *self.objects]))
        for kind in order:
            objs = self.objects.get(kind, {})
            out.append(Resync(kind, [objs[k] for k in sorted(objs)]))
        if self.classroom is not None:
            out.append(self.classroom)
        return out
