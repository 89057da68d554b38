"""Hostile-input tests: shared checks, KB builders and the hypothesis profiles.

Every case ends in the same contract (see `assert_contract`): a documented exit code, at most
one `hanoi: error:` line on stderr, no traceback anywhere, stdout empty or valid output, and
no file changed but the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import FIXTURES, MINI_KB, TEST_ENV, run_cli

# "ci" (the default) runs 10,000+ generated cases over the property tests in well under a
# minute on two cores; "long" (pytest --hypothesis-profile=long) runs ten times as many.
_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": False,
}
settings.register_profile("ci", max_examples=1_500, **_COMMON)
settings.register_profile("long", max_examples=15_000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DOCUMENTED_CODES = frozenset({0, 1, 2, 3, 4, 130, 141})


@dataclass(frozen=True)
class Outcome:
    """What a run left behind, in-process or in a subprocess, as text."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def invoke(*args: str, env: Mapping[str, str] | None = None) -> Outcome:
    """The CLI in-process (CliRunner): stdout and stderr apart, colour off, width pinned."""
    result = run_cli(*args, env=dict(env or {}))
    exception = result.exception
    if isinstance(exception, SystemExit):
        exception = None
    return Outcome(result.exit_code, result.stdout, result.stderr, exception)


def invoke_mini(*args: str) -> Outcome:
    return invoke("--data", str(MINI_KB), *args)


def hanoi_process(
    args: Sequence[str | bytes],
    env: Mapping[str, str] | None = None,
    **popen: Any,
) -> subprocess.CompletedProcess[bytes]:
    """The installed console script's code path (`hanoi_cli.__main__`) in a real process."""
    return subprocess.run(
        [sys.executable, "-m", "hanoi_cli", *args],
        env=process_env(env),
        capture_output="stdout" not in popen,
        timeout=60,
        check=False,
        **popen,
    )


def process_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HANOI_")}
    env.update(TEST_ENV)
    env.update(extra or {})
    return env


def decode_outcome(completed: subprocess.CompletedProcess[bytes]) -> Outcome:
    stdout = completed.stdout or b""
    stderr = completed.stderr or b""
    return Outcome(
        completed.returncode,
        stdout.decode("utf-8", "surrogateescape"),
        stderr.decode("utf-8", "surrogateescape"),
    )


def assert_contract(
    outcome: Outcome,
    codes: Iterable[int],
    *,
    as_json: bool = False,
    error_prefix: str | None = None,
    report_on_stdout: bool = False,
) -> None:
    """The promise every hostile case must keep.

    `report_on_stdout`: `validate` prints its problems on stdout and exits 4 with no error line.
    """
    codes = set(codes)
    assert codes <= DOCUMENTED_CODES
    assert outcome.exception is None, repr(outcome.exception)
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert "Traceback" not in outcome.stdout
    assert outcome.exit_code in codes, (outcome.exit_code, outcome.stderr[:500])
    lines = outcome.stderr.splitlines()
    assert all(line.startswith("hanoi: ") for line in lines), outcome.stderr[:500]
    errors = [line for line in lines if line.startswith("hanoi: error:")]
    if outcome.exit_code == 0:
        assert errors == [], outcome.stderr
    elif outcome.exit_code == 4 and report_on_stdout and not errors:
        assert outcome.stdout.endswith("\n")
    elif outcome.exit_code in (1, 2, 3, 4):
        assert len(errors) == 1, outcome.stderr[:500]
        assert outcome.stdout == "", outcome.stdout[:500]
        if error_prefix is not None:
            assert errors[0].startswith(f"hanoi: error: {error_prefix}"), errors[0]
    assert_terminal_safe(outcome.stderr)
    if as_json and outcome.exit_code == 0:
        json.loads(outcome.stdout)


# ESC, BEL, backspace, DEL, C1 controls and bidi overrides: none may reach a terminal raw.
_RAW_CONTROLS = frozenset(
    [chr(code) for code in range(0x20) if code != 0x0A]
    + [chr(code) for code in range(0x7F, 0xA0)]
    + list("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def raw_controls(text: str) -> set[str]:
    return {char for char in text if char in _RAW_CONTROLS}


def assert_terminal_safe(text: str) -> None:
    found = raw_controls(text)
    assert not found, f"raw control characters {sorted(map(hex, map(ord, found)))} in {text!r}"


@contextmanager
def files_unchanged(*roots: Path) -> Iterator[None]:
    """Asserts nothing under `roots` is created, removed or changed by the block."""
    before = snapshot(roots)
    yield
    assert snapshot(roots) == before


def snapshot(roots: Iterable[Path]) -> dict[str, tuple[int, int, str]]:
    state: dict[str, tuple[int, int, str]] = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            stat = path.stat()
            digest = ""
            if stat.st_size < 4 * 1024 * 1024:
                with open(path, "rb") as handle:  # noqa: PTH123 (tests patch Path.open)
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
            state[str(path)] = (stat.st_size, stat.st_mtime_ns, digest)
    return state


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Path]:
    """A directory for test KB files; it and the fixtures must be unchanged by the test."""
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    yield kb_dir


@pytest.fixture(autouse=True)
def fixtures_unchanged() -> Iterator[None]:
    with files_unchanged(FIXTURES):
        yield
