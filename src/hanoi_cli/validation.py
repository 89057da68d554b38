"""`hanoi validate`: every problem in a KB file, each with its JSON path."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hanoi_cli.checks import SECTIONS, verify_quotes
from hanoi_cli.errors import KBInvalidError, Problem, UsageError
from hanoi_cli.loading import parse_kb, read_kb_bytes


@dataclass(frozen=True)
class ValidationReport:
    path: Path
    problems: tuple[Problem, ...]
    counts: dict[str, int] = field(default_factory=dict)
    quotes_checked_against: Path | None = None

    def summary(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        if not self.counts:
            return f"{self.path}: {count} {noun}"
        contents = ", ".join(f"{number} {section}" for section, number in self.counts.items())
        quotes = (
            f"; quotes checked against {self.quotes_checked_against}"
            if self.quotes_checked_against
            else "; quotes not checked (use --sources DIR)"
        )
        return f"{self.path}: {count} {noun} ({contents}{quotes})"


def validate_file(path: Path, sources_dir: Path | None) -> ValidationReport:
    """Problems of a readable KB file. An unreadable one raises `KBUnreadableError`."""
    if sources_dir is not None and not sources_dir.is_dir():
        raise UsageError(f"--sources {sources_dir}: not a directory")
    raw = read_kb_bytes(path)
    try:
        kb = parse_kb(raw, path)
    except KBInvalidError as error:
        return ValidationReport(path, error.problems)
    counts = {section: len(getattr(kb, section)) for section in SECTIONS}
    if sources_dir is None:
        return ValidationReport(path, (), counts)
    return ValidationReport(path, tuple(verify_quotes(kb, sources_dir)), counts, sources_dir)
