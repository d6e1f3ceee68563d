"""Load a kubeconfig (or the in-cluster service account) into a client Configuration, turning every
way it can go wrong into one human line (KubeConfigError) instead of a traceback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_TOKEN_FILENAME,
    InClusterConfigLoader,
)

from app.sources import secrets

SERVICE_NAMESPACE_FILENAME = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class KubeConfigError(Exception):
    """A one-line explanation of why no cluster configuration could be loaded (never a credential:
    the text is scrubbed)."""

    def __init__(self, message: str) -> None:
        super().__init__(secrets.scrub(message))


def _trim_credentials(cfg: client.Configuration) -> None:
    """Credentials as client-go uses them: a token read from a file or a kubeconfig with its
    surrounding whitespace removed (a token file ending in a newline would otherwise make an invalid
    header, whose error text shows the token), after every refresh too; and every secret registered
    so no message or log line can show it."""

    def trim(configuration: client.Configuration) -> None:
        for key, value in list(configuration.api_key.items()):
            if isinstance(value, str):
                parts = value.strip().split(None, 1)
                configuration.api_key[key] = " ".join(p.strip() for p in parts)
                secrets.register(configuration.api_key[key])
        secrets.register(configuration.password)

    trim(cfg)
    hook = cfg.refresh_api_key_hook
    if hook is not None:

        def refresh(configuration: client.Configuration) -> None:
            hook(configuration)  # the client's hook puts itself back in place of this one: undo that
            trim(configuration)
            configuration.refresh_api_key_hook = refresh

        cfg.refresh_api_key_hook = refresh


@dataclass(frozen=True)
class LoadedConfig:
    configuration: client.Configuration
    context: str  # the kubeconfig context, or "in-cluster"
    server: str  # API server URL
    namespace: (
        str  # the context's (or service account's) namespace: the fallback when cluster-wide is refused
    )
    files: tuple[str, ...] = ()


def kubeconfig_paths(explicit: str | None, environ: Mapping[str, str], home: str | None = None) -> list[str]:
    """The files to read, in kubectl's order: the explicit path, else $KUBECONFIG (colon-separated,
    missing files skipped), else ~/.kube/config."""
    if explicit:
        path = os.path.expanduser(explicit)
        if not os.path.isfile(path):
            raise KubeConfigError(f"kubeconfig file not found: {explicit}")
        return [path]
    env = environ.get("KUBECONFIG", "")
    if env.strip():
        listed = [os.path.expanduser(p) for p in env.split(os.pathsep) if p.strip()]
        found = [p for p in listed if os.path.isfile(p)]
        if not found:
            raise KubeConfigError(
                f"no kubeconfig found: none of the files in $KUBECONFIG exist ({env}); "
                "pass --kubeconfig PATH, or --in-cluster inside a pod"
            )
        return found
    default = os.path.join(home or os.path.expanduser("~"), ".kube", "config")
    if not os.path.isfile(default):
        raise KubeConfigError(
            f"no kubeconfig found: {default} does not exist and $KUBECONFIG is not set; "
            "pass --kubeconfig PATH, or --in-cluster inside a pod"
        )
    return [default]


def read_kubeconfig(path: str) -> dict[str, Any] | None:
    """Parse one file; None when it is empty. Raises KubeConfigError for bad YAML or a non-kubeconfig."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(e, "problem", None) or type(e).__name__
        raise KubeConfigError(f"kubeconfig {path} is not valid YAML: {problem}{where}") from e
    if data is None:
        return None
    if not isinstance(data, dict):
        raise KubeConfigError(
            f"kubeconfig {path} is not a kubeconfig: expected a mapping with clusters, contexts and users"
        )
    return data


def context_names(data: dict[str, Any]) -> list[str]:
    out = []
    for c in data.get("contexts") or ():
        if isinstance(c, dict) and isinstance(c.get("name"), str):
            out.append(c["name"])
    return out


