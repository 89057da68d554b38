"""The process around the CLI: pipes, signals, closed stdout, odd homes, a damaged cache."""

from __future__ import annotations

import errno
import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hanoi_cli import build, index
from tests.conftest import MINI_KB
from tests.hostile.conftest import (
    assert_contract,
    decode_outcome,
    files_unchanged,
    hanoi_process,
    invoke,
    invoke_mini,
    process_env,
)
from tests.kbfactory import mini_kb_dict

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _big_kb(directory: Path, people: int) -> Path:
    """A large valid KB, from the benchmarks' generator when present, else copies of people."""
    path = directory / f"big-{people}.json"
    kb = mini_kb_dict()
    template = kb["people"][0]
    kb["people"] += [
        {**template, "id": f"person-{n}", "name": f"Person Number {n}", "aliases": []}
        for n in range(people)
    ]
    path.write_text(json.dumps(kb), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def big_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _big_kb(tmp_path_factory.mktemp("big"), 3_000)


# --- closed pipes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["list", "people"], ["list", "people", "--json"], ["list", "people", "--format", "csv"]],
    ids=["table", "json", "csv"],
)
def test_head_closing_the_pipe_is_exit_141_quietly(big_kb: Path, args: list[str]) -> None:
    """`hanoi ... | head -1` with a real shell pipe; the output is far larger than the pipe."""
    command = " ".join([f"'{sys.executable}' -m hanoi_cli --data '{big_kb}'", *args, "| head -1; "])
    completed = subprocess.run(
        ["bash", "-c", command + 'echo "status=${PIPESTATUS[0]}" >&2'],
        capture_output=True,
        env=process_env(),
        timeout=120,
        check=False,
    )
    stderr = completed.stderr.decode()
    assert completed.stdout.count(b"\n") == 1
    # 141 when a write meets the closed pipe; 0 when the kernel took the last write whole
    # before head exited (it returns a short write, not EPIPE, to a writer already blocked).
    assert stderr.strip().splitlines()[-1] in ("status=141", "status=0"), stderr
    assert stderr.strip().splitlines() == [stderr.strip().splitlines()[-1]], stderr


