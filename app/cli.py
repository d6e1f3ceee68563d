"""Command line -> Settings -> uvicorn.run(create_app(settings)). Bad input is one line on stderr
and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import socket
import sys
from collections.abc import Sequence
from typing import NoReturn

from app.security.hosts import check_allowed_host
from app.security.logs import RedactSecrets, install_redaction, uvicorn_log_config
from app.settings import Settings

PROG = "slicescope"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Watch a Kubernetes Service route to its Pods, live, in the browser.",
    )
    serve = p.add_argument_group("serving")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer to this host name (repeatable; *.domain allowed); loopback names, --host "
        "and, with --host 0.0.0.0, IP addresses always work",
    )
    serve.add_argument("--log-level", default="info", type=str.lower, choices=LOG_LEVELS)

    sim = p.add_argument_group("the simulated cluster (default)")
    sim.add_argument("--sim-speed", type=float, default=1.0, metavar="X", help="sim seconds per second")
    sim.add_argument(
        "--max-endpoints-per-slice",
        type=int,
        default=100,
        metavar="N",
        help="EndpointSlice controller limit, 1..1000 (default 100)",
    )
    sim.add_argument("--seed", type=int, default=0, metavar="N", help="reproducible names and addresses")
    sim.add_argument("--no-lesson", action="store_true", help="start the simulated cluster empty")
    sim.add_argument(
        "--write-kubeconfig", metavar="FILE", help="write a kubeconfig for kubectl against the simulated API"
    )

    kube = p.add_argument_group("a real cluster")
    kube.add_argument("--kubeconfig", metavar="FILE", help="watch the cluster of this kubeconfig")
    kube.add_argument(
        "--kube", action="store_true", help="watch a real cluster ($KUBECONFIG or ~/.kube/config)"
    )
    kube.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    kube.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
    kube.add_argument(
        "-n", "--namespace", action="append", default=[], metavar="NS", help="namespace to watch (repeatable)"
    )
    kube.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (default)")
    kube.add_argument("--allow-actions", action="store_true", help="allow scale / label / delete")

    rec = p.add_argument_group("record and replay")
    rec.add_argument("--replay", metavar="FILE", help="play a recording instead of watching a cluster")
    rec.add_argument(
        "--replay-speed", type=float, default=None, metavar="X", help="replay speed, 0.1..100 (default 1)"
    )
    rec.add_argument("--record", metavar="FILE", help="record this session to FILE (JSON Lines)")
    rec.add_argument(
        "--recordings-dir", default=".", metavar="DIR", help="where the page's recordings go (default .)"
    )

    cls = p.add_argument_group("classroom")
    cls.add_argument("--scenario", metavar="FILE", help="offer this scenario file next to the built-in ones")
    cls.add_argument(
        "--present",
        action="store_true",
        help="presenter mode: only the presenter's URL (with its token) can change the cluster",
    )
    cls.add_argument("--present-token", metavar="T", help="the presenter's token (implies --present)")
    return p


_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{8,200}$")


def settings_from_args(argv: Sequence[str] | None = None) -> tuple[Settings, str]:
    """The settings and the log level, or UsageError."""
    args = build_parser().parse_args(argv)
    real = bool(args.kube or args.kubeconfig or args.context or args.in_cluster)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: must be between 0 and 65535")
    if not (math.isfinite(args.sim_speed) and args.sim_speed > 0):
        raise UsageError(f"--sim-speed {args.sim_speed}: must be a positive number")
    if not 1 <= args.max_endpoints_per_slice <= 1000:
        raise UsageError(f"--max-endpoints-per-slice {args.max_endpoints_per_slice}: must be 1..1000")
    if args.in_cluster and args.kubeconfig:
        raise UsageError("--in-cluster and --kubeconfig exclude each other")
    if args.namespace and args.all_namespaces:
        raise UsageError("-n/--namespace and -A/--all-namespaces exclude each other")
    if (args.namespace or args.all_namespaces or args.allow_actions) and not real:
        raise UsageError("-n, -A and --allow-actions are for a real cluster: add --kube or --kubeconfig FILE")
    if args.kubeconfig and not os.path.isfile(os.path.expanduser(args.kubeconfig)):
        raise UsageError(f"--kubeconfig {args.kubeconfig}: no such file")
    if args.write_kubeconfig and real:
        raise UsageError("--write-kubeconfig is for the simulated cluster, not a real one")
    for ns in args.namespace:
        if len(ns) > 63 or not _DNS_LABEL.match(ns):
            raise UsageError(f"--namespace {ns!r}: not a valid namespace name")
    _check_classroom_args(args, real)
    for name in args.allowed_host:
        problem = check_allowed_host(name)
        if problem:
            raise UsageError(f"--allowed-host {name!r}: {problem}")
    return Settings(
        host=args.host,
        port=args.port,
        allowed_hosts=tuple(dict.fromkeys(args.allowed_host)),
        source="replay" if args.replay else "kube" if real else "sim",
        kubeconfig=args.kubeconfig,
        context=args.context,
        in_cluster=args.in_cluster,
        namespaces=tuple(dict.fromkeys(args.namespace)),
        allow_actions=args.allow_actions,
        sim_speed=args.sim_speed,
        max_endpoints_per_slice=args.max_endpoints_per_slice,
        sim_seed=args.seed,
        sim_lesson=not args.no_lesson,
        write_kubeconfig=args.write_kubeconfig,
        replay=args.replay,
        replay_speed=1.0 if args.replay_speed is None else args.replay_speed,
        record=args.record,
        recordings_dir=args.recordings_dir,
        scenario=args.scenario,
        present=bool(args.present or args.present_token),
        present_token=args.present_token,
    ), args.log_level


def _check_classroom_args(args: argparse.Namespace, real: bool) -> None:
    """Record, replay, scenario and presenter flags: what excludes what."""
    from app.sources.replay import check_speed

    if args.replay:
        if real:
            raise UsageError("--replay plays a recording: leave out --kube, --kubeconfig and --context")
        if args.write_kubeconfig:
            raise UsageError("--write-kubeconfig is for the simulated cluster, not a replay")
        if args.record and os.path.abspath(args.record) == os.path.abspath(args.replay):
            raise UsageError("--record would overwrite the recording --replay plays: choose another file")
    if args.replay_speed is not None:
        if not args.replay:
            raise UsageError("--replay-speed is for --replay FILE")
        try:
            check_speed(args.replay_speed)
        except ValueError as e:
            raise UsageError(f"--replay-speed: {e}") from None
    if not os.path.isdir(os.path.expanduser(args.recordings_dir)):
        raise UsageError(f"--recordings-dir {args.recordings_dir}: no such folder")
    if args.scenario:
        if real or args.replay:
            raise UsageError("--scenario runs on the simulated cluster: leave out --kube and --replay")
        if not os.path.isfile(os.path.expanduser(args.scenario)):
            raise UsageError(f"--scenario {args.scenario}: no such file")
    if args.present_token is not None and not _TOKEN.match(args.present_token):
        raise UsageError("--present-token: 8 to 200 letters, digits, '.', '_', '~' or '-'")


def presenter_url(host: str, port: int, token: str) -> str:
    from urllib.parse import quote

    return f"{page_url(host, port)}?token={quote(token, safe='')}"


def _is_startup_error(e: BaseException) -> bool:
    """A recording that cannot be played or a scenario that cannot be loaded: one line, exit 2."""
    from app.recording.format import RecordingError
    from app.scenarios.loader import ScenarioError

    return isinstance(e, (RecordingError, ScenarioError)) or _is_kube_config_error(e)


def _check_port(host: str, port: int) -> None:
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise UsageError(f"--host {host}: {e.strerror}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def _is_kube_config_error(e: BaseException) -> bool:
    try:
        from app.sources.kube import KubeConfigError
    except ImportError:
        return False
    return isinstance(e, KubeConfigError)


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    from app.server import create_app, write_kubeconfig

    try:
        settings, log_level = settings_from_args(argv)
        _check_port(settings.host, settings.port)
        try:
            app = create_app(settings)
        except Exception as e:
            if _is_startup_error(e):
                raise UsageError(str(e)) from None
            raise
        if settings.record:
            from app.recording.format import RecordingError

            try:  # now, so a bad path is reported before serving; the lifespan stops it
                app.state.runtime.recorder.start(settings.record)
            except RecordingError as e:
                raise UsageError(f"--record: {e}") from None
        if settings.write_kubeconfig:
            try:  # once now, so a bad path is reported before serving
                write_kubeconfig(settings.write_kubeconfig, settings, app.state.runtime.api_token)
            except OSError as e:
                raise UsageError(f"--write-kubeconfig {settings.write_kubeconfig}: {e.strerror}") from None
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    rt = app.state.runtime
    where = rt.info.name
    print(f"{PROG}: {where} at {page_url(settings.host, settings.port)}", flush=True)
    if settings.write_kubeconfig:
        print(f"{PROG}: kubectl --kubeconfig {settings.write_kubeconfig} get endpoints -w", flush=True)
    if settings.record:
        print(f"{PROG}: recording to {settings.record}", flush=True)
    if rt.present_token:
        control = presenter_url(settings.host, settings.port, rt.present_token)
        print(f"{PROG}: presenter (controls): {control}")
        print(f"{PROG}: class (read-only):    {page_url(settings.host, settings.port)}")
        if settings.host in ("127.0.0.1", "localhost", "::1"):
            note = (
                "for a class on other machines, start with --host 0.0.0.0 "
                "and give them this computer's address"
            )
        else:
            note = (
                "the class opens the read-only URL with this computer's IP address in place of "
                "127.0.0.1 (for a name instead, add --allowed-host NAME)"
            )
        print(f"{PROG}: {note}", flush=True)
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{PROG}: warning: listening on {settings.host}, not only this machine", file=sys.stderr)
    install_redaction()  # the root handler: urllib3's retry warnings name the API's /t/<token>/ URL
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        log_config=uvicorn_log_config(),  # uvicorn's handlers, with the same redaction
        timeout_graceful_shutdown=5,
    )
    return 0


RedactTokens = RedactSecrets  # the older name of the access log's filter
