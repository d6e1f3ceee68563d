"""Credentials as client-go treats them, and never shown: a service-account token file or a kubeconfig
token file ending in a newline works (whitespace trimmed, also on every refresh); a token that cannot
be sent says so on the page and in the log without any of its text; kubeconfig load errors are
scrubbed too. Real HTTP against bench/fakeapi.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from app.settings import Settings
from app.sources.kube import KubeSource
from app.sources.kubeconfig_load import KubeConfigError, load_incluster, load_kubeconfig
from app.sources.secrets import scrub
from bench.fakeapi import fake_api
from tests.kube.fakes import Mirror
from tests.kube.test_kube_live import eventually
from tests.kube.test_kube_trust import FAST

# a service-account token as the kubelet mounts it: a JWT, here with the newline some tools add
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InNsaWNlc2NvcGUtdGVzdCJ9"
    ".eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpzbGljZXNjb3BlIn0"
    ".c2lnbmF0dXJlLW5vdC1yZWFsLWJ1dC1sb25nLWVub3VnaA"
)


async def run_until_live(source: KubeSource, mirror: Mirror, pods: int) -> None:
    task = asyncio.create_task(source.run(mirror))
    try:
        await eventually(lambda: mirror.status.state == "live" and len(mirror.names("Pod")) == pods)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_service_account_token_file_ending_in_a_newline_works(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(JWT + "\n")
    (tmp_path / "ca").write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    loaded = load_incluster(environ=env, token_file=str(tmp_path / "token"), cert_file=str(tmp_path / "ca"))
    cfg = loaded.configuration
    assert cfg.get_api_key_with_prefix("BearerToken") == f"bearer {JWT}"  # refreshed, and still trimmed
    with fake_api(pods=12, services=2, token=JWT) as api:
        # the pod's API server, here the fake one over plain http (the in-cluster refresh, which
        # re-reads the token file before requests, also puts its https host back: undo that)
        refresh = cfg.refresh_api_key_hook
        assert refresh is not None

        def to_the_fake(configuration: object) -> None:
            refresh(configuration)
            configuration.host = api.url  # type: ignore[attr-defined]
            configuration.refresh_api_key_hook = to_the_fake  # type: ignore[attr-defined]

        cfg.refresh_api_key_hook = to_the_fake
        cfg.host = api.url
        source = KubeSource.from_loaded(loaded, Settings(source="kube", in_cluster=True), config=FAST)
        await run_until_live(source, Mirror(), 12)


async def test_a_kubeconfig_token_file_ending_in_a_newline_works(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(f"  {JWT}\r\n")
    with fake_api(pods=8, services=2, token=JWT) as api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            f"clusters: [{{name: k, cluster: {{server: '{api.url}'}}}}]\n"
            f"users: [{{name: u, user: {{tokenFile: '{tmp_path / 'token'}'}}}}]\n"
            "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        )
        source = KubeSource.from_settings(Settings(source="kube", kubeconfig=str(kubeconfig)), config=FAST)
        await run_until_live(source, Mirror(), 8)


async def test_a_token_that_cannot_be_sent_is_reported_without_its_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A token broken in the middle (a pasted line break) cannot be a header: http.client's error
    quotes the header. The page's message and every log line say what went wrong, never the token."""
    broken = JWT[:60] + "\n" + JWT[60:]
    (tmp_path / "token").write_text(broken + "\n")
    caplog.set_level(logging.DEBUG)
    with fake_api(pods=4, services=1, token=JWT) as api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            f"clusters: [{{name: k, cluster: {{server: '{api.url}'}}}}]\n"
            f"users: [{{name: u, user: {{tokenFile: '{tmp_path / 'token'}'}}}}]\n"
            "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        )
        source = KubeSource.from_settings(Settings(source="kube", kubeconfig=str(kubeconfig)), config=FAST)
        mirror = Mirror()
        task = asyncio.create_task(source.run(mirror))
        try:
            await eventually(lambda: mirror.status.state == "reconnecting")
            await asyncio.sleep(0.5)  # a few retries, each logged
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    shown = " ".join(f"{s.message} {' '.join(s.problems)}" for s in mirror.statuses)
    assert "Invalid header value" in shown and "<redacted>" in shown
    logged = caplog.text
    assert "<redacted>" in logged or "Invalid header" in logged
    for text in (shown, logged):
        for piece in (JWT[:60], JWT[60:], JWT[20:50], "c2lnbmF0dXJl"):
            assert piece not in text


def test_kubeconfig_errors_and_scrub_never_show_a_credential(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://admin:hunter2hunter2@10.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: 42, client-key-data: not-base64!}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    with contextlib.suppress(KubeConfigError):
        loaded = load_kubeconfig(str(path), None)
        assert "hunter2hunter2" not in scrub(f"{loaded.server} {loaded.configuration.host}")
    samples = {
        f"ValueError: Invalid header value b'bearer {JWT}\\n'": JWT,
        "Authorization: Basic YWRtaW46aHVudGVyMg==": "YWRtaW46aHVudGVyMg",
        "client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=": "LS0tLS1CRUdJTi",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBk\n-----END EC PRIVATE KEY-----": "MHcCAQEEIBk",
        "https://admin:hunter2hunter2@10.0.0.1:6443/api": "hunter2hunter2",
        "password=hunter2hunter2&x=1": "hunter2hunter2",
        "GET /k8s/t/s3cr3t-path-token/api/v1/pods": "s3cr3t-path-token",
    }
    for text, secret in samples.items():
        assert secret not in scrub(text), text
