"""Hostile scenario YAML through the CLI, as a user would pass it: a "billion laughs" file, 20,000
levels of nesting (flow and block), a recursive alias and an oversized file each stop at once with
one line naming the file, and exit code 2; nothing is served."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from app.scenarios.loader import ScenarioError, builtin_scenarios, parse_scenario
from app.security.safe_yaml import YamlLimitError, YamlLimits, safe_load
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
    started = time.monotonic()
    done = run_cli("--scenario", str(path), "--port", "0", timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.startswith(f"slicescope: error: {path}") and says in done.stderr, done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr
    assert elapsed < 45, elapsed  # a ceiling for a busy machine; without limits these run for minutes


def test_the_parser_stops_at_the_first_bad_alias() -> None:
    started = time.monotonic()
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(billion_laughs(), "laughs.yaml")
    assert time.monotonic() - started < 5
    assert caught.value.line is not None and "expand" in caught.value.problem


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
