"""The error hierarchy and the exit codes it maps to.

The core raises `HanoiError` subclasses; only `cli.py` turns them into a message on stderr and
an exit code. The codes are part of the public interface: scripts rely on them.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import NamedTuple


class ExitCode(IntEnum):
    OK = 0
    NOT_FOUND = 1
    USAGE = 2
    KB_UNREADABLE = 3
    KB_INVALID = 4
    INTERRUPTED = 130
    BROKEN_PIPE = 141


class Problem(NamedTuple):
    """One thing wrong with a KB file, located by its JSON path (`people[3].titles[0]`)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class HanoiError(Exception):
    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(HanoiError):
    exit_code = ExitCode.USAGE


class NotFoundError(HanoiError):
    exit_code = ExitCode.NOT_FOUND

    def __init__(
        self, message: str, suggestions: tuple[str, ...] = (), elsewhere: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.suggestions = suggestions
        """Close names of the kind that was asked for."""
        self.elsewhere = elsewhere
        """Commands that would find the query as another kind: `hanoi country Vietnam`."""


class KBUnreadableError(HanoiError):
    """The KB file cannot be read or parsed: missing, a directory, not UTF-8, not JSON."""

    exit_code = ExitCode.KB_UNREADABLE


class KBInvalidError(HanoiError):
    """The KB file is JSON but not a valid KB: schema, references or quotes."""

    exit_code = ExitCode.KB_INVALID

    def __init__(self, message: str, problems: tuple[Problem, ...]) -> None:
        super().__init__(message)
        self.problems = problems


def to_stderr(text: str) -> None:
    """Writes to stderr if it can: a closed or full stderr (`2>&-`, `2>/dev/full`) loses the
    message but must not change the exit code."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
