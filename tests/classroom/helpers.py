"""Shared helpers of the classroom tests: the browser's reducer (with timeline-clear), polling the
scenario state, and the views to compare (services, pods, deployments without times)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fixtures_app import apply_message, wait_for

TOKEN = "presenter-secret-1"
AUTH = {"X-Slicescope-Token": TOKEN}


def reduce(model: dict[str, Any] | None, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """apply_message, plus the timeline-clear op (docs/view-model.md), one op at a time."""
    if event != "delta":
        return apply_message(model, event, data)
    assert model is not None
    assert data["seq"] == model["seq"] + 1, f"delta {data['seq']} does not follow {model['seq']}"
    for op in data["ops"]:
        if op["op"] == "timeline-clear":
            model = {**model, "timeline": []}
        else:  # one op as its own delta, keeping seq where it was
            model = {**apply_message(model, "delta", {"seq": model["seq"] + 1, "ops": [op]})}
            model["seq"] -= 1
    return {**model, "seq": data["seq"]}


def plain(data: Any) -> Any:
    return json.loads(json.dumps(data))


def views(snap: dict[str, Any]) -> dict[str, Any]:
    """What must match between two runs: services and deployments whole, pods without their age."""
    pods = {k: {f: v for f, v in p.items() if f != "created"} for k, p in snap["pods"].items()}
    return plain({"services": snap["services"], "pods": pods, "deployments": snap.get("deployments", {})})


def scenario_of(snap: dict[str, Any]) -> dict[str, Any] | None:
    classroom = snap["meta"].get("classroom")
    return classroom and classroom["scenario"]


def settled(http: httpx.Client, step: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Wait until the scenario is at `step`, not busy and every check passes; the snapshot then."""

    def check() -> dict[str, Any] | None:
        snap = http.get("/api/snapshot").json()
        st = scenario_of(snap)
        ok = st and st["step"] == step and not st["busy"] and all(c["ok"] for c in st["checks"])
        return snap if ok else None

    return wait_for(check, timeout=30, what=f"step {step} done with its checks passing")
