"""A recording as a Source: emits its items at their recorded times scaled by a speed, with play,
pause, speed and seek (a seek rebuilds the state at that time: one Resync per kind, no ghosts). It
opens paused at the start, and hands the recorded lesson panel's states to `on_classroom`."""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.recording.format import ClassroomNote, RecordedItem, State
from app.recording.reader import Recording, read_recording
from app.sources.base import ClusterInfo, Emit, Resync, Status

log = logging.getLogger(__name__)

MIN_SPEED = 0.1
MAX_SPEED = 100.0


def replay_info(recording: Recording) -> ClusterInfo:
    """What the page shows: a replay of this file, and which cluster it was recorded on."""
    orig = recording.header.cluster
    recorded = orig.name + (f" ({orig.server})" if orig.server else "")
    return ClusterInfo(
        mode="replay",
        name=recording.name,
        namespaces=orig.namespaces,
        read_only=True,
        extra={"recorded": recorded},
    )


def check_speed(speed: Any) -> float:
    """The speed as a float, or ValueError saying what is allowed."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
        raise ValueError(f"speed must be a number, not {speed!r}")
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g}, not {speed:g}")
    return float(speed)


DUE_SLACK = 1e-6  # seconds


class ReplaySource:
    """Plays a Recording. `clock` (monotonic seconds) and `sleep` are injectable so tests never wait;
    `on_seek` runs before a seek's rebuilt state is emitted (e.g. to start the view afresh);
    `on_classroom(value)` gets each recorded classroom state (meta.classroom) as it comes, and the one
    in force after a seek (None before any). It opens paused at 0 unless `playing`."""

    def __init__(
        self,
        recording: Recording,
        *,
        speed: float = 1.0,
        playing: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_seek: Callable[[], None] | None = None,
        on_classroom: Callable[[dict[str, Any] | None], None] | None = None,
    ) -> None:
        self.recording = recording
        self.info = replay_info(recording)
        self._entries = recording.entries
        self._times = [e.t for e in recording.entries]
        # The recording opens with the source's first status and lists, written a few ms after
        # t=0: they are the state "at the start", so a seek to 0 shows them (not a blank page).
        self._opening = next(
            (
                i
                for i, e in enumerate(recording.entries)
                if not isinstance(e.item, Status | Resync)
                and not (isinstance(e.item, ClassroomNote) and e.t == 0)
            ),
            len(recording.entries),
        )
        self._speed = check_speed(speed)
        self._playing = playing
        self._clock = clock
        self._sleep = sleep
        self.on_seek = on_seek
        self.on_classroom = on_classroom
        self._base_pos = 0.0
        self._base_clock = clock()
        self._next = 0  # index of the next entry to emit
        self._emit: Emit | None = None
        self._wake: asyncio.Event | None = None
        self._problem = (
            f"recording stopped at {recording.stopped_at}" if recording.stopped_at is not None else None
        )

    @classmethod
    def open(cls, path: str | Path, **kwargs: Any) -> ReplaySource:
        """Read the file (RecordingError when it cannot be played at all) and make its source."""
        return cls(read_recording(path), **kwargs)

    # ------------------------------------------------------------ state

    @property
    def duration(self) -> float:
        return self.recording.duration

    @property
    def position(self) -> float:
        if not self._playing:
            return self._base_pos
        elapsed = max(0.0, self._clock() - self._base_clock)
        return min(self.duration, self._base_pos + elapsed * self._speed)

    def now(self) -> float:
        """The recorded epoch time at the current position (for the view's timeline times)."""
        return self.recording.header.started + self.position

    def state(self) -> dict[str, Any]:
        return {
            "playing": self._playing,
            "speed": self._speed,
            "position": round(self.position, 3),
            "duration": round(self.duration, 3),
            "stoppedAt": self.recording.stopped_at,
        }

    def _rebase(self, position: float) -> None:
        self._base_pos = position
        self._base_clock = self._clock()

    # ------------------------------------------------------------ controls

    def play(self) -> dict[str, Any]:
        if not self._playing:
            if self._next >= len(self._entries) and self._base_pos >= self.duration and self._entries:
                self.seek(0.0)  # play at the end starts again
            self._rebase(self._base_pos)
            self._playing = True
            self._poke()
        return self.state()

    def pause(self) -> dict[str, Any]:
        if self._playing:
            self._rebase(self.position)
            self._playing = False
            self.pump()
            self._poke()
        return self.state()

    def set_speed(self, speed: Any) -> dict[str, Any]:
        speed = check_speed(speed)
        self._rebase(self.position)
        self._speed = speed
        self._poke()
        return self.state()

    def seek(self, position: Any) -> dict[str, Any]:
        """Go to `position` seconds: the state there is rebuilt from the recording up to it."""
        if isinstance(position, bool) or not isinstance(position, int | float) or not math.isfinite(position):
            raise ValueError(f"position must be a number of seconds, not {position!r}")
        position = min(max(0.0, float(position)), self.duration)
        self._next = max(bisect.bisect_right(self._times, position), self._opening)
        self._rebase(position)
        if self._emit is not None:
            self._emit_state()
        self._poke()
        return self.state()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------ feeding

    def _send(self, item: RecordedItem) -> None:
        assert self._emit is not None
        if isinstance(item, ClassroomNote):
            self._classroom(item.value)
            return
        if isinstance(item, Status) and self._problem is not None and self._problem not in item.problems:
            item = replace(item, problems=(*item.problems, self._problem))
        try:
            self._emit(item)
        except Exception:  # one bad item must not end the replay
            log.exception("replay: emitting a %s failed", type(item).__name__)

    def _emit_state(self) -> None:
        if self.on_seek is not None:
            try:
                self.on_seek()
            except Exception:
                log.exception("replay: on_seek failed")
        folded = State()
        for entry in self._entries[: self._next]:
            folded.apply(entry.item)
        kinds = tuple(k for k in dict.fromkeys(getattr(e.item, "kind", "") for e in self._entries) if k)
        for item in folded.items(kinds):
            self._send(item)
        if folded.classroom is None:
            self._classroom(None)  # before the lesson began: no lesson panel

    def _classroom(self, value: dict[str, Any] | None) -> None:
        """Show a recorded lesson state. Played back, nobody presents: the page only shows it."""
        if self.on_classroom is None:
            return
        if value is not None:
            value = {**value, "presenting": False}
        try:
            self.on_classroom(value)
        except Exception:
            log.exception("replay: showing the lesson's state failed")

    def attach(self, emit: Emit) -> None:
        """Start feeding `emit` (run() does this): the corrupt-tail notice, and the state at the
        current position when a seek came first. Then pump() emits whatever is due."""
        self._emit = emit
        if self._problem is not None:
            first = next((e.item for e in self._entries if isinstance(e.item, Status)), None)
            self._send(first if first is not None else Status("live", since=self.recording.header.started))
        if self._next > 0:
            self._emit_state()

    def pump(self) -> None:
        """Emit every entry due at the current position; at the end, stop playing."""
        if self._emit is None:
            return
        # Due a microsecond early: base + elapsed * speed can land an ulp short of an entry's time,
        # and a sleep of one ulp does not move a large clock value (the loop would spin on it).
        position = self.position + DUE_SLACK
        while self._next < len(self._entries) and self._entries[self._next].t <= position:
            entry = self._entries[self._next]
            self._next += 1
            self._send(entry.item)
        if self._playing and self._next >= len(self._entries) and position >= self.duration:
            self._playing = False
            self._rebase(self.duration)

    def _delay(self) -> float | None:
        """Real seconds until the next entry is due, or None when nothing will be until a control."""
        if not self._playing or self._next >= len(self._entries):
            return None
        return max(0.0, (self._entries[self._next].t - self.position) / self._speed)

    async def run(self, emit: Emit) -> None:
        self._wake = asyncio.Event()
        self.attach(emit)
        try:
            while True:
                self.pump()
                delay = self._delay()
                self._wake.clear()
                if delay is None:
                    await self._wake.wait()
                else:
                    await self._sleep_or_wake(delay)
        finally:
            self._emit = None
            self._wake = None

    async def _sleep_or_wake(self, delay: float) -> None:
        assert self._wake is not None
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)
