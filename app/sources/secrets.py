"""Credentials out of every text the cluster sources show or log: bearer and basic tokens, JWTs,
private keys, passwords and kubeconfig credential fields, user:password@ in URLs, and the exact
secrets of the loaded configuration (registered when it is loaded). Pure text in, text out."""

from __future__ import annotations

import re
import threading

from app.security.logs import redact as redact_url_tokens

HIDDEN = "<redacted>"
_MIN_KNOWN = 6  # shorter "secrets" would scrub ordinary words

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks of private keys, whole (also when a repr shows their newlines as \n)
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        HIDDEN,
    ),
    # Authorization: <scheme> <credentials>, in headers, dict reprs and urllib3 messages
    (re.compile(r"(?i)(\b(?:bearer|basic)\s+)[^\s'\"\\,;)}\]]+"), rf"\g<1>{HIDDEN}"),
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?!(?:bearer|basic)\s)[^\s'\"\\,;)}]+"),
        rf"\g<1>{HIDDEN}",
    ),
    # kubeconfig and OAuth credential fields: token: x, "password": "x", client-key-data=x, ...
    (
        re.compile(
            r"(?i)(\b(?:token|tokenFile|password|passwd|secret|client[-_]?secret|client[-_]?key[-_]?data|"
            r"id[-_]?token|refresh[-_]?token|access[-_]?token|api[-_]?key)['\"]?\s*[:=]\s*['\"]?)"
            r"[^\s'\"\\,;)}\]]+"
        ),
        rf"\g<1>{HIDDEN}",
    ),
    # JSON Web Tokens (service account tokens) wherever they appear
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), HIDDEN),
    # user:password@host in URLs
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s:@'\"]+:[^/\s@'\"]+@", re.I), rf"\g<1>{HIDDEN}@"),
)

_known: set[str] = set()
_lock = threading.Lock()


_SCHEMES = ("bearer", "basic")


def register(*secrets: str | None) -> None:
    """Remember exact secret values (a token, a password) so scrub() removes them wherever they
    appear, whatever text surrounds them: the whole value, each whitespace-separated piece of it (a
    token broken by a line break shows in pieces), and how a repr() escapes them. An auth scheme word
    ("Bearer") is not a secret."""
    found: set[str] = set()
    for secret in secrets:
        if not isinstance(secret, str):
            continue
        value = secret.strip()
        pieces = value.split()
        if pieces and pieces[0].lower() in _SCHEMES:
            pieces = pieces[1:]
            value = value.split(None, 1)[1] if len(value.split(None, 1)) > 1 else ""
        for part in (value, *pieces):
            if len(part) >= _MIN_KNOWN:
                found.add(part)
                found.add(part.encode("unicode_escape").decode("ascii"))
    if found:
        with _lock:
            _known.update(found)


def scrub(text: str) -> str:
    """The text without any credential it may carry."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return redact_url_tokens(text)


def scrub_error(error: BaseException) -> str:
    """An exception as `Type: message`, scrubbed (for messages built from unexpected errors)."""
    text = str(error)
    return scrub(f"{type(error).__name__}: {text}" if text else type(error).__name__)
