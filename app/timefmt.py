"""RFC 3339 timestamps as the Kubernetes API writes them (second precision, UTC, trailing Z)."""

import calendar
import time


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_rfc3339(text: str | None) -> float | None:
    """Epoch seconds of a Kubernetes timestamp, or None when absent or unreadable."""
    if not text:
        return None
    try:
        base = text[:19]
        return float(calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")))
    except (ValueError, TypeError):
        return None
