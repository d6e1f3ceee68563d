"""KubeSource over a scripted transport and a fake clock: what a consumer sees (Resync / Change /
Status), refusals turned into messages and degraded watching, ghosts gone after a 410."""

from __future__ import annotations

import asyncio
import contextlib

from app.kinds import KINDS, WATCHED_KINDS
from app.sources.base import ClusterInfo, Resync
from app.sources.kube import KubeSource
from app.sources.watching import ApiError, Clock, ConnectionProblem, Target, WatchConfig
from tests.kube.fakes import (
    EOF,
    FakeClock,
    FakeTransport,
    Mirror,
    Script,
    event,
    expired,
    forbidden,
    pod,
    until,
)

SERVER = "https://cluster.example:6443"


def make_source(
    transport: FakeTransport,
    clock: FakeClock,
    namespaces: tuple[str, ...] = (),
    fallback: tuple[str, ...] = (),
) -> KubeSource:
    info = ClusterInfo(mode="kube", name="ctx", server=SERVER, namespaces=namespaces, read_only=True)
    return KubeSource(
        info,
        transport=transport,
        fallback_namespaces=fallback,
        clock=Clock(now=clock.now, sleep=clock.sleep, rand=clock.rand),
        # No inactivity timer: the fake clock would fire it at once for every quiet watch.
        config=WatchConfig(inactivity_seconds=None),
    )


@contextlib.asynccontextmanager
async def running(source: KubeSource, mirror: Mirror):
    task = asyncio.ensure_future(source.run(mirror))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def path(kind: str, ns: str | None = None) -> str:
    return Target(KINDS[kind], ns).path()


async def test_connecting_then_live_with_one_resync_per_kind_then_changes() -> None:
    transport = FakeTransport()
    transport.objects[path("Pod")] = [pod("a", "1"), pod("b", "2")]
    transport.scripts[path("Pod")] = [Script([event("ADDED", pod("c", "103"))], end="hang")]
    clock = FakeClock()
    mirror = Mirror()
    async with running(make_source(transport, clock), mirror):
        await until(lambda: "c" in mirror.names("Pod"))
    assert mirror.statuses[0].state == "connecting"
    assert mirror.states()[-1] == "live"
    resyncs = [i for i in mirror.items if isinstance(i, Resync)]
    assert sorted(r.kind for r in resyncs) == sorted(WATCHED_KINDS)
    assert mirror.names("Pod") == ["a", "b", "c"]
    # one watch per kind, each from its list's resourceVersion, with no namespace in the path
    assert sorted(p for p, _ in transport.watch_calls) == sorted(path(k) for k in WATCHED_KINDS)


async def test_one_watch_per_kind_and_namespace_when_limited() -> None:
    transport = FakeTransport()
    clock = FakeClock()
    mirror = Mirror()
    async with running(make_source(transport, clock, namespaces=("shop", "web")), mirror):
        await until(lambda: mirror.statuses and mirror.status.state == "live")
    listed = sorted(p for p, _, _ in transport.list_calls)
    assert listed == sorted(
        [path(k) for k in WATCHED_KINDS if not KINDS[k].namespaced]
        + [path(k, ns) for k in WATCHED_KINDS if KINDS[k].namespaced for ns in ("shop", "web")]
    )
    assert "/api/v1/namespaces/shop/pods" in listed
    assert {r.namespace for r in mirror.items if isinstance(r, Resync) and r.kind == "Pod"} == {"shop", "web"}


async def test_outage_shows_reconnecting_since_the_failure_then_live_again() -> None:
    transport = FakeTransport()
    transport.objects[path("Pod")] = [pod("a", "1")]
    transport.scripts[path("Pod")] = [
        Script([event("MODIFIED", pod("a", "101"))], end=ConnectionProblem("connection reset by peer")),
        Script(error=ConnectionProblem("[Errno 111] Connection refused")),
        Script([event("ADDED", pod("z", "102"))], end="hang"),
    ]
    clock = FakeClock(rand=0.0)
    mirror = Mirror()
    async with running(make_source(transport, clock), mirror):
        await until(lambda: "z" in mirror.names("Pod"))
        await until(lambda: mirror.status.state == "live")
    states = mirror.states()
    assert states[:2] == ["connecting", "live"]
    reconnecting = [s for s in mirror.statuses if s.state == "reconnecting"]
    assert reconnecting, states
    first = reconnecting[0]
    assert first.message == f"cannot reach {SERVER}: connection reset by peer"
    assert first.since == 1_000_000.0  # when the stream broke, and it stays so while still down
    assert all(s.since == first.since for s in reconnecting)
    assert states[-1] == "live"
    # resumed from the last seen resourceVersion, each time after checking the server had not gone
    # back (a one-item list): no relist
    assert [rv for p, rv in transport.watch_calls if p == path("Pod")] == ["100", "101", "101"]
    assert [limit for p, limit, _ in transport.list_calls if p == path("Pod")] == [250, 1, 1]


