"""Typer with commands built on first use: running one command builds one Click command.

Typer turns every registered command into a Click command (signature, annotations, help text)
on every start. With eleven commands that took ~10 ms, 5% of a `hanoi who X --json` call.
`LazyTyper` records each `@app.command()` as Typer does but keeps it out of Typer's eager build;
its group builds a command when it is looked up. `--help` and shell completion look up every
command, so they still list all of them, in the order they were registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_command_name
from typer.models import CommandInfo

if TYPE_CHECKING:
    from typer._click.core import Command

Function = TypeVar("Function", bound=Callable[..., Any])


class LazyCommands(MutableMapping[str, "Command"]):
    """A group's commands: the lazy ones are built when first read, then kept."""

    def __init__(self, app: LazyTyper, eager: MutableMapping[str, Command]) -> None:
        self._app = app
        self._pending = {
            info.name or get_command_name(info.callback.__name__): info
            for info in app.lazy_commands
            if info.callback is not None
        }
        self._built: dict[str, Command] = {}
        self._order = [*self._pending, *(name for name in eager if name not in self._pending)]
        self._built.update(eager)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            info = self._pending.pop(name)  # KeyError: no such command, as for a dict
            self._built[name] = get_command_from_info(
                info,
                pretty_exceptions_short=self._app.pretty_exceptions_short,
                rich_markup_mode=self._app.rich_markup_mode,
            )
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._pending.pop(name, None)
        if name not in self._order:
            self._order.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._pending.pop(name, None)
        self._built.pop(name, None)
        self._order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order


class LazyGroup(TyperGroup):
    """The group of a `LazyTyper`; `LazyTyper` binds `lazy_app` in a subclass of its own."""

    lazy_app: ClassVar[LazyTyper | None] = None

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        if self.lazy_app is not None:
            self.commands = LazyCommands(self.lazy_app, self.commands)


class LazyTyper(typer.Typer):
    """`typer.Typer` whose `@command()`s become Click commands only when they are run."""

    def __init__(self, *, cls: type[LazyGroup] = LazyGroup, **settings: Any) -> None:
        self.lazy_commands: list[CommandInfo] = []
        bound = type(cls.__name__, (cls,), {"lazy_app": self, "__module__": cls.__module__})
        super().__init__(cls=bound, **settings)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Function], Function]:
        register = super().command(*args, **kwargs)

        def decorator(function: Function) -> Function:
            register(function)
            self.lazy_commands.append(self.registered_commands.pop())
            return function

        return decorator
