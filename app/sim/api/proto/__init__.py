"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`, as kubectl sends its
typed creates and deletes), read into the JSON objects the rest of the simulated API handles."""

from app.sim.api.proto.body import MEDIA_TYPE
from app.sim.api.proto.request import read_request

__all__ = ["MEDIA_TYPE", "read_request"]
