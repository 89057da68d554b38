"""The console script's way out: `os._exit` after the command, without losing a byte or a status.

`hanoi_cli.__main__.main` skips the interpreter's shutdown, so these tests run real processes:
whatever Python would have flushed or reported on the way out must still arrive.
"""

from __future__ import annotations

import json
import os
import signal
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
    # Through a pipe, stdout is block-buffered, and `os._exit` skips the interpreter's final
    # flush: whatever the command wrote must be flushed before it.
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
        (("--data", str(Path(__file__).parent / "fixtures"), "who", "x"), 3, "is a directory"),
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


@pytest.mark.parametrize(("code", "status"), [(0, 141), (4, 4)])
def test_exit_now_reports_output_that_could_not_be_written(code: int, status: int) -> None:
    # Lost output is 141 unless the command had already failed: its own status says more.
    with Path("/dev/full").open("wb") as full:
        completed = _python(
            f"""
            import io, sys
            from hanoi_cli.__main__ import exit_now
            # Buffered whatever the environment says, so the write fails only at the flush.
            sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)))
            sys.stdout.write("x" * 100)
            exit_now({code})
            """,
            stdout=full,
            stderr=subprocess.PIPE,
        )
    assert completed.returncode == status


def test_process_with_stdout_full_or_closed_exits_141() -> None:
    with Path("/dev/full").open("wb") as full:
        completed = hanoi_process(
            ["--data", str(MINI_KB), "list", "people"], stdout=full, stderr=subprocess.PIPE
        )
    assert completed.returncode == 141
    assert b"No space left on device" in completed.stderr


def test_process_with_an_invalid_kb_exits_4(tmp_path: Path) -> None:
    broken = tmp_path / "kb.json"
    data = json.loads(MINI_KB.read_text("utf-8"))
    data["statements"][0]["speaker"] = "nobody-at-all"
    broken.write_text(json.dumps(data), "utf-8")
    completed = hanoi_process(["--data", str(broken), "who", "x"])
    assert completed.returncode == 4
    assert b"does not name any person or organisation" in completed.stderr


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
    from pathlib import Path
    from hanoi_cli import index
    from hanoi_cli.models import KnowledgeBase
    store = index.open_store(Path(sys.argv[2]), os.environ, print, keep_build=sys.argv[1] == "keep")
    frozen = gc.get_freeze_count() > 0
    gc.unfreeze()  # frozen objects are not listed
    alive = sum(isinstance(thing, KnowledgeBase) for thing in gc.get_objects())
    print(alive, frozen, gc.isenabled())
"""


@pytest.mark.parametrize(("mode", "expected"), [("keep", "1 True True"), ("free", "0 False True")])
def test_a_build_keeps_its_kb_only_when_asked(tmp_path: Path, mode: str, expected: str) -> None:
    # Kept, the validated KB is frozen out of the collector's walks for `os._exit` to drop
    # whole; otherwise (a library caller) it is freed as soon as the index is written.
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KEPT_AFTER_BUILD), mode, str(MINI_KB)],
        env=_buffered_env({"XDG_CACHE_HOME": str(tmp_path)}),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode().split("\n")[-2] == expected


_MAIN_WITH_WATCHED_EXIT = """
    import gc, os, sys
    from hanoi_cli import index
    real_exit = os._exit
    def watched_exit(status):
        frozen = gc.get_freeze_count() > 0
        sys.stderr.write(f"EXIT {status} KEPT {len(index._KEPT)} FROZEN {frozen}\\n")
        sys.stderr.flush()
        real_exit(status)
    os._exit = watched_exit
    sys.argv = ["hanoi", *sys.argv[1:]]
    from hanoi_cli.__main__ import main
    main()
