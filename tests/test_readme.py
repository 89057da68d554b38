"""The README tells the truth: its examples, JSON fields and exit codes match the tool."""

from __future__ import annotations

import re

import pytest

from hanoi_cli.errors import ExitCode
from scripts.update_readme import README, examples, kb_entry, kb_excerpts, run_example
from tests.conftest import SEEDS, run_cli

TEXT = README.read_text(encoding="utf-8")


def test_readme_opens_with_install_and_test_commands() -> None:
    commands = re.findall(r"^\$ (.+)$", TEXT, re.MULTILINE)
    assert commands[0].endswith("pip install '.[test]' && hanoi who Guterres")
    assert commands[1] == (
        "python -m pytest && ruff check . && ruff format --check . && mypy --strict src"
    )


def test_ci_runs_the_readme_test_command() -> None:
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    test_command = re.findall(r"^\$ (.+)$", TEXT, re.MULTILINE)[1]
    assert test_command in ci


@pytest.mark.parametrize(("command", "shown"), examples(TEXT), ids=lambda value: value[:40])
def test_readme_example_output_is_real(command: str, shown: str) -> None:
    if "../shared/seeds" in command and not SEEDS.is_dir():
        pytest.skip(f"the five articles are not at {SEEDS}")
    assert run_example(command) == shown, "run: python scripts/update_readme.py"


@pytest.mark.parametrize(("section", "entity_id", "shown"), kb_excerpts(TEXT))
def test_readme_kb_excerpts_are_the_real_entries(section: str, entity_id: str, shown: str) -> None:
    assert shown == kb_entry(section, entity_id), "run: python scripts/update_readme.py"


def _documented_fields() -> dict[str, set[str]]:
    section = TEXT.split("## JSON fields", 1)[1].split("\n## ", 1)[0]
    fields: dict[str, set[str]] = {}
    for row in re.findall(r"^\| (\w[\w ]*?) \(`[^|]*\) \| (.+) \|$", section, re.MULTILINE):
        fields[row[0]] = set(re.findall(r"`(\w+)`", row[1]))
    return fields


def _json(*args: str) -> object:
    import json

    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("person", ("who", "Guterres", "--json")),
        ("country", ("country", "Vietnam", "--json")),
        ("organisation", ("org", "UNODC", "--json")),
        ("figure", ("stats", "signatories", "--json")),
    ],
)
def test_documented_lookup_fields_are_printed(kind: str, args: tuple[str, ...]) -> None:
    document = _json(*args)
    assert isinstance(document, dict)
    assert set(document) == _documented_fields()[kind]


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("event", ("timeline", "--json")),
        ("statement", ("quotes", "--json")),
        ("source", ("sources", "--json")),
        ("search hit", ("search", "convention", "--json")),
    ],
)
def test_documented_list_fields_are_printed(kind: str, args: tuple[str, ...]) -> None:
    documents = _json(*args)
    assert isinstance(documents, list) and documents
    for document in documents:
        assert set(document) == _documented_fields()[kind]


def test_exit_code_table_matches_the_enum() -> None:
    section = TEXT.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}
