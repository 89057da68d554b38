"""Where the KB and the cache live. Light on imports: it runs on every call."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DATA_ENV = "HANOI_DATA"
PACKAGE_DIR = Path(__file__).resolve().parent


def packaged_kb_path() -> Path:
    """The KB shipped inside the package, or the repository's copy in a source checkout."""
    shipped = PACKAGE_DIR / "data" / "facts.json"
    if shipped.is_file():
        return shipped
    # An editable install runs from src/: the build copies data/facts.json into the wheel,
    # so the repository's own file is the same bytes.
    return PACKAGE_DIR.parent.parent / "data" / "facts.json"


def resolve_kb_path(data: str | None, environ: Mapping[str, str]) -> Path:
    """`--data` wins, then `$HANOI_DATA`, then the packaged KB."""
    if data:
        return Path(data)
    from_env = environ.get(DATA_ENV, "")
    if from_env:
        return Path(from_env)
    return packaged_kb_path()


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """`$XDG_CACHE_HOME/hanoi-cli`, else `~/.cache/hanoi-cli`; None when neither is known."""
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "hanoi-cli"
    home = environ.get("HOME", "")
    if home and Path(home).is_absolute():
        return Path(home) / ".cache" / "hanoi-cli"
    return None
