"""Hostile bodies on a live server: 50 MB is refused with 413 before it is read (Content-Length, and
chunked as soon as the count passes the cap); JSON nested 100,000 deep is one clear 400 on every
POST route and on the simulated API, with no RecursionError anywhere in the log."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from app.security.bodies import MAX_BODY_BYTES
from app.security.safe_json import MAX_DEPTH, JsonTooDeep, json_depth, load_json_line, loads, too_deep
from tests.fixtures_app import make_settings, running_app
from tests.security.helpers import deployment_replicas, host_port, read_response

FIFTY_MB = 50 * 1024 * 1024
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with running_app(make_settings(sim_speed=20)) as url:
        yield url


def _connect(base: str) -> socket.socket:
    sock = socket.create_connection(host_port(base), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def test_a_declared_50_mb_body_is_refused_before_it_is_sent(base: str) -> None:
    host, port = host_port(base)
    with _connect(base) as sock:
        head = (
            f"POST /api/actions/scale HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {FIFTY_MB}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"{" + b" " * 65535)  # 64 KiB of the 50 MB, then nothing more
        status, headers, body = read_response(sock)
    assert status == 413, body
    assert headers.get("connection") == "close"
    assert b"larger than 3 MiB" in body


def test_a_chunked_50_mb_body_is_cut_off_at_the_cap(base: str) -> None:
    host, port = host_port(base)
    chunk = b" " * (256 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with _connect(base) as sock:
        head = (
            f"POST /api/console/run HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        sock.settimeout(5)
        try:
            while sent < FIFTY_MB:
                sock.sendall(frame)
                sent += len(chunk)
        except (TimeoutError, ConnectionError):
            pass  # the server stopped reading: what it had was enough to refuse
        status, _, body = read_response(sock)
    assert status == 413, body
    # kernel buffers on both sides hold a few MB at most: the server never read the 50 MB
    assert sent < MAX_BODY_BYTES + 24 * 1024 * 1024, sent


def test_deep_json_is_one_clear_400_everywhere(base: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    before = deployment_replicas(base, "web")
    token = httpx.get(f"{base}/api/csrf").json()["token"]
    for path in (
        "/api/actions/scale",
        "/api/console/run",
        "/api/scenarios/start",
        "/api/record/start",
        "/k8s/api/v1/namespaces/default/pods",
    ):
        r = httpx.post(
            base + path,
            content=DEEP,
            headers={"Content-Type": "application/json", "X-Slicescope-CSRF": token},
            timeout=60,
        )
        assert r.status_code == 400, (path, r.status_code, r.text[:300])
        message = r.json()["message"] if path.startswith("/k8s") else r.json()["error"]
        assert message == f"the request body nests JSON more than {MAX_DEPTH} levels deep", path
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text
    assert deployment_replicas(base, "web") == before
    # within the bound, the same routes still work
    ok = httpx.post(f"{base}/api/actions/scale", json={"name": "web", "replicas": before}, timeout=60)
    assert ok.status_code == 200, ok.text


def test_a_deep_body_is_refused_quickly(base: str) -> None:
    started = time.monotonic()
    big = b'{"a":' * 500_000 + b"1" + b"}" * 500_000  # 3 MB of nesting, just under the cap
    r = httpx.post(
        f"{base}/api/actions/scale", content=big, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert r.status_code == 400
    assert time.monotonic() - started < 30  # generous on a busy machine; unbounded parsing takes minutes


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}], "c": "\\"[["}') == 3
    assert json_depth(b"[]") == 1 and json_depth(b'"x"') == 0
    assert not too_deep(b"[" * 100 + b"]" * 100, 100) and too_deep(b"[" * 101 + b"]" * 101, 100)
    assert loads(b'{"ok": [1, 2]}') == {"ok": [1, 2]}
    with pytest.raises(JsonTooDeep, match="more than 100 levels"):
        loads(DEEP)
    with pytest.raises(ValueError, match="more than 5 levels"):
        load_json_line(b'{"a":[[[[[[1]]]]]]}\n', max_depth=5)
    assert load_json_line('{"é": 1}\n'.encode()) == {"é": 1}
