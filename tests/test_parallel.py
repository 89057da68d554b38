"""A big KB's index is built by two processes: the same index, the same errors, no leftovers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hanoi_cli import checks, index, parallel
from hanoi_cli.errors import KBInvalidError, Problem
from hanoi_cli.index import open_store
from hanoi_cli.models import KnowledgeBase
from hanoi_cli.parallel import Aside
from hanoi_cli.query import find
from tests.conftest import ROOT, fail_on_warning
from tests.kbfactory import KBDict, write_kb
from tests.test_views import _synthetic_kb

needs_fork = pytest.mark.skipif(not parallel.can_fork(), reason="no second CPU, or not Linux")

# Build ids and times differ between any two builds.
_PER_BUILD = ("build_id", "built", "built_ns")


def _tables(cache_file: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of an index, in stored order, without per-build meta."""
    connection = sqlite3.connect(cache_file)
    try:
        names = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: [
                row
                for row in connection.execute(f"SELECT * FROM {name}")
                if name != "meta" or row[0] not in _PER_BUILD
            ]
            for name in sorted(names)
        }
    finally:
        connection.close()


def _record_forks(patch: pytest.MonkeyPatch) -> list[bool]:
    """Makes every `Aside` record whether it forked, in the list returned."""
    forked: list[bool] = []

    class Watched(Aside[object]):
        def __init__(self, work: Callable[[], object], fork: bool = True) -> None:
            super().__init__(work, fork)
            forked.append(self.forked)

    patch.setattr(parallel, "Aside", Watched)
    return forked


def _build(kb_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch, fork: bool) -> Path:
    """Builds the index of `kb_path`, in two processes or in one, and returns its file."""
    with monkeypatch.context() as patch:
        patch.setattr(index, "PARALLEL_BYTES", 0 if fork else 1 << 62)
        forked = _record_forks(patch)
        open_store(kb_path, {"XDG_CACHE_HOME": str(cache_home)}, fail_on_warning).close()
    assert forked == [fork]
    cache_file = index.cache_file_for(kb_path, {"XDG_CACHE_HOME": str(cache_home)})
    assert cache_file is not None
    return cache_file


@pytest.fixture(params=["real", "synthetic"])
def kb_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "real":
        return ROOT / "data" / "facts.json"
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(_synthetic_kb(300)), encoding="utf-8")
    return path


