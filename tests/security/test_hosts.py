"""The Host check against DNS rebinding, on a live server: loopback names with any port by default,
`--host` and `--allowed-host` names besides; with --host 0.0.0.0 any IP address (how a class reaches
the teacher's machine) but no other name; a clear 400 that names the flag to add."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from app.cli import settings_from_args
from app.security.hosts import check_allowed_host, host_policy, split_host
from tests.fixtures_app import make_settings, running_app
from tests.security.helpers import host_port


def status_with_host(
    base: str, host: str, path: str = "/api/snapshot", method: str = "GET"
) -> httpx.Response:
    return httpx.request(
        method, base + path, headers={"Host": host}, timeout=30, json={} if method == "POST" else None
    )


def test_a_rebinding_name_is_refused_everywhere() -> None:
    with running_app(make_settings()) as base:
        _, port = host_port(base)
        evil = f"rebind.evil.example:{port}"
        for path, method in (
            ("/", "GET"),
            ("/api/snapshot", "GET"),
            ("/healthz", "GET"),
            ("/api/actions/scale", "POST"),
        ):
            r = status_with_host(base, evil, path, method)
            assert r.status_code == 400, (path, r.status_code)
        page = status_with_host(base, evil, "/")
        assert "rebind.evil.example" in page.text and "--allowed-host rebind.evil.example" in page.text
        assert page.headers["content-type"].startswith("text/plain")
        api = status_with_host(base, evil, "/api/snapshot")
        assert "DNS rebinding" in api.json()["error"]
        k8s = status_with_host(base, evil, "/k8s/api/v1/pods")
        assert k8s.status_code == 400 and k8s.json()["kind"] == "Status"
        with httpx.stream("GET", base + "/events", headers={"Host": evil}, timeout=30) as stream:
            assert stream.status_code == 400
        for good in (
            f"127.0.0.1:{port}",
            f"localhost:{port}",
            "localhost",
            f"[::1]:{port}",
            "LOCALHOST.:80",
            "127.0.0.2",
        ):
            assert status_with_host(base, good).status_code == 200, good
        for bad in (f"10.1.2.3:{port}", "localhost.evil.example", "evil.localhost", "", "a b", "x:y"):
            assert status_with_host(base, bad).status_code == 400, bad


def test_allowed_hosts_open_named_ones() -> None:
    settings = make_settings(allowed_hosts=("class.example.org", "*.lab.example"))
    with running_app(settings) as base:
        for ok in ("class.example.org:8000", "pc1.lab.example", "Class.Example.Org"):
            assert status_with_host(base, ok).status_code == 200, ok
        for bad in ("lab.example", "example.org", "class.example.org.evil.example"):
            assert status_with_host(base, bad).status_code == 400, bad


def test_presenter_on_every_address_takes_ip_addresses_and_names_the_flag_for_names() -> None:
    settings = make_settings(host="0.0.0.0", present=True)
    with running_app(settings) as base:
        _, port = host_port(base)
        assert status_with_host(base, f"192.168.1.20:{port}").status_code == 200
        assert status_with_host(base, f"[fe80::1]:{port}").status_code == 200
        r = status_with_host(base, f"teacher-pc.local:{port}", "/")
        assert r.status_code == 400
        assert "restart slicescope with --allowed-host teacher-pc.local" in r.text
        assert "IP address works" in r.text


def test_the_flag() -> None:
    settings, _ = settings_from_args(
        ["--allowed-host", "class.example.org", "--allowed-host", "*.lab.example"]
    )
    assert settings.allowed_hosts == ("class.example.org", "*.lab.example")
    assert check_allowed_host("10.0.0.5") is None and check_allowed_host("fe80::1") is None
    for bad in ("bad name", "*", "*.com", "evil.example/x", "a..b"):
        assert check_allowed_host(bad) is not None, bad


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:8000", "localhost"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("Example.ORG.", "example.org"),
        ("[nothost]:1", None),
        ("a:b", None),
        ("a b", None),
        ("x@y", None),
    ],
)
def test_host_header_parsing(header: str, name: str | None) -> None:
    assert split_host(header) == name


def test_the_policy() -> None:
    loop = host_policy("127.0.0.1")
    assert loop.allows("localhost") and loop.allows("::1") and loop.allows("127.0.0.9")
    assert not loop.allows("192.168.0.1") and not loop.allows("evil.example")
    named = host_policy("myhost.lan")
    assert named.allows("myhost.lan") and not named.allows("other.lan")
    every = dataclasses.replace(host_policy("::"), names=frozenset({"localhost"}))
    assert every.allows("10.0.0.1") and not every.allows("evil.example")
