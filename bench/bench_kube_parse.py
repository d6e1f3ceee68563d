"""Why the kube source reads raw JSON: parse one large synthetic PodList (made from a real v1.36 pod)
as raw dicts (what slicescope does) and through the official client's model deserialization, in the
same process, and print both timings and the ratio.

    python bench/bench_kube_parse.py [--pods 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

from kubernetes import client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.kinds import KINDS  # noqa: E402
from app.sources.watching import normalize  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "fixtures" / "real-k8s-v1.36" / "list-pods.json"


def synthetic_pod_list(n: int) -> bytes:
    """A PodList of n pods cloned from the captured one, each with its own name, uid, IP and rv."""
    if FIXTURE.is_file():
        base = json.loads(FIXTURE.read_text())["items"][0]
    else:  # a minimal stand-in when the shared fixtures are not next to the checkout
        base = {
            "metadata": {"name": "p", "namespace": "default", "uid": "u", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]},
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    items = []
    for i in range(n):
        pod = copy.deepcopy(base)
        md = pod["metadata"]
        md["name"] = f"bench-{i:06d}"
        md["uid"] = f"00000000-0000-0000-0000-{i:012d}"
        md["resourceVersion"] = str(1000 + i)
        pod.setdefault("status", {})["podIP"] = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        items.append(pod)
    doc = {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(1000 + n)},
        "items": items,
    }
    return json.dumps(doc).encode()


class _Response:
    """What ApiClient.deserialize reads: an object with `.data`."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def parse_raw(data: bytes) -> int:
    doc = json.loads(data)
    pod = KINDS["Pod"]
    items = [normalize(o, pod) for o in doc["items"]]
    return len(items)


def parse_models(api: client.ApiClient, data: bytes) -> int:
    pods = api.deserialize(_Response(data), "V1PodList")
    return len(pods.items)


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    data = synthetic_pod_list(args.pods)
    api = client.ApiClient()
    assert parse_raw(data) == parse_models(api, data) == args.pods  # same answer, different cost

    raw = best_of(args.repeat, lambda: parse_raw(data))
    models = best_of(args.repeat, lambda: parse_models(api, data))
    size = len(data) / 1e6
    print(f"PodList: {args.pods} pods, {size:.1f} MB of JSON (best of {args.repeat})")
    print(f"raw json.loads + normalize : {raw * 1000:9.1f} ms")
    print(f"client models (deserialize): {models * 1000:9.1f} ms")
    print(f"ratio models/raw           : {models / raw:9.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
