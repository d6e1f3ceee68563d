"""The command line: flags fill Settings, bad input is one line on stderr with exit code 2 and is
reported before the port is bound (so a busy port never hides it), a busy port is one line naming
--port, `python -m app` serves the dashboard (and, with a kubeconfig, watches another slicescope's
API), and `slicescope kubeconfig FILE` writes a kubeconfig for a dashboard already running, whose
API token survives a restart. No test here needs a particular port to be free: the default port is
held busy on purpose by the tests that would otherwise use it."""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app import cli
from app.settings import Settings
from tests.fixtures_app import wait_for

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@contextmanager
def listening(port: int = 0) -> Iterator[int]:
    """Something listening on 127.0.0.1:`port` (0: any free one) for the block; yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def default_port_busy() -> Iterator[int]:
    """127.0.0.1:8000 (the default --port) is taken: by us if nobody else has it."""
    try:
        with listening(8000) as port:
            yield port
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        yield 8000


@pytest.fixture
def busy_port() -> Iterator[int]:
    with listening() as port:
        yield port


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, tuple[str, int], str]]:
    """cli.serve replaced: main() returns after binding; each call is (app, bound address, log level)."""
    calls: list[tuple[Any, tuple[str, int], str]] = []

    def serve(app: Any, sock: socket.socket, log_level: str) -> None:
        calls.append((app, sock.getsockname(), log_level))
        assert sock.getsockname()[1] != 0  # bound before serving

    monkeypatch.setattr(cli, "serve", serve)
    return calls


# ---- flags -> Settings ----------------------------------------------------------------
def test_defaults_are_the_settings_defaults() -> None:
    settings, level = cli.settings_from_args([])
    assert settings == Settings()
    assert level == "info"


def test_sim_flags() -> None:
    settings, level = cli.settings_from_args(
        ["--host", "127.0.0.2", "--port", "9001", "--sim-speed", "3", "--max-endpoints-per-slice", "5",
         "--seed", "7", "--no-lesson", "--write-kubeconfig", "/tmp/k", "--log-level", "DEBUG"]
    )  # fmt: skip
    assert settings == Settings(
        host="127.0.0.2",
        port=9001,
        sim_speed=3.0,
        max_endpoints_per_slice=5,
        sim_seed=7,
        sim_lesson=False,
        write_kubeconfig="/tmp/k",
    )
    assert level == "debug"


def test_real_cluster_flags(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\n")
    settings, _ = cli.settings_from_args(
        ["--kubeconfig", str(kubeconfig), "--context", "prod", "-n", "a", "--namespace", "b", "-n", "a",
         "--allow-actions"]
    )  # fmt: skip
    assert settings.source == "kube"
    assert (settings.kubeconfig, settings.context) == (str(kubeconfig), "prod")
    assert settings.namespaces == ("a", "b")
    assert settings.allow_actions and settings.actions_enabled
    assert cli.settings_from_args(["--kube"])[0].source == "kube"
    assert cli.settings_from_args(["--kube", "-A"])[0].namespaces == ()
    in_cluster, _ = cli.settings_from_args(["--in-cluster"])
    assert in_cluster.source == "kube" and in_cluster.in_cluster


BAD = [
    (["--port", "nope"], "--port"),
    (["--port", "70000"], "--port"),
    (["--sim-speed", "0"], "--sim-speed"),
    (["--sim-speed", "nan"], "--sim-speed"),
    (["--max-endpoints-per-slice", "1001"], "--max-endpoints-per-slice"),
    (["--bogus"], "--bogus"),
    (["--log-level", "loud"], "--log-level"),
    (["-n", "default"], "--kube"),
    (["--kube", "-n", "a", "-A"], "exclude"),
    (["--kube", "-n", "Bad_NS"], "namespace"),
    (["--in-cluster", "--kubeconfig", "x"], "exclude"),
    (["--kubeconfig", "/no/such/kubeconfig"], "no such file"),
    (["--kube", "--write-kubeconfig", "k"], "--write-kubeconfig"),
    (["--replay-speed", "2"], "--replay-speed is for --replay"),
    (["--replay", "r.jsonl", "--replay-speed", "0"], "--replay-speed"),
    (["--replay", "r.jsonl", "--replay-speed", "1000"], "between 0.1 and 100"),
    (["--replay", "r.jsonl", "--kube"], "--replay"),
    (["--replay", "r.jsonl", "--write-kubeconfig", "k"], "--write-kubeconfig"),
    (["--replay", "r.jsonl", "--record", "./r.jsonl"], "overwrite"),
    (["--recordings-dir", "/no/such/folder"], "no such folder"),
    (["--scenario", "/no/such/scenario.yaml"], "no such file"),
    (["--scenario", "s.yaml", "--kube"], "--scenario"),
    (["--present-token", "short"], "--present-token"),
    (["--present-token", "has space in it"], "--present-token"),
    (["--api-token", "short"], "--api-token"),
    (["--kube", "--api-token", "long-enough-token"], "--api-token"),
]


@pytest.mark.parametrize(("args", "words"), BAD)
def test_bad_flags_in_process(args: list[str], words: str) -> None:
    with pytest.raises(cli.UsageError, match=words):
        cli.settings_from_args(args)


def test_record_replay_and_classroom_flags(tmp_path: Path) -> None:
    scenario = tmp_path / "mine.yaml"
    scenario.write_text("name: x\n")
    settings, _ = cli.settings_from_args(
        ["--record", "out.jsonl", "--recordings-dir", str(tmp_path), "--scenario", str(scenario),
         "--present-token", "tok-12345678"]
    )  # fmt: skip
    assert (settings.source, settings.record, settings.recordings_dir) == ("sim", "out.jsonl", str(tmp_path))
    assert (settings.scenario, settings.present, settings.present_token) == (
        str(scenario),
        True,
        "tok-12345678",
    )
    settings, _ = cli.settings_from_args(["--replay", "r.jsonl", "--replay-speed", "4", "--present"])
    assert (settings.source, settings.replay, settings.replay_speed) == ("replay", "r.jsonl", 4.0)
    assert (settings.present, settings.present_token, settings.record) == (True, None, None)
    assert settings.actions_enabled is False


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slicescope: error: ")
    return lines[0]


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, default_port_busy: int) -> None:
    assert "--port" in one_line_error(run_cli("--port", "nope"))  # argparse's own errors
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    assert str(broken) in one_line_error(run_cli("--kubeconfig", str(broken)))  # KubeConfigError


def test_bad_scenarios_recordings_and_record_paths_are_one_line(
    tmp_path: Path, default_port_busy: int
) -> None:
    scenario = tmp_path / "lesson.yaml"
    scenario.write_text("name: my-lesson\ntitle: T\nsummary: S\nsteps:\n  - title: A\n    narration: N\n"
                        "    actions:\n      - scael: {deployment: web, replicas: 2}\n")  # fmt: skip
    line = one_line_error(run_cli("--scenario", str(scenario)))
    assert f"{scenario}, line 8" in line and "scael" in line
    # the same in process (quicker; the subprocess above shows the real command's stderr)
    not_a_recording = tmp_path / "notes.jsonl"
    not_a_recording.write_text('{"hello": 1}\n')
    code, line = _main(["--replay", str(not_a_recording)])
    assert code == 2 and str(not_a_recording) in line
    missing = tmp_path / "nowhere" / "rec.jsonl"
    code, line = _main(["--record", str(missing)])
    assert code == 2 and "--record" in line and str(missing) in line


def test_every_input_is_checked_before_the_port_is_bound(tmp_path: Path, busy_port: int) -> None:
    """With the port taken, each bad input still gets its own error, not the port's; in process, so
    the whole list runs in a second."""
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    good = tmp_path / "config"
    good.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    bad_scenario = tmp_path / "lesson.yaml"
    bad_scenario.write_text("name: x\nsteps: [\n")
    not_a_recording = tmp_path / "notes.jsonl"
    not_a_recording.write_text('{"hello": 1}\n')
    a_folder = tmp_path / "folder"
    a_folder.mkdir()
    cases = [
        (["--kubeconfig", str(broken)], str(broken)),
        (["--kubeconfig", str(good), "--context", "nope"], "nope"),
        (["--scenario", str(bad_scenario)], str(bad_scenario)),
        (["--replay", str(not_a_recording)], str(not_a_recording)),
        (["--record", str(tmp_path / "nowhere" / "r.jsonl")], "--record"),
        (["--record", str(a_folder)], "--record"),
        (["--write-kubeconfig", str(a_folder)], "--write-kubeconfig"),
        (["--recordings-dir", str(tmp_path / "nowhere")], "--recordings-dir"),
    ]
    for args, words in cases:
        code, err = _main(["--port", str(busy_port), *args])
        assert code == 2 and words in err and "listen" not in err, (args, err)
    assert list(a_folder.iterdir()) == []  # nothing was written on the way


def _main(args: list[str]) -> tuple[int, str]:
    """cli.main in process; (exit code, stderr)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(args)
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slicescope: error: "), err.getvalue()
    return code, lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--kubeconfig", "/no/such/file"], "no such file"), (["--in-cluster"], "in-cluster")],
)
def test_main_reports_config_errors_in_one_line(
    args: list[str],
    words: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    default_port_busy: int,
) -> None:
    for name in list(os.environ):
        if name.startswith("KUBERNETES_"):
            monkeypatch.delenv(name)
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("slicescope: error: ") and words in err[0]


