"""Reads a recording: the header (or a RecordingError naming the file), then every valid entry up to
the first corrupt or truncated line, remembering where and why it stopped."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from app.recording.format import Entry, Header, RecordingError, parse_header, parse_item

MAX_DEPTH = 1024  # the JSON parser's limit: a line nested deeper is damage, not a recording


def _decode(raw: bytes) -> object:
    """A line's JSON; UnicodeDecodeError for bytes that are not UTF-8, ValueError otherwise (also
    for nesting deeper than MAX_DEPTH, which the parser refuses instead of recursing)."""
    text = raw.decode("utf-8")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        if "depth" in str(e) or "recursion" in str(e):
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
        raise


class RecordingReader:
    """`RecordingReader(path)` reads the header at once; iterating yields the entries. After the
    iteration `stopped_at` is None, or "line N: <why>" for a corrupt or truncated line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.stopped_at: str | None = None
        try:
            self._file: BinaryIO = open(self.path, "rb")  # closed when iterated, or by close()
        except OSError as e:
            raise RecordingError(f"{self.path}: cannot open the recording: {e.strerror or e}") from None
        try:
            self.header = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def _fail(self, why: str) -> RecordingError:
        return RecordingError(f"{self.path}: {why}")

    def _read_header(self) -> Header:
        raw = self._file.readline()
        if not raw.strip():
            if raw == b"":
                raise self._fail("the file is empty; this is not a slicescope recording")
            raise self._fail("the first line is blank; this is not a slicescope recording")
        if not raw.endswith(b"\n"):
            # a header cut short: nothing else can follow, and the header may be incomplete
            try:
                data = _decode(raw)
            except ValueError:
                raise self._fail("the header line is cut short (the recording was truncated)") from None
        else:
            try:
                data = _decode(raw)
            except ValueError:
                raise self._fail("the first line is not JSON; this is not a slicescope recording") from None
        try:
            return parse_header(data)
        except ValueError as e:
            raise self._fail(str(e)) from None

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[Entry]:
        line_no = 1
        last_t = 0.0
        try:
            for raw in self._file:
                line_no += 1
                if not raw.strip():
                    continue  # a blank line carries nothing; tolerate it
                complete = raw.endswith(b"\n")
                try:
                    data = _decode(raw)
                except UnicodeDecodeError:
                    self.stopped_at = f"line {line_no}: not UTF-8 text"
                    return
                except ValueError as e:
                    if complete:
                        self.stopped_at = f"line {line_no}: not valid JSON ({e})"
                    else:
                        self.stopped_at = f"line {line_no}: cut short (the recording was truncated)"
                    return
                try:
                    t, item = parse_item(data)
                except ValueError as e:
                    self.stopped_at = f"line {line_no}: {e}"
                    return
                last_t = max(last_t, t)  # a clock stepping back must not reorder playback
                yield Entry(last_t, item, line_no)
        finally:
            self.close()


@dataclass
class Recording:
    """A whole recording in memory: what a replay plays, seeks in and reports on."""

    path: Path
    header: Header
    entries: list[Entry] = field(default_factory=list)
    stopped_at: str | None = None  # "line N: <why>" when a corrupt or truncated line ended it

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def duration(self) -> float:
        return self.entries[-1].t if self.entries else 0.0


def read_recording(path: str | Path) -> Recording:
    """Everything valid in the file. RecordingError when nothing can be played (see RecordingReader)."""
    reader = RecordingReader(path)
    entries = list(reader)
    return Recording(reader.path, reader.header, entries, reader.stopped_at)
