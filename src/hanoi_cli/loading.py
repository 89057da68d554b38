"""Read, parse and validate a KB file. The only place a KB file is trusted from disk.

Everything past `load_kb` works with a validated `KnowledgeBase`. Every way a file can be bad
becomes one `KBUnreadableError` (cannot read or parse) or `KBInvalidError` (parsed, but not a
valid KB), each with a one-line message and, for the latter, one `Problem` per fault.
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

from pydantic import ValidationError

from hanoi_cli.checks import find_problems
from hanoi_cli.errors import KBInvalidError, KBUnreadableError, Problem
from hanoi_cli.models import KnowledgeBase

MAX_KB_BYTES = 128 * 1024 * 1024
"""A KB file larger than this is refused before it is read, so memory stays bounded.

A synthetic KB of 100,000 people is about 75 MB; the real one is well under 1 MB.
"""
_CHECK_CHUNK = 1024 * 1024

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def read_kb_bytes(path: Path) -> bytes:
    """The file's bytes as UTF-8 JSON text (a UTF-8 BOM is dropped), or `KBUnreadableError`."""
    try:
        status = path.stat()
        mode, size = status.st_mode, status.st_size
        if stat.S_ISDIR(mode):
            raise KBUnreadableError(f"{path}: is a directory, not a KB file")
        if not stat.S_ISREG(mode):
            # A FIFO would block the read forever and /dev/zero would never end it.
            raise KBUnreadableError(f"{path}: not a regular file")
        if size > MAX_KB_BYTES:
            raise KBUnreadableError(
                f"{path}: {size:,} bytes is larger than the {MAX_KB_BYTES:,}-byte limit"
            )
        with path.open("rb") as handle:
            # The first bytes tell UTF-16/32 and binary files apart before the rest is read.
            _check_start(path, handle.read(4))
            handle.seek(0)
            # Bounded even if the file grew after the size check.
            raw = handle.read(MAX_KB_BYTES + 1)
        if len(raw) > MAX_KB_BYTES:
            raise KBUnreadableError(f"{path}: larger than the {MAX_KB_BYTES:,}-byte limit")
    except FileNotFoundError:
        raise KBUnreadableError(f"{path}: no such file") from None
    except PermissionError:
        raise KBUnreadableError(f"{path}: permission denied") from None
    except OSError as error:
        raise KBUnreadableError(f"{path}: cannot read: {error.strerror or error}") from None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    _check_utf8(path, raw)
    if not raw or raw.isspace():
        raise KBUnreadableError(f"{path}: is empty")
    return raw


def _check_start(path: Path, head: bytes) -> None:
    if head.startswith(_UTF32_BOMS) or head.startswith(_UTF16_BOMS):
        raise KBUnreadableError(f"{path}: is UTF-16 or UTF-32 text; save it as UTF-8")
    # JSON starts with an ASCII character, so UTF-16 or UTF-32 without a BOM has a NUL byte
    # among its first four.
    if b"\x00" in head:
        raise KBUnreadableError(f"{path}: is UTF-16, UTF-32 or binary, not UTF-8 JSON text")


def _check_utf8(path: Path, raw: bytes) -> None:
    """UTF-8 with no NUL byte (never valid in JSON text), checked without a copy of the file."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise KBUnreadableError(f"{path}: not JSON text (NUL byte at offset {nul})")
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    for start in [*range(0, len(raw), _CHECK_CHUNK), len(raw)]:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(view[start : start + _CHECK_CHUNK], final=start == len(raw))
        except UnicodeDecodeError as error:
            offset = start - pending + error.start
            raise KBUnreadableError(
                f"{path}: not UTF-8 text (invalid byte at offset {offset})"
            ) from None


def json_path(location: tuple[int | str, ...]) -> str:
    """`('people', 3, 'titles', 0)` -> `people[3].titles[0]`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def parse_kb(raw: bytes, origin: Path) -> KnowledgeBase:
    """Validate JSON bytes against the models, then check references across the KB."""
    kb = validate_kb(raw, origin)
    problems = tuple(find_problems(kb))
    if problems:
        raise invalid_kb(origin, problems)
    return kb


def validate_kb(raw: bytes, origin: Path) -> KnowledgeBase:
    """Validate JSON bytes against the models alone: `find_problems` is still to be run."""
    try:
        kb = KnowledgeBase.model_validate_json(raw)
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        if details and details[0]["type"] == "json_invalid":
            reason = str(details[0]["msg"]).removeprefix("Invalid JSON: ")
            raise KBUnreadableError(f"{origin}: not valid JSON: {reason}") from None
        problems = tuple(
            Problem(json_path(tuple(detail["loc"])), str(detail["msg"])) for detail in details
        )
        raise invalid_kb(origin, problems) from None
    except RecursionError:
        raise KBUnreadableError(f"{origin}: not valid JSON: nested too deeply") from None
    return kb


def load_kb(path: Path) -> KnowledgeBase:
    return parse_kb(read_kb_bytes(path), path)


def invalid_kb(origin: Path, problems: tuple[Problem, ...]) -> KBInvalidError:
    """The error for a KB in which `find_problems` found `problems` (at least one)."""
    count = len(problems)
    first = problems[0]
    noun = "problem" if count == 1 else "problems"
    return KBInvalidError(f"{origin}: not a valid KB ({count} {noun}; first: {first})", problems)
