"""/events on real uvicorns: two replicas watching one API server (an id issued by one gets a
snapshot from the other, equal to that replica's /api/snapshot, never deltas), and a client that
stops reading cut after the send timeout while another keeps receiving every change in order."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.hub import Hub
from app.server import create_app, write_kubeconfig
from app.sources.kube import KubeSource
from app.sources.watching import WatchConfig
from tests.fixtures_app import SSEReader, apply_message, make_settings, running_app, wait_for
from tests.live_server import live_server
from tests.test_sse_live import Follower, follow_until_equal, post, snapshot

READ_TIMEOUT = 30.0
TOKEN = "replica-test-token-0123456789"
FAST = WatchConfig(
    timeout_seconds=30,
    inactivity_seconds=90,
    backoff_base=0.05,
    backoff_cap=0.4,
    refused_base=0.3,
    refused_cap=1.0,
)


def ready_shipping(http: httpx.Client, replicas: int = 4) -> dict[str, Any]:
    """The server's view once shipping-api has `replicas` ready pods (a minute at most: busy machine)."""

    def check() -> dict[str, Any] | None:
        s = snapshot(http)
        pods = [p for p in s["pods"].values() if p["labels"].get("app") == "shipping-api"]
        return s if len(pods) == replicas and all(p["ready"] for p in pods) else None

    return wait_for(check, timeout=60, what=f"{replicas} ready shipping-api pods")


@dataclass
class Replica:
    url: str
    hub: Hub


@contextlib.contextmanager
def two_replicas(tmp_path: Path, first_seqs: tuple[int, int]) -> Iterator[tuple[str, Replica, Replica]]:
    """A: the simulated cluster's app and its Kubernetes API; B and C: two dashboards watching A
    through a kubeconfig, as two replicas behind one Service would, with seq counters started
    where the test says (so their seq ranges overlap)."""
    settings_a = make_settings(api_token=TOKEN)
    app_a = create_app(settings_a)
    with live_server(app_a) as a:
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(str(kubeconfig), settings_a, TOKEN, int(a.rsplit(":", 1)[1]))
        settings = make_settings(source="kube", kubeconfig=str(kubeconfig))
        apps = [
            create_app(settings, source=KubeSource.from_settings(settings, config=FAST)) for _ in range(2)
        ]
        for app, first in zip(apps, first_seqs, strict=True):
            app.state.runtime.hub.seq = first
        with live_server(apps[0]) as b, live_server(apps[1]) as c:
            yield a, Replica(b, apps[0].state.runtime.hub), Replica(c, apps[1].state.runtime.hub)


def first_event(http: httpx.Client, headers: dict[str, str], params: dict[str, str]) -> dict[str, Any]:
    with http.stream("GET", "/events", headers=headers, params=params) as response:
        assert response.status_code == 200
        return SSEReader(response).next_event()


