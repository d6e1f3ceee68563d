"""Picks the Source for the settings: the simulated cluster in-process, or a real cluster."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from app.sources.base import Source


def make_source(settings: Settings, cluster: Any = None) -> Source:
    """`cluster` is the SimCluster for source "sim". A real cluster's KubeSource is imported only
    when asked for; its KubeConfigError (bad kubeconfig, unknown context) propagates to the caller."""
    if settings.source == "sim":
        if cluster is None:
            raise ValueError("the sim source needs the simulated cluster")
        from app.sources.sim import SimSource

        return SimSource(cluster)
    if settings.source == "kube":
        from app.sources.kube import KubeSource

        return KubeSource.from_settings(settings)
    raise ValueError(f"unknown source {settings.source!r} (expected sim or kube)")
