"""Reading recordings: a truncated or corrupt file plays its valid prefix and says at which line it
stopped (also on the page, as a problem); an unplayable file is a RecordingError naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.recording import RecordingError, read_recording
from app.sources.replay import ReplaySource
from tests.recording import FakeTime, Session, Watcher, record_lesson


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return record_lesson(tmp_path_factory.mktemp("rec") / "lesson.jsonl")


def lines_of(session: Session) -> list[bytes]:
    return session.path.read_bytes().splitlines(keepends=True)


def replay_all(path: Path) -> tuple[ReplaySource, Watcher]:
    fake = FakeTime()
    replay = ReplaySource.open(path, clock=fake.clock, sleep=fake.sleep, playing=True)
    watcher = Watcher(replay.info, now=replay.now)
    replay.attach(watcher.apply)
    fake.now += 100_000
    replay.pump()
    return replay, watcher


def test_a_whole_recording_reads_back(session: Session) -> None:
    rec = read_recording(session.path)
    assert rec.stopped_at is None
    assert rec.header.version == 1 and rec.header.cluster.name == "simulated cluster"
    assert [e.line for e in rec.entries] == list(range(2, len(lines_of(session)) + 1))
    assert rec.duration == pytest.approx(session.times[-1])  # the last item's time
    assert session.marks["delete"] < rec.duration <= session.marks["end"]
    first = json.loads(lines_of(session)[0])
    assert set(first) == {"slicescope-recording", "cluster", "started"}


def test_a_file_cut_mid_line_plays_its_valid_prefix(session: Session, tmp_path: Path) -> None:
    lines = lines_of(session)
    n = 40  # file line number that gets cut; entries 2..n-1 stay whole
    cut = b"".join(lines[: n - 1]) + lines[n - 1][: len(lines[n - 1]) // 2]
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)

    rec = read_recording(path)
    assert len(rec.entries) == n - 2
    assert rec.stopped_at == f"line {n}: cut short (the recording was truncated)"

    replay, watcher = replay_all(path)
    assert watcher.views[-1] == session.views[n - 3]  # the live view after the last whole line
    assert watcher.views[-(n - 2) :] == session.views[: n - 2]
    assert replay.state()["stoppedAt"] == rec.stopped_at
    problem = f"recording stopped at line {n}: cut short (the recording was truncated)"
    assert watcher.meta["connection"]["problems"] == [problem]
    assert watcher.meta["cluster"]["mode"] == "replay"


def test_a_corrupt_line_in_the_middle_stops_there(session: Session, tmp_path: Path) -> None:
    lines = lines_of(session)
    n = 25
    path = tmp_path / "corrupt.jsonl"
    path.write_bytes(b"".join([*lines[: n - 1], b'{"t": 12, "item": "change", "obj": {"oops\n', *lines[n:]]))

    rec = read_recording(path)
    assert len(rec.entries) == n - 2
    assert rec.stopped_at is not None and rec.stopped_at.startswith(f"line {n}: not valid JSON")
    replay, watcher = replay_all(path)
    assert watcher.current() == session.views[n - 3]
    assert replay.state()["duration"] == pytest.approx(session.times[n - 3])
    assert watcher.meta["connection"]["problems"] == [f"recording stopped at {rec.stopped_at}"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            b'{"t": 5, "item": "teleport"}\n',
            "\"item\" must be change, resync, status or classroom, not 'teleport'",
        ),
        (b'{"t": -1, "item": "status", "state": "live"}\n', '"t" must be a number of seconds >= 0'),
        (
            b'{"t": 5, "item": "change", "type": "ADDED", "kind": "Pod"}\n',
            'a change needs an object in "obj"',
        ),
        (b'{"t": 5, "item": "status", "state": "sleepy"}\n', "status state 'sleepy' is not one of"),
        (b"[1, 2]\n", "the line is not a JSON object"),
        (b"\xff\xfe{}\n", "not UTF-8 text"),
    ],
)
def test_a_line_that_is_json_but_not_an_item_stops_there(
    session: Session, tmp_path: Path, line: bytes, why: str
) -> None:
    lines = lines_of(session)
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join([*lines[:10], line, *lines[10:]]))
    rec = read_recording(path)
    assert len(rec.entries) == 9
    assert rec.stopped_at is not None and rec.stopped_at.startswith(f"line 11: {why}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the first line is blank"),
        (b'{"t": 0, "item": "status", "state": "live"}\n', 'has no "slicescope-recording" header'),
        (b"hello, world\n", "the first line is not JSON"),
        (
            b'{"slicescope-recording": 2, "cluster": {"mode": "sim", "name": "x"}, "started": 0}\n',
            "version 2",
        ),
        (b'{"slicescope-recording": 1, "cluster": {"mode": "sim", "na', "header line is cut short"),
        (b'{"slicescope-recording": 1, "cluster": {"mode": "moon"}, "started": 0}\n', "cluster mode"),
    ],
)
def test_an_unplayable_file_is_a_clear_error_naming_it(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(content)
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    with pytest.raises(RecordingError, match=r"broken\.jsonl"):
        ReplaySource.open(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"nothere\.jsonl: cannot open the recording: No such file"):
        read_recording(tmp_path / "nothere.jsonl")


def test_a_header_only_recording_plays_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(
        '{"slicescope-recording": 1, "cluster": {"mode": "kube", "name": "prod", '
        '"server": "https://10.0.0.1:6443"}, "started": 1767225600}\n'
    )
    replay, watcher = replay_all(path)
    assert replay.info.extra == {"recorded": "prod (https://10.0.0.1:6443)"}
    assert replay.state() == {
        "playing": False,
        "speed": 1.0,
        "position": 0,
        "duration": 0,
        "stoppedAt": None,
    }
    assert watcher.items == []


def test_absurd_nesting_plays_up_to_the_damage_and_says_so(session: Session, tmp_path: Path) -> None:
    """One line nested 20,000 deep (a hostile or broken file): everything before it plays, the replay
    says where and why it stopped; no RecursionError, no traceback."""
    lines = lines_of(session)
    n = 25
    deep = b'{"t": 12, "item": "change", "type": "ADDED", "kind": "Pod", "obj": ' + b"[" * 20_000
    deep += b"]" * 20_000 + b"}\n"
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"".join([*lines[: n - 1], deep, *lines[n:]]))
    rec = read_recording(path)
    assert len(rec.entries) == n - 2
    assert rec.stopped_at == f"line {n}: not valid JSON (nested deeper than 1024 levels)"
    _, watcher = replay_all(path)
    assert watcher.current() == session.views[n - 3]
    assert watcher.meta["connection"]["problems"] == [f"recording stopped at {rec.stopped_at}"]

    header = tmp_path / "deep-header.jsonl"
    header.write_bytes(b'{"slicescope-recording": ' + b"[" * 20_000 + b"]" * 20_000 + b"}\n")
    with pytest.raises(RecordingError, match=r"deep-header\.jsonl: the first line is not JSON"):
        read_recording(header)


def test_the_cli_replays_a_deeply_nested_recording_without_a_traceback(
    session: Session, tmp_path: Path
) -> None:
    """`slicescope --replay` of such a file serves the valid part and names the damage on the page."""
    import subprocess
    import sys

    from tests.fixtures_app import wait_for

    lines = lines_of(session)
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"".join([*lines[:10], b"[" * 20_000 + b"]" * 20_000 + b"\n", *lines[10:]]))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "--replay", str(path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        import httpx

        snap = wait_for(
            lambda: _get_json(httpx, f"http://127.0.0.1:{port}/api/snapshot"),
            timeout=60,
            what="the replay's page",
        )
        problems = snap["meta"]["connection"]["problems"]
        assert problems == ["recording stopped at line 11: not valid JSON (nested deeper than 1024 levels)"]
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode()
    assert "Traceback" not in out and "RecursionError" not in out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(httpx: object, url: str) -> object:
    try:
        r = httpx.get(url, timeout=5)  # type: ignore[attr-defined]
        return r.json() if r.status_code == 200 else None
    except Exception:
        return None
