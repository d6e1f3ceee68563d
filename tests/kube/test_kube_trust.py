"""When a resume cannot be trusted the watcher lists again, and it never says live over data it has
not confirmed: an API server restarted with a fresh store (lower resourceVersions) on the same port,
whether it refuses the old versions (504, as kube-apiserver does) or takes them (as a naive one would);
versions going back inside a stream; a refusal after having been let in. Real HTTP against
bench/fakeapi.py, and scripted transports for the single steps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.kinds import KINDS
from app.settings import Settings
from app.sources.base import Resync, Status
from app.sources.kube import KubeSource
from app.sources.watching import ApiError, Clock, Target, WatchConfig, infinite_watch
from bench.fakeapi import FakeApi, fake_api
from tests.kube.fakes import FakeClock, FakeTransport, Mirror, RecordingSink, Script, event, pod, until
from tests.kube.test_kube_live import eventually

FAST = WatchConfig(
    timeout_seconds=60,
    inactivity_seconds=20,
    backoff_base=0.05,
    backoff_cap=0.3,
    refused_base=0.2,
    refused_cap=0.5,
)
PODS = Target(KINDS["Pod"])


@contextlib.asynccontextmanager
async def watching(api: FakeApi, tmp_path: Path) -> AsyncIterator[Mirror]:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    source = KubeSource.from_settings(Settings(source="kube", kubeconfig=str(kubeconfig)), config=FAST)
    mirror = Mirror()
    task = asyncio.create_task(source.run(mirror))
    try:
        yield mirror
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def pod_names(mirror: Mirror) -> set[str]:
    return set(mirror.names("Pod"))


@pytest.mark.parametrize("server", ["error", "accept"])
async def test_a_restarted_api_server_with_lower_versions_is_listed_again_and_the_old_pods_go(
    tmp_path: Path, server: str
) -> None:
    """kube-apiserver answers a resume from a version it never had with 504 "Too large resource
    version"; a naive server takes it and streams its own, lower, versions; a quiet cluster sends
    nothing at all. In every case the watcher must notice and list again, and say "live" only once
    the new lists are in."""
    with fake_api(pods=60, services=6, too_large=server) as api:
        async with watching(api, tmp_path) as mirror:
            await eventually(lambda: mirror.status.state == "live" and len(pod_names(mirror)) == 60)
            before = pod_names(mirror)
            api.restart()  # a fresh store: other pods, resourceVersions from lower than before
            assert int(api.stats()["resourceVersion"]) < int(
                max(o["metadata"]["resourceVersion"] for o in mirror.objects.values())
            )
            marker = len(mirror.items)
            await eventually(lambda: pod_names(mirror) and not (pod_names(mirror) & before), within=30)
            await eventually(lambda: mirror.status.state == "live", within=30)
            after = mirror.items[marker:]
            # the old pods went with the new list (no ghosts), and the new ones are all there
            assert len(pod_names(mirror)) == 60
            # never live over unconfirmed data: every "live" after the restart comes after the new pods
            relisted = next(
                i
                for i, item in enumerate(after)
                if isinstance(item, Resync) and item.kind == "Pod" and item.objs
            )
            assert not [s for s in after[:relisted] if isinstance(s, Status) and s.state == "live"]
            assert any(isinstance(s, Status) and s.state == "reconnecting" for s in after[:relisted])
            # and it stays right: a change on the new server arrives
            change = api.flip()
            await eventually(
                lambda: (
                    mirror.objects[("Pod", change["namespace"], change["pod"])]["metadata"]["resourceVersion"]
                    == change["resourceVersion"]
                )
            )


async def test_versions_going_back_inside_a_stream_relist() -> None:
    transport = FakeTransport()
    transport.objects[PODS.path()] = [pod("a", "10")]
    transport.list_rv[PODS.path()] = "10"
    transport.scripts[PODS.path()] = [
        Script([event("MODIFIED", pod("a", "11")), event("ADDED", pod("z", "3"))])
    ]
    sink = RecordingSink()
    clock = FakeClock()
    task = asyncio.ensure_future(
        infinite_watch(
            transport, PODS, sink, WatchConfig(inactivity_seconds=None), Clock(clock.now, clock.sleep)
        )
    )
    try:
        await until(lambda: len(sink.of("listed")) >= 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # z (version 3 after 11) was never handed on: the stream was not trusted past that point
    assert sink.of("changed") == [("MODIFIED", "a")]
    assert sink.kinds().count("down") == 1 and [limit for _, limit, _ in transport.list_calls] == [250, 250]


async def test_a_504_too_large_version_relists() -> None:
    transport = FakeTransport()
    transport.objects[PODS.path()] = [pod("a", "10")]
    too_large = ApiError(
        504, "Timeout", "Too large resource version: 10, current: 4", ("ResourceVersionTooLarge",)
    )
    transport.scripts[PODS.path()] = [Script(error=too_large)]
    sink = RecordingSink()
    clock = FakeClock()
    task = asyncio.ensure_future(
        infinite_watch(
            transport, PODS, sink, WatchConfig(inactivity_seconds=None), Clock(clock.now, clock.sleep)
        )
    )
    try:
        await until(lambda: len(sink.of("listed")) >= 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert sink.kinds()[:3] == ["listed", "down", "listed"]


async def test_a_refusal_after_being_let_in_lists_again_when_let_back_in() -> None:
    transport = FakeTransport()
    transport.objects[PODS.path()] = [pod("a", "10")]
    transport.list_rv[PODS.path()] = "10"
    transport.scripts[PODS.path()] = [
        Script([event("MODIFIED", pod("a", "11"))]),
        Script(error=ApiError(401, "Unauthorized", "Unauthorized")),
    ]
    sink = RecordingSink()
    clock = FakeClock()
    task = asyncio.ensure_future(
        infinite_watch(
            transport, PODS, sink, WatchConfig(inactivity_seconds=None), Clock(clock.now, clock.sleep)
        )
    )
    try:
        await until(lambda: len(sink.of("listed")) >= 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert ("refused", ("watch", 401)) in sink.log
    # listed, watched, checked the server, refused; then listed afresh rather than resumed
    assert [limit for _, limit, _ in transport.list_calls] == [250, 1, 250]
