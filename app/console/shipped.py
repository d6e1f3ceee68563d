"""The manifests the console ships (app/console/manifests/*.yaml): the lessons' files, by file name,
so `kubectl apply -f shipping-api-service.yaml` works without reading anything else from the server."""

from __future__ import annotations

import functools
from pathlib import Path

MANIFESTS_DIR = Path(__file__).with_name("manifests")


@functools.cache
def shipped_manifests() -> dict[str, str]:
    """File name -> YAML text, read once."""
    if not MANIFESTS_DIR.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(MANIFESTS_DIR.glob("*.yaml"))}