@needs_fork
def test_two_processes_build_the_same_index_as_one(
    kb_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = _tables(_build(kb_path, tmp_path / "one", monkeypatch, fork=False))
    shared = _tables(_build(kb_path, tmp_path / "two", monkeypatch, fork=True))
    assert shared == alone
    assert len(shared["name"]) > 100 and len(shared["token"]) > 50


def _derived_tables(kb_path: Path, cache_home: Path) -> dict[str, object]:
    """Every row of each table built on first use, as cached beside the index."""
    from hanoi_cli.derived import DERIVED_SCHEMA

    core = index.cache_file_for(kb_path, {"XDG_CACHE_HOME": str(cache_home)})
    assert core is not None
    found: dict[str, object] = {}
    for table in DERIVED_SCHEMA:
        rows = _tables(index._derived_file(core, table))
        del rows["meta"]  # the build id of the core each was built from
        found[table] = rows
    return found


@needs_fork
@pytest.mark.parametrize("child", ["builds", "fails"])
def test_cache_build_builds_the_same_tables_with_a_second_process(
    kb_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: str
) -> None:
    from hanoi_cli.derived import DERIVED_SCHEMA

    on_use = open_store(kb_path, {"XDG_CACHE_HOME": str(tmp_path / "on-use")}, fail_on_warning)
    for table in DERIVED_SCHEMA:  # one after the other, in this process
        on_use.require(table)
    on_use.close()
    with monkeypatch.context() as patch:
        forked = _record_forks(patch)
        if child == "fails":
            # The second process builds nothing: the table is built here, the same.
            patch.setattr(index, "_fill_derived_file", lambda *_: False)
        index.build_cache(kb_path, {"XDG_CACHE_HOME": str(tmp_path / "built")}, fail_on_warning)
    assert forked[-1] is True
    built = _derived_tables(kb_path, tmp_path / "built")
    assert built == _derived_tables(kb_path, tmp_path / "on-use")
    assert len(built["fulltext"]["fulltext"]) > 300  # type: ignore[index]


@needs_fork
def test_a_forked_build_answers_name_word_lookups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_path = write_kb(tmp_path)
    _build(kb_path, tmp_path / "cache", monkeypatch, fork=True)
    store = open_store(kb_path, {"XDG_CACHE_HOME": str(tmp_path / "cache")}, fail_on_warning)
    try:
        # "Tam" is a word of a name: the token table, filled from the child's rows.
        assert [(m.name, m.tier) for m in find(store, "person", "Tam")] == [
            ("Lương Tam Quang", "phrase")
        ]
    finally:
        store.close()


def _dangling_speaker(kb: KBDict) -> None:
    kb["statements"][0]["speaker"] = "nobody-at-all"


def _duplicate_id(kb: KBDict) -> None:
    kb["people"][1]["id"] = kb["people"][0]["id"]


@needs_fork
@pytest.mark.parametrize("change", [_dangling_speaker, _duplicate_id], ids=lambda f: f.__name__)
def test_an_invalid_kb_gives_the_same_error_from_either_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[KBDict], None]
) -> None:
    # A dangling reference breaks the parent's rows before the child's checks report.
    kb_path = write_kb(tmp_path, change)
    real_checks = checks.find_problems
    checked_here: list[bool] = []

    def counted(kb: KnowledgeBase) -> Iterator[Problem]:
        checked_here.append(True)  # in this process's memory: a child's call is not seen
        return real_checks(kb)

    monkeypatch.setattr(checks, "find_problems", counted)
    errors = []
    for fork in (False, True):
        checked_here.clear()
        with pytest.raises(KBInvalidError) as caught:
            _build(kb_path, tmp_path / f"cache-{fork}", monkeypatch, fork=fork)
        errors.append((str(caught.value), caught.value.problems))
        # The child's problems are the error: the parent does not check the KB again.
        assert checked_here == ([] if fork else [True])
        # Nothing is left behind: no index, no temporary file.
        assert list((tmp_path / f"cache-{fork}").rglob("*.sqlite*")) == []
    assert errors[0] == errors[1]
    assert "not a valid KB" in errors[0][0]


@needs_fork
def test_the_child_runs_the_work_and_the_parent_gets_its_result() -> None:
    with Aside(os.getpid) as aside:
        assert aside.forked
        child_pid = aside.result()
    assert child_pid != os.getpid()
    with pytest.raises(ChildProcessError):
        os.waitpid(child_pid, os.WNOHANG)  # already reaped: no zombie is left


def _fails_in_the_child(parent: int) -> Callable[[], str]:
    def work() -> str:
        if os.getpid() != parent:
            raise MemoryError("the child ran out of memory")
        return "computed by the parent"

    return work


def _killed_in_the_child(parent: int) -> Callable[[], str]:
    def work() -> str:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return "computed by the parent"

    return work


@needs_fork
@pytest.mark.parametrize("make", [_fails_in_the_child, _killed_in_the_child])
def test_a_failed_child_leaves_the_work_to_the_parent(
    make: Callable[[int], Callable[[], str]],
) -> None:
    with Aside(make(os.getpid())) as aside:
        assert aside.forked
        assert aside.result() == "computed by the parent"
        assert aside.result() == "computed by the parent"  # once, then remembered


def _ctrl_c_ends_this_process() -> bool:
    return signal.getsignal(signal.SIGINT) == signal.SIG_DFL


@needs_fork
def test_ctrl_c_ends_the_child_without_running_the_parents_handler() -> None:
    # In the parent, Ctrl-C raises KeyboardInterrupt, whose handling prints a message and
    # removes the build's files; the child must simply end.
    assert not _ctrl_c_ends_this_process()
    with Aside(_ctrl_c_ends_this_process) as aside:
        assert aside.forked
        assert aside.result() is True
    assert not _ctrl_c_ends_this_process()


