"""The real kubectl's protobuf requests (typed creates, `kubectl debug`, drain's deletes) against the
simulated API: they succeed, the bodies read from kubectl's -v=10 log decode to the JSON kubectl
prints for the same command, and the objects read back equal the ones the JSON path stores."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.sim.api.proto.body import decode_object
from tests.k8sapi.harness import LiveCluster, live_cluster, wait_for

pytestmark = pytest.mark.kubectl

PROTOBUF = "application/vnd.kubernetes.protobuf"
_HEX_LINE = re.compile(r"^\s*[0-9a-f]{8}  ((?:[0-9a-f]{2}  ?)+)")
_CURL = re.compile(r"curl -v -X(\w+) (.*?)'(http[^']*)'")
_RESPONSE = re.compile(r'"Response Body" body="((?:[^"\\]|\\.)*)"')


def requests_of(stderr: str) -> list[tuple[str, str, str, bytes]]:
    """(verb, path, Content-Type, body) of each request in a kubectl -v=10 log."""
    out: list[tuple[str, str, str, bytes]] = []
    body = b""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if '"Request Body" body=<' in line:
            body = b""
            for hex_line in lines[i + 1 :]:
                m = _HEX_LINE.match(hex_line)
                if not m:
                    break
                body += bytes.fromhex(m.group(1).replace(" ", ""))
        elif (m := _CURL.search(line)) is not None:
            ctype = re.search(r'-H "Content-Type: ([^"]*)"', m.group(2))
            path = re.sub(r"^/t/[^/]+", "", "/" + m.group(3).split("/k8s/", 1)[1].split("?")[0])
            out.append((m.group(1), path, ctype.group(1) if ctype else "", body))
            body = b""
    return out


def status_answers(stderr: str) -> list[dict[str, Any]]:
    """The Status objects the API answered, from a kubectl -v=8 log."""
    out = []
    for m in _RESPONSE.finditer(stderr):
        body = json.loads(f'"{m.group(1)}"')
        if '"kind":"Status"' in body:
            out.append(json.loads(body))
    return out


def normalized(obj: dict[str, Any]) -> dict[str, Any]:
    """What two creates of the same object share: no server-set identity, no allocated addresses."""
    # the service account admission names its token volume at random
    out = json.loads(re.sub(r"kube-api-access-[a-z0-9]{5}", "kube-api-access-x", json.dumps(obj)))
    md = out["metadata"]
    for key in ("uid", "resourceVersion", "creationTimestamp", "namespace", "managedFields"):
        md.pop(key, None)
    if out["kind"] == "Namespace":
        md.pop("name")
        md["labels"].pop("kubernetes.io/metadata.name")
    spec = out.get("spec") or {}
    if out["kind"] == "Service" and spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    for port in spec.get("ports") or []:
        if out["kind"] == "Service":
            port.pop("nodePort", None)
    return out


def get_json(lc: LiveCluster, *args: str) -> dict[str, Any]:
    return json.loads(lc.kubectl("get", *args, "-o", "json").stdout)


def create_by_json(lc: LiveCluster, namespace: str, args: list[str]) -> None:
    """The same command's object sent as JSON: printed by --dry-run=client, created with `create -f`."""
    printed = lc.kubectl("-n", namespace, *args, "--dry-run=client", "-o", "json").stdout
    lc.kubectl("-n", namespace, "create", "-f", "-", stdin=printed)


# (command, resource, name, whether kubectl 1.37 sends it as protobuf)
COMMANDS: list[tuple[list[str], str, str, bool]] = [
    (["create", "deployment", "web", "--image=nginx:1.27", "--port=8080"], "deployment", "web", True),
    (["create", "deployment", "idle", "--image=nginx", "--replicas=0"], "deployment", "idle", True),
    (["create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443:https"], "service", "web", True),
    (["create", "service", "clusterip", "headless", "--clusterip=None"], "service", "headless", True),
    (["create", "service", "nodeport", "np", "--tcp=80:8080"], "service", "np", True),
    (["create", "service", "loadbalancer", "lb", "--tcp=80:8080"], "service", "lb", True),
    (["create", "service", "externalname", "ext", "--external-name=example.com"], "service", "ext", True),
    (
        ["expose", "deployment", "web", "--port", "80", "--target-port", "8080", "--name", "web-exposed"],
        "service",
        "web-exposed",
        False,
    ),
    (["run", "dbg", "--image=busybox"], "pod", "dbg", False),
]


