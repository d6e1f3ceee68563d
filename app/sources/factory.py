"""Picks the Source for the settings: the simulated cluster in-process, a real cluster, or a recording."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from app.sources.base import Source


def make_source(settings: Settings, cluster: Any = None) -> Source:
    """`cluster` is the SimCluster for source "sim". A real cluster's KubeSource is imported only
    when asked for; its KubeConfigError (bad kubeconfig, unknown context) propagates to the caller,
    as does the RecordingError of a recording that cannot be played."""
    if settings.source == "sim":
        if cluster is None:
            raise ValueError("the sim source needs the simulated cluster")
        from app.sources.sim import SimSource

        return SimSource(cluster)
    if settings.source == "kube":
        from app.sources.kube import KubeSource

        return KubeSource.from_settings(settings)
    if settings.source == "replay":
        if not settings.replay:
            raise ValueError("the replay source needs a recording file")
        from app.sources.replay import ReplaySource

        return ReplaySource.open(settings.replay, speed=settings.replay_speed)
    raise ValueError(f"unknown source {settings.source!r} (expected sim, kube or replay)")
