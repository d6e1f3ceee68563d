"""The same-origin rule, as curl or a page would send requests: another site's Origin or
Sec-Fetch-Site is refused (403) and changes nothing; a body that is not declared JSON gets 415; a
browser must also send the page token; curl and kubectl (no browser headers) keep working."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.security.same_origin import CSRF_HEADER
from app.server import write_kubeconfig
from tests.fixtures_app import app_client, make_settings, running_app, wait_for

SCALE_TO_0 = b'{"namespace":"default","name":"web","replicas":0}'


async def web_replicas(client: httpx.AsyncClient) -> int:
    snap = (await client.get("/api/snapshot")).json()
    return int(snap["deployments"]["default/web"]["replicas"])


async def page_token(client: httpx.AsyncClient) -> str:
    page = (await client.get("/")).text
    found = re.search(r'<meta name="slicescope-csrf" content="([^"]+)">', page)
    assert found, "the page carries no page token"
    assert (await client.get("/api/csrf")).json() == {"token": found.group(1)}
    return found.group(1)


async def test_curl_with_another_origin_or_a_text_body_changes_nothing() -> None:
    async with app_client(make_settings()) as client:
        before = await web_replicas(client)
        assert before > 0
        refusals = [
            ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403, "http://evil.example"),
            ({"Origin": "http://evil.example", "Content-Type": "application/json"}, 403, "evil.example"),
            ({"Origin": "null", "Content-Type": "application/json"}, 403, "null"),
            ({"Origin": "http://127.0.0.1:9", "Content-Type": "application/json"}, 403, "127.0.0.1:9"),
            ({"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403, "cross-site"),
            ({"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, 403, "same-site"),
            ({"Content-Type": "text/plain"}, 415, "text/plain"),
            ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "x-www-form-urlencoded"),
            ({"Content-Type": "multipart/form-data; boundary=x"}, 415, "multipart/form-data"),
            ({}, 415, "no Content-Type"),
        ]
        for headers, status, says in refusals:
            r = await client.post("/api/actions/scale", content=SCALE_TO_0, headers=headers)
            assert r.status_code == status, (headers, r.status_code, r.text)
            assert says in r.json()["error"], (headers, r.text)
        console = {"command": "kubectl scale deployment web --replicas=0"}
        r = await client.post("/api/console/run", json=console, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        r = await client.get(
            "/api/console/stream",
            params={"command": "kubectl get pods"},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert r.status_code == 403
        assert await web_replicas(client) == before
        timeline = (await client.get("/api/snapshot")).json()["timeline"]
        assert [e for e in timeline if e["kind"] == "action"] == []


async def test_a_browser_needs_the_page_token_and_its_own_origin() -> None:
    async with app_client(make_settings()) as client:
        token = await page_token(client)
        same = {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
        body = {"namespace": "default", "name": "web", "replicas": 2}
        r = await client.post("/api/actions/scale", json=body, headers=same)
        assert (
            r.status_code == 403 and r.json()["reason"] == "csrf" and "reload the page" in r.json()["error"]
        )
        r = await client.post("/api/actions/scale", json=body, headers={**same, CSRF_HEADER: "not-it"})
        assert r.status_code == 403 and r.json()["reason"] == "csrf"
        r = await client.post("/api/actions/scale", json=body, headers={**same, CSRF_HEADER: token})
        assert r.status_code == 200, r.text
        assert await web_replicas(client) == 2
        # the token alone does not open the door to another site
        evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", CSRF_HEADER: token}
        r = await client.post("/api/actions/scale", json={**body, "replicas": 0}, headers=evil)
        assert r.status_code == 403
        assert await web_replicas(client) == 2
        # another site cannot read the token either
        r = await client.get("/api/csrf", headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403 and token not in r.text


async def test_another_site_can_link_to_the_page_but_not_load_or_frame_it() -> None:
    async with app_client(make_settings()) as client:
        link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        page = await client.get("/", headers=link)
        assert page.status_code == 200
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert page.headers["x-content-type-options"] == "nosniff"
        for path, mode, dest in (
            ("/", "navigate", "iframe"),
            ("/api/snapshot", "no-cors", "script"),
            ("/events", "cors", "empty"),
            ("/static/js/main.js", "no-cors", "script"),
        ):
            for site in ("cross-site", "same-site"):
                headers = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}
                r = await client.get(path, headers=headers)
                assert r.status_code == 403, (path, site, r.status_code)
        own = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
        assert (await client.get("/api/snapshot", headers=own)).status_code == 200


async def test_curl_without_browser_headers_keeps_working() -> None:
    async with app_client(make_settings()) as client:
        r = await client.post(
            "/api/actions/scale", json={"namespace": "default", "name": "web", "replicas": 1}
        )
        assert r.status_code == 200, r.text
        r = await client.post("/api/record/stop")  # no body, no Content-Type
        assert r.status_code == 200, r.text
        assert await web_replicas(client) == 1


async def test_presenter_mode_needs_both_tokens() -> None:
    settings = make_settings(present=True, present_token="presenter-token-1")
    async with app_client(settings) as client:
        token = await page_token(client)
        same = {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin", CSRF_HEADER: token}
        body = {"namespace": "default", "name": "web", "replicas": 2}
        r = await client.post("/api/actions/scale", json=body, headers=same)
        assert r.status_code == 403 and r.json()["error"] == "only the presenter can change the cluster"
        r = await client.post(
            "/api/actions/scale", json=body, headers={**same, "X-Slicescope-Token": "presenter-token-1"}
        )
        assert r.status_code == 200, r.text


async def test_a_get_never_changes_the_cluster() -> None:
    async with app_client(make_settings()) as client:
        r = await client.get(
            "/api/console/stream", params={"command": "kubectl scale deployment web --replicas=0"}
        )
        assert r.status_code == 405 and "send kubectl scale with POST" in r.json()["error"]
        r = await client.get("/api/console/stream", params={"command": "kubectl label pods --all x=y"})
        assert r.status_code == 405


async def test_the_simulated_api_refuses_what_a_web_page_can_send() -> None:
    async with app_client(make_settings()) as client:
        token = client.app.state.runtime.api_token  # type: ignore[attr-defined]
        pods = f"/k8s/t/{token}/api/v1/namespaces/default/pods"
        pod = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[]}}'
        form = await client.post(pods, content=pod, headers={"Content-Type": "text/plain"})
        assert form.status_code == 415 and form.json()["reason"] == "UnsupportedMediaType"
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}):
            r = await client.get(pods, headers=headers)
            assert r.status_code == 403 and r.json()["kind"] == "Status", r.text
        ok = await client.get(pods)
        assert ok.status_code == 200 and ok.json()["kind"] == "PodList"


def test_kubectl_and_the_python_client_still_work(tmp_path: Path) -> None:
    import subprocess

    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    from app.console.runner import find_kubectl

    kubectl = find_kubectl()
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    settings = make_settings(sim_speed=20)
    with running_app(settings) as base:
        app: Any = running_app.last_app  # type: ignore[attr-defined]
        port = int(base.rsplit(":", 1)[1])
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(str(kubeconfig), settings, app.state.runtime.api_token, port)

        def kc(*args: str, stdin: str | None = None) -> str:
            done = subprocess.run(
                [kubectl, "--kubeconfig", str(kubeconfig), *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        kc("scale", "deployment", "web", "--replicas=2")
        service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: probe\nspec:\n  ports: [{port: 80}]\n"
        kc("apply", "-f", "-", stdin=service)
        kc("label", "service", "probe", "checked=yes")
        assert "probe" in kc("get", "services", "-l", "checked=yes", "-o", "name")
        kc("delete", "service", "probe")

        api = k8s.ApiClient(k8s_config.new_client_from_config(str(kubeconfig)).configuration)
        try:
            apps = k8s.AppsV1Api(api)
            apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
            assert apps.read_namespaced_deployment("web", "default").spec.replicas == 3
            names = [p.metadata.name for p in k8s.CoreV1Api(api).list_namespaced_pod("default").items]
            assert names
        finally:
            api.close()

        def three() -> bool:
            snap = httpx.get(f"{base}/api/snapshot", timeout=30).json()
            return snap["deployments"]["default/web"]["replicas"] == 3

        wait_for(three, timeout=30, what="the client's change on the dashboard")
