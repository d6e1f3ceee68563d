"""The real KubeSource (official client, threads, raw JSON) against the simulated cluster's Kubernetes
API on a real uvicorn: initial list, live changes, the API server going away and coming back, a forced
410 with objects deleted meanwhile, and EndpointSlices Forbidden."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.settings import Settings
from app.sources.kube import KubeSource
from app.sources.watching import ApiError, WatchConfig
from tests.kube.fakes import Mirror
from tests.kube.simapi import forbid, sim_api

FAST = WatchConfig(
    timeout_seconds=30,
    inactivity_seconds=10,
    backoff_base=0.05,
    backoff_cap=0.4,
    refused_base=0.3,
    refused_cap=1.0,
)


async def eventually(predicate: Callable[[], object], within: float = 20.0, what: str = "") -> None:
    """Real HTTP takes real time: poll until predicate() holds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def versions(mirror: Mirror) -> dict[tuple[str, str, str], str]:
    return {k: o["metadata"]["resourceVersion"] for k, o in mirror.objects.items()}


async def converges(api, mirror: Mirror, within: float = 20.0) -> None:
    """The source's view ends up equal to the cluster (same objects, same resourceVersions)."""
    deadline = time.monotonic() + within
    while True:
        want = await api.snapshot()
        if versions(mirror) == want:
            return
        if time.monotonic() > deadline:
            have = versions(mirror)
            extra = sorted(set(have) - set(want))
            missing = sorted(set(want) - set(have))
            raise AssertionError(f"view differs from the cluster: ghosts={extra} missing={missing}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running(source: KubeSource, mirror: Mirror):
    task = asyncio.create_task(source.run(mirror))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # No reader thread outlives run().
        await eventually(
            lambda: not [t for t in threading.enumerate() if t.name.startswith("watch ")], 5, "threads"
        )


def pods_named(mirror: Mirror, prefix: str) -> list[str]:
    return [n for n in mirror.names("Pod") if n.startswith(prefix)]


async def test_initial_list_then_live_changes_and_actions(tmp_path: Path) -> None:
    async with sim_api(tmp_path) as api:
        settings = Settings(source="kube", kubeconfig=str(api.kubeconfig), allow_actions=True)
        source = KubeSource.from_settings(settings, config=FAST)
        assert source.info.server == api.url and source.info.name == "slicescope-sim"
        mirror = Mirror()
        async with running(source, mirror):
            await eventually(lambda: mirror.status.state == "live", what="live")
            assert mirror.statuses[0].state == "connecting"
            await converges(api, mirror)
            assert mirror.names("Service")  # the lesson's Services arrived through the list
            before = len(pods_named(mirror, "shipping-api-"))
            await source.act("scale", namespace="default", name="shipping-api", replicas=before + 2)
            await eventually(lambda: len(pods_named(mirror, "shipping-api-")) == before + 2, what="scale up")
            victim = pods_named(mirror, "shipping-api-")[0]
            await source.act("label", namespace="default", name=victim, labels={"app": "debug"})
            await eventually(
                lambda: (
                    mirror.objects[("Pod", "default", victim)]["metadata"]["labels"].get("app") == "debug"
                ),
                what="relabel",
            )
            await converges(api, mirror)
            assert mirror.status.state == "live" and mirror.status.problems == ()


async def test_api_server_goes_away_and_comes_back(tmp_path: Path) -> None:
    async with sim_api(tmp_path, with_proxy=True) as api:
        assert api.proxy is not None
        source = KubeSource.from_settings(
            Settings(source="kube", kubeconfig=str(api.kubeconfig)), config=FAST
        )
        mirror = Mirror()
        async with running(source, mirror):
            await eventually(lambda: mirror.status.state == "live", what="live")
            await converges(api, mirror)
            await api.proxy.stop()
            await eventually(lambda: mirror.status.state == "reconnecting", what="reconnecting")
            down = mirror.status
            assert down.message.startswith(f"cannot reach {source.info.server}: ")
            assert down.since > 0
            # The cluster moves on while we cannot see it.
            await api.call(lambda: api.cluster.scale("default", "shipping-api", 6))
            await asyncio.sleep(0.5)
            await api.proxy.start()
            await eventually(lambda: mirror.status.state == "live", what="live again")
            await converges(api, mirror)
            assert len(pods_named(mirror, "shipping-api-")) == 6


async def test_forced_410_relists_and_leaves_no_ghosts(tmp_path: Path) -> None:
    async with sim_api(tmp_path, with_proxy=True) as api:
        assert api.proxy is not None
        source = KubeSource.from_settings(
            Settings(source="kube", kubeconfig=str(api.kubeconfig)), config=FAST
        )
        mirror = Mirror()
        async with running(source, mirror):
            await eventually(lambda: mirror.status.state == "live", what="live")
            await converges(api, mirror)
            resyncs_before = sum(1 for i in mirror.items if type(i).__name__ == "Resync")
            await api.proxy.stop()
            await eventually(lambda: mirror.status.state == "reconnecting", what="reconnecting")
            ghost = pods_named(mirror, "shipping-api-")[0]
            # Deleted (at once) and history compacted while nobody watched: only a relist can tell.
            await api.call(lambda: api.cluster.delete_pod("default", ghost, grace_seconds=0))
            await api.call(lambda: api.cluster.store.compact())
            await asyncio.sleep(0.3)
            await api.call(lambda: api.cluster.store.compact())
            await api.proxy.start()
            await eventually(lambda: mirror.status.state == "live", what="live again")
            await converges(api, mirror)
            assert ("Pod", "default", ghost) not in mirror.objects
            assert sum(1 for i in mirror.items if type(i).__name__ == "Resync") > resyncs_before


async def test_forbidden_endpointslices_message_and_endpoints_fallback(tmp_path: Path) -> None:
    def wrap(app):
        return forbid(app, "/endpointslices", "endpointslices", "discovery.k8s.io")

    async with sim_api(tmp_path, wrap=wrap) as api:
        source = KubeSource.from_settings(
            Settings(source="kube", kubeconfig=str(api.kubeconfig)), config=FAST
        )
        mirror = Mirror()
        async with running(source, mirror):
            await eventually(lambda: mirror.status.state == "live", what="live")
            await eventually(lambda: mirror.names("Endpoints"), what="endpoints")
            assert mirror.status.problems == (
                "cannot list endpointslices in all namespaces: ask for cluster-wide list/watch on "
                "discovery.k8s.io endpointslices (showing legacy Endpoints only)",
            )
            assert mirror.names("EndpointSlice") == []
            assert "shipping-api-service" in mirror.names("Endpoints")
            # Retried slowly, and the message stays up.
            await asyncio.sleep(1.0)
            assert mirror.status.problems and mirror.status.state == "live"


async def test_actions_delete_a_pod_and_explain_a_forbidden_scale(tmp_path: Path) -> None:
    def wrap(app):
        return forbid(app, "/scale", "deployments/scale", "apps")

    async with sim_api(tmp_path, wrap=wrap) as api:
        read_only = KubeSource.from_settings(Settings(source="kube", kubeconfig=str(api.kubeconfig)))
        with pytest.raises(PermissionError, match="--allow-actions"):
            await read_only.act("delete", namespace="default", name="x")
        settings = Settings(source="kube", kubeconfig=str(api.kubeconfig), allow_actions=True)
        source = KubeSource.from_settings(settings, config=FAST)
        with pytest.raises(ValueError, match="unknown action"):
            await source.act("reboot", namespace="default", name="x")
        with pytest.raises(ApiError) as info:
            await source.act("scale", namespace="default", name="shipping-api", replicas=9)
        assert info.value.status == 403
        assert info.value.message == (
            "cannot patch deployments/scale in namespace default: ask for patch on apps deployments/scale"
        )
        with pytest.raises(ApiError) as missing:
            await source.act("delete", namespace="default", name="no-such-pod")
        assert missing.value.status == 404
        mirror = Mirror()
        async with running(source, mirror):
            await eventually(lambda: mirror.status.state == "live", what="live")
            victim = pods_named(mirror, "shipping-api-")[0]
            answer = await source.act("delete", namespace="default", name=victim)
            assert answer["metadata"]["name"] == victim
            key = ("Pod", "default", victim)
            await eventually(
                lambda: key not in mirror.objects or mirror.objects[key]["metadata"].get("deletionTimestamp")
            )
