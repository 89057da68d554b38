"""Work done in a forked child process while the caller goes on: the index build's second core.

`aside(work)` forks; the child runs `work()` and sends its pickled result back through a pipe,
while the parent does its own share of the build. The child is a copy of the parent made by
`fork`, so `work` can read the validated KB without it being sent anywhere. Where forking is
unsafe (not Linux, other threads running) or useless (one CPU), or when the child fails,
`result()` runs `work` in this process instead: the same answer, only later.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Generic, NoReturn, TypeVar

_T = TypeVar("_T")


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
        read_end, write_end = os.pipe()
        # Ctrl-C is held back across the fork: the child must never run the parent's
        # KeyboardInterrupt handling (its message, its cleanup of the parent's files).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(read_end)
            os.close(write_end)
            return
        if pid == 0:
            _run_child(self._work, held, read_end, write_end)
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
        if not self._pid:
            return b""
        try:
            with os.fdopen(self._pipe, "rb") as pipe:
                payload = pipe.read()
        finally:
            self._pipe = -1
            _, status = os.waitpid(self._pid, 0)
            self._pid = 0
        # A child that was killed (out of memory, a signal) may have sent part of its result.
        return payload if os.waitstatus_to_exitcode(status) == 0 else b""

    def close(self) -> None:
        """Stops a child whose result is no longer wanted."""
        if self._pid:
            os.close(self._pipe)
            self._pipe = -1
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = 0

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
    threads running: a lock one of them holds would stay locked forever in the child.
    """
    if sys.platform != "linux" or ("threading" in sys.modules and _other_threads()):
        return False
    return len(os.sched_getaffinity(0)) > 1


def _other_threads() -> bool:
    import threading

    return threading.active_count() > 1


def _run_child(
    work: Callable[[], object], held: set[int | signal.Signals], read_end: int, write_end: int
) -> NoReturn:
    """The child's whole life: `work`, its result down the pipe, exit. `os._exit` skips the
    parent's exit handlers and buffered output, which are the parent's to run and flush."""
    status = 1
    try:
        # Ctrl-C ends the child at once and quietly; the parent gets it too.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read_end)
        payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        status = 0
    except BaseException:
        pass  # the parent will run `work` itself, and meet the same error
    finally:
        os._exit(status)
