"""The suite's own rules hold in parallel workers too: an async test that leaves an asyncio task
running fails (tests/conftest.py), and the command line's state folder is a scratch one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LEAKY = """
import asyncio
import os


async def test_leaves_a_task_running():
    asyncio.get_running_loop().create_task(asyncio.sleep(3600))


async def test_cancels_what_it_started():
    asyncio.get_running_loop().create_task(asyncio.sleep(3600)).cancel()


def test_state_home_is_a_scratch_folder():
    assert os.path.basename(os.environ["XDG_STATE_HOME"]).startswith("slicescope-state-")
"""


def test_a_leaked_task_fails_its_test_under_xdist(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("XDG_STATE_HOME", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-n", "2",
         "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "3 passed, 1 error" in out, out  # the check is the fixture's teardown
    assert "ERROR test_leaky.py::test_leaves_a_task_running" in out
    assert "test left asyncio tasks running" in out
