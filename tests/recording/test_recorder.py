"""Recorder: every item goes on to the view and into the file, line by line (a reader sees a valid
prefix while it records); start/stop at runtime; the size and count guards; write errors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.recording import Recorder, RecordingError, read_recording
from app.sources.base import Change, ClusterInfo, Emit, Resync, SourceItem, Status

INFO = ClusterInfo(mode="kube", name="prod", server="https://10.0.0.1:6443", namespaces=("shop",))


def pod(name: str, ns: str = "shop", **labels: str) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels}}


class Clock:
    def __init__(self) -> None:
        self.now = 1767225600.0

    def __call__(self) -> float:
        return self.now


MakeRecorder = Callable[..., Recorder]


@pytest.fixture
def new_recorder() -> Iterator[MakeRecorder]:
    """Recorder(INFO, ...) that is stopped (its file closed) when the test ends."""
    made: list[Recorder] = []

    def make(**kwargs: object) -> Recorder:
        made.append(Recorder(INFO, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for recorder in made:
        recorder.stop()


def tapped(recorder: Recorder) -> tuple[list[SourceItem], Emit]:
    seen: list[SourceItem] = []
    return seen, recorder.tap(seen.append)


def test_items_pass_through_and_are_written_with_their_offsets(
    tmp_path: Path, new_recorder: MakeRecorder
) -> None:
    clock = Clock()
    recorder = new_recorder(clock=clock)
    seen, emit = tapped(recorder)
    path = tmp_path / "r.jsonl"
    recorder.start(path)
    items: list[SourceItem] = [
        Status("live", "watching", since=clock.now, problems=("cannot list Endpoints",)),
        Resync("Pod", [pod("a", app="web")], namespace="shop"),
    ]
    for item in items:
        emit(item)
    clock.now += 2.5
    items.append(Change("MODIFIED", "Pod", pod("a", app="debug")))
    emit(items[-1])
    assert seen == items

    # flushed line by line: readable while still recording
    rec = read_recording(path)
    assert [e.item for e in rec.entries] == items
    assert [e.t for e in rec.entries] == [0, 0, 2.5]
    assert rec.header.cluster == INFO and rec.header.started == 1767225600.0
    assert recorder.status()["items"] == 3 and recorder.status()["recording"] is True

    status = recorder.stop()
    assert status["recording"] is False and status["path"] == str(path) and status["message"] is None
    clock.now += 1
    emit(Change("DELETED", "Pod", pod("a")))
    assert len(seen) == 4 and len(read_recording(path).entries) == 3  # stopped: not written


def test_a_recording_started_mid_session_begins_with_the_state_so_far(
    tmp_path: Path, new_recorder: MakeRecorder
) -> None:
    from app.view.engine import ViewEngine

    clock = Clock()
    view = ViewEngine(INFO, actions_enabled=False, now=clock)
    recorder = new_recorder(clock=clock, opening=view.opening_items)
    emit = recorder.tap(view.apply)
    assert recorder._file is None and not hasattr(recorder, "_state")  # keeps nothing while not recording
    emit(Status("reconnecting", "watch dropped", since=clock.now))
    emit(Resync("Pod", [pod("a"), pod("b")], namespace="shop"))
    emit(Resync("Pod", [pod("x", ns="other")], namespace="other"))
    emit(Change("ADDED", "Pod", pod("c")))
    emit(Change("DELETED", "Pod", pod("a")))
    emit(Change("ADDED", "Service", {"kind": "Service", "metadata": {"name": "web", "namespace": "shop"}}))
    clock.now += 60
    path = tmp_path / "late.jsonl"
    recorder.start(path)
    clock.now += 3
    emit(Change("DELETED", "Pod", pod("b")))

    rec = read_recording(path)
    assert rec.header.started == clock.now - 3
    entries = [(e.t, e.item) for e in rec.entries]
    assert entries[0] == (0, Status("reconnecting", "watch dropped", since=1767225600.0))
    resyncs = {item.kind: item for t, item in entries if isinstance(item, Resync)}
    assert all(t == 0 for t, item in entries[:-1])
    assert [o["metadata"]["name"] for o in resyncs["Pod"].objs] == ["x", "b", "c"]  # sorted by (ns, name)
    assert resyncs["Pod"].namespace is None
    assert [o["metadata"]["name"] for o in resyncs["Service"].objs] == ["web"]
    assert resyncs["Endpoints"].objs == []  # every watched kind, so a replay starts from exactly this
    assert entries[-1] == (3, Change("DELETED", "Pod", pod("b")))


def test_the_size_guard_stops_with_a_clear_message_and_a_valid_file(
    tmp_path: Path, new_recorder: MakeRecorder
) -> None:
    clock = Clock()
    recorder = new_recorder(clock=clock, max_bytes=2000)
    seen, emit = tapped(recorder)
    path = tmp_path / "big.jsonl"
    recorder.start(path)
    for i in range(50):
        clock.now += 1
        emit(Change("ADDED", "Pod", pod(f"pod-{i:03}", app="web")))
    assert len(seen) == 50  # the feed never stops
    status = recorder.status()
    assert status["recording"] is False
    assert status["message"].startswith("stopped at the size limit of 2000 bytes;")
    assert str(path) in status["message"]
    assert path.stat().st_size <= 2000
    rec = read_recording(path)
    assert rec.stopped_at is None and len(rec.entries) == status["items"] > 5
    assert rec.entries[-1].item == Change("ADDED", "Pod", pod(f"pod-{status['items'] - 1:03}", app="web"))


def test_the_count_guard(tmp_path: Path, new_recorder: MakeRecorder) -> None:
    recorder = new_recorder(clock=Clock(), max_items=10)
    _, emit = tapped(recorder)
    recorder.start(tmp_path / "n.jsonl")
    for i in range(14):
        emit(Change("ADDED", "Pod", pod(f"p{i}")))
    assert recorder.status()["message"].startswith("stopped at the limit of 10 items;")
    assert len(read_recording(tmp_path / "n.jsonl").entries) == 10
    recorder.start(tmp_path / "n2.jsonl")  # a new recording starts afresh, with the state so far
    assert recorder.status()["message"] is None and recorder.status()["recording"] is True


def test_start_twice_and_unwritable_paths_are_clear_errors(
    tmp_path: Path, new_recorder: MakeRecorder
) -> None:
    recorder = new_recorder(clock=Clock())
    seen, emit = tapped(recorder)
    recorder.start(tmp_path / "one.jsonl")
    with pytest.raises(RecordingError, match=r"already recording to .*one\.jsonl; stop that first"):
        recorder.start(tmp_path / "two.jsonl")
    recorder.stop()
    recorder.stop()  # idempotent
    with pytest.raises(RecordingError, match=r"nodir/x\.jsonl: cannot write the recording: No such file"):
        recorder.start(tmp_path / "nodir" / "x.jsonl")
    assert recorder.recording is False
    with pytest.raises(RecordingError, match="there is already a file of that name"):
        recorder.start("/dev/full")  # an existing file (here a device) is never written over
    assert recorder.recording is False
    emit(Status("live"))
    assert seen == [Status("live")]


def test_a_full_disk_stops_the_recording_with_a_clear_message(
    tmp_path: Path, new_recorder: MakeRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from app.recording import recorder as recorder_module

    class FullDisk(io.BufferedWriter):
        budget = 0

        def write(self, data: bytes) -> int:  # type: ignore[override]
            if FullDisk.budget < len(data):
                raise OSError(errno.ENOSPC, "No space left on device")
            FullDisk.budget -= len(data)
            return super().write(data)

    monkeypatch.setattr(recorder_module, "create_new", lambda path: FullDisk(io.FileIO(path, "xb")))
    recorder = new_recorder(clock=Clock())
    seen, emit = tapped(recorder)
    with pytest.raises(RecordingError, match="No space left on device"):
        recorder.start(tmp_path / "full.jsonl")  # the header cannot be written
    assert recorder.recording is False
    FullDisk.budget = 400  # room for the header and a line or two
    recorder.start(tmp_path / "later.jsonl")
    for i in range(20):
        emit(Change("ADDED", "Pod", pod(f"p{i}")))
    assert len(seen) == 20  # the feed went on
    status = recorder.status()
    assert status["recording"] is False and "No space left on device" in status["message"]
    rec = read_recording(tmp_path / "later.jsonl")
    assert rec.stopped_at is None and 0 < len(rec.entries) < 20  # a valid prefix


def test_recording_never_replaces_a_file_and_never_follows_a_symlink(
    tmp_path: Path, new_recorder: MakeRecorder
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me too")
    (tmp_path / "link.jsonl").symlink_to(elsewhere)
    (tmp_path / "dangling.jsonl").symlink_to(tmp_path / "missing.jsonl")
    recorder = new_recorder(clock=Clock())
    with pytest.raises(RecordingError, match=r"precious\.txt: there is already a file of that name"):
        recorder.start(precious)
    with pytest.raises(RecordingError, match=r"link\.jsonl: there is already a symlink of that name"):
        recorder.start(tmp_path / "link.jsonl")
    with pytest.raises(RecordingError, match=r"dangling\.jsonl: there is already a symlink"):
        recorder.start(tmp_path / "dangling.jsonl")
    assert precious.read_text() == "keep me" and elsewhere.read_text() == "keep me too"
    assert not (tmp_path / "missing.jsonl").exists()
    recorder.start(tmp_path / "new.jsonl")
    recorder.stop()
    assert (tmp_path / "new.jsonl").stat().st_mode & 0o777 == 0o600


def test_an_item_json_cannot_carry_is_skipped_not_fatal(tmp_path: Path, new_recorder: MakeRecorder) -> None:
    recorder = new_recorder(clock=Clock())
    seen, emit = tapped(recorder)
    recorder.start(tmp_path / "s.jsonl")
    emit(Change("ADDED", "Pod", {**pod("weird"), "spec": {"bad": {1, 2}}}))
    emit(Change("ADDED", "Pod", pod("fine")))
    assert len(seen) == 2
    assert recorder.status()["skipped"] == 1
    entries = read_recording(tmp_path / "s.jsonl").entries
    assert [e.item.obj["metadata"]["name"] for e in entries] == ["fine"]  # type: ignore[union-attr]


def test_lines_are_plain_json_lines(tmp_path: Path, new_recorder: MakeRecorder) -> None:
    recorder = new_recorder(clock=Clock())
    _, emit = tapped(recorder)
    recorder.start(tmp_path / "p.jsonl")
    emit(Change("ADDED", "Pod", pod("naïve\u2028name")))
    recorder.stop()
    lines = (tmp_path / "p.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert json.loads(lines[1]) == {
        "t": 0,
        "item": "change",
        "type": "ADDED",
        "kind": "Pod",
        "obj": pod("naïve\u2028name"),
    }