async def test_410_relists_and_objects_deleted_during_the_outage_disappear() -> None:
    transport = FakeTransport()
    transport.objects[path("Pod")] = [pod("a", "10"), pod("b", "11"), pod("ghost", "12")]
    transport.scripts[path("Pod")] = [Script(end=ConnectionProblem("broken")), Script([expired("100")])]
    clock = FakeClock()
    mirror = Mirror()
    async with running(make_source(transport, clock), mirror):
        await until(lambda: mirror.names("Pod") == ["a", "b", "ghost"])
        transport.objects[path("Pod")] = [pod("a", "10"), pod("new", "30")]
        await until(lambda: len([c for c in transport.list_calls if c[0] == path("Pod")]) == 2)
        await until(lambda: mirror.names("Pod") == ["a", "new"])
        await until(lambda: mirror.status.state == "live")


async def test_forbidden_endpointslices_give_a_clear_message_and_endpoints_still_flow() -> None:
    transport = FakeTransport()
    ns = "shop"
    transport.list_errors[path("EndpointSlice", ns)] = [
        forbidden("list", "endpointslices", "discovery.k8s.io", ns) for _ in range(20)
    ]
    transport.objects[path("Endpoints", ns)] = [
        {"metadata": {"name": "web", "namespace": ns, "resourceVersion": "5"}, "subsets": []}
    ]
    clock = FakeClock(rand=0.0)
    mirror = Mirror()
    async with running(make_source(transport, clock, namespaces=(ns,)), mirror):
        await until(lambda: mirror.statuses and mirror.status.state == "live")
        await until(lambda: len(clock.sleeps) >= 3)
    assert mirror.status.problems == (
        "cannot list endpointslices in namespace shop: ask for list/watch on discovery.k8s.io "
        "endpointslices (showing legacy Endpoints only)",
    )
    assert mirror.names("Endpoints") == ["web"]
    assert mirror.names("EndpointSlice") == []
    # retried after a minute, then longer: never a hot loop
    assert clock.sleeps[:3] == [60, 120, 240]


async def test_refused_cluster_wide_list_falls_back_to_the_context_namespace() -> None:
    transport = FakeTransport()
    for kind, group, plural in (("Pod", "", "pods"), ("Service", "", "services")):
        transport.list_errors[path(kind)] = [forbidden("list", plural, group, None)]
    transport.objects[path("Pod", "default")] = [pod("mine", "3")]
    clock = FakeClock()
    mirror = Mirror()
    source = make_source(transport, clock, fallback=("default",))
    async with running(source, mirror):
        await until(lambda: mirror.names("Pod") == ["mine"])
        await until(lambda: mirror.status.state == "live")
    assert (path("Pod", "default"), 250, None) in transport.list_calls
    assert (
        "cannot list pods in all namespaces: ask for cluster-wide list/watch on pods (showing namespace "
        "default only; pass --namespace to choose)"
    ) in mirror.status.problems
    assert len(mirror.status.problems) == 2
    assert source.supervisor is not None
    assert Target(KINDS["Pod"], None) not in source.supervisor.targets


async def test_losing_permission_later_clears_the_kind_instead_of_showing_it_stale() -> None:
    transport = FakeTransport()
    transport.objects[path("EndpointSlice")] = [
        {"metadata": {"name": "s1", "namespace": "d", "resourceVersion": "1"}}
    ]
    transport.scripts[path("EndpointSlice")] = [
        Script(error=forbidden("watch", "endpointslices", "discovery.k8s.io", None))
    ]
    clock = FakeClock()
    mirror = Mirror()
    async with running(make_source(transport, clock), mirror):
        await until(lambda: any("cannot watch endpointslices" in p for p in mirror.status.problems))
    assert mirror.names("EndpointSlice") == []
    assert mirror.status.problems == (
        "cannot watch endpointslices in all namespaces: ask for cluster-wide list/watch on "
        "discovery.k8s.io endpointslices (showing legacy Endpoints only)",
    )


async def test_rejected_credentials_everywhere_is_an_error_state() -> None:
    transport = FakeTransport()
    for kind in WATCHED_KINDS:
        transport.list_errors[path(kind)] = [ApiError(401, "Unauthorized", "Unauthorized")]
    clock = FakeClock()
    mirror = Mirror()
    async with running(make_source(transport, clock), mirror):
        await until(lambda: mirror.status.state == "error")
    assert mirror.status.problems == (
        f"{SERVER} rejected the credentials (401 Unauthorized): log in again or check the kubeconfig user",
    )


async def test_a_watch_that_keeps_410ing_right_after_listing_backs_off() -> None:
    transport = FakeTransport()
    transport.scripts[path("Pod")] = [Script([expired()], end=EOF) for _ in range(4)]
    clock = FakeClock(rand=0.0)
    mirror = Mirror()
    async with running(make_source(transport, clock), mirror):
        await until(lambda: len([c for c in transport.list_calls if c[0] == path("Pod")]) >= 4)
    assert clock.sleeps[:3] == [1, 2, 4]
