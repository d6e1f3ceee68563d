"""Reads scenario YAML into app.scenarios.format dataclasses, validating every field; a bad file
raises ScenarioError naming the file, the line and the field (marks come from yaml.compose)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from app.console.parse import Refused, parse_command
from app.console.shipped import shipped_manifests
from app.kinds import KINDS
from app.scenarios.format import (
    ACTION_NAMES,
    PICKS,
    YAML_LIMITS,
    Action,
    Apply,
    Check,
    Delete,
    DeletePod,
    EndpointsCheck,
    Flap,
    Highlight,
    Label,
    Manifest,
    PodRef,
    PodsCheck,
    Readiness,
    Scale,
    Scenario,
    ServiceCheck,
    Setup,
    Step,
    UnmatchedPodsCheck,
    Wait,
)
from app.security.safe_yaml import YamlLimitError, check_size, limited_loader

LIBRARY = Path(__file__).resolve().parent / "library"
LESSONS = ("default",)  # what `setup: {lesson: ...}` may name
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
Path_ = tuple[str | int, ...]


class ScenarioError(Exception):
    """A scenario that cannot be read or run. str() reads `FILE, line N (field): problem`."""

    def __init__(self, file: str, line: int | None, problem: str, where: str = "") -> None:
        self.file = file
        self.line = line  # 1-based; None when no line applies
        self.where = where  # the field, like steps[2].actions[0].scale
        self.problem = problem
        loc = file if line is None else f"{file}, line {line}"
        super().__init__(f"{loc}{f' ({where})' if where else ''}: {problem}")


def _fmt_path(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


@dataclass
class _Doc:
    """The parsed document's marks: where each value (and each mapping key) starts."""

    file: str
    marks: dict[Path_, int]
    key_marks: dict[Path_, int]

    def fail(self, path: Path_, problem: str, *, at_key: bool = False) -> NoReturn:
        line = self.key_marks.get(path) if at_key else None
        probe = path
        while line is None:
            line = self.marks.get(probe)
            if line is None and not probe:
                break
            probe = probe[:-1]
        raise ScenarioError(self.file, line, problem, _fmt_path(path))


