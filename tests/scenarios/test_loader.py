"""The scenario loader: valid files become dataclasses; every kind of bad file gives a ScenarioError
naming the file and the line of the problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from app.scenarios import ScenarioError, builtin_scenarios, load_scenario
from app.scenarios.format import (
    Apply,
    DeletePod,
    EndpointsCheck,
    Flap,
    Label,
    PodRef,
    PodsCheck,
    Readiness,
    Scale,
    ServiceCheck,
    UnmatchedPodsCheck,
    Wait,
)

GOOD = """\
name: tiny
title: A tiny scenario
summary: >
  Two steps on one Deployment.
setup:
  wait: 5
  manifests:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, labels: {app: web}}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
steps:
  - title: Expose it
    narration: >
      A Service picks pods by label.
      Its slices list them.
    actions:
      - apply:
          kind: Service
          metadata: {name: web-svc}
          spec: {selector: {app: web}, ports: [{port: 80, targetPort: 80}]}
      - wait: 2
    highlight:
      services: [web-svc]
      selectors: [{app: web}]
    expect:
      - {service: web-svc, ready: 2, notReady: 0, slices: 1, ports: [80]}
      - {endpoints: default/web-svc, addresses: 2, notReadyAddresses: 0, overCapacity: false}
      - {pods: {app: web}, count: 2, ready: 2}
      - {unmatchedPods: 0}
  - title: Take one out
    narration: One pod fails its probe. It leaves the ready set.
    actions:
      - readiness: {pod: {selector: {app: web}, pick: first-ready}, probe: fail, remember: sick}
      - flap: {pod: {ref: sick}, times: 2, period: 10}
      - label: {pod: {ref: sick}, set: {app: debug, tier: null}}
      - deletePod: {pod: {selector: {app: web}, pick: last}, graceSeconds: 30}
      - scale: {deployment: web, replicas: 3}
      - wait: 1.5
    highlight:
      pods: [{ref: sick}]
      ips: [10.0.0.1]
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_good_file_becomes_dataclasses(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    assert sc.name == "tiny" and sc.summary == "Two steps on one Deployment."
    assert sc.setup.wait == 5.0 and sc.setup.lesson is None
    assert sc.setup.manifests[0]["kind"] == "Deployment"
    first, second = sc.steps
    assert first.narration == "A Service picks pods by label. Its slices list them."
    assert first.line == 18
    apply, wait = first.actions
    assert isinstance(apply, Apply) and apply.manifests[0]["apiVersion"] == "v1"
    assert wait == Wait(2.0)
    assert first.highlight.services == ("default/web-svc",)
    assert first.expect == (
        ServiceCheck("default", "web-svc", ready=2, notReady=0, slices=1, ports=(80,)),
        EndpointsCheck("default", "web-svc", addresses=2, notReadyAddresses=0, overCapacity=False),
        PodsCheck("default", {"app": "web"}, count=2, ready=2),
        UnmatchedPodsCheck("default", 0),
    )
    readiness, flap, label, delete, scale, _ = second.actions
    assert readiness == Readiness(PodRef("default", {"app": "web"}, "first-ready"), False, "sick")
    assert flap == Flap(PodRef("default", ref="sick"), 2, 10.0)
    assert label == Label(PodRef("default", ref="sick"), {"app": "debug", "tier": None})
    assert delete == DeletePod(PodRef("default", {"app": "web"}, "last"), 30)
    assert scale == Scale("default", "web", 3)
    assert second.highlight.pods == (PodRef("default", ref="sick"),)


PLAIN_SETUP = """\
name: plain
title: Setup as a plain list
summary: The setup key may hold the manifests directly.
setup:
  - kind: Service
    metadata: {name: db}
    spec: {ports: [{port: 5432}]}
steps:
  - title: Look
    narration: Nothing happens. The Service has no selector.
    expect: [{service: db, slices: 0}]
"""


def test_setup_as_plain_list_and_lesson(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, PLAIN_SETUP))
    assert sc.setup.manifests[0]["metadata"]["name"] == "db" and sc.setup.wait == 0
    assert sc.steps[0].expect == (ServiceCheck("default", "db", slices=0),)
    lesson = load_scenario(
        write(tmp_path, GOOD.replace("setup:\n  wait: 5\n", "setup:\n  lesson: default\n"))
    )
    assert lesson.setup.lesson == "default"