def choose_context(files: list[str], docs: list[dict[str, Any]], wanted: str | None) -> tuple[str, str]:
    """(context name, its namespace). Like kubectl: the first file that sets current-context wins."""
    names: list[str] = []
    namespaces: dict[str, str] = {}
    for data in docs:
        for c in data.get("contexts") or ():
            if isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"] not in namespaces:
                names.append(c["name"])
                ctx = c.get("context") if isinstance(c.get("context"), dict) else {}
                namespaces[c["name"]] = str(ctx.get("namespace") or "default")
    shown = ", ".join(names) if names else "none"
    where = files[0] if len(files) == 1 else "$KUBECONFIG (" + os.pathsep.join(files) + ")"
    if not names:
        raise KubeConfigError(f"kubeconfig {where} defines no contexts")
    if wanted is None:
        wanted = next((d["current-context"] for d in docs if d.get("current-context")), None)
        if wanted is None:
            raise KubeConfigError(
                f"kubeconfig {where} sets no current-context: pass --context (available: {shown})"
            )
        if wanted not in namespaces:
            raise KubeConfigError(
                f"current-context {wanted!r} of kubeconfig {where} is not defined; available: {shown}"
            )
    elif wanted not in namespaces:
        raise KubeConfigError(f"context {wanted!r} not found in kubeconfig {where}; available: {shown}")
    return wanted, namespaces[wanted]


def load_kubeconfig(
    path: str | None, context: str | None, *, environ: Mapping[str, str] = os.environ, home: str | None = None
) -> LoadedConfig:
    files = kubeconfig_paths(path, environ, home)
    docs: list[dict[str, Any]] = []
    used: list[str] = []
    for f in files:
        data = read_kubeconfig(f)
        if data is not None:
            docs.append(data)
            used.append(f)
    if not docs:
        raise KubeConfigError(f"kubeconfig {os.pathsep.join(files)} is empty")
    name, namespace = choose_context(used, docs, context)
    cfg = client.Configuration()
    try:
        config.load_kube_config(
            config_file=os.pathsep.join(used),
            context=name,
            client_configuration=cfg,
            persist_config=False,
        )
    except ConfigException as e:
        raise KubeConfigError(f"kubeconfig {os.pathsep.join(used)}, context {name!r}: {e}") from e
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        # The client trips over some malformed entries with plain Python errors.
        raise KubeConfigError(
            f"kubeconfig {os.pathsep.join(used)}, context {name!r} is incomplete or malformed: "
            f"{type(e).__name__}: {e}"
        ) from e
    _trim_credentials(cfg)
    return LoadedConfig(cfg, name, cfg.host, namespace, tuple(used))


def load_incluster(
    *,
    environ: Mapping[str, str] = os.environ,
    token_file: str = SERVICE_TOKEN_FILENAME,
    cert_file: str = SERVICE_CERT_FILENAME,
    namespace_file: str = SERVICE_NAMESPACE_FILENAME,
) -> LoadedConfig:
    cfg = client.Configuration()
    try:
        InClusterConfigLoader(
            token_filename=token_file, cert_filename=cert_file, environ=environ
        ).load_and_set(cfg)
    except ConfigException as e:
        raise KubeConfigError(
            f"in-cluster config unavailable: {e} (needs KUBERNETES_SERVICE_HOST/PORT and the service "
            f"account token at {token_file}; is slicescope running in a pod?)"
        ) from e
    _trim_credentials(cfg)
    try:
        namespace = Path(namespace_file).read_text(encoding="utf-8").strip() or "default"
    except OSError:
        namespace = "default"
    return LoadedConfig(cfg, "in-cluster", cfg.host, namespace)


def load(
    *, kubeconfig: str | None, context: str | None, in_cluster: bool, environ: Mapping[str, str] = os.environ
) -> LoadedConfig:
    """The one entry point: in-cluster when asked, else the kubeconfig."""
    if in_cluster:
        return load_incluster(environ=environ)
    return load_kubeconfig(kubeconfig, context, environ=environ)