def test_a_port_in_use_is_one_line_naming_port_and_host(busy_port: int, tmp_path: Path) -> None:
    code, line = _main(["--port", str(busy_port), "--record", str(tmp_path / "r.jsonl")])
    assert code == 2 and f"127.0.0.1:{busy_port}" in line and "--port" in line and "--host" in line
    assert not (tmp_path / "r.jsonl").exists()  # nothing was started or written


def test_an_address_not_on_this_machine_is_one_line_naming_host() -> None:
    code, line = _main(["--host", "192.0.2.1", "--port", "0"])  # TEST-NET-1: never a local address
    assert code == 2 and "192.0.2.1" in line and "--host" in line


def test_main_builds_the_app_and_serves_it_on_the_bound_port(
    no_serving: list[Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "sim.yaml"
    assert cli.main(["--port", "0", "--no-lesson", "--write-kubeconfig", str(kubeconfig)]) == 0
    (app, (host, port), level), *_ = no_serving
    assert level == "info" and host == "127.0.0.1"
    assert app.state.runtime.settings.sim_lesson is False
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}/" in out
    config = yaml.safe_load(kubeconfig.read_text())
    assert f"127.0.0.1:{port}/k8s" in config["clusters"][0]["cluster"]["server"]
    assert config["users"][0]["user"]["token"] == app.state.runtime.api_token
    assert kubeconfig.stat().st_mode & 0o077 == 0


def test_present_prints_the_presenter_and_class_urls(
    no_serving: list[Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record = tmp_path / "class.jsonl"
    args = ["--port", "0", "--no-lesson", "--present-token", "tok-en_12345"]
    assert cli.main([*args, "--record", str(record)]) == 0
    ((app, (_, port), _),) = no_serving
    rt = app.state.runtime
    assert rt.present_token == "tok-en_12345" and not rt.recorder.recording  # stopped on the way out
    assert record.read_text().startswith('{"slicescope-recording":1,')
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}/?token=tok-en_12345" in out
    assert f"class (read-only):    http://127.0.0.1:{port}/\n" in out
    assert "--host 0.0.0.0" in out and f"recording to {record}" in out

    no_serving.clear()
    assert cli.main(["--port", "0", "--no-lesson", "--present"]) == 0
    token = no_serving[0][0].state.runtime.present_token
    assert len(token) >= 16 and f"?token={token}" in capsys.readouterr().out


# ---- the real thing --------------------------------------------------------------------
_SERVING_AT = re.compile(r"^slicescope: .* at (http://127\.0\.0\.1:\d+)/$")


class Dashboard:
    """`python -m app` started now (on any free port by default: it prints the one it bound);
    `up()` waits until it answers. On exit it gets SIGINT, and `done` gets rc, out, err."""

    def __init__(self, *args: str, port: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(port), "--log-level", "warning", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=lambda f=f, into=into: into.extend(f), daemon=True)
            for f, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for t in self.readers:
            t.start()
        self.done: dict[str, Any] = {}

    def up(self) -> str:
        """The base URL, once it answers."""

        def base_url() -> str | None:
            assert self.proc.poll() is None, "".join(self.err)
            found = [m.group(1) for line in self.out if (m := _SERVING_AT.match(line.rstrip("\n")))]
            return found[0] if found else None

        base = wait_for(base_url, timeout=60, interval=0.05, what="the server to say where it listens")

        def answers() -> bool:
            assert self.proc.poll() is None, "".join(self.err)
            try:
                return httpx.get(base + "/healthz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, timeout=60, interval=0.1, what="the server to answer")
        return base

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for t in self.readers:
            t.join(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        self.done.update(rc=proc.returncode, out="".join(self.out), err="".join(self.err))


@contextmanager
def serving(*args: str, port: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """A Dashboard, up: yields its base URL and what `done` will hold once it has stopped."""
    with Dashboard(*args, port=port) as dashboard:
        yield dashboard.up(), dashboard.done


def pod_names(base: str) -> set[str]:
    return {p["name"] for p in httpx.get(base + "/api/snapshot", timeout=5).json()["pods"].values()}


def test_python_m_app_serves_and_a_second_one_watches_it_through_its_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "sim.yaml"
    args = ("--sim-speed", "50", "--seed", "3", "--write-kubeconfig", str(kubeconfig))
    with serving(*args) as (sim, sim_done):
        assert httpx.get(sim + "/healthz").json() == {"ok": True, "source": "sim", "connection": "live"}
        page = httpx.get(sim + "/")
        assert page.status_code == 200 and "slicescope" in page.text
        lesson = wait_for(
            lambda: len(pods := pod_names(sim)) >= 7 and pods, timeout=60, what="the lesson's pods"
        )

        with serving("--kubeconfig", str(kubeconfig), "--allow-actions") as (kube, kube_done):
            health = wait_for(
                lambda: (h := httpx.get(kube + "/healthz").json())["connection"] == "live" and h,
                timeout=60,
                what="the kube source to go live",
            )
            assert health["source"] == "kube"
            snap = httpx.get(kube + "/api/snapshot").json()
            assert snap["meta"]["cluster"]["mode"] == "kube"
            assert snap["meta"]["actions"] is True
            wait_for(
                lambda: pod_names(kube) == pod_names(sim), timeout=60, what="both views to show the same pods"
            )
            # `slicescope kubeconfig` is for the simulated cluster: not for a real-cluster dashboard
            kube_port = kube.rsplit(":", 1)[1]
            code, line = _main(["kubeconfig", str(tmp_path / "k.yaml"), "--port", kube_port])
            assert code == 2 and "real cluster" in line and not (tmp_path / "k.yaml").exists()
            # an action on the real-cluster dashboard changes the simulated cluster
            victim = sorted(n for n in lesson if n.startswith("web-"))[0]
            r = httpx.post(
                kube + "/api/actions/label",
                json={"namespace": "default", "pod": victim, "labels": {"app": "debug"}},
            )
            assert r.status_code == 200, r.text

            def relabelled(base: str) -> bool:
                pods = httpx.get(base + "/api/snapshot").json()["pods"]
                return pods.get(f"default/{victim}", {}).get("labels", {}).get("app") == "debug"

            wait_for(
                lambda: relabelled(sim) and relabelled(kube), timeout=60, what="the label on both dashboards"
            )
        assert kube_done["rc"] == 0 and "Traceback" not in kube_done["err"]
    assert sim_done["rc"] == 0, sim_done["err"]  # Ctrl+C stops it cleanly
    assert f"{sim}/" in sim_done["out"]
    assert "Traceback" not in sim_done["err"]


def kubectl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(config), *args], capture_output=True, text=True, timeout=60
    )


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def test_kubeconfig_for_the_running_dashboard_and_a_restart_keeps_its_token(tmp_path: Path) -> None:
    handed_out = tmp_path / "class" / "kubeconfig"
    line = one_line_error(run_cli("kubeconfig", str(handed_out)))
    assert "no slicescope" in line and not handed_out.exists()  # nothing runs yet
    with serving("--seed", "3") as (base, done):
        result = run_cli("kubeconfig", str(handed_out))  # no second server: the port stays its
        assert result.returncode == 0, result.stderr
        assert f"wrote {handed_out}" in result.stdout and "get endpoints -w" in result.stdout
        assert handed_out.stat().st_mode & 0o777 == 0o600
        server = yaml.safe_load(handed_out.read_text())["clusters"][0]["cluster"]["server"]
        assert server.startswith(f"{base}/k8s/")
        pods = httpx.get(server + "/api/v1/namespaces/default/pods", timeout=30)  # as kubectl would
        assert pods.status_code == 200 and any(
            p["metadata"]["name"].startswith("shipping-api-") for p in pods.json()["items"]
        )
    assert done["rc"] == 0, done["err"]
    code, line = _main(["kubeconfig", str(tmp_path / "late")])
    assert code == 2 and "no slicescope" in line  # its record went with it

    # restarted (same port): the kubeconfig handed out before still works
    with serving("--seed", "3", port=port_of(base)) as (again, _):
        assert again == base
        got = kubectl(handed_out, "get", "endpoints", "shipping-api-service", "-o", "name")
        assert got.returncode == 0, got.stderr


def test_api_token_flag_and_choosing_among_running_dashboards(tmp_path: Path) -> None:
    token = "class-token-0001"
    with Dashboard("--no-lesson", "--api-token", token) as one, Dashboard("--no-lesson") as two:
        first, second = one.up(), two.up()  # started side by side
        code, line = _main(["kubeconfig", str(tmp_path / "any")])  # in process: quicker, same code
        assert code == 2
        assert "several" in line and "--port" in line and str(port_of(second)) in line
        out = tmp_path / "first.yaml"
        assert cli.main(["kubeconfig", str(out), "--port", str(port_of(first)), "--host", "127.0.0.1"]) == 0
        config = yaml.safe_load(out.read_text())
        assert config["users"][0]["user"]["token"] == token
        assert config["clusters"][0]["cluster"]["server"] == f"{first}/k8s/t/{token}"
        with listening() as idle:
            code, line = _main(["kubeconfig", str(tmp_path / "none"), "--port", str(idle)])
            assert code == 2 and f":{idle}" in line and "running:" in line


def test_state_files_are_private_and_stale_records_are_dropped(tmp_path: Path) -> None:
    from app import userstate

    folder = tmp_path / "state"
    token = userstate.persistent_api_token(folder)
    assert userstate.persistent_api_token(folder) == token  # kept
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / userstate.TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    (folder / userstate.TOKEN_FILE).chmod(0o644)  # readable by others: not trusted, replaced
    assert userstate.persistent_api_token(folder) != token

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = userstate.ServerRecord("127.0.0.1", 8123, int(dead.stdout), "sim", "http://127.0.0.1:8123/")
    mine = userstate.ServerRecord("127.0.0.1", 8124, os.getpid(), "sim", "http://127.0.0.1:8124/")
    for record in (stale, mine):
        assert userstate.save_server(record, folder).stat().st_mode & 0o777 == 0o600
    assert userstate.running_servers(folder) == [mine]
    assert len(list((folder / userstate.SERVERS_DIR).iterdir())) == 1  # the stale one removed
    userstate.forget_server(mine, folder)
    assert userstate.running_servers(folder) == []


def test_access_log_never_shows_the_api_token():
    import logging

    from app.cli import RedactTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/k8s/t/s3cr3t-tok/api/v1/pods?watch=1", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert "s3cr3t" not in record.getMessage() and "/k8s/t/<token>/api/v1/pods" in record.getMessage()