# (test id, text to replace in GOOD, its replacement, expected line, words the message must contain)
BAD_CASES = [
    ("bad YAML", "- wait: 2\n", "- wait: [2\n", 28, ["not valid YAML", "flow sequence (from line 27)"]),
    ("tab indentation", "  - title: Take one out", "\t- title: Take one out", 36, ["YAML"]),
    (
        "unknown action",
        "- scale: {deployment",
        "- scael: {deployment",
        43,
        ["unknown action 'scael'", "scale"],
    ),
    ("missing field", "  - title: Expose it\n", "  - \n", 19, ["missing required field 'title'"]),
    ("wrong type", "replicas: 3}", "replicas: three}", 43, ["replicas", "whole number", "'three'"]),
    ("negative wait", "- wait: 1.5", "- wait: -1", 44, ["at least 0"]),
    ("unknown field", "    highlight:\n      pods", "    hilight:\n      pods", 45, ["'hilight'"]),
    ("bool label", "set: {app: debug,", "set: {app: yes,", 41, ["quote it"]),
    ("unknown pick", "pick: last}", "pick: random}", 42, ["unknown pick 'random'"]),
    ("ref before remember", "remember: sick}", "}", 40, ["remembers a pod as 'sick'"]),
    ("unknown kind", "kind: Service", "kind: Ingress", 24, ["'Ingress' is not simulated"]),
    ("wrong apiVersion", "apiVersion: apps/v1", "apiVersion: v1", 8, ["apps/v1, not v1"]),
    ("unknown check", "{unmatchedPods: 0}", "{orphans: 0}", 35, ["exactly one of"]),
    ("duplicate key", "title: A tiny scenario", "title: A\ntitle: B", 3, ["duplicate key 'title'"]),
    ("bad service key", "{service: web-svc,", "{service: a/b/c,", 32, ["namespace/name"]),
    ("no narration", "    narration: One pod", "    story: One pod", 37, ["'story'"]),
    ("bad probe", "probe: fail", "probe: false", 39, ["'pass' or 'fail'"]),
    ("unknown lesson", "  wait: 5\n", "  lesson: advanced\n", 6, ["unknown lesson"]),
    ("two actions in one", "- wait: 2\n", "- {wait: 2, scale: x}\n", 27, ["exactly one"]),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_bad_file_names_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, words: list[str]
) -> None:
    assert GOOD.count(old) == 1, "the edit must hit exactly one place"
    path = write(tmp_path, GOOD.replace(old, new), "broken.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == line, str(err)
    message = str(err)
    assert str(path) in message and f"line {line}" in message
    for w in words:
        assert w in message


def test_error_names_the_field_path(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, GOOD.replace("replicas: 3}", "replicas: -3}")))
    assert info.value.where == "steps[1].actions[4].scale.replicas"
    assert "(steps[1].actions[4].scale.replicas): must be at least 0" in str(info.value)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"empty\.yaml, line 1: the file is empty"):
        load_scenario(write(tmp_path, "# nothing\n", "empty.yaml"))
    with pytest.raises(ScenarioError, match=r"nope\.yaml: cannot read"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match=r"list\.yaml, line 1: expected a mapping, got a list"):
        load_scenario(write(tmp_path, "- a\n- b\n", "list.yaml"))
    no_steps = PLAIN_SETUP[: PLAIN_SETUP.index("steps:")] + "steps: []\n"
    with pytest.raises(ScenarioError, match=r"nosteps\.yaml, line 8 \(steps\): must not be an empty list"):
        load_scenario(write(tmp_path, no_steps, "nosteps.yaml"))


def test_builtin_scenarios_load_and_have_good_narration() -> None:
    scenarios = builtin_scenarios()
    expected = {
        "endpoints-basics",
        "readiness",
        "when-endpoints-shows-nothing",
        "services-without-selectors",
        "scaling-past-100",
        "rolling-update",
        "flapping",
        "headless-and-externalname",
    }
    assert expected <= set(scenarios)
    for sc in scenarios.values():
        assert Path(sc.source).stem == sc.name
        for step in sc.steps:
            text = step.narration.replace("?", ".").replace("!", ".")
            sentences = [s for s in text.split(". ") if s.strip()]
            assert 2 <= len(sentences) <= 4, f"{sc.name}: {step.title!r} has {len(sentences)} sentences"
            assert step.expect, f"{sc.name}: {step.title!r} checks nothing"
