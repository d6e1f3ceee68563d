"""Host header check against DNS rebinding: a page on an attacker's name that resolves to this
machine is refused, so it can neither read the dashboard nor drive it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from app.security.respond import Receive, Scope, Send, header, refuse

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


@dataclass(frozen=True)
class HostPolicy:
    """Which Host names this server answers to; the port never matters."""

    names: frozenset[str]  # exact names, lower case, without a trailing dot
    suffixes: tuple[str, ...] = ()  # from "*.example.org": ".example.org"
    any_ip: bool = False  # bound to every address: an IP literal is how the class reaches it
    bind: str = "127.0.0.1"

    def allows(self, host: str) -> bool:
        if host in self.names or any(host.endswith(s) for s in self.suffixes):
            return True
        ip = _ip(host)
        # A rebinding page always arrives under a name it controls; an address literal cannot be one.
        return ip is not None and (self.any_ip or ip.is_loopback)


def host_policy(bind: str, allowed: tuple[str, ...] = ()) -> HostPolicy:
    names = set(LOOPBACK_NAMES)
    suffixes = []
    bind_name = _normalize(bind)
    if bind_name not in WILDCARD_BINDS:
        names.add(bind_name)
    for entry in allowed:
        name = _normalize(entry)
        if name.startswith("*."):
            suffixes.append(name[1:])
        elif name:
            names.add(name)
    return HostPolicy(frozenset(names), tuple(suffixes), bind_name in WILDCARD_BINDS, bind_name)


def check_allowed_host(entry: str) -> str | None:
    """Why an --allowed-host value is unusable, or None: a DNS name, '*.domain' or an IP address."""
    name = _normalize(entry)
    if _ip(name) is not None:
        return None
    labels = (name[2:] if name.startswith("*.") else name).split(".")
    ok = all(0 < len(part) <= 63 and part.replace("-", "").isalnum() and part.isascii() for part in labels)
    if not ok or len(name) > 253 or (name.startswith("*.") and len(labels) < 2):
        return "give a host name like class.example.org, *.example.org, or an IP address"
    return None


def split_host(value: str) -> str | None:
    """The name part of a Host header ('[::1]:8000' -> '::1'), lower case; None when malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        name = value[1:end].lower()
        return name if _ip(name) is not None else None
    if value.count(":") > 1:  # an IPv6 literal without brackets
        return value.lower() if _ip(value) is not None else None
    name, sep, port = value.partition(":")
    if (sep and not port.isdigit()) or not name or any(c in name for c in " /\\@?#[]%"):
        return None
    return _normalize(name)


def _normalize(name: str) -> str:
    return name.strip().lower().rstrip(".").strip("[]")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def refusal(shown: str, name: str | None, policy: HostPolicy) -> str:
    """The 400 message: what was refused and which flag would allow it."""
    if name is None:
        return f"slicescope: the Host header {shown!r} is not a valid host name"
    flag = f"--allowed-host {name}"
    if policy.any_ip:
        return (
            f"slicescope: this server does not answer to the name {name!r} (a guard against DNS "
            f"rebinding). If that name is this computer, restart slicescope with {flag}; "
            "its IP address works without it"
        )
    return (
        f"slicescope: this server does not answer to the name {name!r} (a guard against DNS "
        f"rebinding); it listens on {policy.bind} only. Open it as 127.0.0.1 or localhost, or, if "
        f"that name is meant to reach it, restart slicescope with {flag}"
    )


class HostCheck:
    """ASGI middleware: 400 for a Host header the policy does not allow (every path and method)."""

    def __init__(self, app: Any, *, policy: HostPolicy, k8s_prefix: str = "") -> None:
        self.app = app
        self.policy = policy
        self.k8s_prefix = k8s_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        value = header(scope, b"host")
        if value is None:  # HTTP/1.0 without Host: not a browser, so not a rebinding page
            await self.app(scope, receive, send)
            return
        name = split_host(value)
        if name is not None and self.policy.allows(name):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = refusal(value, name, self.policy)
        await refuse(scope, send, 400, message, k8s_prefix=self.k8s_prefix, reason="host", close=True)
