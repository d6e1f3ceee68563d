"""RFC 3339 timestamps as the Kubernetes API writes them (second precision, UTC, trailing Z)."""

import time
from datetime import datetime
from functools import lru_cache


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_rfc3339(text: object) -> float | None:
    """Epoch seconds of a Kubernetes timestamp, or None when absent or unreadable."""
    if not text or not isinstance(text, str):
        return None
    return _parse(text)


@lru_cache(maxsize=4096)  # controllers parse the same few timestamps thousands of times a pass
def _parse(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
