"""A background `kubectl ... -w` whose output lines are collected by a reader thread."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from tests.k8sapi.harness import wait_for


class KubectlWatch:
    def __init__(self, kubeconfig: Path, *args: str) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        env = {**os.environ, "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            ["kubectl", "--kubeconfig", str(kubeconfig), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stderr = ""
        self._out = threading.Thread(target=self._read, daemon=True)
        self._out.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def wait_line(
        self, pred: Callable[[str], bool], *, after: int = 0, timeout: float = 30, what: str = ""
    ) -> str:
        """The first line (from index `after`) satisfying pred, waiting for it to be printed."""

        def find() -> str | None:
            return next((ln for ln in self.snapshot()[after:] if pred(ln)), None)

        return wait_for(find, timeout=timeout, what=what or "a kubectl watch line")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.stderr = err or ""
        self._out.join(timeout=5)
