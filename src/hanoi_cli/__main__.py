"""`python -m hanoi_cli` and the `hanoi` console script."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def main() -> NoReturn:
    """Runs one command, then ends the process at once instead of tearing Python down.

    The interpreter's shutdown (module by module, every object Typer and pydantic made) took
    ~17 ms of a ~150 ms `hanoi who NAME --json`; and a lookup that rebuilt the index for a
    100,000-person KB keeps the validated KB for this exit to drop (`cli._store`), instead of
    freeing it in ~0.35 s. None of it is needed: the index cache is committed and renamed
    into place before a command prints anything, no exit handlers are registered, and the
    output is flushed here.
    """
    try:
        from hanoi_cli.cli import run
    except KeyboardInterrupt:
        # Ctrl-C while Typer loads, before the command line's own handling is in place.
        from hanoi_cli.errors import ExitCode, to_stderr

        to_stderr("hanoi: interrupted\n")
        exit_now(int(ExitCode.INTERRUPTED))
    try:
        run(exits_at_once=True)
    except SystemExit as done:
        exit_now(done.code)


def exit_now(code: object) -> NoReturn:
    """Ends the process with `code` as `sys.exit(code)` would, minus the interpreter's shutdown."""
    from hanoi_cli.errors import ExitCode, to_stderr

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        to_stderr(f"{code}\n")
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            # Output that could not be written (the command's boundary flushes stdout first,
            # so this is only what it did not see): the documented status for lost output.
            if stream is sys.stdout:
                status = status or int(ExitCode.BROKEN_PIPE)
    os._exit(status)


if __name__ == "__main__":
    main()