def test_kubectl_creates_store_what_the_json_path_stores(tmp_path: Path) -> None:
    with live_cluster(tmp_path, speed=None) as lc:
        proc = lc.kubectl("create", "namespace", "pb", "-v=10")
        ((verb, path, ctype, body),) = [r for r in requests_of(proc.stderr) if r[0] == "POST"]
        assert (verb, path, ctype) == ("POST", "/api/v1/namespaces", PROTOBUF)
        printed = json.loads(lc.kubectl("create", "namespace", "pb", "--dry-run=client", "-o", "json").stdout)
        assert decode_object(body, "", "") == printed
        lc.kubectl(
            "create",
            "-f",
            "-",
            stdin=lc.kubectl("create", "namespace", "js", "--dry-run=client", "-o", "json").stdout,
        )
        assert normalized(get_json(lc, "namespace", "pb")) == normalized(get_json(lc, "namespace", "js"))

        for args, resource, name, protobuf in COMMANDS:
            proc = lc.kubectl("-n", "pb", *args, "-v=10")
            posts = [r for r in requests_of(proc.stderr) if r[0] == "POST"]
            assert len(posts) == 1, (args, proc.stderr[-2000:])
            _, _, ctype, body = posts[0]
            assert ctype == (PROTOBUF if protobuf else "application/json"), args
            if protobuf:
                printed = json.loads(lc.kubectl("-n", "pb", *args, "--dry-run=client", "-o", "json").stdout)
                assert decode_object(body, "", "") == printed, args
            create_by_json(lc, "js", args)
            by_protobuf = get_json(lc, "-n", "pb", resource, name)
            by_json = get_json(lc, "-n", "js", resource, name)
            assert normalized(by_protobuf) == normalized(by_json), args

        idle = get_json(lc, "-n", "pb", "deployment", "idle")
        assert idle["spec"]["replicas"] == 0  # an explicit 0 stays 0
        web = get_json(lc, "-n", "pb", "deployment", "web")
        assert web["spec"]["replicas"] == 1  # kubectl's default, sent as protobuf
        assert web["spec"]["template"]["spec"]["containers"][0]["ports"] == [
            {"containerPort": 8080, "protocol": "TCP"}
        ]
        svc = get_json(lc, "-n", "pb", "service", "web")
        assert [p["targetPort"] for p in svc["spec"]["ports"]] == [8080, "https"]
        assert get_json(lc, "-n", "pb", "service", "headless")["spec"]["clusterIP"] == "None"


def test_server_dry_run_and_kubectl_debug(tmp_path: Path) -> None:
    with live_cluster(tmp_path, speed=None) as lc:
        out = json.loads(
            lc.kubectl(
                "create", "deployment", "dry", "--image=nginx", "--dry-run=server", "-o", "json"
            ).stdout
        )
        assert out["spec"]["replicas"] == 1 and out["spec"]["strategy"]["type"] == "RollingUpdate"
        proc = lc.kubectl("get", "deployment", "dry", check=False)
        assert proc.returncode == 1 and "NotFound" in proc.stderr

        proc = lc.kubectl("debug", "node/node-1", "--image=busybox", "-v=10")
        ((_, path, ctype, body),) = [r for r in requests_of(proc.stderr) if r[0] == "POST"]
        assert (path, ctype) == ("/api/v1/namespaces/default/pods", PROTOBUF)
        sent = decode_object(body, "", "")
        pod = get_json(lc, "pod", sent["metadata"]["name"])
        assert pod["spec"]["nodeName"] == "node-1"
        host_root = pod["spec"]["volumes"][0]  # Volume inlines its VolumeSource
        assert (host_root["name"], host_root["hostPath"]["path"]) == ("host-root", "/")
        assert pod["spec"]["hostNetwork"] is True and pod["spec"]["tolerations"][0] == {"operator": "Exists"}
        assert pod["spec"]["containers"][0]["volumeMounts"][0] == {"name": "host-root", "mountPath": "/host"}