def _record_marks(doc: _Doc, node: yaml.Node, path: Path_) -> None:
    doc.marks[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else str(knode.start_mark)
            if key in seen:
                raise ScenarioError(
                    doc.file, knode.start_mark.line + 1, f"duplicate key {key!r}", _fmt_path(path)
                )
            seen.add(key)
            doc.key_marks[(*path, key)] = knode.start_mark.line + 1
            _record_marks(doc, vnode, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_marks(doc, item, (*path, i))


def _parse(text: str, file: str) -> tuple[Any, _Doc]:
    doc = _Doc(file, {}, {})
    try:
        check_size(text, YAML_LIMITS)
    except YamlLimitError as e:
        raise ScenarioError(file, None, f"refused: {e.problem}") from None
    loader = limited_loader(YAML_LIMITS)(text)  # depth, aliases and their expansion are bounded
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(file, 1, "the file is empty; a scenario needs name, title, summary and steps")
        data = loader.construct_document(node)
    except YamlLimitError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise ScenarioError(file, line, f"refused: {e.problem}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        context = e.context or ""
        if context and e.context_mark is not None and mark is not None and e.context_mark.line != mark.line:
            context += f" (from line {e.context_mark.line + 1})"
        problem = " ".join(p for p in (context, e.problem) if p) or str(e)
        raise ScenarioError(file, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from e
    except yaml.YAMLError as e:
        raise ScenarioError(file, None, f"not valid YAML: {e}") from e
    finally:
        loader.dispose()
    _record_marks(doc, node, ())
    return data, doc


# ---- typed field readers ---------------------------------------------------------------
_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", bool: "true or false"}


def _type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _expect_type(doc: _Doc, value: object, path: Path_, typ: type, what: str = "") -> Any:
    if not isinstance(value, typ):
        doc.fail(path, f"expected {what or _TYPE_NAMES.get(typ, typ.__name__)}, got {_type_name(value)}")
    return value


def _mapping(
    doc: _Doc, value: object, path: Path_, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict:
    m = _expect_type(doc, value, path, dict)
    allowed = required + optional
    for k in m:
        if k not in allowed:
            doc.fail((*path, str(k)), f"unknown field {k!r}; allowed here: {', '.join(allowed)}", at_key=True)
    for k in required:
        if k not in m:
            doc.fail(path, f"missing required field {k!r}")
    return m


def _str(doc: _Doc, value: object, path: Path_, *, nonempty: bool = True) -> str:
    s = _expect_type(doc, value, path, str)
    if nonempty and not s.strip():
        doc.fail(path, "must not be empty")
    return s


def _int(doc: _Doc, value: object, path: Path_, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        doc.fail(path, f"expected a whole number, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        doc.fail(path, f"must be at least {minimum}, got {value}")
    return value


def _num(doc: _Doc, value: object, path: Path_, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        doc.fail(path, f"expected a number of seconds, got {_type_name(value)}")
    if value < minimum:
        doc.fail(path, f"must be at least {minimum:g}, got {value}")
    return float(value)


def _bool(doc: _Doc, value: object, path: Path_) -> bool:
    return _expect_type(doc, value, path, bool)


def _labels(doc: _Doc, value: object, path: Path_, *, allow_null: bool = False) -> dict:
    m = _expect_type(doc, value, path, dict, "a mapping of label keys to values")
    for k, v in m.items():
        if not isinstance(k, str):
            doc.fail((*path, str(k)), f"label key must be a string, got {_type_name(k)}", at_key=True)
        if v is None and allow_null:
            continue
        if not isinstance(v, str):
            doc.fail((*path, k), f"label value must be a string (quote it), got {_type_name(v)}")
    return dict(m)


def _list(doc: _Doc, value: object, path: Path_, *, nonempty: bool = False) -> list:
    lst = _expect_type(doc, value, path, list)
    if nonempty and not lst:
        doc.fail(path, "must not be an empty list")
    return lst


def _str_list(doc: _Doc, value: object, path: Path_) -> tuple[str, ...]:
    return tuple(_str(doc, v, (*path, i)) for i, v in enumerate(_list(doc, value, path)))


def _int_list(doc: _Doc, value: object, path: Path_) -> tuple[int, ...]:
    return tuple(_int(doc, v, (*path, i), minimum=0) for i, v in enumerate(_list(doc, value, path)))


def _commands(doc: _Doc, value: object, path: Path_) -> tuple[str, ...]:
    """kubectl command lines for the console to suggest, each one the console would run."""
    out = []
    for i, v in enumerate(_list(doc, value, path)):
        line = " ".join(_str(doc, v, (*path, i)).split())
        try:
            parse_command(line, shipped_manifests())
        except Refused as e:
            doc.fail((*path, i), f"the console would refuse {line!r}: {e}")
        out.append(line)
    return tuple(out)


def _key(doc: _Doc, value: object, path: Path_, namespace: str) -> tuple[str, str]:
    """'namespace/name' or 'name' (in the scenario's namespace)."""
    s = _str(doc, value, path)
    parts = s.split("/")
    if len(parts) > 2 or not all(parts):
        doc.fail(path, f"expected 'name' or 'namespace/name', got {s!r}")
    return (parts[0], parts[1]) if len(parts) == 2 else (namespace, parts[0])


# ---- the parts of a scenario ---------------------------------------------------------
class _Reader:
    def __init__(self, doc: _Doc, namespace: str) -> None:
        self.doc = doc
        self.namespace = namespace
        self.remembered: set[str] = set()

    def manifest(self, value: object, path: Path_) -> Manifest:
        doc = self.doc
        m = _expect_type(doc, value, path, dict, "a Kubernetes object (a mapping with kind and metadata)")
        if "kind" not in m:
            doc.fail(path, "a manifest needs 'kind'")
        kind = _str(doc, m["kind"], (*path, "kind"))
        if kind not in KINDS:
            doc.fail(
                (*path, "kind"), f"kind {kind!r} is not simulated; use one of {', '.join(sorted(KINDS))}"
            )
        if "apiVersion" in m:
            api = _str(doc, m["apiVersion"], (*path, "apiVersion"))
            if api != KINDS[kind].api_version:
                doc.fail((*path, "apiVersion"), f"{kind} is {KINDS[kind].api_version}, not {api}")
        if "metadata" not in m:
            doc.fail(path, "a manifest needs 'metadata' with a name")
        md = _expect_type(doc, m["metadata"], (*path, "metadata"), dict)
        if "name" in md:
            _str(doc, md["name"], (*path, "metadata", "name"))
        elif "generateName" in md:
            _str(doc, md["generateName"], (*path, "metadata", "generateName"))
        else:
            doc.fail((*path, "metadata"), "metadata needs 'name' (or 'generateName')")
        if "namespace" in md:
            _str(doc, md["namespace"], (*path, "metadata", "namespace"))
        if "labels" in md:
            _labels(doc, md["labels"], (*path, "metadata", "labels"))
        return {"apiVersion": KINDS[kind].api_version, **m}

    def manifests(self, value: object, path: Path_) -> tuple[Manifest, ...]:
        if isinstance(value, dict):
            return (self.manifest(value, path),)
        items = _list(self.doc, value, path, nonempty=True)
        return tuple(self.manifest(v, (*path, i)) for i, v in enumerate(items))

    def pod_ref(self, value: object, path: Path_) -> PodRef:
        doc = self.doc
        m = _mapping(doc, value, path, (), ("selector", "pick", "namespace", "ref"))
        ns = _str(doc, m["namespace"], (*path, "namespace")) if "namespace" in m else self.namespace
        if "ref" in m:
            if "selector" in m or "pick" in m:
                doc.fail(path, "use either 'ref' or 'selector'/'pick', not both")
            ref = _str(doc, m["ref"], (*path, "ref"))
            if ref not in self.remembered:
                doc.fail(
                    (*path, "ref"), f"no earlier action remembers a pod as {ref!r} (add remember: {ref})"
                )
            return PodRef(namespace=ns, ref=ref)
        if "selector" not in m:
            doc.fail(path, "a pod is chosen by 'selector' (and 'pick') or by 'ref'")
        selector = _labels(doc, m["selector"], (*path, "selector"))
        pick = _str(doc, m["pick"], (*path, "pick")) if "pick" in m else "first"
        if pick not in PICKS:
            doc.fail((*path, "pick"), f"unknown pick {pick!r}; use one of {', '.join(PICKS)}")
        return PodRef(namespace=ns, selector=selector, pick=pick)

    def remember(self, m: dict, path: Path_) -> str | None:
        if "remember" not in m:
            return None
        name = _str(self.doc, m["remember"], (*path, "remember"))
        self.remembered.add(name)
        return name

    def action(self, value: object, path: Path_) -> Action:
        doc = self.doc
        m = _expect_type(
            doc, value, path, dict, f"an action (a mapping with one of: {', '.join(ACTION_NAMES)})"
        )
        if len(m) != 1:
            doc.fail(path, f"an action has exactly one key naming it, got {', '.join(map(str, m)) or 'none'}")
        ((name, arg),) = m.items()
        if name not in ACTION_NAMES:
            doc.fail(path, f"unknown action {name!r}; use one of {', '.join(ACTION_NAMES)}", at_key=True)
        p = (*path, name)
        if name == "apply":
            return Apply(self.manifests(arg, p))
        if name == "wait":
            return Wait(_num(doc, arg, p))
        if name == "scale":
            a = _mapping(doc, arg, p, ("deployment", "replicas"), ("namespace",))
            ns = _str(doc, a["namespace"], (*p, "namespace")) if "namespace" in a else self.namespace
            return Scale(
                ns,
                _str(doc, a["deployment"], (*p, "deployment")),
                _int(doc, a["replicas"], (*p, "replicas"), minimum=0),
            )
        if name == "delete":
            a = _mapping(doc, arg, p, ("kind", "name"), ("namespace",))
            kind = _str(doc, a["kind"], (*p, "kind"))
            if kind not in KINDS:
                doc.fail(
                    (*p, "kind"), f"kind {kind!r} is not simulated; use one of {', '.join(sorted(KINDS))}"
                )
            ns = _str(doc, a["namespace"], (*p, "namespace")) if "namespace" in a else self.namespace
            return Delete(kind, "" if not KINDS[kind].namespaced else ns, _str(doc, a["name"], (*p, "name")))
        if name == "label":
            a = _mapping(doc, arg, p, ("pod", "set"), ("remember",))
            pod = self.pod_ref(a["pod"], (*p, "pod"))
            labels = _labels(doc, a["set"], (*p, "set"), allow_null=True)
            if not labels:
                doc.fail((*p, "set"), "give at least one label to set (or null to remove)")
            return Label(pod, labels, self.remember(a, p))
        if name == "readiness":
            a = _mapping(doc, arg, p, ("pod", "probe"), ("remember",))
            pod = self.pod_ref(a["pod"], (*p, "pod"))
            probe = a["probe"]
            if probe not in ("pass", "fail"):
                doc.fail((*p, "probe"), f"probe is 'pass' or 'fail', got {_type_name(probe)}")
            return Readiness(pod, probe == "pass", self.remember(a, p))
        if name == "deletePod":
            a = _mapping(doc, arg, p, ("pod",), ("graceSeconds", "remember"))
            pod = self.pod_ref(a["pod"], (*p, "pod"))
            grace = (
                _int(doc, a["graceSeconds"], (*p, "graceSeconds"), minimum=0) if "graceSeconds" in a else None
            )
            return DeletePod(pod, grace, self.remember(a, p))
        # flap
        a = _mapping(doc, arg, p, ("pod", "times", "period"), ("remember",))
        pod = self.pod_ref(a["pod"], (*p, "pod"))
        times = _int(doc, a["times"], (*p, "times"), minimum=1)
        period = _num(doc, a["period"], (*p, "period"))
        if period <= 0:
            doc.fail((*p, "period"), "period must be more than 0 seconds")
        return Flap(pod, times, period, self.remember(a, p))

    def highlight(self, value: object, path: Path_) -> Highlight:
        doc = self.doc
        m = _mapping(doc, value, path, (), ("services", "selectors", "pods", "ips"))
        services = tuple(
            "/".join(_key(doc, v, (*path, "services", i), self.namespace))
            for i, v in enumerate(_list(doc, m.get("services", []), (*path, "services")))
        )
        selectors = tuple(
            _labels(doc, v, (*path, "selectors", i))
            for i, v in enumerate(_list(doc, m.get("selectors", []), (*path, "selectors")))
        )
        pods = tuple(
            self.pod_ref(v, (*path, "pods", i))
            for i, v in enumerate(_list(doc, m.get("pods", []), (*path, "pods")))
        )
        ips = _str_list(doc, m.get("ips", []), (*path, "ips"))
        return Highlight(services, selectors, pods, ips)

    def check(self, value: object, path: Path_) -> Check:
        doc = self.doc
        m = _expect_type(
            doc, value, path, dict, "a check (a mapping with service, endpoints, pods or unmatchedPods)"
        )
        kinds = [k for k in ("service", "endpoints", "pods", "unmatchedPods") if k in m]
        if len(kinds) != 1:
            doc.fail(path, "a check names exactly one of: service, endpoints, pods, unmatchedPods")
        what = kinds[0]
        opt_int: Callable[[dict, str], int | None] = lambda a, k: (  # noqa: E731
            _int(doc, a[k], (*path, k), minimum=0) if k in a else None
        )
        opt_bool: Callable[[dict, str], bool | None] = lambda a, k: (  # noqa: E731
            _bool(doc, a[k], (*path, k)) if k in a else None
        )
        if what == "service":
            fields = ("exists", "ready", "notReady", "terminating", "serving", "total", "slices",
                      "sliceSizes", "ips", "ports", "managedBy", "sliceLabels")  # fmt: skip
            a = _mapping(doc, m, path, ("service",), fields)
            ns, name = _key(doc, a["service"], (*path, "service"), self.namespace)
            return ServiceCheck(
                ns,
                name,
                exists=opt_bool(a, "exists"),
                ready=opt_int(a, "ready"),
                notReady=opt_int(a, "notReady"),
                terminating=opt_int(a, "terminating"),
                serving=opt_int(a, "serving"),
                total=opt_int(a, "total"),
                slices=opt_int(a, "slices"),
                sliceSizes=_int_list(doc, a["sliceSizes"], (*path, "sliceSizes"))
                if "sliceSizes" in a
                else None,
                ips=_str_list(doc, a["ips"], (*path, "ips")) if "ips" in a else None,
                ports=_int_list(doc, a["ports"], (*path, "ports")) if "ports" in a else None,
                managedBy=_str(doc, a["managedBy"], (*path, "managedBy")) if "managedBy" in a else None,
                sliceLabels=_labels(doc, a["sliceLabels"], (*path, "sliceLabels"))
                if "sliceLabels" in a
                else None,
            )
        if what == "endpoints":
            fields = ("exists", "addresses", "notReadyAddresses", "overCapacity", "ips", "ports")
            a = _mapping(doc, m, path, ("endpoints",), fields)
            ns, name = _key(doc, a["endpoints"], (*path, "endpoints"), self.namespace)
            return EndpointsCheck(
                ns,
                name,
                exists=opt_bool(a, "exists"),
                addresses=opt_int(a, "addresses"),
                notReadyAddresses=opt_int(a, "notReadyAddresses"),
                overCapacity=opt_bool(a, "overCapacity"),
                ips=_str_list(doc, a["ips"], (*path, "ips")) if "ips" in a else None,
                ports=_int_list(doc, a["ports"], (*path, "ports")) if "ports" in a else None,
            )
        if what == "pods":
            a = _mapping(doc, m, path, ("pods",), ("namespace", "count", "ready", "terminating", "orphans"))
            ns = _str(doc, a["namespace"], (*path, "namespace")) if "namespace" in a else self.namespace
            selector = _labels(doc, a["pods"] or {}, (*path, "pods"))
            return PodsCheck(
                ns,
                selector,
                count=opt_int(a, "count"),
                ready=opt_int(a, "ready"),
                terminating=opt_int(a, "terminating"),
                orphans=opt_int(a, "orphans"),
            )
        a = _mapping(doc, m, path, ("unmatchedPods",), ("namespace",))
        ns = _str(doc, a["namespace"], (*path, "namespace")) if "namespace" in a else self.namespace
        return UnmatchedPodsCheck(ns, _int(doc, a["unmatchedPods"], (*path, "unmatchedPods"), minimum=0))

    def setup(self, value: object, path: Path_) -> Setup:
        doc = self.doc
        if value is None:
            return Setup()
        if isinstance(value, list):
            return Setup(manifests=self.manifests(value, path) if value else ())
        m = _mapping(doc, value, path, (), ("lesson", "manifests", "wait"))
        lesson = None
        if "lesson" in m:
            lesson = _str(doc, m["lesson"], (*path, "lesson"))
            if lesson not in LESSONS:
                doc.fail((*path, "lesson"), f"unknown lesson {lesson!r}; use one of {', '.join(LESSONS)}")
        manifests = self.manifests(m["manifests"], (*path, "manifests")) if "manifests" in m else ()
        wait = _num(doc, m["wait"], (*path, "wait")) if "wait" in m else 0.0
        return Setup(lesson, manifests, wait)

    def step(self, value: object, path: Path_) -> Step:
        doc = self.doc
        m = _mapping(doc, value, path, ("title", "narration"), ("actions", "highlight", "expect", "commands"))
        title = _str(doc, m["title"], (*path, "title"))
        narration = " ".join(_str(doc, m["narration"], (*path, "narration")).split())
        actions = tuple(
            self.action(v, (*path, "actions", i))
            for i, v in enumerate(_list(doc, m.get("actions") or [], (*path, "actions")))
        )
        highlight = (
            self.highlight(m["highlight"], (*path, "highlight")) if m.get("highlight") else Highlight()
        )
        expect = tuple(
            self.check(v, (*path, "expect", i))
            for i, v in enumerate(_list(doc, m.get("expect") or [], (*path, "expect")))
        )
        commands = _commands(doc, m["commands"], (*path, "commands")) if "commands" in m else ()
        return Step(title, narration, actions, highlight, expect, doc.marks.get(path, 0), commands)


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text; `file` is only used in error messages and Scenario.source."""
    data, doc = _parse(text, file)
    top = _mapping(doc, data, (), ("name", "title", "summary", "steps"), ("namespace", "setup", "commands"))
    name = _str(doc, top["name"], ("name",))
    if not _NAME_RE.match(name):
        doc.fail(
            ("name",), f"name {name!r} must be lowercase letters, digits and dashes (like readiness-101)"
        )
    namespace = _str(doc, top["namespace"], ("namespace",)) if "namespace" in top else "default"
    reader = _Reader(doc, namespace)
    setup = reader.setup(top.get("setup"), ("setup",))
    steps = tuple(
        reader.step(v, ("steps", i))
        for i, v in enumerate(_list(doc, top["steps"], ("steps",), nonempty=True))
    )
    return Scenario(
        name=name,
        title=_str(doc, top["title"], ("title",)),
        summary=" ".join(_str(doc, top["summary"], ("summary",)).split()),
        setup=setup,
        steps=steps,
        namespace=namespace,
        source=file,
        commands=_commands(doc, top["commands"], ("commands",)) if "commands" in top else (),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file (what `--scenario FILE` uses)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(YAML_LIMITS.max_bytes + 1)  # never more: a larger file is refused unread
        if len(raw) > YAML_LIMITS.max_bytes:
            raise ScenarioError(str(p), None, f"refused: larger than {YAML_LIMITS.max_bytes // 1024} KiB")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(str(p), None, f"cannot read the file: {e}") from e
    return parse_scenario(text, str(p))


def builtin_scenarios() -> dict[str, Scenario]:
    """The scenarios shipped in app/scenarios/library, by name, in file-name order."""
    out: dict[str, Scenario] = {}
    for f in sorted(LIBRARY.glob("*.yaml")):
        sc = load_scenario(f)
        if sc.name in out:
            raise ScenarioError(
                str(f), None, f"scenario name {sc.name!r} is already used by {out[sc.name].source}"
            )
        out[sc.name] = sc
    return out
