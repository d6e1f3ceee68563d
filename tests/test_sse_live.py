"""The /events stream against a real uvicorn: snapshot then deltas, resume with Last-Event-ID
(exactly the missed deltas), snapshots for ids the buffer no longer holds, pings, dropped
streams, and a stalled client that must not grow the server's memory."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.hub import Hub
from tests.fixtures_app import SSEReader, apply_message, make_settings, running_app, wait_for

READ_TIMEOUT = 60.0  # a missing event fails the test instead of hanging it (generous: a busy machine)


@contextmanager
def stream(http: httpx.Client, last_id: str | None = None, *, query: bool = False) -> Iterator[SSEReader]:
    headers = {"Accept": "text/event-stream"}
    params = {}
    if last_id is not None and query:
        params["lastEventId"] = str(last_id)
    elif last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    with http.stream("GET", "/events", headers=headers, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SSEReader(response)


def snapshot(http: httpx.Client) -> dict[str, Any]:
    r = http.get("/api/snapshot")
    assert r.status_code == 200
    return r.json()


def hub_of_last_app() -> Hub:
    return running_app.last_app.state.runtime.hub  # type: ignore[attr-defined]


def ready_shipping(http: httpx.Client, replicas: int = 4) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        s = snapshot(http)
        pods = [p for p in s["pods"].values() if p["labels"].get("app") == "shipping-api"]
        return s if len(pods) == replicas and all(p["ready"] for p in pods) else None

    return wait_for(check, timeout=60, what=f"{replicas} ready shipping-api pods")


def follow_until_equal(reader: SSEReader, model: dict[str, Any], http: httpx.Client) -> dict[str, Any]:
    """Apply events until the model equals a fresh /api/snapshot (the sim may still be moving)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        snap = snapshot(http)
        while model["seq"] < snap["seq"]:
            event, seq, data = reader.next_json()
            assert seq == data["seq"], "the SSE id is the message's seq"
            model = apply_message(model, event, data)
        if model["seq"] == snap["seq"]:
            assert model == snap
            return model
    raise AssertionError("the stream never caught up with /api/snapshot")


def post(http: httpx.Client, action: str, body: dict[str, Any]) -> None:
    r = http.post(f"/api/actions/{action}", json=body)
    assert r.status_code == 200, r.text


def test_stream_starts_with_a_snapshot_and_carries_an_action_as_a_delta() -> None:
    with running_app(make_settings()) as base, httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http:
        first = ready_shipping(http)
        with stream(http) as reader:
            event, seq, model = reader.next_json()
            assert event == "snapshot"
            assert seq == model["seq"] >= first["seq"]
            pod = next(p for p in model["pods"].values() if p["labels"].get("app") == "shipping-api")
            post(http, "readiness", {"namespace": "default", "pod": pod["name"], "passing": False})
            deadline = time.monotonic() + 60
            seen_delta = False
            while model["pods"][pod["key"]]["ready"]:
                assert time.monotonic() < deadline, "the pod never became not ready on the stream"
                event, seq, data = reader.next_json()
                assert event == "delta" and seq == data["seq"]
                seen_delta = True
                model = apply_message(model, event, data)
            assert seen_delta
            assert model["pods"][pod["key"]]["notReadyReason"]
            assert any(e["kind"] == "action" and pod["name"] in e["text"] for e in model["timeline"])
            follow_until_equal(reader, model, http)


def test_resume_with_last_event_id_gets_exactly_the_missed_deltas() -> None:
    with running_app(make_settings()) as base, httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http:
        ready_shipping(http)
        with stream(http) as reader:
            event, _, model = reader.next_json()
            assert event == "snapshot"
            model = follow_until_equal(reader, model, http)
        assert wait_for(lambda: not hub_of_last_app().clients, what="the server to notice the disconnect")

        # changes while nobody listens
        post(http, "scale", {"namespace": "default", "name": "shipping-api", "replicas": 6})
        pods = sorted(p["name"] for p in snapshot(http)["pods"].values() if "shipping" in p["name"])
        post(http, "label", {"namespace": "default", "pod": pods[0], "labels": {"app": "debug"}})
        ready_shipping(http, replicas=6)
        missed_upto = snapshot(http)["seq"]
        assert missed_upto > model["seq"] + 1, "several messages were missed"

        for query in (False, True):  # the header (EventSource retry) and ?lastEventId= (a new EventSource)
            with stream(http, hub_of_last_app().event_id(model["seq"]), query=query) as reader:
                resumed = dict(model)
                ids = []
                while resumed["seq"] < missed_upto:
                    event, seq, data = reader.next_json()
                    assert event == "delta", "a resumable id gets deltas, not a snapshot"
                    ids.append(seq)
                    resumed = apply_message(resumed, event, data)
                assert ids == list(range(model["seq"] + 1, missed_upto + 1))
                follow_until_equal(reader, resumed, http)
                assert any(e["kind"] == "action" and "debug" in e["text"] for e in resumed["timeline"])


