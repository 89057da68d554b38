"""Start-up baseline: the smallest Typer app shaped like `hanoi who NAME` (a Rich table).

One group with one command that takes a name and prints a one-row Rich table.
`run.py` times `python benchmarks/bare_table_app.py who Guterres` against hanoi.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer()


@app.callback()
def main() -> None:
    """A bare app."""


@app.command()
def who(name: Annotated[str, typer.Argument(help="A name.")]) -> None:
    """Print a one-row table."""
    table = Table(title="Person")
    table.add_column("name")
    table.add_column("title")
    table.add_row(name, "UN Secretary-General")
    Console().print(table)


if __name__ == "__main__":
    app()