@pytest.mark.parametrize(
    "args",
    [
        ["create", "deployment", "Bad_Name", "--image=nginx"],
        ["create", "deployment", "neg", "--image=nginx", "--replicas=-1"],
        ["create", "service", "clusterip", "zero", "--tcp=0:80"],
        ["create", "namespace", "Bad_NS"],
    ],
    ids=["name", "replicas", "port", "namespace"],
)
def test_invalid_objects_get_the_json_paths_status(tmp_path: Path, args: list[str]) -> None:
    with live_cluster(tmp_path, speed=None) as lc:
        proc = lc.kubectl(*args, "-v=8", check=False)
        assert proc.returncode == 1 and f"Content-Type: {PROTOBUF}" in proc.stderr
        (by_protobuf,) = status_answers(proc.stderr)
        printed = lc.kubectl(*args, "--dry-run=client", "-o", "json").stdout
        proc = lc.kubectl("create", "-f", "-", "-v=8", stdin=printed, check=False)
        assert proc.returncode == 1
        (by_json,) = status_answers(proc.stderr)
        assert by_protobuf == by_json
        assert (by_protobuf["code"], by_protobuf["reason"]) == (422, "Invalid")


def test_unserved_kinds_are_not_found_either_way(tmp_path: Path) -> None:
    """ConfigMaps are not served by the simulated cluster: the protobuf body must not change that
    answer into a 415 or a 400."""
    with live_cluster(tmp_path, speed=None) as lc:
        args = ["create", "configmap", "cm", "--from-literal=a=b"]
        proc = lc.kubectl(*args, "-v=8", check=False)
        assert f"Content-Type: {PROTOBUF}" in proc.stderr
        assert proc.returncode == 1 and "the server could not find the requested resource" in proc.stderr
        (answer,) = status_answers(proc.stderr)
        assert (answer["code"], answer["reason"]) == (404, "NotFound")


def test_drain_deletes_with_protobuf_delete_options(tmp_path: Path) -> None:
    with live_cluster(tmp_path, speed=None) as lc:
        lc.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")

        def running() -> list[dict[str, Any]]:
            lc.advance(2)
            pods = lc.call(lambda: lc.cluster.store.list("Pod", "default"))
            ready = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
            return ready if len(ready) == 2 else []

        node = wait_for(running, timeout=60, what="two running pods")[0]["spec"]["nodeName"]
        on_node = {
            p["metadata"]["name"]
            for p in lc.call(lambda: lc.cluster.store.list("Pod", "default"))
            if p["spec"].get("nodeName") == node
        }
        config = str(lc.kubeconfig)
        drain = subprocess.Popen(
            ["kubectl", "--kubeconfig", config, "drain", node, "--grace-period=7", "-v=10"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def terminating() -> list[dict[str, Any]]:
                pods = lc.call(lambda: lc.cluster.store.list("Pod", "default"))
                return [
                    p
                    for p in pods
                    if p["metadata"]["name"] in on_node and p["metadata"].get("deletionTimestamp")
                ]

            deleted = wait_for(lambda: len(terminating()) == len(on_node) and terminating(), timeout=60)
            assert {p["metadata"]["deletionGracePeriodSeconds"] for p in deleted} == {7}

            def finished() -> bool:
                lc.advance(1)
                return drain.poll() is not None

            wait_for(finished, timeout=120, what="kubectl drain to finish")
            stdout, stderr = drain.communicate(timeout=30)
        finally:
            if drain.poll() is None:
                drain.kill()
                drain.communicate()
        assert drain.returncode == 0, stderr[-3000:]
        assert f"node/{node} drained" in stdout
        deletes = [r for r in requests_of(stderr) if r[0] == "DELETE"]
        assert deletes and {r[2] for r in deletes} == {PROTOBUF}
        assert {decode_object(r[3], "", "")["gracePeriodSeconds"] for r in deletes} == {7}
