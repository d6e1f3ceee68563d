"""KubeTransport over real HTTP against a tiny API that serves the captured v1.36 responses: raw JSON
lists, watch lines split across chunks, query parameters and credentials as the client sends them,
a silent stream caught by the inactivity timeout, and no reader thread left behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.sources.base import Change
from app.sources.kube import KubeSource
from app.sources.watching import WatchConfig
from tests.kube.fakes import FIXTURES, Mirror, fixture_json
from tests.kube.test_kube_live import eventually
from tests.live_server import live_server

LISTS = {
    "/api/v1/pods": "list-pods.json",
    "/api/v1/services": "list-services.json",
    "/api/v1/endpoints": "list-endpoints.json",
    "/apis/discovery.k8s.io/v1/endpointslices": "list-endpointslices.json",
}
WATCHES = {
    "/api/v1/pods": "watch-pods.jsonl",
    "/apis/discovery.k8s.io/v1/endpointslices": "watch-endpointslices.jsonl",
    "/api/v1/endpoints": "watch-endpoints.jsonl",
}


class FixtureApi:
    """Lists from the fixture files; the first watch of each path replays the captured stream in
    awkward 700-byte chunks and then goes silent (a dead stream); later watches stay open quietly."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.watched: set[str] = set()
        self.stop = asyncio.Event()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        from urllib.parse import parse_qsl

        path = scope["path"]
        query = dict(parse_qsl(scope["query_string"].decode()))
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append((path, query, headers))
        if query.get("watch") == "true":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            if path in WATCHES and path not in self.watched:
                self.watched.add(path)
                data = (FIXTURES / WATCHES[path]).read_bytes()
                for i in range(0, len(data), 700):
                    await send({"type": "http.response.body", "body": data[i : i + 700], "more_body": True})
            # Then silence, until the client goes away.
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
        name = LISTS.get(path)
        doc = (
            json.loads((FIXTURES / name).read_bytes())
            if name
            else {"kind": "List", "metadata": {"resourceVersion": "286"}, "items": []}
        )
        if path in self.watched:
            # After the captured changes the server is at the captures' last resourceVersion.
            doc["metadata"]["resourceVersion"] = "334"
        body = json.dumps(doc).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def write_kubeconfig(path: Path, server: str, token: str) -> str:
    import yaml

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fx", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "fx", "context": {"cluster": "fx", "user": "u"}}],
        "current-context": "fx",
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


async def test_fixture_api_over_real_http(tmp_path: Path) -> None:
    api = FixtureApi()
    with live_server(api) as url:
        kubeconfig = write_kubeconfig(tmp_path / "kc", url, "s3cret")
        cfg = WatchConfig(inactivity_seconds=1.5, timeout_seconds=120, backoff_base=0.05, backoff_cap=0.2)
        source = KubeSource.from_settings(Settings(source="kube", kubeconfig=kubeconfig), config=cfg)
        mirror = Mirror()
        task = asyncio.create_task(source.run(mirror))
        try:
            # Every pod event of the capture arrived, split across chunks or not.
            await eventually(
                lambda: sum(isinstance(i, Change) and i.kind == "Pod" for i in mirror.items) == 10
            )
            await eventually(lambda: mirror.status.state == "live")
            # The stream then fell silent: the inactivity timeout reconnects from the bookmark's rv.
            await eventually(
                lambda: (
                    ("/api/v1/pods", "334") in [(p, q.get("resourceVersion")) for p, q, _ in api.requests]
                ),
                within=10,
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await eventually(lambda: not [t for t in threading.enumerate() if t.name.startswith("watch ")], 5)

    pods = mirror.objects
    final = {k[2]: o for k, o in pods.items() if k[0] == "Pod"}
    assert "shipping-api-8465d5b4d7-bkrp6" in final and "shipping-api-8465d5b4d7-qs4kb" in final
    assert final["shipping-api-8465d5b4d7-xgmtj"]["metadata"].get("deletionTimestamp")
    assert final["shipping-api-8465d5b4d7-qncf4"]["metadata"]["labels"]["app"] == "debug"
    assert len(final) == len(fixture_json("list-pods.json")["items"]) + 2
    assert all(o["kind"] == "Pod" and "managedFields" not in o["metadata"] for o in final.values())
    slice_ = next(o for k, o in pods.items() if k[0] == "EndpointSlice")
    assert slice_["metadata"]["resourceVersion"] == "327"  # the bookmarks did not overwrite it

    watches = [(p, q) for p, q, _ in api.requests if q.get("watch") == "true"]
    first_pods = next(q for p, q in watches if p == "/api/v1/pods")
    assert first_pods["resourceVersion"] == "286"
    assert first_pods["allowWatchBookmarks"] == "true"
    assert int(first_pods["timeoutSeconds"]) == 120
    lists = [(p, q) for p, q, _ in api.requests if "watch" not in q]
    # pages of 500, and one-item lists checking the server before a resume is trusted
    assert {q.get("limit") for _, q in lists} <= {"250", "1"}
    assert ("/api/v1/pods", "1") in [(p, q.get("limit")) for p, q in lists]
    assert sum(p == "/api/v1/pods" and q.get("limit") == "250" for p, q in lists) == 1  # no relist
    assert all(h.get("authorization") == "Bearer s3cret" for _, _, h in api.requests)
    assert {p for p, _ in watches} >= set(WATCHES)
