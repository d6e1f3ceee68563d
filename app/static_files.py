"""Static assets with content-hash cache busting: `static/x.js?v=<sha256 prefix>` is cached for a
year (immutable); any other request (ES module imports, a stale hash) revalidates every time."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

HASH_CHARS = 12
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class AssetHasher:
    """sha256 prefixes of files under `root`, recomputed when a file's mtime or size changes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[str, tuple[int, int, str]] = {}

    def digest(self, path: str) -> str | None:
        full = (self.root / path.lstrip("/")).resolve()
        try:
            full.relative_to(self.root.resolve())
            st = full.stat()
        except (ValueError, OSError):
            return None
        if not full.is_file():
            return None
        hit = self._cache.get(path)
        if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[2]
        digest = hashlib.sha256(full.read_bytes()).hexdigest()[:HASH_CHARS]
        self._cache[path] = (st.st_mtime_ns, st.st_size, digest)
        return digest

    def url(self, path: str) -> str:
        """A relative URL (works behind a path-prefix proxy) that changes when the file does."""
        path = path.lstrip("/")
        digest = self.digest(path)
        return f"static/{path}?v={digest}" if digest else f"static/{path}"


class HashedStaticFiles(StaticFiles):
    """StaticFiles that sets Cache-Control: immutable only when ?v= matches the file's current hash."""

    def __init__(self, *, directory: Path, hasher: AssetHasher) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.hasher = hasher

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            wanted = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [""])[0]
            fresh = wanted and wanted == self.hasher.digest(path)
            response.headers["Cache-Control"] = IMMUTABLE if fresh else REVALIDATE
        return response
