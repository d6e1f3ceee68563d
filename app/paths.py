"""Where static/ and templates/ are: the repo's top level in a checkout, app/_static in a wheel."""

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _pick(repo_dir: str, wheel_dir: str) -> Path:
    in_repo = _HERE.parent / repo_dir
    return in_repo if in_repo.is_dir() else _HERE / wheel_dir


STATIC_DIR: Path = _pick("static", "_static")
TEMPLATES_DIR: Path = _pick("templates", "_templates")
