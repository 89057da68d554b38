"""Refresh the output under every `$ hanoi ...` example in README.md from the real command.

    python scripts/update_readme.py          # rewrite README.md in place
    python scripts/update_readme.py --check  # exit 1 if any example's output is stale

Examples run in-process against the packaged KB at 100 columns with colour off, exactly as
tests/test_readme.py runs them.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

from typer.testing import CliRunner

from hanoi_cli.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLE = re.compile(r"```console\n\$ (hanoi [^\n]*)\n(.*?)```", re.DOTALL)
KB_EXCERPT = re.compile(r"<!-- kb:(\w+)/([\w-]+) -->\n```json\n(.*?)```", re.DOTALL)
KB_FILE = README.parent / "data" / "facts.json"
ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "HANOI_DATA": ""}


def run_example(command: str) -> str:
    """stdout, then stderr, of one README command line (`hanoi ...`, no pipes)."""
    args = shlex.split(command)[1:]
    result = CliRunner().invoke(app, args, env=ENV, prog_name="hanoi")
    output = result.stdout + result.stderr
    return "\n".join(line.rstrip() for line in output.splitlines()) + "\n"


def examples(text: str) -> list[tuple[str, str]]:
    return [(found.group(1), found.group(2)) for found in EXAMPLE.finditer(text)]


def kb_entry(section: str, entity_id: str) -> str:
    """One entity exactly as data/facts.json holds it, as indented JSON."""
    kb = json.loads(KB_FILE.read_text(encoding="utf-8"))
    [entity] = [entity for entity in kb[section] if entity["id"] == entity_id]
    return json.dumps(entity, ensure_ascii=False, indent=2) + "\n"


def kb_excerpts(text: str) -> list[tuple[str, str, str]]:
    return [(found.group(1), found.group(2), found.group(3)) for found in KB_EXCERPT.finditer(text)]


def refreshed(text: str) -> str:
    def replace(found: re.Match[str]) -> str:
        command = found.group(1)
        return f"```console\n$ {command}\n{run_example(command)}```"

    def replace_excerpt(found: re.Match[str]) -> str:
        section, entity_id = found.group(1), found.group(2)
        return f"<!-- kb:{section}/{entity_id} -->\n```json\n{kb_entry(section, entity_id)}```"

    return KB_EXCERPT.sub(replace_excerpt, EXAMPLE.sub(replace, text))


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = refreshed(text)
    if "--check" in sys.argv:
        return int(new != text)
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
