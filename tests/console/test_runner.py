"""run_kubectl with a stand-in executable: merged output order, the stripped environment and private work
dir, stdin, the time limit (SIGTERM, then SIGKILL), the output cap, exit codes and token redaction."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import pytest

from app.console.runner import REDACTED, Finished, Limits, find_kubectl, run_kubectl

TOKEN = "s3cret-token-for-tests"

FAKE = f"""#!{sys.executable}
import os, signal, sys, time
mode = sys.argv[1]
if mode == "interleave":
    for i in range(5):
        stream = sys.stdout if i % 2 == 0 else sys.stderr
        stream.write(f"line {{i}} on {{stream.name}}\\n")
        stream.flush()
elif mode == "env":
    print(" ".join(sorted(os.environ)))
    print("home-is-cwd", os.environ["HOME"] == os.getcwd())
    print("files", " ".join(sorted(os.listdir("."))))
    print(open(os.environ["KUBECONFIG"]).read())
elif mode == "stdin":
    print("got:" + sys.stdin.read())
elif mode == "flood":
    for _ in range(20000):
        sys.stdout.write("y" * 99 + "\\n")
elif mode == "utf8":
    sys.stdout.write("é" * 20000 + "\\n")
elif mode == "exit3":
    print("no such thing", file=sys.stderr)
    sys.exit(3)
elif mode == "partial":
    sys.stdout.write("no newline at the end")
"""


# A command that hangs, as a shell script: it starts (and ignores SIGTERM, when stubborn) in a
# moment even on a busy machine, where a Python interpreter may take longer than the time limit
# under test to come up.
HANGING = """#!/bin/sh
[ "$1" = stubborn ] && trap '' TERM
echo started
exec sleep 600
"""
STARTS_WITHIN = 3.0  # seconds a shell script surely needs at most to print, however busy the machine


@pytest.fixture
def fake(tmp_path: Path) -> str:
    path = tmp_path / "kubectl"
    path.write_text(FAKE)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def hanging(tmp_path: Path) -> str:
    path = tmp_path / "hanging-kubectl"
    path.write_text(HANGING)
    path.chmod(0o755)
    return str(path)


async def collect(fake: str, *args: str, **kwargs: object) -> tuple[str, Finished, list[str]]:
    items: list[str] = []
    end: Finished | None = None
    async with contextlib.aclosing(
        run_kubectl(fake, args, server_url="http://127.0.0.1:1/k8s", token=TOKEN, **kwargs)  # type: ignore[arg-type]
    ) as run:
        async for item in run:
            if isinstance(item, Finished):
                end = item
            else:
                assert end is None, "output after Finished"
                items.append(item)
    assert end is not None
    return "".join(items), end, items


async def test_stdout_and_stderr_are_merged_in_order(fake: str) -> None:
    output, end, lines = await collect(fake, "interleave")
    assert lines == [f"line {i} on {'<stdout>' if i % 2 == 0 else '<stderr>'}\n" for i in range(5)]
    assert end == Finished(0)
    assert output.count("\n") == 5


async def test_environment_is_stripped_and_work_dir_private(fake: str) -> None:
    output, end, _ = await collect(fake, "env", files={"web-svc.yaml": "kind: Service\n"})
    names = set(output.splitlines()[0].split())
    assert names <= {"PATH", "HOME", "KUBECONFIG", "LC_CTYPE", "PWD"}, names  # the OS/python may add LC_CTYPE
    assert {"PATH", "HOME", "KUBECONFIG"} <= names
    assert "home-is-cwd True" in output
    assert "web-svc.yaml" in output.splitlines()[2]
    assert "server: http://127.0.0.1:1/k8s/t/" + REDACTED in output  # the kubeconfig's token is redacted
    assert TOKEN not in output
    assert end.exit_code == 0


async def test_stdin_is_fed(fake: str) -> None:
    output, end, _ = await collect(fake, "stdin", stdin="kind: Service\nmetadata:\n  name: x\n")
    assert output == "got:kind: Service\nmetadata:\n  name: x\n\n"
    assert end.exit_code == 0


async def test_exit_code_and_stderr_are_reported(fake: str) -> None:
    output, end, _ = await collect(fake, "exit3")
    assert output == "no such thing\n"
    assert end == Finished(3)


async def test_output_without_final_newline_is_kept(fake: str) -> None:
    output, end, _ = await collect(fake, "partial")
    assert output == "no newline at the end"
    assert end.exit_code == 0


async def test_time_limit_stops_a_hanging_command(hanging: str) -> None:
    started = time.monotonic()
    output, end, _ = await collect(hanging, "hang", seconds=STARTS_WITHIN)
    elapsed = time.monotonic() - started
    assert output == "started\n"
    assert end == Finished(None, timed_out=True)
    assert STARTS_WITHIN <= elapsed < 300  # stopped at the limit, not after the script's 600 s sleep


async def test_sigkill_after_grace_when_sigterm_is_ignored(hanging: str) -> None:
    started = time.monotonic()
    output, end, _ = await collect(
        hanging, "stubborn", seconds=STARTS_WITHIN, limits=Limits(kill_grace_seconds=0.3)
    )
    assert output == "started\n"  # it was up, ignoring SIGTERM, when the limit came
    assert end.timed_out and end.exit_code is None
    assert time.monotonic() - started < 300


async def test_output_cap_cuts_and_stops(fake: str) -> None:
    output, end, _ = await collect(fake, "flood", limits=Limits(max_output_bytes=10_000))
    assert len(output.encode()) == 10_000
    assert end.truncated and end.exit_code is None
    assert output.startswith("y" * 99 + "\n")


async def test_multibyte_characters_across_reads(fake: str) -> None:
    output, end, _ = await collect(fake, "utf8")
    assert output == "é" * 20000 + "\n"
    assert end.exit_code == 0


async def test_closing_early_stops_kubectl(hanging: str) -> None:
    run = run_kubectl(hanging, ["hang"], server_url="http://127.0.0.1:1/k8s", token=TOKEN, seconds=300)
    async with contextlib.aclosing(run):
        first = await anext(run)
        started = time.monotonic()
    assert first == "started\n"
    assert time.monotonic() - started < 60  # stopped at the close: not the 300 s limit nor the sleep


def test_find_kubectl_returns_an_executable() -> None:
    found = find_kubectl()
    assert found is not None and Path(found).is_file()