@needs_fork
def test_leaving_early_stops_the_child() -> None:
    started = time.monotonic()
    with Aside(lambda: threading.Event().wait(60)) as aside:
        pid = aside._pid
        assert pid
    # Killed, not waited for: a minute of work is not sat through.
    assert time.monotonic() - started < 30
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@needs_fork
def test_a_child_killed_while_sending_leaves_the_work_to_the_parent() -> None:
    parent = os.getpid()
    big = 8 << 20  # far more than a pipe holds: the child blocks until the parent reads

    def work() -> bytes:
        if os.getpid() != parent:
            signal.alarm(1)  # SIGALRM ends the child while it is blocked, half sent
        return b"x" * big

    with Aside(work) as aside:
        assert aside.forked
        time.sleep(1.5)
        assert aside.result() == b"x" * big


@needs_fork
def test_ctrl_c_to_the_parent_alone_while_it_waits_stops_the_child() -> None:
    parent = os.getpid()

    def work() -> str:
        if os.getpid() != parent:
            time.sleep(60)
        return "done"

    with Aside(work) as aside:
        pid = aside._pid
        # Started after the fork: with a thread running, `can_fork` would refuse.
        threading.Timer(0.3, os.kill, (parent, signal.SIGINT)).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            aside.result()
        assert time.monotonic() - started < 30
        assert not aside.forked
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


_CHILD_OF_A_KILLED_PARENT = """
import os, sys, time
from hanoi_cli.parallel import Aside
parent = os.getpid()
def work():
    if os.getpid() != parent:
        time.sleep(60)
    return 0
aside = Aside(work)
print(aside._pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@needs_fork
def test_the_child_dies_with_a_killed_parent_and_holds_no_stream_open() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD_OF_A_KILLED_PARENT],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())
    assert _alive(child)
    process.kill()  # SIGKILL: no Python code of the parent runs
    started = time.monotonic()
    # EOF at once: the child does not hold the parent's stdout open.
    assert process.stdout.read() == b""
    process.wait()
    while _alive(child) and time.monotonic() - started < 10:
        time.sleep(0.01)
    assert not _alive(child)


@needs_fork
def test_ctrl_c_at_the_moment_of_the_fork_is_handled_by_the_parent_alone() -> None:
    script = """
import os, signal
from hanoi_cli.parallel import Aside
parent = os.getpid()
real_fork = os.fork
def fork():
    pid = real_fork()
    os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C to the group, right at the fork
    return pid
os.fork = fork
try:
    with Aside(lambda: 42):
        print("not reached", flush=True)
except KeyboardInterrupt:
    print("parent" if os.getpid() == parent else "child", flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.stdout == "parent\n", done


def test_no_fork_with_sigchld_ignored() -> None:
    # The kernel would reap the child at once: its result could not be trusted.
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert parallel.can_fork() is False
        assert Aside(os.getpid).result() == os.getpid()
    finally:
        signal.signal(signal.SIGCHLD, previous)


@needs_fork
def test_the_childs_standard_streams_are_not_the_parents() -> None:
    with Aside(lambda: [str(Path(f"/proc/self/fd/{fd}").readlink()) for fd in (0, 1, 2)]) as aside:
        assert aside.result() == [os.devnull] * 3


def test_no_fork_when_asked_not_to_or_when_threads_run() -> None:
    calls: list[int] = []

    def work() -> int:
        calls.append(os.getpid())
        return len(calls)

    with Aside(work, fork=False) as aside:
        assert not aside.forked and calls == []
        assert aside.result() == 1 and calls == [os.getpid()]
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        # A lock another thread holds at the fork would stay locked forever in the child.
        assert parallel.can_fork() is False
        assert not Aside(os.getpid).forked
    finally:
        release.set()
        thread.join()
