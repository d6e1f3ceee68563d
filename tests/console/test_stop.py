"""The page's Stop for a one-shot command: closing the request of POST /api/console/run stops the
kubectl it started (a stand-in kubectl that would hang for ten minutes), on a real uvicorn."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from fastapi import FastAPI

from app.console import ConsoleContext, console_router
from app.console.runner import Limits
from tests.fixtures_app import wait_for
from tests.live_server import live_server

HANGING = """#!/bin/sh
echo $$ > "{pid_file}"
echo started
exec sleep 600
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_closing_a_one_shot_request_stops_its_kubectl(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    fake = tmp_path / "kubectl"
    fake.write_text(HANGING.format(pid_file=pid_file))
    fake.chmod(0o755)
    app = FastAPI()
    context = ConsoleContext(enabled=True, server_url="http://127.0.0.1:1/k8s", token="x")
    app.include_router(
        console_router(lambda request: context, find=lambda: str(fake), limits=Limits(timeout_seconds=300))
    )
    with live_server(app) as base:
        host, port = base.removeprefix("http://").split(":")
        body = json.dumps({"command": "kubectl get pods"}).encode()
        head = (
            f"POST /api/console/run HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection((host, int(port)), timeout=60) as sock:
            sock.sendall(head + body)
            wait_for(
                lambda: pid_file.exists() and pid_file.read_text().strip(),
                timeout=60,
                what="kubectl to start",
            )
            pid = int(pid_file.read_text())
            assert alive(pid)
        # the page's Stop: it stops waiting and closes the request
        left = time.monotonic()
        wait_for(lambda: not alive(pid), timeout=60, what="kubectl stopped after the request was closed")
        assert time.monotonic() - left < 60 < 300  # at the close, not at the 300 s limit nor after the sleep
