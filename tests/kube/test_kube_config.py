"""Every way loading a cluster configuration goes wrong ends in one readable KubeConfigError line;
the good cases pick the context and server kubectl would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.settings import Settings
from app.sources.kube import KubeConfigError, KubeSource
from app.sources.kubeconfig_load import load_incluster, load_kubeconfig


def kubeconfig(contexts: dict[str, str], current: str | None, namespace: str | None = None) -> dict:
    """contexts: name -> server URL."""
    ns = {"namespace": namespace} if namespace else {}
    doc: dict = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"c-{n}", "cluster": {"server": url}} for n, url in contexts.items()],
        "users": [{"name": "u", "user": {"token": "secret-token"}}],
        "contexts": [
            {
                "name": n,
                "context": {
                    "cluster": f"c-{n}",
                    "user": "u",
                    **ns,
                },
            }
            for n in contexts
        ],
    }
    if current:
        doc["current-context"] = current
    return doc


def write(tmp_path: Path, name: str, doc: object | str) -> str:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return str(p)


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(KubeConfigError, match=r"^kubeconfig file not found: .*nope\.yaml$"):
        KubeSource.from_settings(Settings(source="kube", kubeconfig=str(missing)))


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty", "   \n")
    with pytest.raises(KubeConfigError) as info:
        KubeSource.from_settings(Settings(source="kube", kubeconfig=path))
    assert str(info.value) == f"kubeconfig {path} is empty"


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad", "apiVersion: v1\nclusters: [\n  - name: x\n  cluster: {server: \n")
    with pytest.raises(KubeConfigError) as info:
        KubeSource.from_settings(Settings(source="kube", kubeconfig=path))
    msg = str(info.value)
    assert msg.startswith(f"kubeconfig {path} is not valid YAML: ")
    assert " at line " in msg and "\n" not in msg
    assert isinstance(info.value.__cause__, yaml.YAMLError)


def test_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "list", "- a\n- b\n")
    with pytest.raises(KubeConfigError, match="is not a kubeconfig"):
        load_kubeconfig(path, None, environ={})


def test_unknown_context_lists_the_available_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "cfg", kubeconfig({"prod": "https://p:6443", "dev": "https://d:6443"}, "dev"))
    with pytest.raises(KubeConfigError) as info:
        KubeSource.from_settings(Settings(source="kube", kubeconfig=path, context="staging"))
    assert str(info.value) == f"context 'staging' not found in kubeconfig {path}; available: prod, dev"


def test_no_current_context_asks_for_one(tmp_path: Path) -> None:
    path = write(tmp_path, "cfg", kubeconfig({"prod": "https://p:6443"}, None))
    with pytest.raises(KubeConfigError, match=r"sets no current-context: pass --context \(available: prod\)"):
        load_kubeconfig(path, None, environ={})


def test_context_pointing_at_a_missing_cluster(tmp_path: Path) -> None:
    doc = kubeconfig({"prod": "https://p:6443"}, "prod")
    doc["clusters"] = []
    path = write(tmp_path, "cfg", doc)
    with pytest.raises(KubeConfigError, match=r"context 'prod'"):
        load_kubeconfig(path, None, environ={})


def test_no_kubeconfig_anywhere(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match=r"no kubeconfig found: .*\.kube/config does not exist"):
        load_kubeconfig(None, None, environ={}, home=str(tmp_path))
    with pytest.raises(KubeConfigError, match=r"none of the files in \$KUBECONFIG exist"):
        load_kubeconfig(None, None, environ={"KUBECONFIG": f"{tmp_path}/a:{tmp_path}/b"})


def test_in_cluster_without_the_service_env(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError) as info:
        load_incluster(environ={}, token_file=str(tmp_path / "token"), cert_file=str(tmp_path / "ca"))
    msg = str(info.value)
    assert msg.startswith("in-cluster config unavailable: Service host/port is not set.")
    assert "is slicescope running in a pod?" in msg


def test_in_cluster_without_the_token(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(KubeConfigError, match="token file does not exist"):
        load_incluster(environ=env, token_file=str(tmp_path / "token"), cert_file=str(tmp_path / "ca"))


def test_in_cluster_with_env_token_and_namespace(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc")
    (tmp_path / "ca").write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    (tmp_path / "ns").write_text("slicescope\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    loaded = load_incluster(
        environ=env,
        token_file=str(tmp_path / "token"),
        cert_file=str(tmp_path / "ca"),
        namespace_file=str(tmp_path / "ns"),
    )
    assert loaded.server == "https://10.0.0.1:443"
    assert loaded.namespace == "slicescope"
    assert loaded.context == "in-cluster"


def test_good_kubeconfig_gives_the_info_the_page_shows(tmp_path: Path) -> None:
    path = write(
        tmp_path, "cfg", kubeconfig({"prod": "https://p:6443", "dev": "https://d:6443"}, "prod", "shop")
    )
    source = KubeSource.from_settings(Settings(source="kube", kubeconfig=path, namespaces=("shop", "web")))
    assert source.info.as_json() == {
        "mode": "kube",
        "name": "prod",
        "server": "https://p:6443",
        "namespaces": ["shop", "web"],
        "readOnly": True,
    }
    assert source.fallback_namespaces == ()
    dev = KubeSource.from_settings(
        Settings(source="kube", kubeconfig=path, context="dev", allow_actions=True)
    )
    assert (dev.info.name, dev.info.server, dev.info.read_only) == ("dev", "https://d:6443", False)
    # cluster-wide watching, falling back to the context's namespace if that is refused
    assert dev.fallback_namespaces == ("shop",)


def test_kubeconfig_env_merges_files_and_the_first_current_context_wins(tmp_path: Path) -> None:
    a = write(tmp_path, "a", kubeconfig({"alpha": "https://a:6443"}, "alpha"))
    b = write(tmp_path, "b", kubeconfig({"beta": "https://b:6443"}, "beta"))
    loaded = load_kubeconfig(None, None, environ={"KUBECONFIG": f"{a}:{tmp_path}/missing:{b}"})
    assert (loaded.context, loaded.server) == ("alpha", "https://a:6443")
    other = load_kubeconfig(None, "beta", environ={"KUBECONFIG": f"{a}:{b}"})
    assert other.server == "https://b:6443"