def test_an_id_from_another_replica_gets_that_replicas_snapshot_never_deltas(tmp_path: Path) -> None:
    with (
        two_replicas(tmp_path, (1_000_000, 1_000_000)) as (a, b, c),
        httpx.Client(base_url=a, timeout=READ_TIMEOUT) as http_a,
        httpx.Client(base_url=b.url, timeout=READ_TIMEOUT) as http_b,
        httpx.Client(base_url=c.url, timeout=READ_TIMEOUT) as http_c,
    ):
        assert b.hub.instance != c.hub.instance
        ready_shipping(http_b)
        ready_shipping(http_c)
        # a browser on replica B follows its stream
        with http_b.stream("GET", "/events") as response:
            reader = SSEReader(response)
            event, _, model = reader.next_json()
            assert event == "snapshot"
            model = follow_until_equal(reader, model, http_b)
        id_b = b.hub.event_id(model["seq"])

        # the cluster changes; both replicas see it, each numbering its own messages
        post(http_a, "scale", {"namespace": "default", "name": "shipping-api", "replicas": 5})
        ready_shipping(http_b, replicas=5)
        ready_shipping(http_c, replicas=5)
        replicas = 5
        while c.hub.seq <= model["seq"]:  # C's messages run past B's seq: both numbered from 1,000,000
            replicas += 1
            post(http_a, "scale", {"namespace": "default", "name": "shipping-api", "replicas": replicas})
            ready_shipping(http_c, replicas=replicas)
        ready_shipping(http_b, replicas=replicas)
        # B's seq is a seq C has issued and still buffers: a bare number would have got C's deltas
        assert c.hub.missed_since(model["seq"]) is not None

        for headers, params in (
            ({"Last-Event-ID": id_b}, {}),  # EventSource's own retry
            ({}, {"lastEventId": id_b}),  # the page's reconnect
            ({}, {"lastEventId": str(model["seq"])}),  # a page from before ids named their instance
        ):
            with http_c.stream("GET", "/events", headers=headers, params=params) as response:
                reader = SSEReader(response)
                raw = reader.next_event()
                assert raw["event"] == "snapshot", f"{headers or params}: a foreign id must get a snapshot"
                data = json.loads(raw["data"])
                assert raw["id"] == c.hub.event_id(data["seq"])
                switched = follow_until_equal(reader, data, http_c)
                assert switched == snapshot(http_c)
                shipping = [p for p in switched["pods"].values() if p["labels"].get("app") == "shipping-api"]
                assert len(shipping) == replicas

        # and C's own id still resumes on C with deltas only
        last_c = snapshot(http_c)["seq"]
        post(http_a, "scale", {"namespace": "default", "name": "shipping-api", "replicas": 3})
        ready_shipping(http_c, replicas=3)
        raw = first_event(http_c, {"Last-Event-ID": c.hub.event_id(last_c)}, {})
        assert raw["event"] == "delta" and raw["id"] == c.hub.event_id(last_c + 1)


def test_a_client_that_stops_reading_is_cut_and_the_others_keep_receiving() -> None:
    send_timeout = 1.0
    settings = make_settings(client_queue_messages=4, ping_seconds=0.3)
    with (
        running_app(settings, send_timeout=send_timeout) as base,
        httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http,
    ):
        ready_shipping(http)
        hub: Hub = running_app.last_app.state.runtime.hub  # type: ignore[attr-defined]
        url = urlsplit(base)
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        stalled.connect((url.hostname, url.port))
        request = f"GET /events HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n\r\n"
        stalled.sendall(request.encode())
        healthy = Follower(base)
        try:
            wait_for(lambda: len(hub.clients) == 1, timeout=60, what="the stalled client to connect")
            (client,) = hub.clients
            healthy.start()
            wait_for(lambda: len(hub.clients) == 2 and healthy.model, timeout=60, what="the healthy client")
            started = time.monotonic()
            big = True
            while client in hub.clients:  # big Services make big deltas: the stalled socket fills up
                assert time.monotonic() - started < 90, "the stalled client was never cut"
                replicas = 150 if big else 100
                big = not big
                post(http, "scale", {"namespace": "default", "name": "shipping-api", "replicas": replicas})
                assert client.pending <= settings.client_queue_messages  # a place in the buffer, no backlog
                time.sleep(0.1)
            assert client.closed
            # the server cut the connection: the socket ends (after what the kernel still holds)
            stalled.settimeout(READ_TIMEOUT)
            with contextlib.suppress(ConnectionResetError):
                while stalled.recv(65536):
                    pass
            # the reading client kept up: every change in order, one snapshot only, equal to the server's
            ready_shipping(http, replicas=100 if big else 150)
            wait_for(
                lambda: healthy.model and healthy.model == snapshot(http),
                timeout=60,
                what="the healthy client",
            )
            assert healthy.events.count("snapshot") == 1
            assert healthy.error is None
            assert len(hub.clients) == 1
        finally:
            stalled.close()
            healthy.stop(http)


def test_every_stream_message_is_one_line_of_json_with_an_instance_id() -> None:
    with (
        running_app(make_settings()) as base,
        httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http,
    ):
        ready_shipping(http)
        hub: Hub = running_app.last_app.state.runtime.hub  # type: ignore[attr-defined]
        with http.stream("GET", "/events") as response:
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert response.headers["cache-control"] == "no-store"
            reader = SSEReader(response)
            model = None
            post(http, "scale", {"namespace": "default", "name": "shipping-api", "replicas": 6})
            while model is None or len([p for p in model["pods"] if "shipping" in p]) < 6:
                raw = reader.next_event()
                data = json.loads(raw["data"])
                assert raw["id"] == hub.event_id(data["seq"])
                model = apply_message(model, raw["event"], data)
