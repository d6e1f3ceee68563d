"""Slicescope: a live view of how Kubernetes routes a Service to its Pods."""

__version__ = "0.1.0"
