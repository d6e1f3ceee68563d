"""What the security tests share: raw HTTP over a socket (to send what clients normally would not),
the simulated cluster's state as the API reports it, and a running CLI process with its logs."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[2]


def host_port(base: str) -> tuple[str, int]:
    url = urlsplit(base)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def read_response(sock: socket.socket, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body (Content-Length long) of one HTTP/1.1 response."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"the connection closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def deployment_replicas(base: str, name: str) -> int:
    snap = httpx.get(f"{base}/api/snapshot", timeout=30).json()
    return int(snap["deployments"][f"default/{name}"]["replicas"])


def pod_labels(base: str) -> list[dict[str, str]]:
    snap = httpx.get(f"{base}/api/snapshot", timeout=30).json()
    return [p["labels"] for p in snap["pods"].values()]


@dataclass
class Cli:
    """`python -m app ...` in its own process group; stdout and stderr collected as they come."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def text(self) -> str:
        with self.lock:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)
                found = re.search(pattern, self.text())
                if found:
                    return found
                raise AssertionError(f"slicescope exited ({self.proc.returncode}): {self.text()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {pattern!r} in: {self.text()}")


def _pump(cli: Cli, stream: object) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        with cli.lock:
            cli.lines.append(line)


@contextlib.contextmanager
def running_cli(*args: str, cwd: Path | None = None) -> Iterator[Cli]:
    """Start slicescope; yields once it is started (stop it with SIGINT at the end)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=str(cwd or REPO),
        env=env,
        start_new_session=True,
    )
    cli = Cli(proc)
    assert proc.stdout is not None
    reader = threading.Thread(target=_pump, args=(cli, proc.stdout), daemon=True)
    reader.start()
    try:
        yield cli
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        reader.join(timeout=10)
        proc.stdout.close()


def served_port(cli: Cli) -> int:
    """The port bound for --port 0 (from the CLI's announcement, or from uvicorn's)."""
    found = cli.wait_for(r"(?:slicescope: .* at |Uvicorn running on )http://[^\s/]+:([1-9]\d*)/?")
    cli.wait_for(r"Application startup complete")
    return int(found.group(1))


def run_cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`python -m app ...` to its end (for bad input that must stop it at once)."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        timeout=timeout,
    )
