"""Command line -> Settings -> create_app(settings), served by uvicorn on a socket bound only once
everything else is known to be right; and `slicescope kubeconfig FILE`, which writes a kubeconfig for
the simulated cluster of a dashboard already running. Bad input is one line on stderr and exit code 2,
never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import logging
import math
import os
import re
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

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
        epilog=f"A kubeconfig for a dashboard already running: {PROG} kubeconfig FILE [--port P] "
        f"(see {PROG} kubeconfig --help).",
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
    sim.add_argument(
        "--api-token",
        metavar="T",
        help="the simulated API's token (default: the one kept from the last start, so kubeconfigs "
        "handed out stay valid)",
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
    if args.api_token is not None:
        if real or args.replay:
            raise UsageError("--api-token is for the simulated cluster's API: leave out --kube and --replay")
        if not _TOKEN.match(args.api_token):
            raise UsageError("--api-token: 8 to 200 letters, digits, '.', '_', '~' or '-'")
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
        api_token=args.api_token,
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


def _is_kube_config_error(e: BaseException) -> bool:
    try:
        from app.sources.kube import KubeConfigError
    except ImportError:
        return False
    return isinstance(e, KubeConfigError)


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---- before binding: every path and file checked --------------------------------------------
def _check_writable(flag: str, given: str, *, make_folders: bool) -> None:
    """That `given` can be written (without creating it): not a folder, in a folder we may write
    (or, with make_folders, under one)."""
    path = Path(given).expanduser()
    if path.is_dir():
        raise UsageError(f"{flag} {given}: is a folder, not a file")
    folder = path.parent
    if not folder.is_dir():
        if not make_folders:
            raise UsageError(f"{flag} {given}: no such folder {folder}")
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise UsageError(f"{flag} {given}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{flag} {given}: permission denied")


def _with_api_token(settings: Settings) -> Settings:
    """The simulated API's token: --api-token, else the one kept from the last start (made once)."""
    if settings.source != "sim" or settings.api_token:
        return settings
    from app.userstate import StateError, new_api_token, persistent_api_token

    try:
        token = persistent_api_token()
    except StateError as e:
        _warn(f"cannot keep the API token ({e}): kubeconfigs written now stop working at the next start")
        token = new_api_token()
    return dataclasses.replace(settings, api_token=token)


