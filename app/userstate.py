"""Per-user state of the command line, in $XDG_STATE_HOME/slicescope (~/.local/state/slicescope): the
simulated API's token, kept across restarts so kubeconfigs already handed out stay valid, and a record
of each running dashboard (address, pid, token) so `slicescope kubeconfig` can reach it. The folder is
0700 and every file 0600: they hold a bearer token."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

APP_DIR = "slicescope"
TOKEN_FILE = "api-token"
SERVERS_DIR = "servers"


class StateError(Exception):
    """The state folder or one of its files cannot be used: one line for the user."""


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / APP_DIR


def _private_dir(path: Path) -> Path:
    """Create `path` (0700) or check that an existing one is ours and closed to others."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as e:
        raise StateError(f"{path}: {e.strerror or e}") from None
    if info.st_uid != os.getuid():
        raise StateError(f"{path}: belongs to another user")
    if info.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError as e:
            raise StateError(f"{path}: {e.strerror or e}") from None
    return path


def _write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically (a reader never sees half of it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_private(path: Path) -> str | None:
    """The text of a file that is ours and 0600 (None when it is missing or open to others)."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def new_api_token() -> str:
    return secrets.token_urlsafe(24)


def persistent_api_token(directory: Path | None = None) -> str:
    """The token the simulated API used last time (made and kept on first use)."""
    folder = _private_dir(directory or state_dir())
    path = folder / TOKEN_FILE
    text = (_read_private(path) or "").strip()
    if text:
        return text
    token = new_api_token()
    try:
        _write_private(path, token + "\n")
    except OSError as e:
        raise StateError(f"{path}: {e.strerror or e}") from None
    return token


@dataclass(frozen=True)
class ServerRecord:
    """A running dashboard, as `slicescope kubeconfig` needs it."""

    host: str
    port: int
    pid: int
    source: str  # sim | kube | replay
    url: str  # the page
    api: str = ""  # the simulated cluster's Kubernetes API (sim only)
    token: str = ""  # its bearer token (sim only)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _record_path(folder: Path, host: str, port: int) -> Path:
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in host) or "_"
    return folder / SERVERS_DIR / f"{safe}-{port}.json"


def save_server(record: ServerRecord, directory: Path | None = None) -> Path:
    folder = _private_dir(directory or state_dir())
    _private_dir(folder / SERVERS_DIR)
    path = _record_path(folder, record.host, record.port)
    try:
        _write_private(path, json.dumps(asdict(record)) + "\n")
    except OSError as e:
        raise StateError(f"{path}: {e.strerror or e}") from None
    return path


def forget_server(record: ServerRecord, directory: Path | None = None) -> None:
    """Remove the record, if it is still this process's own."""
    path = _record_path(directory or state_dir(), record.host, record.port)
    if (found := _load(path)) is not None and found.pid == record.pid:
        with contextlib.suppress(OSError):
            path.unlink()


def _load(path: Path) -> ServerRecord | None:
    text = _read_private(path)
    if text is None:
        return None
    try:
        data = json.loads(text)
        return ServerRecord(**{k: data[k] for k in ServerRecord.__dataclass_fields__ if k in data})
    except (ValueError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_servers(directory: Path | None = None) -> list[ServerRecord]:
    """Records of dashboards whose process still runs (stale ones, of a crashed run, are removed)."""
    folder = (directory or state_dir()) / SERVERS_DIR
    try:
        paths = sorted(folder.glob("*.json"))
    except OSError:
        return []
    found = []
    for path in paths:
        record = _load(path)
        if record is None:
            continue
        if not _alive(record.pid):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        found.append(record)
    return found
