"""The simulated cluster's Kubernetes-compatible HTTP API (kubectl and the Python client work on it)."""

from app.sim.api.app import create_k8s_api
from app.sim.api.kubeconfig import write_kubeconfig

__all__ = ["create_k8s_api", "write_kubeconfig"]
