"""The controllers' side of what a learner meets through the real kubectl, compared with a real v1.36
control plane (tests/fixtures/real-k8s-v1.36): Endpoints deleted with their Service, port order in
slices and Endpoints, zone and region labels on bound pods, scale-down victims, slice packing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.k8sapi.fixtures import load
from tests.k8sapi.harness import LiveCluster, live_cluster

pytestmark = pytest.mark.kubectl

WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def _rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()[1:] if line.strip()]


def _settle(lc: LiveCluster, seconds: float = 0.0) -> None:
    """Let the manual clock's controllers act (simulated time moves only here)."""
    lc.advance(seconds)


def _captured_session(name: str) -> list[tuple[str, list[str]]]:
    """A capture of `$ command` lines, each followed by what kubectl printed."""
    out: list[tuple[str, list[str]]] = []
    for line in load(name).splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def test_deleting_a_selectorless_service_deletes_its_endpoints(tmp_path: Path) -> None:
    manifest = load("manifest-selectorless.yaml")
    (tmp_path / "selectorless.yaml").write_text(manifest)
    session = dict(_captured_session("kubectl-selectorless-delete.txt"))
    with live_cluster(tmp_path, speed=None) as lc:
        proc = lc.kubectl("apply", "-f", "selectorless.yaml", cwd=tmp_path)
        printed = (proc.stdout + proc.stderr).splitlines()
        assert sorted(printed) == sorted(session["kubectl apply -f selectorless.yaml"])
        _settle(lc, 1)
        got = lc.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=external-db").stdout
        [row] = _rows(got)
        listed = session["kubectl get endpointslices -l kubernetes.io/service-name=external-db"]
        [want] = _rows("\n".join(listed))
        assert re.fullmatch(r"external-db-[a-z0-9]{5}", row[0])
        # (the capture's ENDPOINTS and AGE cells are one space apart)
        assert row[1:3] == want[1:3] and row[3] == want[3].split()[0] == "10.10.0.5,10.10.0.6"

        proc = lc.kubectl("delete", "svc", "external-db")
        assert proc.stdout.splitlines() == session["kubectl delete svc external-db"]
        _settle(lc, 6)
        proc = lc.kubectl("get", "endpoints", "external-db", check=False)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr.splitlines() == session["kubectl get endpoints external-db   (6 s later)"]
        # the mirrored slice goes with the Endpoints that own it
        gone = lc.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=external-db")
        assert gone.stdout == "" and "No resources found" in gone.stderr

        proc = lc.kubectl("delete", "-f", "selectorless.yaml", check=False, cwd=tmp_path)
        expected = session["kubectl delete -f selectorless.yaml"]
        assert expected[-1] == "exit 1"
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr.splitlines() == expected[:-1]
