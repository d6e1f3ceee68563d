"""`python -m app --kubeconfig ...` with a kubeconfig that cannot be used: one line on stderr naming
the file (and the contexts there are), exit code 2, nothing served. What tests/test_cli.py already
runs this way (a missing file in-process, malformed YAML) is not repeated here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.settings import Settings
from app.sim.api.kubeconfig import kubeconfig_dict
from app.sources.kube import KubeSource
from tests.test_cli import one_line_error, run_cli


def usable(tmp_path: Path) -> Path:
    """A kubeconfig with two contexts, prod (current) and dev, that would be fine to start with."""
    doc = kubeconfig_dict("https://127.0.0.1:6443", "tok", context="prod")
    dev = kubeconfig_dict("https://127.0.0.1:7443", "tok", context="dev")
    for field in ("clusters", "users", "contexts"):
        doc[field] += dev[field]
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def refused(*args: str) -> str:
    """Run `python -m app ARGS`; it must refuse in one line before serving anything."""
    result = run_cli(*args, "--port", "0")
    line = one_line_error(result)
    assert result.stdout == "", result.stdout  # never got as far as "slicescope: ... at http://..."
    return line


def test_missing_kubeconfig(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config"
    assert refused("--kubeconfig", str(missing)) == f"slicescope: error: --kubeconfig {missing}: no such file"


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_kubeconfig(tmp_path: Path, text: str) -> None:
    empty = tmp_path / "config"
    empty.write_text(text)
    assert refused("--kubeconfig", str(empty)) == f"slicescope: error: kubeconfig {empty} is empty"


def test_malformed_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "config"
    broken.write_text("apiVersion: v1\nclusters:\n  - name: a\n   cluster: {server: x}\n")
    line = refused("--kubeconfig", str(broken))
    assert line.startswith(f"slicescope: error: kubeconfig {broken} is not valid YAML: "), line
    assert "line 4" in line, line


def test_not_a_kubeconfig(tmp_path: Path) -> None:
    listing = tmp_path / "config"
    listing.write_text("- just\n- a list\n")
    assert str(listing) in refused("--kubeconfig", str(listing))


def test_unknown_context_lists_the_available_ones(tmp_path: Path) -> None:
    path = usable(tmp_path)
    line = refused("--kubeconfig", str(path), "--context", "staging")
    assert (
        line == f"slicescope: error: context 'staging' not found in kubeconfig {path}; available: prod, dev"
    )


def test_the_same_file_with_a_known_context_loads(tmp_path: Path) -> None:
    """The refusal above is about the context only: the file itself is usable."""
    source = KubeSource.from_settings(
        Settings(source="kube", kubeconfig=str(usable(tmp_path)), context="dev")
    )
    assert (source.info.name, source.info.server) == ("dev", "https://127.0.0.1:7443")
