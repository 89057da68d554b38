"""Work done in a forked child process while the caller goes on: the index build's second core.

`Aside(work)` forks; the child runs `work()` and sends its pickled result back through a pipe,
while the parent does its own share of the build. The child is a copy of the parent made by
`fork`, so `work` can read the validated KB without it being sent anywhere. Where forking is
unsafe (not Linux, other threads running, children reaped by the kernel) or useless (one
CPU), or when the child fails, `result()` runs `work` in this process instead: the same
answer, only later.

The child never outlives its use: it dies with the parent (even a parent killed by SIGKILL),
ends quietly on Ctrl-C, is killed when the caller leaves its `with` block early, and holds
none of the caller's standard streams open.

Plain `os.fork`, not `multiprocessing`: its fork start method flushes the parent's buffered
stdout and stderr in the child on the way out (output the parent has not flushed yet would be
printed twice), and a pool would pickle the KB to send it. One child, one pipe, `os._exit`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Generic, NoReturn, TypeVar

_T = TypeVar("_T")

_HEADER = 8
"""Bytes of the length that precedes the result: a result cut short is never unpickled."""


class Aside(Generic[_T]):
    """`work` running in a child process; `result()` waits for it. Use as a context manager:
    leaving the block early stops the child."""

    def __init__(self, work: Callable[[], _T], fork: bool = True) -> None:
        """`fork=False`: no child, `result()` runs `work` (for work too small to be worth it)."""
        self._work = work
        self._pid = 0
        self._pipe = -1
        self._done: tuple[_T] | None = None
        if fork and can_fork():
            self._start()

    def _start(self) -> None:
        parent = os.getpid()
        # Ctrl-C and SIGTERM are held back across the fork: the child must never run the
        # parent's handling of them (its message, its cleanup of the parent's files).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                raise
        except OSError:
            # Out of processes or file descriptors: `result()` does the work here.
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            return
        if pid == 0:
            _run_child(self._work, parent, held, read_end, write_end)
        os.close(write_end)
        self._pid, self._pipe = pid, read_end
        try:
            # A Ctrl-C held back is raised here, before the caller's `with` could stop the child.
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        except BaseException:
            self.close()
            raise

    @property
    def forked(self) -> bool:
        return self._pid != 0

    def result(self) -> _T:
        """What `work()` returned; computed here if there is no child or the child failed."""
        if self._done is None:
            payload = self._collect()
            self._done = (pickle.loads(payload) if payload else self._work(),)
        return self._done[0]

    def _collect(self) -> bytes:
        """The child's pickled result; empty if there is no child or it did not finish."""
        if not self._pid:
            return b""
        try:
            with os.fdopen(self._pipe, "rb") as pipe:
                self._pipe = -1
                sent = pipe.read()
        except BaseException:
            # Ctrl-C (or a signal) while waiting: the child's work is no longer wanted.
            self.close()
            raise
        pid, self._pid = self._pid, 0
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return b""
        payload = sent[_HEADER:]
        # A child killed while sending (out of memory, a signal) leaves a result cut short.
        whole = int.from_bytes(sent[:_HEADER], "big") == len(payload) > 0
        return payload if whole and os.waitstatus_to_exitcode(status) == 0 else b""

    def close(self) -> None:
        """Stops a child whose result is no longer wanted."""
        if self._pipe >= 0:
            pipe, self._pipe = self._pipe, -1
            with contextlib.suppress(OSError):
                os.close(pipe)
        if self._pid:
            pid, self._pid = self._pid, 0
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)

    def __enter__(self) -> Aside[_T]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def can_fork() -> bool:
    """Forking is safe here and there is a second CPU to run the child on.

    Linux only: macOS system libraries are not safe to use in a forked child. Never with other
    threads running: a lock one of them holds would stay locked forever in the child. Never
    with SIGCHLD ignored: the kernel reaps children then, and their exit status is lost.
    """
    if sys.platform != "linux" or signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        return False
    try:
        # Every thread, including those not started through `threading`.
        threads = sum(1 for _ in Path("/proc/self/task").iterdir())
    except OSError:
        return False
    return threads == 1 and len(os.sched_getaffinity(0)) > 1


def _run_child(
    work: Callable[[], object],
    parent: int,
    held: set[int | signal.Signals],
    read_end: int,
    write_end: int,
) -> NoReturn:
    """The child's whole life: `work`, its result down the pipe, exit. `os._exit` skips the
    parent's exit handlers and buffered output, which are the parent's to run and flush."""
    status = 1
    try:
        _die_with(parent)
        # Ctrl-C and SIGTERM end the child at once and quietly (unless the parent ignores
        # them too): the parent's handlers would run the parent's cleanups here.
        for stop in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(stop) != signal.SIG_IGN:
                signal.signal(stop, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read_end)
        # The caller's stdout and stderr stay the parent's: `$(hanoi ...)` waits for them.
        _standard_streams_to_null()
        payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(len(payload).to_bytes(_HEADER, "big"))
            pipe.write(payload)
        status = 0
    except BaseException:
        pass  # the parent will run `work` itself, and meet the same error
    finally:
        os._exit(status)


def _die_with(parent: int) -> None:
    """Asks Linux to kill this process when its parent ends, however it ends."""
    import ctypes

    set_parent_death_signal = 1  # PR_SET_PDEATHSIG, from <linux/prctl.h>
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(set_parent_death_signal, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # the parent ended before the request was made


def _standard_streams_to_null() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(null, stream)
    os.close(null)