"""


@pytest.mark.parametrize(
    ("args", "status", "kept"),
    [
        (("who", "Guterres", "--json"), 0, "KEPT 1 FROZEN True"),
        (("stats", "signatories"), 0, "KEPT 1 FROZEN True"),
        (("who", "Nobody at all"), 1, "KEPT 1 FROZEN True"),
        (("search", "convention", "--limit", "3"), 0, "KEPT 1 FROZEN True"),
        (("list", "people", "--format", "jsonl"), 0, "KEPT 0 FROZEN False"),
        (("quotes",), 0, "KEPT 0 FROZEN False"),
    ],
)
def test_console_script_ends_with_os_exit_keeping_only_a_lookups_kb(
    tmp_path: Path, args: tuple[str, ...], status: int, kept: str
) -> None:
    # A lookup or a search prints a bounded number of documents whatever the KB's size: its
    # rebuild's KB is left for the exit to drop. A listing builds every document: freed first.
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_MAIN_WITH_WATCHED_EXIT),
            "--data",
            str(REPO_KB),
            *args,
        ],
        env=_buffered_env({"XDG_CACHE_HOME": str(tmp_path)}),
        capture_output=True,
        timeout=120,
        check=False,
    )
    last = completed.stderr.decode().strip().splitlines()[-1]
    assert last == f"EXIT {status} {kept}"
    assert completed.returncode == status


def test_console_script_entry_point_is_main() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="hanoi")
    assert script.value == "hanoi_cli.__main__:main"


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_stdout_that_is_not_utf8_gets_escapes_not_a_traceback(encoding: str) -> None:
    env = {"PYTHONIOENCODING": encoding}
    table = hanoi_process(["--data", str(REPO_KB), "who", "Luong Tam Quang"], env)
    assert table.returncode == 0, table.stderr
    assert table.stderr == b""
    assert "L\\u01b0\\u01a1ng Tam Quang" in table.stdout.decode(encoding)
    # JSON stays valid and exact: ASCII with \\u escapes, the same text once parsed.
    as_json = hanoi_process(["--data", str(REPO_KB), "who", "Luong Tam Quang", "--json"], env)
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stdout.isascii()
    assert json.loads(as_json.stdout)["name"] == "Lương Tam Quang"
    lines = hanoi_process(["--data", str(REPO_KB), "quotes", "--format", "jsonl"], env)
    expected = run_cli("--data", str(REPO_KB), "quotes", "--format", "jsonl").stdout
    assert [json.loads(line) for line in lines.stdout.splitlines()] == [
        json.loads(line) for line in expected.splitlines()
    ]


@pytest.mark.parametrize("stderr", ["closed", "/dev/full"])
def test_stderr_closed_or_full_keeps_the_exit_status(stderr: str) -> None:
    # The error line cannot be written; the status still says what went wrong.
    args = [sys.executable, "-m", "hanoi_cli", "--data", "/nonexistent/kb.json", "who", "x"]
    with Path("/dev/full").open("wb") as full:
        completed = subprocess.run(
            args,
            env=_buffered_env(),
            stdout=subprocess.PIPE,
            stderr=full,
            # `2>&-`: the process starts without a file descriptor 2.
            preexec_fn=(lambda: os.close(2)) if stderr == "closed" else None,
            check=False,
            timeout=60,
        )
    assert completed.returncode == 3
    assert completed.stdout == b""


@pytest.mark.parametrize("args", [(), ("cache",)], ids=["hanoi", "hanoi cache"])
def test_help_for_no_command_on_a_full_stderr_is_still_a_usage_error(
    args: tuple[str, ...],
) -> None:
    # The help goes to stderr; a stderr that cannot take it is not a stdout failure (141).
    with Path("/dev/full").open("wb") as full:
        completed = subprocess.run(
            [sys.executable, "-m", "hanoi_cli", *args],
            env=_buffered_env(),
            stdout=subprocess.PIPE,
            stderr=full,
            check=False,
            timeout=60,
        )
    assert completed.returncode == 2
    assert completed.stdout == b""


@pytest.mark.parametrize("stderr", ["pipe", "/dev/full"])
def test_ctrl_c_while_typer_loads_is_one_line_and_130(stderr: str) -> None:
    # SIGINT arrives while `typer` is being imported, before the CLI's own boundary exists.
    with Path("/dev/full").open("wb") as full:
        completed = _python(
            _INTERRUPT_TYPER_IMPORT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr == "pipe" else full,
        )
    assert completed.returncode == 130
    assert completed.stderr in (None, b"hanoi: interrupted\n")
    assert completed.stdout == b""


_INTERRUPT_TYPER_IMPORT = """
    import os, signal, sys

    class InterruptTyper:
        def find_spec(self, name, path=None, target=None):
            if name == "typer":
                os.kill(os.getpid(), signal.SIGINT)
            return None

    sys.meta_path.insert(0, InterruptTyper())
    sys.argv = ["hanoi", "--version"]
    from hanoi_cli.__main__ import main
    main()
"""


def test_a_second_sigterm_waits_for_the_cleanup_of_the_first(tmp_path: Path) -> None:
    # A supervisor may send SIGTERM twice: the cleanup the first one started (removing a
    # half-written cache file) still finishes, then the process ends by SIGTERM.
    cleaned = tmp_path / "cleaned"
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_TWO_SIGTERMS), str(cleaned)],
        env=_buffered_env(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == -signal.SIGTERM, completed.stderr
    assert completed.stderr == b""
    assert cleaned.read_text() == "cleaned"


_TWO_SIGTERMS = """
    import os, signal, sys
    from hanoi_cli.boundary import _sigterm_unwinds

    with _sigterm_unwinds():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            while True:
                pass
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            total = sum(range(100_000))  # the second signal's handler runs in here
            with open(sys.argv[1], "w") as marker:
                marker.write("cleaned")
"""
