"""A kubeconfig file for the simulated cluster's API: one cluster, one token user, one context.
For a plain-http server the token also goes into the server URL (see app/sim/api/auth.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from app.sim.api.auth import PATH_MARKER


def server_with_token(server_url: str, token: str) -> str:
    """kubectl sends no credentials to an http:// server, so plain-http URLs carry the token in the path."""
    base = server_url.rstrip("/")
    if urlsplit(base).scheme == "http":
        return f"{base}/{PATH_MARKER}/{token}"
    return base


def kubeconfig_dict(server_url: str, token: str, context: str = "slicescope-sim") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server_with_token(server_url, token)}}],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": f"{context}-user", "namespace": "default"},
            }
        ],
        "current-context": context,
    }


def write_kubeconfig(
    path: str | os.PathLike[str], server_url: str, token: str, context: str = "slicescope-sim"
) -> Path:
    """Write the kubeconfig (mode 0600: it holds the token); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig_dict(server_url, token, context), sort_keys=False)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(target, 0o600)
    return target
