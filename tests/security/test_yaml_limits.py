"""Hostile scenario YAML through the CLI, as a user would pass it: a "billion laughs" file, 20,000
levels of nesting (flow and block), a recursive alias and an oversized file each stop with one line
naming the file, and exit code 2; nothing is served. "At once" is counted in the loader's own work
(tokens scanned, nodes composed, objects built), not timed: a busy machine is slow, not wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.scenarios.loader import ScenarioError, builtin_scenarios, parse_scenario
from app.security.safe_yaml import LimitedSafeLoader, YamlLimitError, YamlLimits, safe_load
from tests.security.helpers import run_cli


def billion_laughs() -> str:
    lines = ["name: laughs", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghij":
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
        previous = name
    lines.append("title: laughs\nsummary: laughs\nsteps: [*j]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "billion-laughs": (billion_laughs(), "aliases expand the document past"),
    "deep-flow": ("name: deep\nsteps: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested more than 64 levels"),
    "deep-block": ("name: deep\nsteps:\n" + "- " * 20_000 + "x\n", "nested more than 64 levels"),
    "deep-mapping": ("name: deep\nsteps: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n", "nested more than"),
    "recursive-alias": ("name: loop\nsteps: &s [*s]\n", "refers to a node that contains it"),
    "oversized": ("name: big\n" + "# padding\n" * 200_000, "larger than 1024 KiB"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_scenario_file_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    text, says = HOSTILE[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    done = run_cli("--scenario", str(path), "--port", "0")  # its timeout is a ceiling for a hang
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.startswith(f"slicescope: error: {path}") and says in done.stderr, done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr


@pytest.fixture
def loader_work(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How much the scenario loader does: tokens scanned, parser events, nodes composed, objects built."""
    work: Counter[str] = Counter()

    def counted(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def step(self: Any, *args: Any) -> Any:
            work[name] += 1
            return original(self, *args)

        return step

    for name in ("fetch_more_tokens", "get_event", "compose_node", "construct_object"):
        monkeypatch.setattr(LimitedSafeLoader, name, counted(name, getattr(LimitedSafeLoader, name)))
    return work


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_the_loader_stops_within_a_few_hundred_steps(case: str, loader_work: Counter[str]) -> None:
    text, says = HOSTILE[case]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, f"{case}.yaml")
    assert says in caught.value.problem and caught.value.problem.startswith("refused:")
    assert loader_work["construct_object"] == 0, "nothing is built from a refused document"
    assert loader_work["compose_node"] <= 200 and loader_work["get_event"] <= 200, loader_work
    # the deep documents hold 20,000 opening brackets, dashes or braces (a token each): the scanner
    # stops long before their end
    assert loader_work["fetch_more_tokens"] <= 2_000, loader_work
    if case.startswith("deep"):
        assert sum(text.count(c) for c in "[{-") >= 10 * loader_work["fetch_more_tokens"]


def test_the_parser_stops_at_the_first_bad_alias(loader_work: Counter[str]) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(billion_laughs(), "laughs.yaml")
    assert caught.value.line is not None and "expand" in caught.value.problem
    # 9**10 nodes once expanded; the loader composed a few dozen and built none
    assert loader_work["compose_node"] < 100 and loader_work["construct_object"] == 0, loader_work


def test_the_built_in_scenarios_fit_the_limits() -> None:
    assert len(builtin_scenarios()) >= 8


def test_safe_load_limits() -> None:
    assert safe_load("a: &x {b: [1, 2]}\nc: *x\n") == {"a": {"b": [1, 2]}, "c": {"b": [1, 2]}}
    with pytest.raises(YamlLimitError, match="more than 3 aliases"):
        safe_load("a: &x 1\nb: [*x, *x, *x, *x]\n", YamlLimits(max_aliases=3))
    with pytest.raises(YamlLimitError, match="nested more than 2"):
        safe_load("a: {b: {c: 1}}\n", YamlLimits(max_depth=2))
    with pytest.raises(YamlLimitError, match="larger than"):
        safe_load("a: 1\n" * 100, YamlLimits(max_bytes=100))
    with pytest.raises(yaml.YAMLError):  # a limit error is a YAMLError, like any other bad YAML
        safe_load("x: &s [*s]\n")
