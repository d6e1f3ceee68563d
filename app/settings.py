"""One frozen settings object for the whole app; the CLI only fills it in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    # --- serving ---
    host: str = "127.0.0.1"  # loopback by default: the dashboard has actions, never expose it by accident
    port: int = 8000
    allowed_hosts: tuple[str, ...] = ()  # Host names served besides loopback and `host` (DNS rebinding guard)

    # --- where the data comes from ---
    source: str = "sim"  # "sim" (built-in simulated cluster) | "kube" (real cluster) | "replay" (a recording)
    kubeconfig: str | None = None  # path; None with source="kube" means $KUBECONFIG then ~/.kube/config
    context: str | None = None
    in_cluster: bool = False
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    allow_actions: bool = False  # real clusters are read-only unless the user opts in

    # --- the simulated cluster ---
    sim_speed: float = 1.0  # sim seconds per real second; >1 makes a lesson run faster in class
    max_endpoints_per_slice: int = 100  # kube-controller-manager's default (valid 1..1000)
    sim_seed: int = 0  # names, uids and IP order are reproducible for a given seed
    sim_lesson: bool = True  # preload the first lesson's objects
    api_prefix: str = "/k8s"  # where the simulated cluster's Kubernetes API is served
    api_token: str | None = None  # bearer token for that API; None: a random one per start
    write_kubeconfig: str | None = None  # path to write a kubeconfig for the simulated cluster

    # --- record and replay (docs/recording.md) ---
    replay: str | None = None  # path of a recording to play instead of a cluster (source "replay")
    replay_speed: float = 1.0  # recorded seconds per real second, 0.1..100
    record: str | None = None  # path to record this session to, from startup to shutdown
    recordings_dir: str = "."  # where recordings started from the page are written

    # --- classroom ---
    scenario: str | None = None  # a user scenario file, offered next to the built-in ones
    present: bool = False  # presenter mode: every state-changing request needs the presenter's token
    present_token: str | None = None  # that token; None with present=True: a random one per start

    # --- the stream to browsers ---
    # Changes within one tick go out as one message (bursts coalesce); 25 ms keeps the p99
    # change->browser latency under the 50 ms target in bench/ while still batching bursts.
    tick_seconds: float = 0.025
    ping_seconds: float = 15.0  # SSE comment ping; below common 30-60 s proxy idle timeouts
    buffer_messages: int = 1024  # messages kept for Last-Event-ID resume; older ids get a snapshot
    client_queue_messages: int = 256  # a client further behind than this is resynced with a snapshot
    timeline_limit: int = 200  # timeline entries kept in the view (newest first)

    @property
    def actions_enabled(self) -> bool:
        return self.source == "sim" or self.allow_actions
