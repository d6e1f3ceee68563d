"""Secrets out of every log line: the simulated API's path token (`/t/<token>/`), `?token=` and
`?csrf=` query values, and bearer tokens are replaced before any handler writes the record."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

REDACTED = "<token>"
_PATH_TOKEN = re.compile(r"(/t/)[^/\s\"'?#<>]+")
_QUERY_TOKEN = re.compile(r"([?&](?:token|csrf|access_token)=)[^&\s\"'#<>]+", re.IGNORECASE)
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
_PLAIN = (str, int, float, bool, type(None))
# Loggers whose handlers write what uvicorn and the app log (the rest propagate to the root's).
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """The text with every token this app knows the shape of replaced by <token>."""
    if "/t/" in text:
        text = _PATH_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    if "=" in text:
        text = _QUERY_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """A handler filter: rewrites the record's message, arguments and traceback text. String
    arguments are redacted in place (uvicorn's access formatter reads them by position)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
            if not all(isinstance(a, _PLAIN) for a in args):  # an exception or URL object: render it
                _render(record)
        elif isinstance(args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _render(record: logging.LogRecord) -> None:
    try:
        text = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler, which reports it
        return
    cleaned = redact(text)
    if cleaned != text:
        record.msg, record.args = cleaned, None


def install_redaction(*names: str) -> None:
    """Add RedactSecrets to every handler of these loggers (default: root and uvicorn's), once."""
    for name in names or LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                handler.addFilter(RedactSecrets())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging config with RedactSecrets on each of its handlers (for uvicorn.run)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": f"{__name__}.RedactSecrets"}
    for handler in config.get("handlers", {}).values():
        handler["filters"] = [*handler.get("filters", []), "redact_secrets"]
    return config