def _create(settings: Settings) -> Any:
    from app.server import create_app

    try:
        return create_app(settings)
    except Exception as e:
        if _is_startup_error(e):
            raise UsageError(str(e)) from None
        raise


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening address, bound now (port 0: any free port): a busy port is one line."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as e:
        raise UsageError(f"--host {host}: {getattr(e, 'strerror', None) or e}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise UsageError(_bind_problem(host, port, e)) from None
    return sock


def _bind_problem(host: str, port: int, e: OSError) -> str:
    where = f"cannot listen on {_address(host, port)}: {(e.strerror or str(e)).lower()}"
    if e.errno == errno.EADDRINUSE:
        running = _running_at(host, port)
        if running is not None:
            return (
                f"{where}: slicescope already serves {running.url} there ({PROG} kubeconfig FILE "
                "writes a kubeconfig for it); to start another, choose another --port"
            )
        return f"{where}: another program listens there; choose another --port (or --host)"
    if e.errno == errno.EACCES:
        return f"{where}: ports below 1024 need privileges; choose another --port"
    if e.errno == errno.EADDRNOTAVAIL:
        return f"{where}: this machine has no such address; choose another --host"
    return f"{where}; check --host and --port"


def _running_at(host: str, port: int) -> Any:
    from app.userstate import running_servers

    try:
        return next((r for r in running_servers() if r.host == host and r.port == port), None)
    except Exception:  # a hint only: never let it hide the real error
        return None


# ---- after binding: outputs, the announcement, serving ----------------------------------------
def _start_outputs(app: Any, settings: Settings, port: int) -> None:
    """Start --record and write --write-kubeconfig (with the port actually bound)."""
    from app.server import write_kubeconfig

    rt = app.state.runtime
    if settings.record:
        from app.recording.format import RecordingError

        try:  # the lifespan stops it
            rt.recorder.start(settings.record)
        except RecordingError as e:
            raise UsageError(f"--record: {e}") from None
    if settings.write_kubeconfig:
        try:
            write_kubeconfig(settings.write_kubeconfig, settings, rt.api_token, port)
        except OSError as e:
            raise UsageError(f"--write-kubeconfig {settings.write_kubeconfig}: {e.strerror or e}") from None


def _remember(app: Any, settings: Settings, port: int) -> Any:
    """Leave this dashboard's address (and the simulated API's token) for `slicescope kubeconfig`."""
    from app.server import api_server_url
    from app.userstate import ServerRecord, StateError, save_server

    rt = app.state.runtime
    sim = settings.source == "sim"
    record = ServerRecord(
        host=settings.host,
        port=port,
        pid=os.getpid(),
        source=settings.source,
        url=page_url(settings.host, port),
        api=api_server_url(settings, port) if sim else "",
        token=rt.api_token if sim else "",
    )
    try:
        save_server(record)
    except StateError as e:
        _warn(f"{PROG} kubeconfig will not find this dashboard: {e}")
        return None
    return record


def _announce(app: Any, settings: Settings, port: int) -> None:
    rt = app.state.runtime
    url = page_url(settings.host, port)
    print(f"{PROG}: {rt.info.name} at {url}", flush=True)
    if settings.write_kubeconfig:
        print(f"{PROG}: kubectl --kubeconfig {settings.write_kubeconfig} get endpoints -w", flush=True)
    elif settings.source == "sim":
        print(f"{PROG}: a kubeconfig for kubectl: {PROG} kubeconfig FILE (in another terminal)", flush=True)
    if settings.record:
        print(f"{PROG}: recording to {settings.record}", flush=True)
    if rt.present_token:
        print(f"{PROG}: presenter (controls): {presenter_url(settings.host, port, rt.present_token)}")
        print(f"{PROG}: class (read-only):    {url}")
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
        _warn(f"listening on {settings.host}, not only this machine")


def serve(app: Any, sock: socket.socket, log_level: str) -> None:
    """Run uvicorn on the socket already bound (Ctrl+C stops it); every log line redacted."""
    import uvicorn

    install_redaction()  # the root handler: urllib3's retry warnings name the API's /t/<token>/ URL
    config = uvicorn.Config(
        app,
        log_level=log_level,
        log_config=uvicorn_log_config(),  # uvicorn's handlers, with the same redaction
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl+C it handled once it has shut down
        pass


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def _fail(e: UsageError) -> int:
    print(f"{PROG}: error: {e}", file=sys.stderr, flush=True)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["kubeconfig"]:
        try:
            return kubeconfig_command(args[1:])
        except UsageError as e:
            return _fail(e)
    try:
        settings, log_level = settings_from_args(args)
        for flag, path in (("--record", settings.record), ("--write-kubeconfig", settings.write_kubeconfig)):
            if path:
                _check_writable(flag, path, make_folders=flag == "--write-kubeconfig")
        settings = _with_api_token(settings)
        app = _create(settings)  # kubeconfig, context, scenario and recording are read here
        sock = bind_socket(settings.host, settings.port)  # last: the first error is the real one
    except UsageError as e:
        return _fail(e)
    record = None
    try:
        port = sock.getsockname()[1]
        try:
            _start_outputs(app, settings, port)
        except UsageError as e:
            return _fail(e)
        record = _remember(app, settings, port)
        _announce(app, settings, port)
        logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        serve(app, sock, log_level)
    finally:
        app.state.runtime.recorder.stop()
        sock.close()
        if record is not None:
            from app.userstate import forget_server

            forget_server(record)
    return 0


# ---- slicescope kubeconfig FILE ----------------------------------------------------------------
def build_kubeconfig_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=f"{PROG} kubeconfig",
        description="Write a kubeconfig for kubectl against the simulated cluster of a slicescope "
        "already running on this machine (as this user). No other server is started.",
    )
    p.add_argument("file", metavar="FILE", help="where to write it (mode 0600: it holds the API token)")
    p.add_argument("--host", help="the --host that dashboard was started with (when several run)")
    p.add_argument("--port", type=int, help="the --port that dashboard was started with (when several run)")
    return p


def kubeconfig_command(argv: Sequence[str]) -> int:
    """`slicescope kubeconfig FILE [--host H] [--port P]`: 0, or UsageError."""
    from app.sim.api.kubeconfig import write_kubeconfig

    args = build_kubeconfig_parser().parse_args(argv)
    chosen = _choose_server(args.host, args.port)
    if chosen.source != "sim":
        shows = "a recording" if chosen.source == "replay" else "a real cluster"
        raise UsageError(
            f"the dashboard at {chosen.url} shows {shows}, not the simulated cluster: "
            "kubectl talks to that cluster with its own kubeconfig"
        )
    _check_token(chosen.api, chosen.token, chosen.url)
    _check_writable("kubeconfig", args.file, make_folders=True)
    try:
        write_kubeconfig(Path(args.file).expanduser(), chosen.api, chosen.token)
    except OSError as e:
        raise UsageError(f"kubeconfig {args.file}: {e.strerror or e}") from None
    print(f"{PROG}: wrote {args.file} for the simulated cluster of {chosen.url}")
    print(f"{PROG}: kubectl --kubeconfig {args.file} get endpoints -w", flush=True)
    return 0


def _choose_server(host: str | None, port: int | None) -> Any:
    from app.userstate import StateError, running_servers

    try:
        running = running_servers()
    except StateError as e:
        raise UsageError(str(e)) from None
    picked = [r for r in running if (host is None or r.host == host) and (port is None or r.port == port)]
    if len(picked) == 1:
        return picked[0]
    others = ", ".join(r.address for r in running)
    if not picked:
        wanted = "" if host is None and port is None else f" on {host or '*'}:{port or '*'}"
        also = f" (running: {others})" if others else f"; start one first: {PROG}"
        raise UsageError(f"no slicescope of this user is running{wanted}{also}")
    raise UsageError(f"several dashboards are running ({others}): choose one with --port (and --host)")


def _check_token(api: str, token: str, url: str) -> None:
    """That the dashboard answers and takes the token (it is the one whose record we read)."""
    from app.sim.api.kubeconfig import server_with_token

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(server_with_token(api, token) + "/api", timeout=10) as resp:
            resp.read()
    except urllib.error.HTTPError as e:
        if e.code == 401:
            raise UsageError(
                f"the dashboard at {url} does not take the token on record: restart it"
            ) from None
        raise UsageError(f"the dashboard at {url} answered {e.code} for its Kubernetes API") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise UsageError(f"the dashboard at {url} does not answer ({reason})") from None


RedactTokens = RedactSecrets  # the older name of the access log's filter
