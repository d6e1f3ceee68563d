"""Where the test data lives: real API captures from a Kubernetes v1.36 cluster (copied from shared/)."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real-k8s-v1.36"
