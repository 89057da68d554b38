"""Start-up baseline: the smallest Typer app shaped like `hanoi who NAME --json`.

One group with one command that takes a name and a `--json` flag and prints a JSON object.
`run.py` times `python benchmarks/bare_json_app.py who Guterres --json` against hanoi.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

app = typer.Typer()


@app.callback()
def main() -> None:
    """A bare app."""


@app.command()
def who(
    name: Annotated[str, typer.Argument(help="A name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a JSON object."""
    sys.stdout.write(json.dumps({"name": name, "json": as_json}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    app()
