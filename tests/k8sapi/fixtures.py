"""Loading the real v1.36 captures vendored in tests/fixtures/real-k8s-v1.36."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.timefmt import parse_rfc3339
from tests.paths import FIXTURES

# When the Tables were captured: the `date` header of the capture (ages in table-*.json count from it).
CAPTURED_AT = parse_rfc3339("2026-11-22T03:07:49Z")


def load(name: str) -> Any:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} not available")
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if name.endswith(".json"):
        return json.loads(path.read_text())
    return path.read_text()


def final_objects(kind_list: str, watch: str) -> dict[str, dict[str, Any]]:
    """Objects by name after replaying a watch capture over its list capture."""
    objs = {o["metadata"]["name"]: o for o in load(kind_list)["items"]}
    for ev in load(watch):
        obj = ev["object"]
        name = obj["metadata"].get("name")
        if ev["type"] in ("ADDED", "MODIFIED"):
            objs[name] = obj
        elif ev["type"] == "DELETED":
            objs.pop(name, None)
    return objs
