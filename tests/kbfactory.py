"""Helpers to derive broken or changed KB files from the small fixture KB."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import MINI_KB

KBDict = dict[str, Any]


def mini_kb_dict() -> KBDict:
    return copy.deepcopy(json.loads(MINI_KB.read_text(encoding="utf-8")))


def write_kb(
    directory: Path, change: Callable[[KBDict], None] | None = None, name: str = "kb.json"
) -> Path:
    """A copy of the fixture KB, changed by `change`, written to `directory/name`."""
    kb = mini_kb_dict()
    if change is not None:
        change(kb)
    path = directory / name
    path.write_text(json.dumps(kb, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
