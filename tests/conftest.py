"""Suite-wide rules: warnings are errors (pyproject), an async test that leaves tasks running fails,
and the command line's per-user state ($XDG_STATE_HOME) is a scratch folder, never the user's own."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile

import pytest

_STATE_HOME = "XDG_STATE_HOME"
_scratch = pytest.StashKey[tuple[str, "str | None"]]()


def pytest_configure(config: pytest.Config) -> None:
    # set for the whole run (and the `python -m app` processes tests start), one per xdist worker
    scratch = tempfile.mkdtemp(prefix="slicescope-state-")
    config.stash[_scratch] = (scratch, os.environ.get(_STATE_HOME))
    os.environ[_STATE_HOME] = scratch


def pytest_unconfigure(config: pytest.Config) -> None:
    scratch, before = config.stash.get(_scratch, (None, None))
    if scratch is None:
        return
    if before is None:
        os.environ.pop(_STATE_HOME, None)
    else:
        os.environ[_STATE_HOME] = before
    shutil.rmtree(scratch, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("asyncio") is not None and isinstance(item, pytest.Function):
            item.fixturenames.insert(0, "_no_leaked_tasks")


@pytest.fixture
async def _no_leaked_tasks():
    before = set(asyncio.all_tasks())
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    for t in leaked:
        t.cancel()
    assert not leaked, f"test left asyncio tasks running: {leaked}"
