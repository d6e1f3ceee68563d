"""Changes only from slicescope's own page: a state-changing request that a browser sends from
another site (Origin, Sec-Fetch-Site) is refused, its body must be JSON (no form or text/plain body,
which any page can send), and a browser must also send the per-server page token in a header."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.classroom.auth import GUARDED_GETS, SAFE_METHODS
from app.security.respond import Receive, Scope, Send, header, refuse, under

CSRF_HEADER = "X-Slicescope-CSRF"
CSRF_PATH = "/api/csrf"  # GET: {"token": ...} for the page after a server restart
# What a page of any site can send without a CORS preflight (a form, or fetch with mode "no-cors").
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
SAME_SITE_OK = frozenset({"same-origin", "none"})  # "none": typed in the address bar, a bookmark
OTHER_SITES = frozenset({"same-site", "cross-site"})  # same-site: e.g. another port of 127.0.0.1
# On every response: no framing by other pages, no type sniffing, no URL (with ?token=) sent away.
RESPONSE_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    reason: str


@dataclass(frozen=True)
class RequestFacts:
    """The parts of a request the rule looks at (header names lower case)."""

    method: str
    path: str
    host: str | None
    origin: str | None
    fetch_site: str | None
    fetch_mode: str | None
    fetch_dest: str | None
    content_type: str | None
    has_body: bool
    csrf: str | None

    @staticmethod
    def of(scope: Scope) -> RequestFacts:
        length = header(scope, b"content-length")
        chunked = "chunked" in (header(scope, b"transfer-encoding") or "").lower()
        csrf = header(scope, CSRF_HEADER.lower().encode())
        if csrf is None and scope.get("method") in SAFE_METHODS:
            query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
            csrf = (query.get("csrf") or [None])[0]
        return RequestFacts(
            method=str(scope.get("method", "GET")).upper(),
            path=scope.get("path", ""),
            host=header(scope, b"host"),
            origin=header(scope, b"origin"),
            fetch_site=(header(scope, b"sec-fetch-site") or "").lower() or None,
            fetch_mode=(header(scope, b"sec-fetch-mode") or "").lower() or None,
            fetch_dest=(header(scope, b"sec-fetch-dest") or "").lower() or None,
            content_type=header(scope, b"content-type"),
            has_body=chunked or (length is not None and length.strip() not in ("", "0")),
            csrf=csrf,
        )

    @property
    def from_browser(self) -> bool:
        """Browsers add these on their own and no page can remove them; curl and kubectl send none."""
        return self.origin is not None or self.fetch_site is not None or self.fetch_mode is not None

    @property
    def top_level_navigation(self) -> bool:
        """A link followed to the dashboard from another site: allowed (only to read)."""
        navigation = self.fetch_mode == "navigate" and self.fetch_dest == "document"
        return navigation and self.method in ("GET", "HEAD")

    @property
    def media_type(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()


def _same_origin(origin: str, host: str | None) -> bool:
    if host is None or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    default = "443" if parts.scheme == "https" else "80"
    theirs = (parts.netloc.lower(), f"{parts.netloc.lower()}:{default}")
    host = host.strip().lower()
    return host in theirs or f"{host}:{default}" in theirs


def cross_site(facts: RequestFacts) -> str | None:
    """Why the request comes from another site, or None."""
    if facts.fetch_site is not None and facts.fetch_site not in SAME_SITE_OK:
        return f"the browser says it comes from a {facts.fetch_site} page"
    if facts.origin is not None and not _same_origin(facts.origin, facts.host):
        return f"it comes from {facts.origin}"
    return None


def changes_state(facts: RequestFacts) -> bool:
    if facts.method not in SAFE_METHODS:
        return True
    return any(facts.path == p or facts.path.startswith(p + "/") for p in GUARDED_GETS)


def judge(facts: RequestFacts, token: str, k8s_prefix: str) -> Refusal | None:
    """The same-origin rule for one request: None lets it through."""
    if under(facts.path, k8s_prefix):
        return _judge_k8s(facts)
    if not changes_state(facts):
        if facts.fetch_site in OTHER_SITES and not facts.top_level_navigation:
            # nothing here is meant to be loaded by another site's page: not in a frame (clicks
            # tricked through an invisible dashboard), not as a script, image or event stream
            return Refusal(403, f"refused: another site's page cannot load {facts.path}", "cross-site")
        return None
    why = cross_site(facts)
    if why:
        return Refusal(
            403, f"refused: {why}; slicescope accepts changes only from its own page", "cross-site"
        )
    if facts.method not in SAFE_METHODS and (facts.has_body or facts.content_type is not None):
        if facts.media_type != "application/json":
            shown = facts.media_type or "no Content-Type"
            return Refusal(
                415, f"send the body as JSON with Content-Type: application/json (not {shown})", "media-type"
            )
    if facts.from_browser and not _token_ok(facts.csrf, token):
        return Refusal(
            403,
            "refused: the request lacks this server's page token; reload the page (the server may have "
            "restarted)",
            "csrf",
        )
    return None


def _judge_k8s(facts: RequestFacts) -> Refusal | None:
    """The simulated API is for kubectl and client libraries, never for a web page."""
    why = cross_site(facts)
    if why:
        return Refusal(403, f"the simulated Kubernetes API does not answer web pages: {why}", "cross-site")
    if facts.method not in SAFE_METHODS and facts.media_type in SIMPLE_TYPES:
        return Refusal(415, f"the body's Content-Type {facts.media_type} is not supported", "media-type")
    return None


def _token_ok(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(
        (given or "").encode("utf-8", "replace"), token.encode("utf-8")
    )


class SameOriginGuard:
    """ASGI middleware applying `judge`; also answers GET /api/csrf for the page."""

    def __init__(self, app: Any, *, token: str, k8s_prefix: str) -> None:
        self.app = app
        self.token = token
        self.k8s_prefix = k8s_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        facts = RequestFacts.of(scope)
        refusal = judge(facts, self.token, self.k8s_prefix)
        if refusal is not None:
            await refuse(
                scope,
                send,
                refusal.status,
                refusal.message,
                k8s_prefix=self.k8s_prefix,
                reason=refusal.reason,
                close=facts.has_body,
            )
            return
        if facts.path == CSRF_PATH and facts.method in ("GET", "HEAD"):
            await _send_token(send, self.token)
            return
        await self.app(scope, receive, _with_headers(send))


def _with_headers(send: Send) -> Send:
    async def send_with_headers(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            present = {key.lower() for key, _ in message.get("headers") or ()}
            extra = [(k, v) for k, v in RESPONSE_HEADERS if k not in present]
            message = {**message, "headers": [*(message.get("headers") or ()), *extra]}
        await send(message)

    return send_with_headers


async def _send_token(send: Send, token: str) -> None:
    body = json.dumps({"token": token}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