def test_too_old_or_future_id_gets_a_snapshot() -> None:
    settings = make_settings(buffer_messages=2)
    with running_app(settings) as base, httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http:
        ready_shipping(http)
        post(http, "scale", {"namespace": "default", "name": "shipping-api", "replicas": 5})
        ready_shipping(http, replicas=5)
        now = snapshot(http)["seq"]
        assert now > 3
        for last_id in (1, now + 100, "garbage"):
            headers = {"Last-Event-ID": str(last_id)}
            with http.stream("GET", "/events", headers=headers) as response:
                event, seq, data = SSEReader(response).next_json()
                assert event == "snapshot"
                assert seq == data["seq"] >= now
                assert set(data) == {"seq", "meta", "services", "pods", "deployments", "timeline"}


def test_pings_and_dropped_streams() -> None:
    settings = make_settings(ping_seconds=0.2)
    with (
        running_app(settings, debug_hooks=True) as base,
        httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http,
    ):
        ready_shipping(http)
        with stream(http) as reader:
            _, _, model = reader.next_json()
            r = http.post("/api/debug/drop-streams")
            assert r.status_code == 200 and r.json()["dropped"] >= 1
            try:
                while True:  # nothing but (maybe) pings until the server closes the stream
                    event, seq, data = reader.next_json()
                    model = apply_message(model, event, data)
            except EOFError:
                pass
        with stream(http, hub_of_last_app().event_id(model["seq"])) as reader:
            post(http, "scale", {"namespace": "default", "name": "shipping-api", "replicas": 3})
            event, seq, data = reader.next_json()
            assert event == "delta" and seq == model["seq"] + 1
            model = follow_until_equal(reader, apply_message(model, event, data), http)
            # idle now: comment pings keep the stream open (well within the 10 s read timeout)
            item = reader.next_event(comments=True)
            while "comment" not in item:
                model = apply_message(model, item["event"], json.loads(item["data"]))
                item = reader.next_event(comments=True)
            assert item["comment"].startswith("ping")


def test_a_stalled_client_is_resynced_not_buffered() -> None:
    limit = 4
    settings = make_settings(client_queue_messages=limit, ping_seconds=0.3)
    # small kernel buffers on the server's side: the stalled socket blocks its writes after a few
    # kilobytes, not after the megabytes loopback autotuning allows (which a busy machine takes long
    # to produce); and a write may hang long enough for a busy machine to make the changes that put
    # the client behind before the server gives up on it
    with (
        running_app(settings, send_buffer=8192, send_timeout=300.0) as base,
        httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http,
    ):
        ready_shipping(http)
        hub = hub_of_last_app()
        url = urlsplit(base)
        # A client that asks for the stream and never reads it: once the kernel buffers are full
        # the server's writes block, and its queue for this client must stay bounded.
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        stalled.connect((url.hostname, url.port))
        stalled.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        healthy = Follower(base)
        try:
            wait_for(lambda: len(hub.clients) == 1, what="the stalled client to connect")
            (client,) = hub.clients
            healthy.start()
            wait_for(lambda: len(hub.clients) == 2 and healthy.model, what="the healthy client")
            deadline = time.monotonic() + 120
            big = True
            while not client.resyncs:  # big Services make big deltas: the stalled socket fills up
                assert time.monotonic() < deadline, "the stalled client was never reset to a snapshot"
                replicas = 150 if big else 100
                big = not big
                post(http, "scale", {"namespace": "default", "name": "shipping-api", "replicas": replicas})
                time.sleep(0.1)
                assert len(client.queue) <= limit
            assert client.high_water <= limit, "a stalled client's queue grew past its bound"
            assert client in hub.clients and client.resyncs >= 1
            # the reading client kept up: every change in order, one snapshot only, equal to the server's
            ready_shipping(http, replicas=100 if big else 150)
            wait_for(lambda: healthy.model and healthy.model == snapshot(http), what="the healthy client")
            assert healthy.events.count("snapshot") == 1
            assert healthy.error is None
        finally:
            stalled.close()
            healthy.stop(http)
        assert wait_for(lambda: client not in hub.clients, what="the closed client to be dropped")


class Follower(threading.Thread):
    """Reads /events in a thread and keeps the model, as a browser would."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.model: dict[str, Any] | None = None
        self.events: list[str] = []
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=READ_TIMEOUT) as http, stream(http) as reader:
                while not self._halt.is_set():
                    event, _, data = reader.next_json()
                    self.events.append(event)
                    self.model = apply_message(self.model, event, data)
        except EOFError:
            pass
        except BaseException as e:
            if not self._halt.is_set():
                self.error = e

    def stop(self, http: httpx.Client) -> None:
        self._halt.set()
        http.post("/api/actions/scale", json={"namespace": "default", "name": "shipping-api", "replicas": 1})
        self.join(timeout=READ_TIMEOUT)


def test_events_carry_ids_and_json_data() -> None:
    with running_app(make_settings()) as base, httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http:
        ready_shipping(http)
        with stream(http) as reader:
            raw = reader.next_event()
            assert raw["event"] == "snapshot"
            assert raw["id"] == hub_of_last_app().event_id(json.loads(raw["data"])["seq"])
