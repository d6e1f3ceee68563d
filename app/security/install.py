"""Puts the guards around the app, outermost first: Host check, same-origin rule, body limits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from app.security.bodies import MAX_BODY_BYTES, BodyLimit
from app.security.hosts import HostCheck, HostPolicy, host_policy
from app.security.safe_json import MAX_DEPTH
from app.security.same_origin import SameOriginGuard


@dataclass(frozen=True)
class Protection:
    """What the guards of one server use; `csrf_token` is what its page sends back in a header."""

    hosts: HostPolicy
    k8s_prefix: str = "/k8s"
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    max_body_bytes: int = MAX_BODY_BYTES
    max_json_depth: int = MAX_DEPTH


def protection_for(settings: Any) -> Protection:
    """From Settings: the bind address (`host`), `allowed_hosts` and the simulated API's prefix."""
    allowed = tuple(getattr(settings, "allowed_hosts", ()) or ())
    return Protection(host_policy(settings.host, allowed), k8s_prefix=settings.api_prefix)


def install_protection(app: Any, protection: Protection) -> None:
    """Add the middleware; call it last in create_app so the Host check runs before anything else."""
    app.state.protection = protection
    app.add_middleware(
        BodyLimit,
        max_bytes=protection.max_body_bytes,
        max_depth=protection.max_json_depth,
        k8s_prefix=protection.k8s_prefix,
    )
    app.add_middleware(SameOriginGuard, token=protection.csrf_token, k8s_prefix=protection.k8s_prefix)
    app.add_middleware(HostCheck, policy=protection.hosts, k8s_prefix=protection.k8s_prefix)
