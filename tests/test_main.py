"""The console script's way out: `os._exit` after the command, without losing a byte or a status.

`hanoi_cli.__main__.main` skips the interpreter's shutdown, so these tests run real processes:
whatever Python would have flushed or reported on the way out must still arrive.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import MINI_KB, REPO_KB, run_cli
from tests.hostile.conftest import hanoi_process, process_env


def _buffered_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment with stdout block-buffered into a pipe, as for most users: a lost
    final flush would show."""
    env = process_env(extra)
    env.pop("PYTHONUNBUFFERED", None)
    return env


def _python(code: str, **popen: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_buffered_env(),
        capture_output="stdout" not in popen,
        timeout=120,
        check=False,
        **popen,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize(
    "args",
    [
        ("quotes", "--format", "jsonl"),
        ("who", "Guterres"),
        ("search", "convention", "--json"),
        ("list", "orgs", "--format", "csv"),
    ],
)
def test_process_prints_every_byte_the_command_wrote(args: tuple[str, ...]) -> None:
    # Through a pipe, stdout is block-buffered: the last block is flushed by `main`, not by
    # the interpreter's shutdown, which `os._exit` skips.
    completed = subprocess.run(
        [sys.executable, "-m", "hanoi_cli", "--data", str(REPO_KB), *args],
        env=_buffered_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    in_process = run_cli("--data", str(REPO_KB), *args)
    assert completed.returncode == in_process.exit_code == 0, completed.stderr
    assert completed.stdout.decode("utf-8") == in_process.stdout
    assert len(completed.stdout) > 1_000


@pytest.mark.parametrize(
    ("args", "status", "stderr"),
    [
        (("who", "Nobody at all"), 1, "hanoi: error: no person matches"),
        (("--data", "/nonexistent/kb.json", "who", "x"), 3, "no such file"),
        (("who",), 2, "Missing argument"),
    ],
)
def test_process_keeps_each_documented_exit_status(
    args: tuple[str, ...], status: int, stderr: str
) -> None:
    completed = hanoi_process(["--data", str(MINI_KB), *args])
    assert completed.returncode == status
    assert stderr in completed.stderr.decode("utf-8")
    assert completed.stdout == b""


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("None", 0, ""), ("0", 0, ""), ("4", 4, ""), ("'bad things'", 1, "bad things\n")],
)
def test_exit_now_gives_the_status_sys_exit_would(code: str, status: int, stderr: str) -> None:
    completed = _python(
        f"""
        import sys
        from hanoi_cli.__main__ import exit_now
        sys.stdout.write("partial line, never flushed by a newline")
        exit_now({code})
        """
    )
    assert completed.returncode == status
    assert completed.stdout == b"partial line, never flushed by a newline"
    assert completed.stderr.decode("utf-8") == stderr


def test_exit_now_reports_output_that_could_not_be_written(tmp_path: Path) -> None:
    with Path("/dev/full").open("wb") as full:
        completed = _python(
            """
            import io, sys
            from hanoi_cli.__main__ import exit_now
            # Buffered whatever the environment says, so the write fails only at the flush.
            sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)))
            sys.stdout.write("x" * 100)
            exit_now(0)
            """,
            stdout=full,
            stderr=subprocess.PIPE,
        )
    assert completed.returncode == 141


def test_exit_now_with_stdout_closed_keeps_the_status() -> None:
    completed = _python(
        """
        import os, sys
        from hanoi_cli.__main__ import exit_now
        sys.stdout = None
        exit_now(7)
        """
    )
    assert completed.returncode == 7
    assert completed.stderr == b""


_KEPT_AFTER_BUILD = """
    import gc, os, sys
    from hanoi_cli import index
    from hanoi_cli.models import KnowledgeBase
    if sys.argv[1] == "keep":
        index.keep_builds_until_exit()
    store = index.open_store(__import__("pathlib").Path(sys.argv[2]), os.environ, print)
    frozen = gc.get_freeze_count() > 0
    gc.unfreeze()  # frozen objects are not listed
    alive = sum(isinstance(thing, KnowledgeBase) for thing in gc.get_objects())
    print(alive, frozen, gc.isenabled())
"""


@pytest.mark.parametrize(("mode", "expected"), [("keep", "1 True True"), ("free", "0 False True")])
def test_only_the_console_script_keeps_a_built_kb(tmp_path: Path, mode: str, expected: str) -> None:
    # The console script keeps the validated KB for `os._exit` to drop whole (freezing it out
    # of the collector's walks); a library caller's build frees it as soon as it is written.
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KEPT_AFTER_BUILD), mode, str(MINI_KB)],
        env=_buffered_env({"XDG_CACHE_HOME": str(tmp_path)}),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode().split("\n")[-2] == expected


def test_console_script_entry_point_is_main() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="hanoi")
    assert script.value == "hanoi_cli.__main__:main"
