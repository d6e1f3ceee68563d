"""Memory habits of watching a large cluster: the allocator told to give MB-sized list buffers back at
once, and the cyclic collector paused while the first lists load, then told the loaded view is
long-lived. Process-wide switches, used by the real-cluster source only."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_tuned = False


def tune_allocator() -> bool:
    """glibc raises its mmap threshold each time a large block is freed, so the MB-sized list pages
    end up in its heaps and stay there after they are freed (and every reader thread gets a heap of
    its own). A fixed threshold sends them back to the OS on free; two heaps are plenty here.
    Returns False where there is no glibc (nothing to do)."""
    global _tuned
    if _tuned:
        return True
    libc = _libc()
    if libc is None:
        return False
    try:
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024) == 1 and libc.mallopt(_M_ARENA_MAX, 2) == 1
    except AttributeError:
        return False
    _tuned = ok
    return ok


def trim() -> None:
    """Hand the allocator's free pages back to the OS (after the first lists: their buffers are gone)."""
    libc = _libc()
    with contextlib.suppress(AttributeError):
        if libc is not None:
            libc.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


class CollectorPause:
    """The cyclic garbage collector off while the first lists load (their objects are acyclic JSON
    that reference counting frees; collections would only walk the growing view again and again),
    back on when the view is live or after `limit` seconds whatever happens. Then one collection,
    and gc.freeze(): the loaded view is long-lived, so later collections need not walk it."""

    def __init__(self, limit: float = 120.0) -> None:
        self.limit = limit
        self.paused = False
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if not gc.isenabled():
            return  # someone else decides
        gc.disable()
        self.paused = True
        with contextlib.suppress(RuntimeError):
            self._timer = asyncio.get_running_loop().call_later(self.limit, self.resume)

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.enable()
        gc.collect()
        gc.freeze()
        trim()
