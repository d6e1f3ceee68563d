"""DELETE of a collection: every matching object deleted and listed, in batches with the event loop
running between them, and the List answered in pieces."""

from __future__ import annotations

import asyncio
import json

import httpx

from app.sim.api import create_k8s_api
from app.sim.api.handlers import DELETE_BATCH
from app.sim.clock import SimClock
from app.sim.cluster import SimCluster, SimConfig
from app.sim.store import StoreEvent

TOKEN = "tkn"


async def test_a_big_collection_delete_lets_the_loop_run_between_batches() -> None:
    cluster = SimCluster(SimClock(), SimConfig(nodes=1))
    cluster.start()
    n = 5 * DELETE_BATCH + 17
    for i in range(n):  # unscheduled pods (the clock stands still): each delete is immediate
        cluster.store.create(
            {
                "kind": "Pod",
                "metadata": {"name": f"bulk-{i:04d}", "namespace": "default", "labels": {"app": "bulk"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            }
        )
    other = {"name": "c", "image": "nginx"}
    cluster.store.create(
        {
            "kind": "Pod",
            "metadata": {"name": "other", "namespace": "default"},
            "spec": {"containers": [other]},
        }
    )
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    seen_at: list[int] = []

    def on_event(ev: StoreEvent) -> None:
        if ev.kind == "Pod" and ev.type == "DELETED":
            seen_at.append(turns)

    cluster.store.subscribe(on_event)
    tick = asyncio.create_task(ticker())
    app = create_k8s_api(cluster, TOKEN)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://sim",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as http:
            r = await http.delete("/api/v1/namespaces/default/pods", params={"labelSelector": "app=bulk"})
    finally:
        tick.cancel()
        await asyncio.gather(tick, return_exceptions=True)
    assert r.status_code == 200
    body = json.loads(r.content)
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert sorted(p["metadata"]["name"] for p in body["items"]) == [f"bulk-{i:04d}" for i in range(n)]
    assert [p["metadata"]["name"] for p in cluster.store.list("Pod", "default")] == ["other"]
    # the deletions were spread over turns of the event loop, a batch at a time
    assert len(seen_at) == n
    assert len(set(seen_at)) >= n // DELETE_BATCH
    assert max(seen_at.count(t) for t in set(seen_at)) <= DELETE_BATCH
