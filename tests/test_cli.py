"""The command line: flags fill Settings, bad input is one line on stderr with exit code 2, and
`python -m app` serves the dashboard (and, with a kubeconfig, watches another slicescope's API)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    assert "--port" in one_line_error(run_cli("--port", "nope"))  # argparse's own errors
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    assert str(broken) in one_line_error(run_cli("--kubeconfig", str(broken)))  # KubeConfigError


def test_bad_scenarios_recordings_and_record_paths_are_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "lesson.yaml"
    scenario.write_text("name: my-lesson\ntitle: T\nsummary: S\nsteps:\n  - title: A\n    narration: N\n"
                        "    actions:\n      - scael: {deployment: web, replicas: 2}\n")  # fmt: skip
    line = one_line_error(run_cli("--scenario", str(scenario)))
    assert f"{scenario}, line 8" in line and "scael" in line
    not_a_recording = tmp_path / "notes.jsonl"
    not_a_recording.write_text('{"hello": 1}\n')
    assert str(not_a_recording) in one_line_error(run_cli("--replay", str(not_a_recording)))
    missing = tmp_path / "nowhere" / "rec.jsonl"
    line = one_line_error(run_cli("--port", str(free_port()), "--record", str(missing)))
    assert "--record" in line and str(missing) in line


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--kubeconfig", "/no/such/file"], "no such file"), (["--in-cluster"], "in-cluster")],
)
def test_main_reports_config_errors_in_one_line(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("KUBERNETES_"):
            monkeypatch.delenv(name)
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("slicescope: error: ") and words in err[0]


def test_a_port_in_use_is_reported_before_serving() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert f"127.0.0.1:{port}" in one_line_error(run_cli("--port", str(port)))


def test_main_builds_the_app_and_hands_it_to_uvicorn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    port = free_port()
    kubeconfig = tmp_path / "sim.yaml"
    assert cli.main(["--port", str(port), "--no-lesson", "--write-kubeconfig", str(kubeconfig)]) == 0
    (app, kwargs), *_ = calls
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == port
    assert app.state.runtime.settings.sim_lesson is False
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}/" in out
    config = yaml.safe_load(kubeconfig.read_text())
    assert f"127.0.0.1:{port}/k8s" in config["clusters"][0]["cluster"]["server"]
    assert config["users"][0]["user"]["token"] == app.state.runtime.api_token
    assert kubeconfig.stat().st_mode & 0o077 == 0


def test_present_prints_the_presenter_and_class_urls(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import uvicorn

    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(app))
    port = free_port()
    record = tmp_path / "class.jsonl"
    args = ["--port", str(port), "--no-lesson", "--present-token", "tok-en_12345"]
    assert cli.main([*args, "--record", str(record)]) == 0
    (app,) = calls
    rt = app.state.runtime
    assert rt.present_token == "tok-en_12345" and rt.recorder.recording
    rt.recorder.stop()
    assert record.read_text().startswith('{"slicescope-recording":1,')
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}/?token=tok-en_12345" in out
    assert f"class (read-only):    http://127.0.0.1:{port}/\n" in out
    assert "--host 0.0.0.0" in out and f"recording to {record}" in out

    calls.clear()
    assert cli.main(["--port", str(free_port()), "--no-lesson", "--present"]) == 0
    token = calls[0].state.runtime.present_token
    assert len(token) >= 16 and f"?token={token}" in capsys.readouterr().out


# ---- the real thing --------------------------------------------------------------------
@contextmanager
def serving(*args: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """`python -m app` on a free port; on exit it gets SIGINT, and `done` gets rc, out, err."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port), "--log-level", "warning", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert proc.poll() is None, proc.communicate()
            try:
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=30, interval=0.1, what="the server to answer")
        done: dict[str, Any] = {}
        yield base, done
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        done.update(rc=proc.returncode, out=out, err=err)


def pod_names(base: str) -> set[str]:
    return {p["name"] for p in httpx.get(base + "/api/snapshot", timeout=5).json()["pods"].values()}


def test_python_m_app_serves_and_a_second_one_watches_it_through_its_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "sim.yaml"
    args = ("--sim-speed", "50", "--seed", "3", "--write-kubeconfig", str(kubeconfig))
    with serving(*args) as (sim, sim_done):
        assert httpx.get(sim + "/healthz").json() == {"ok": True, "source": "sim", "connection": "live"}
        page = httpx.get(sim + "/")
        assert page.status_code == 200 and "slicescope" in page.text
        lesson = wait_for(lambda: len(pods := pod_names(sim)) >= 7 and pods, what="the lesson's pods")

        with serving("--kubeconfig", str(kubeconfig), "--allow-actions") as (kube, kube_done):
            health = wait_for(
                lambda: (h := httpx.get(kube + "/healthz").json())["connection"] == "live" and h,
                what="the kube source to go live",
            )
            assert health["source"] == "kube"
            snap = httpx.get(kube + "/api/snapshot").json()
            assert snap["meta"]["cluster"]["mode"] == "kube"
            assert snap["meta"]["actions"] is True
            wait_for(lambda: pod_names(kube) == pod_names(sim), what="both views to show the same pods")
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

            wait_for(lambda: relabelled(sim) and relabelled(kube), what="the label on both dashboards")
        assert kube_done["rc"] == 0 and "Traceback" not in kube_done["err"]
    assert sim_done["rc"] == 0, sim_done["err"]  # Ctrl+C stops it cleanly
    assert f"{sim}/" in sim_done["out"]
    assert "Traceback" not in sim_done["err"]


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
