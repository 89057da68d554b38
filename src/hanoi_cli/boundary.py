"""The command line's error boundary: the one place errors become messages and exit codes.

A `HanoiError` from the core, a Click usage error, Ctrl-C, a closed pipe or a full disk each
become one `hanoi: error:` line on stderr (sanitised, at most MAX_MESSAGE_CHARS long) and the
documented exit code; nothing here ever prints a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from hanoi_cli.errors import ExitCode, HanoiError, NotFoundError, to_stderr
from hanoi_cli.lazycommands import LazyGroup
from hanoi_cli.render import sanitize

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 nothing found; 2 usage error; 3 KB file unreadable "
    "(missing, not UTF-8, not JSON); 4 KB file invalid (schema, references, quotes); "
    "130 interrupted; 141 output could not be written (pipe closed, stdout closed, disk full)."
)


MAX_MESSAGE_CHARS = 400
"""A message quoting a 10 MB argument is cut short: one line is one line."""


def flat(text: str) -> str:
    """Text quoting what the user typed or the KB holds: one line, nothing a terminal obeys."""
    return sanitize(" ".join(text.split()))


def _one_line(message: str) -> str:
    line = flat(message)
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1] + "…"


def _error(message: str) -> None:
    to_stderr(f"hanoi: error: {_one_line(message)}\n")


def _escape_what_stdout_cannot_encode() -> None:
    """On a stdout that is not UTF-8 (`PYTHONIOENCODING=ascii`, a Latin-1 terminal), a
    character it has no bytes for is written as a backslash escape (`\\xf3`, `\\u01b0`)
    instead of failing the command. JSON is written in ASCII there (`render`), so it stays
    valid and exact."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(OSError, ValueError):
            reconfigure(errors="backslashreplace")


def _usage_message(error: ClickException) -> str:
    context = getattr(error, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    return error.format_message() + hint


def _quiet_closed_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class HanoiGroup(LazyGroup):
    """Typer group whose `main` and `invoke` are the one place errors become messages and codes."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's usage errors as one `hanoi: error:` line, like every other error."""
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except ClickException as error:
            if not standalone_mode:
                raise
            if isinstance(error, NoArgsIsHelpError):
                # `hanoi` alone: the help, not an error line (on stderr, which may be full).
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    error.show()
            else:
                _error(_usage_message(error))
            sys.exit(error.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            to_stderr("hanoi: interrupted\n")
            sys.exit(int(ExitCode.INTERRUPTED))
        if not standalone_mode:
            return result
        # Without standalone mode Click returns the code of a `typer.Exit`, else the result.
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except HanoiError as error:
            message = error.message
            if isinstance(error, NotFoundError):
                if error.elsewhere:
                    message += f"; try: {'; '.join(error.elsewhere)}"
                if error.suggestions:
                    message += f"; did you mean: {'; '.join(error.suggestions)}?"
            _error(message)
            raise typer.Exit(int(error.exit_code)) from None
        except KeyboardInterrupt:
            to_stderr("hanoi: interrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            _quiet_closed_stdout()
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None


def warn(message: str) -> None:
    to_stderr(f"hanoi: warning: {_one_line(message)}\n")


def run_app(app: Callable[..., Any], argv: Sequence[str] | None = None) -> NoReturn:
    """Runs `app` as the console script, with the failures that happen outside any command."""
    if sys.stdout is None:
        # Started with stdout closed (`hanoi ... >&-`): nothing could be printed.
        _error("cannot write output: stdout is closed")
        sys.exit(int(ExitCode.BROKEN_PIPE))
    _escape_what_stdout_cannot_encode()
    with _sigterm_unwinds():
        _run_within_boundary(app, argv)


def _run_within_boundary(app: Callable[..., Any], argv: Sequence[str] | None) -> NoReturn:
    try:
        try:
            app(args=argv, prog_name="hanoi")
        finally:
            # Inside the boundary: a pipe closed before the last write is exit 141, not a
            # traceback from the interpreter's final flush.
            sys.stdout.flush()
    except KeyboardInterrupt:
        to_stderr("hanoi: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        _quiet_closed_stdout()
        sys.exit(int(ExitCode.BROKEN_PIPE))
    except OSError as error:
        # Output to a full disk or a broken device (`> /dev/full`); the core turns its own
        # file errors into HanoiError, so what is left here is stdout.
        _quiet_closed_stdout()
        _error(f"cannot write output: {error.strerror or error}")
        sys.exit(int(ExitCode.BROKEN_PIPE))
    sys.exit(0)


class _Terminated(BaseException):
    """SIGTERM, raised where the process was, so that cleanups run on the way out."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM (`kill`, `timeout`, a service manager) unwinds the command like Ctrl-C does, so
    a cache build in progress removes its temporary file and stops its child process; then the
    process ends by SIGTERM, as if it had not been caught. Before and after the command, and
    during the unwinding, nothing needs cleaning: a SIGTERM then ends the process at once, or
    is held until the unwinding is done. A SIGTERM ignored by whoever started hanoi stays
    ignored."""
    import signal

    phase = ["before"]

    def on_sigterm(signum: int, frame: object) -> None:
        if phase[0] == "running":
            phase[0] = "unwinding"
            raise _Terminated
        if phase[0] != "unwinding":
            _die_by_sigterm()

    try:
        installed = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        if installed:
            signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        installed = False
    try:
        phase[0] = "running"
        yield
        phase[0] = "after"
    except _Terminated:
        _die_by_sigterm()
    finally:
        phase[0] = "after"
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _die_by_sigterm() -> NoReturn:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
    os._exit(128 + signal.SIGTERM)  # only if SIGTERM is blocked
