"""Recorder: taps a source's emit callback and writes every item it passes on to a recording file,
one flushed line at a time (a crash leaves a valid prefix), with the classroom's state as it changes.
Can start and stop while the app runs. It keeps nothing while not recording but the last classroom
state: a recording started mid-session begins with the state the view holds (its `opening` items)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from app.recording.format import ClassroomNote, RecordedItem, RecordingError, header_line, item_line
from app.sources.base import ClusterInfo, Emit, SourceItem

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # a lesson on the simulator is well under 1 MB
DEFAULT_MAX_ITEMS = 1_000_000


def create_new(path: Path) -> BinaryIO:
    """Open a file that did not exist, for writing: exclusive create (an existing file is never
    truncated, whatever it is) and no symlink followed at the last step; readable by the owner only
    (a recording of a real cluster holds its names and addresses). RecordingError says why not."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        kind = "a symlink" if path.is_symlink() else "a file"
        raise RecordingError(
            f"{path}: there is already {kind} of that name; a recording never replaces one "
            "(choose another name)"
        ) from None
    except OSError as e:
        raise RecordingError(f"{path}: cannot write the recording: {e.strerror or e}") from None
    return os.fdopen(fd, "wb")


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


class Recorder:
    """Sees every item (`tap`) and while recording writes them. A recording started mid-session
    begins with `opening()`, the state so far (a Status and a Resync per kind, from the view), so it
    plays on its own. Writing never breaks the feed: a write error or the size guard stops the
    recording and says why in `status()["message"]`."""

    def __init__(
        self,
        cluster: ClusterInfo,
        *,
        opening: Callable[[], Iterable[SourceItem]] | None = None,
        clock: Callable[[], float] = time.time,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self.cluster = cluster
        self.opening = opening
        self._clock = clock
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        self._started = 0.0
        self._last_t = 0.0
        self.items = 0
        self.bytes = 0
        self.skipped = 0
        self.message: str | None = None  # why the last recording ended early, or failed to start
        self._classroom: dict[str, Any] | None = None  # the lesson panel's state now (meta.classroom)

    # ------------------------------------------------------------ the feed

    def tap(self, emit: Emit) -> Emit:
        """An emit that records each item, then hands it on to `emit`."""

        def tapped(item: SourceItem) -> None:
            self.observe(item)
            emit(item)

        return tapped

    def observe(self, item: SourceItem) -> None:
        if self._file is None:
            return  # not recording: nothing to keep
        with self._lock:
            if self._file is not None:
                self._write_item(item)

    def note_classroom(self, value: dict[str, Any] | None) -> None:
        """The classroom's state changed (a lesson started, stepped, its checks settled): record it."""
        with self._lock:
            if value == self._classroom:
                return  # the same again (e.g. no lesson at start): nothing new to play back
            self._classroom = value
            if self._file is not None:
                self._write_item(ClassroomNote(value))

    # ------------------------------------------------------------ start / stop

    @property
    def recording(self) -> bool:
        return self._file is not None

    def start(self, path: str | Path) -> dict[str, Any]:
        """Begin writing to `path`, a new file (never one that exists, never through a symlink): the
        header, the current state, then every item seen. RecordingError when already recording or the
        file cannot be created."""
        path = Path(path).expanduser()
        with self._lock:
            if self._file is not None:
                raise RecordingError(f"already recording to {self.path}; stop that first")
            self._file = create_new(path)  # closed by stop()
            self.path = path
            self._started = self._clock()
            self._last_t = 0.0
            self.items = self.bytes = self.skipped = 0
            self.message = None
            if self._write(header_line(self.cluster, self._started)) and self.opening is not None:
                for item in self.opening():
                    if not self._write_item(item, t=0.0):
                        break
            if self._file is not None and self._classroom is not None:  # a lesson under way
                self._write_item(ClassroomNote(self._classroom), t=0.0)
            if self._file is None:  # the header or the current state could not be written
                raise RecordingError(self.message or f"{path}: cannot write the recording")
            log.info("recording to %s", path)
            return self._status()

    def stop(self, message: str | None = None) -> dict[str, Any]:
        """Stop recording (a no-op when not recording). The file stays a complete recording."""
        with self._lock:
            self._close(message)
            return self._status()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._status()

    # ------------------------------------------------------------ internals (lock held)

    def _status(self) -> dict[str, Any]:
        return {
            "recording": self._file is not None,
            "path": str(self.path) if self.path is not None else None,
            "items": self.items,
            "bytes": self.bytes,
            "seconds": round(self._last_t, 3),
            "skipped": self.skipped,
            "maxBytes": self.max_bytes,
            "maxItems": self.max_items,
            "message": self.message,
        }

    def _close(self, message: str | None) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as e:
            message = message or f"could not close {self.path}: {e.strerror or e}"
        self._file = None
        if message:
            self.message = message
            log.warning("recording %s ended: %s", self.path, message)

    def _write_item(self, item: RecordedItem, t: float | None = None) -> bool:
        if t is None:
            t = max(self._last_t, self._clock() - self._started)  # a clock stepping back keeps order
        if self.items >= self.max_items:
            self._close(
                f"stopped at the limit of {self.max_items} items; {self.path} holds everything up to "
                "here (start a new recording to go on)"
            )
            return False
        try:
            line = item_line(t, item)
        except (TypeError, ValueError, RecursionError) as e:  # JSON cannot carry it: skip it, go on
            self.skipped += 1
            log.warning("recording: skipped a %s that is not JSON (%s)", type(item).__name__, e)
            return True
        if self.bytes + len(line.encode()) + 1 > self.max_bytes:
            self._close(
                f"stopped at the size limit of {_size(self.max_bytes)}; {self.path} holds everything "
                "up to here (start a new recording to go on)"
            )
            return False
        if self._write(line):
            self.items += 1
            self._last_t = t
            return True
        return False

    def _write(self, line: str) -> bool:
        assert self._file is not None
        data = line.encode() + b"\n"
        try:
            self._file.write(data)
            self._file.flush()  # line by line: a crash leaves whole lines behind
        except OSError as e:
            self._close(f"could not write {self.path}: {e.strerror or e}")
            return False
        self.bytes += len(data)
        return True
