"""hanoi-cli: sourced facts about the UN Convention against Cybercrime (the Hanoi Convention).

Library use, without the command line::

    from hanoi_cli import open_kb, find
    store = open_kb()                     # the packaged KB, through the index cache
    [match] = find(store, "person", "Guterres")
    match.document["titles"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hanoi_cli.index import Store
    from hanoi_cli.query import find as find


def open_kb(path: str | None = None) -> Store:
    """A store over the KB at `path` (default: `$HANOI_DATA`, then the packaged KB)."""
    import os
    import warnings

    from hanoi_cli.index import open_store
    from hanoi_cli.paths import resolve_kb_path

    kb_path = resolve_kb_path(path, os.environ)
    return open_store(kb_path, os.environ, lambda message: warnings.warn(message, stacklevel=3))


def __getattr__(name: str) -> Any:
    # Lazy, so `import hanoi_cli` stays cheap on the command line's start-up path.
    if name == "find":
        from hanoi_cli.query import find

        return find
    raise AttributeError(name)
