"""The objects of the default lesson (seeds 000 and 002): the shipping-api Deployment and
Service from the Endpoints lesson, and the web Deployment with its Service web-svc."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def shipping_api() -> list[Obj]:
    """Deployment shipping-api (4 replicas, readiness probe /healthz) and its ClusterIP Service."""
    deployment: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shipping-api", "namespace": "default", "labels": {"app": "shipping-api"}},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "shipping-api"}},
            "template": {
                "metadata": {"labels": {"app": "shipping-api"}},
                "spec": {
                    "containers": [
                        {
                            "name": "shipping",
                            "image": "mcr.microsoft.com/dotnet/aspnet:10.0",
                            "command": ["dotnet", "--info"],
                            "ports": [{"containerPort": 8080}],
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": 8080},
                                "initialDelaySeconds": 5,
                                "periodSeconds": 10,
                            },
                        }
                    ]
                },
            },
        },
    }
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "shipping-api-service", "namespace": "default"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "shipping-api"},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    }
    return [deployment, service]


def web() -> list[Obj]:
    """Deployment web (3 nginx replicas with a readiness probe) and Service web-svc 80 -> 80."""
    deployment: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 80}],
                            "readinessProbe": {
                                "httpGet": {"path": "/", "port": 80},
                                "initialDelaySeconds": 2,
                                "periodSeconds": 5,
                            },
                        }
                    ]
                },
            },
        },
    }
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web-svc", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]},
    }
    return [deployment, service]


def lesson_objects() -> list[Obj]:
    """Everything `SimCluster.load_lesson()` applies, in order."""
    return [*shipping_api(), *web()]