@pytest.mark.parametrize(
    "args",
    [["who", "Guterres"], ["who", "Guterres", "--json"], ["list", "people", "--format", "md"]],
)
def test_pipe_closed_before_any_write(args: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = hanoi_process(
            ["--data", str(MINI_KB), *args], stdout=write_end, stderr=subprocess.PIPE
        )
    finally:
        os.close(write_end)
    assert completed.returncode == 141
    assert completed.stderr == b""


def test_stdout_closed() -> None:
    """`hanoi ... >&-`: output cannot go anywhere, which is an error, said once."""
    completed = subprocess.run(
        ["bash", "-c", f"'{sys.executable}' -m hanoi_cli --data '{MINI_KB}' who Guterres >&-"],
        capture_output=False,
        stderr=subprocess.PIPE,
        env=process_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 141
    assert completed.stderr == b"hanoi: error: cannot write output: stdout is closed\n"


@pytest.mark.parametrize("args", [["who", "Guterres"], ["who", "Guterres", "--json"]])
def test_stdout_on_a_full_device(args: list[str]) -> None:
    with open(os.devnull.replace("null", "full"), "wb") as full:  # noqa: PTH123
        completed = hanoi_process(
            ["--data", str(MINI_KB), *args], stdout=full, stderr=subprocess.PIPE
        )
    assert completed.returncode == 141
    assert completed.stderr == b"hanoi: error: cannot write output: No space left on device\n"


# --- Ctrl-C ---------------------------------------------------------------------------------


def test_sigint_during_a_cold_build(tmp_path: Path) -> None:
    kb = _big_kb(tmp_path, 40_000)
    process = _hanoi(kb, tmp_path, "stats", "--json")
    time.sleep(0.8)  # started, and deep in parsing or building
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr == b"hanoi: interrupted\n"
    assert stdout == b""
    # An interrupted build leaves no index and no temporary file behind.
    leftovers = list((tmp_path / "cache").rglob("*.tmp"))
    assert leftovers == []


def _children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _hanoi(kb: Path, tmp_path: Path, *args: str, **options: Any) -> subprocess.Popen[bytes]:
    """hanoi on `kb` in a process of its own, its cache under `tmp_path`, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "hanoi_cli", "--data", str(kb), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=process_env({"XDG_CACHE_HOME": str(tmp_path / "cache")}),
        **options,
    )


def _two_process_build(
    tmp_path: Path, start_new_session: bool = False, command: tuple[str, ...] = ("stats",)
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A cold build of a 40,000-person KB by `command`, caught while its forked child runs."""
    kb = _big_kb(tmp_path, 40_000)
    assert kb.stat().st_size > index.PARALLEL_BYTES  # big enough to be built by two processes
    if command[0] == "cache":
        # The index first: the child to catch is the one building the full-text table.
        subprocess.run(
            [sys.executable, "-m", "hanoi_cli", "--data", str(kb), "stats", "--json"],
            capture_output=True,
            env=process_env({"XDG_CACHE_HOME": str(tmp_path / "cache")}),
            check=True,
            timeout=120,
        )
    process = _hanoi(kb, tmp_path, *command, "--json", start_new_session=start_new_session)
    deadline = time.monotonic() + 60
    children: list[int] = []
    while not children and process.poll() is None and time.monotonic() < deadline:
        children = _children(process.pid)
        time.sleep(0.005)
    if not children:
        process.kill()
        process.communicate()
        pytest.skip("the build finished, or was not split, before its child was seen")
    return process, children


def _assert_nothing_left(tmp_path: Path, children: list[int], index_too: bool) -> None:
    """A stopped build left no temporary file (nor, with `index_too`, an index) in the cache,
    and no child process running."""
    assert list((tmp_path / "cache").rglob("*.tmp")) == []
    if index_too:
        assert list((tmp_path / "cache").rglob("*.sqlite")) == []
    for child in children:
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_to_the_whole_group_during_a_two_process_build(tmp_path: Path) -> None:
    # A terminal's Ctrl-C reaches every process of the group: the build's child as well.
    process, children = _two_process_build(tmp_path, start_new_session=True)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    # One message, from the parent: the child ends quietly.
    assert stderr == b"hanoi: interrupted\n"
    assert stdout == b""
    _assert_nothing_left(tmp_path, children, index_too=True)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigterm_during_a_two_process_build_cleans_up_then_dies_by_sigterm(
    tmp_path: Path,
) -> None:
    # `kill` or `timeout` sends SIGTERM to hanoi alone: the build's temporary file goes, the
    # child is stopped, and the process still ends as SIGTERM ends it (status -15, 143 in a
    # shell), with nothing on stdout or stderr.
    process, children = _two_process_build(tmp_path)
    assert list((tmp_path / "cache").rglob("*.tmp"))  # the build was writing its file
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGTERM, stderr
    assert (stdout, stderr) == (b"", b"")
    _assert_nothing_left(tmp_path, children, index_too=True)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_cache_build_while_its_child_builds_leaves_no_file(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # `cache build` builds the full-text table in a second process, which writes no file:
    # stopped at any moment, nothing half-written is left in the cache.
    process, children = _two_process_build(
        tmp_path, start_new_session=True, command=("cache", "build")
    )
    time.sleep(0.6)  # the child is reading rows, or indexing them: in the middle of its work
    os.killpg(process.pid, stop)
    process.communicate(timeout=60)
    assert process.returncode in (130, -signal.SIGTERM)
    _assert_nothing_left(tmp_path, children, index_too=False)


def test_sigterm_ignored_by_whoever_started_hanoi_stays_ignored(tmp_path: Path) -> None:
    kb = _big_kb(tmp_path, 40_000)
    process = _hanoi(
        kb,
        tmp_path,
        "stats",
        "--json",
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    time.sleep(0.8)  # started, and deep in parsing or building
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)


def test_started_with_sigchld_ignored(tmp_path: Path) -> None:
    # Some supervisors leave SIGCHLD ignored, and it is inherited across exec: the kernel
    # reaps children at once then. A big KB's build must not count on its child.
    kb = _big_kb(tmp_path, 40_000)
    done = subprocess.run(
        [sys.executable, "-m", "hanoi_cli", "--data", str(kb), "who", "Person Number 7", "--json"],
        capture_output=True,
        env=process_env({"XDG_CACHE_HOME": str(tmp_path / "cache")}),
        preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert json.loads(done.stdout)["name"] == "Person Number 7"


@pytest.mark.parametrize("where", ["hanoi_cli.query.find", "hanoi_cli.index.open_store"])
def test_keyboard_interrupt_at_the_boundary(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    module, name = where.rsplit(".", 1)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(module), name, interrupted)
    outcome = invoke_mini("who", "Guterres", "--json")
    assert_contract(outcome, {130})
    assert outcome.stderr == "hanoi: interrupted\n"
    assert outcome.stdout == ""


# --- homes and caches -----------------------------------------------------------------------


def test_home_and_xdg_unset() -> None:
    env = {
        key: value for key, value in process_env().items() if key not in ("HOME", "XDG_CACHE_HOME")
    }
    completed = subprocess.run(
        [sys.executable, "-m", "hanoi_cli", "--data", str(MINI_KB), "who", "Guterres", "--json"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    outcome = decode_outcome(completed)
    assert_contract(outcome, {0}, as_json=True)
    assert outcome.stderr == ""
    info = decode_outcome(
        subprocess.run(
            [sys.executable, "-m", "hanoi_cli", "--data", str(MINI_KB), "cache", "info", "--json"],
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
        )
    )
    assert json.loads(info.stdout)["cache_file"] is None


@pytest.mark.parametrize("xdg", ["relative/cache", "", "/dev/null", "FILE/sub"])
def test_unusable_cache_home_falls_back_to_memory(tmp_path: Path, xdg: str) -> None:
    plain = tmp_path / "plain-file"
    plain.write_text("not a directory")
    value = xdg.replace("FILE", str(plain))
    with files_unchanged(plain):
        for args in (
            ["who", "Guterres", "--json"],
            ["cache", "info", "--json"],
            ["cache", "clear"],
        ):
            outcome = (
                invoke_mini(*args)
                if args[0] != "cache"
                else invoke(
                    "--data", str(MINI_KB), *args, env={"XDG_CACHE_HOME": value, "HOME": str(plain)}
                )
            )
            if args[0] == "who":
                outcome = invoke(
                    "--data", str(MINI_KB), *args, env={"XDG_CACHE_HOME": value, "HOME": str(plain)}
                )
            assert_contract(outcome, {0}, as_json="--json" in args)
            for line in outcome.stderr.splitlines():
                assert line.startswith("hanoi: warning: cache not written")


def test_read_only_cache_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root chmod cannot stop a write, so the write itself fails as EROFS would."""

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    outcome = invoke_mini("who", "Guterres", "--json")
    assert_contract(outcome, {0}, as_json=True)
    assert outcome.stderr.startswith("hanoi: warning: cache not written (")
    assert "Read-only file system); using an in-memory index" in outcome.stderr


@pytest.mark.parametrize("target", ["replace", "sqlite"])
def test_disk_full_while_writing_the_cache(
    monkeypatch: pytest.MonkeyPatch, isolated_environment: Path, target: str
) -> None:
    if target == "replace":

        def full(self: Path, other: Any) -> Any:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Path, "replace", full)
    else:
        real_fill = build.fill

        def fill_then_full(connection: sqlite3.Connection, *args: Any) -> None:
            if connection.execute("PRAGMA database_list").fetchone()[2]:
                raise sqlite3.OperationalError("database or disk is full")
            real_fill(connection, *args)

        monkeypatch.setattr(build, "fill", fill_then_full)
    outcome = invoke_mini("search", "historic", "--json")
    assert_contract(outcome, {0}, as_json=True)
    assert outcome.stderr.count("\n") == 1
    assert "using an in-memory index" in outcome.stderr
    # Nothing half-written is left in the cache directory.
    assert list((isolated_environment / "hanoi-cli").glob("*")) == []


def _cache_file(isolated_environment: Path) -> Path:
    assert invoke_mini("who", "Guterres", "--json").exit_code == 0
    # The core index; tables built on first use sit beside it as `index-....gram.sqlite`.
    (cache,) = (isolated_environment / "hanoi-cli").glob("index-*-*[0-9].sqlite")
    return cache


def test_truncated_cache_at_many_offsets(isolated_environment: Path) -> None:
    cache = _cache_file(isolated_environment)
    original = cache.read_bytes()
    for offset in [0, 1, 15, 16, 100, *range(512, len(original), 1024)]:
        cache.write_bytes(original[:offset])
        for args in (["who", "Guterres", "--json"], ["search", "historic", "--json"]):
            assert_contract(invoke_mini(*args), {0}, as_json=True)
        cache.write_bytes(original)


def test_damaged_cache_pages_are_rebuilt(isolated_environment: Path) -> None:
    """Each page overwritten with junk while the metadata stays intact."""
    cache = _cache_file(isolated_environment)
    original = cache.read_bytes()
    page = 4096
    rebuilt = 0
    for start in range(page, len(original), page):
        for junk in (b"\x00", b"\xff"):
            damaged = original[:start] + junk * page + original[start + page :]
            for args in (
                ["who", "Guterres", "--json"],
                ["search", "historic", "--json"],
                ["list", "people", "--json"],
                ["quotes", "--json"],
                ["stats", "--json"],
            ):
                cache.write_bytes(damaged)
                outcome = invoke_mini(*args)
                assert_contract(outcome, {0}, as_json=True)
                if outcome.stderr:
                    assert outcome.stderr.startswith("hanoi: warning: index cache ")
                    assert "is damaged" in outcome.stderr and "rebuilding it" in outcome.stderr
                    rebuilt += 1
    assert rebuilt > 10


# The tables built on first use, each with a query that reads it on the fixture KB.
DERIVED_QUERIES = {
    "fulltext": ("search", "historic", "--json"),
}


def _derived_file(isolated_environment: Path, table: str) -> tuple[Path, bytes]:
    """The cached derived table, built by its query, and that query's correct answer."""
    answer = invoke_mini(*DERIVED_QUERIES[table])
    assert answer.exit_code == 0
    (derived,) = (isolated_environment / "hanoi-cli").glob(f"index-*.{table}.sqlite")
    return derived, answer.stdout.encode()


@pytest.mark.parametrize("table", sorted(DERIVED_QUERIES))
def test_damaged_derived_table_pages_give_the_same_answer(
    isolated_environment: Path, table: str
) -> None:
    derived, expected = _derived_file(isolated_environment, table)
    original = derived.read_bytes()
    page = 4096
    for start in range(0, len(original), page):
        for junk in (b"\x00", b"\xff"):
            derived.write_bytes(original[:start] + junk * page + original[start + page :])
            outcome = invoke_mini(*DERIVED_QUERIES[table])
            assert_contract(outcome, {0}, as_json=True)
            assert outcome.stdout.encode() == expected
            assert outcome.stderr.count("\n") <= 1
        # Leave a good copy for the next page: a rebuild may have replaced the file.
        derived.write_bytes(original)


@pytest.mark.parametrize("table", sorted(DERIVED_QUERIES))
@pytest.mark.parametrize(
    "damage", ["truncated", "empty", "directory", "forged"], ids=lambda damage: damage
)
def test_broken_derived_table_file_gives_the_same_answer(
    isolated_environment: Path, table: str, damage: str
) -> None:
    derived, expected = _derived_file(isolated_environment, table)
    original = derived.read_bytes()
    if damage == "truncated":
        derived.write_bytes(original[: len(original) // 2])
    elif damage == "empty":
        derived.write_bytes(b"")
    elif damage == "directory":
        derived.unlink()
        derived.mkdir()
    else:
        # The right build id, but none of the table it claims to hold.
        build_id = sqlite3.connect(derived).execute("SELECT value FROM meta").fetchone()[0]
        derived.unlink()
        forged = sqlite3.connect(derived)
        forged.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        forged.execute("INSERT INTO meta VALUES ('core', ?)", (build_id,))
        forged.commit()
        forged.close()
    outcome = invoke_mini(*DERIVED_QUERIES[table])
    assert_contract(outcome, {0}, as_json=True)
    assert outcome.stdout.encode() == expected
    assert outcome.stderr.count("\n") <= 1
    leftovers = [path.name for path in derived.parent.iterdir() if path.suffix == ".tmp"]
    assert leftovers == []


@pytest.mark.parametrize(
    "content",
    [b"", b"SQLite format 3\x00", b"not a database at all" * 100, b"\x00" * 8192],
    ids=["empty", "header-only", "text", "zeros"],
)
def test_garbage_cache_file(isolated_environment: Path, content: bytes) -> None:
    cache = _cache_file(isolated_environment)
    cache.write_bytes(content)
    assert_contract(invoke_mini("who", "Guterres", "--json"), {0}, as_json=True)
    assert_contract(invoke_mini("cache", "info", "--json"), {0}, as_json=True)


def test_cache_from_another_schema(isolated_environment: Path) -> None:
    """A SQLite file with a plausible meta table but none of the other tables."""
    cache = _cache_file(isolated_environment)
    meta = sqlite3.connect(cache).execute("SELECT key, value FROM meta").fetchall()
    cache.unlink()
    forged = sqlite3.connect(cache)
    forged.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    forged.executemany("INSERT INTO meta VALUES (?, ?)", meta)
    forged.commit()
    forged.close()
    outcome = invoke_mini("who", "Guterres", "--json")
    assert_contract(outcome, {0}, as_json=True)


def test_cache_path_is_a_directory(isolated_environment: Path) -> None:
    cache = _cache_file(isolated_environment)
    cache.unlink()
    cache.mkdir()
    assert_contract(invoke_mini("who", "Guterres", "--json"), {0}, as_json=True)
    assert_contract(invoke("cache", "clear"), {0})


def test_two_processes_rebuilding_at_once(big_kb: Path, tmp_path: Path) -> None:
    env = process_env({"XDG_CACHE_HOME": str(tmp_path / "cache")})
    command = [
        sys.executable,
        "-m",
        "hanoi_cli",
        "--data",
        str(big_kb),
        "who",
        "Person Number 7",
        "--json",
    ]
    for _ in range(2):
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            for _ in range(4)
        ]
        results = [process.communicate(timeout=120) for process in processes]
        for process, (stdout, stderr) in zip(processes, results, strict=True):
            assert process.returncode == 0, stderr
            assert stderr == b""
            assert json.loads(stdout)["name"] == "Person Number 7"
    caches = list((tmp_path / "cache" / "hanoi-cli").iterdir())
    assert len(caches) == 1 and caches[0].suffix == ".sqlite"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopped_while_it_patches_the_index_leaves_the_old_one_whole(
    tmp_path: Path, stop: signal.Signals
) -> None:
    kb = _big_kb(tmp_path, 40_000)

    def who(name: str) -> subprocess.Popen[bytes]:
        return _hanoi(kb, tmp_path, "who", name, "--json")

    assert who("Person Number 7").wait(timeout=120) == 0
    [core] = (tmp_path / "cache").rglob("index-*.sqlite")
    before = _rows_and_build(core)
    kb.write_text(kb.read_text().replace('"Person Number 7"', '"Person Number 7 Edited"'))
    process = who("Person Number 7 Edited")
    deadline = time.monotonic() + 60
    while not list(core.parent.glob("*.tmp")) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    if process.poll() is not None:
        pytest.skip("the patch was done before its temporary file was seen")
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (130 if stop == signal.SIGINT else -signal.SIGTERM), stderr
    assert list(core.parent.glob("*.tmp")) == []
    assert _rows_and_build(core) == before
    stdout, stderr = who("Person Number 7 Edited").communicate(timeout=120)
    assert json.loads(stdout)["name"] == "Person Number 7 Edited", stderr


def _rows_and_build(core: Path) -> tuple[object, ...]:
    with sqlite3.connect(f"{core.as_uri()}?mode=ro", uri=True) as connection:
        return (
            connection.execute("PRAGMA integrity_check").fetchall(),
            connection.execute("SELECT value FROM meta WHERE key = 'build_id'").fetchall(),
            connection.execute("SELECT count(*) FROM entity").fetchall(),
        )
