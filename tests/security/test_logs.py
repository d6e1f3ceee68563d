"""No token in a log line, read from a real `python -m app` process: the presenter's ?token= (page
and console stream), the page token, the simulated API's /t/<token>/ path in the access log, and
urllib3's retry warnings of a real-cluster source whose server URL carries a token."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

from app.security.logs import RedactSecrets, redact
from tests.security.helpers import running_cli, served_port

PRESENTER = "presenter-secret-4f7c1"


def test_the_access_log_shows_no_token(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    args = ("--port", "0", "--present-token", PRESENTER, "--write-kubeconfig", str(kubeconfig))
    with running_cli(*args) as cli:
        port = served_port(cli)
        base = f"http://127.0.0.1:{port}"
        api_token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        assert httpx.get(f"{base}/?token={PRESENTER}", timeout=30).status_code == 200
        csrf = httpx.get(f"{base}/api/csrf", timeout=30).json()["token"]
        command = quote("kubectl get pods")
        stream = httpx.get(f"{base}/api/console/stream?command={command}&token={PRESENTER}", timeout=60)
        assert stream.status_code == 200
        assert httpx.get(f"{base}/api/snapshot?csrf={csrf}", timeout=30).status_code == 200
        pods = httpx.get(f"{base}/k8s/t/{api_token}/api/v1/namespaces/default/pods", timeout=30)
        assert pods.status_code == 200
        assert httpx.get(
            f"{base}/k8s/api/v1/pods", headers={"Authorization": f"Bearer {api_token}"}
        ).is_success
        cli.wait_for(r'"GET /k8s/api/v1/pods HTTP/1.1" 200')  # the last request is in the log
        log = cli.text()
    assert "GET /?token=<token> HTTP/1.1" in log
    assert "GET /api/console/stream?command=kubectl%20get%20pods&token=<token> HTTP/1.1" in log
    assert "GET /api/snapshot?csrf=<token> HTTP/1.1" in log
    assert "GET /k8s/t/<token>/api/v1/namespaces/default/pods HTTP/1.1" in log
    # the one line the presenter's token may be on is the one the CLI prints for the presenter
    shown = [line for line in log.splitlines() if PRESENTER in line]
    assert len(shown) == 1 and shown[0].startswith("slicescope: presenter (controls): http://"), shown
    assert api_token not in log and csrf not in log


def test_urllib3_retry_warnings_of_a_real_cluster_show_no_token(tmp_path: Path) -> None:
    secret = "path-token-9d2e7a41"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:9/k8s/t/{secret}"}}],
                "users": [{"name": "u", "user": {"token": secret}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    with running_cli("--kubeconfig", str(kubeconfig), "--port", "0") as cli:
        cli.wait_for(r"Retrying .*: /k8s/t/<token>/api", timeout=60)
        log = cli.text()
    assert secret not in log, [line for line in log.splitlines() if secret in line][:3]


def test_the_filter_redacts_arguments_messages_and_tracebacks() -> None:
    assert redact("GET /k8s/t/abc.DEF_1-2/api?watch=1") == "GET /k8s/t/<token>/api?watch=1"
    assert redact("/?token=abc&x=1 /?a=1&csrf=zz") == "/?token=<token>&x=1 /?a=1&csrf=<token>"
    assert redact("header value b'bearer eyJhbGciOi.x-y_z'") == "header value b'bearer <token>'"
    assert redact("nothing to hide: /api/snapshot") == "nothing to hide: /api/snapshot"

    class Url:
        def __str__(self) -> str:
            return "http://h/k8s/t/s3cr3t/api"

    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "failed %s: %s", (Url(), "?token=s3cr3t"), None
    )
    assert RedactSecrets().filter(record)
    assert "s3cr3t" not in record.getMessage()
    try:
        raise ValueError("Invalid header value b'Bearer s3cr3t-tok'")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    RedactSecrets().filter(record)
    handler_output = logging.Formatter().format(record)
    assert "s3cr3t" not in handler_output and "Bearer <token>" in handler_output
