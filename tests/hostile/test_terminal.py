"""KB text that tries to drive the terminal: shown, never obeyed.

Tables and plain text (colour off or forced on) carry no raw ESC, BEL, C1 or bidi control;
JSON keeps the exact text, escaped by JSON; CSV defuses spreadsheet formulas (OWASP).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hanoi_cli.errors import HanoiError
from hanoi_cli.loading import parse_kb
from hanoi_cli.render import sanitize
from tests.hostile.conftest import Outcome, assert_contract, invoke, raw_controls
from tests.kbfactory import mini_kb_dict

PAYLOAD = (
    '=HYPERLINK("http://evil.example") '
    "\x1b[2J\x1b[31;1mRED\x1b[0m "
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ "
    "\x1b]52;c;ZXZpbA==\x07 "
    "\x07\x9b2J\x9d0;title\x9c\x08\x08\x7f "
    "[bold]b[/] [/] [link=http://x]y[/link] :smile: "
    "\u202eRTL\u2066iso\u2069\u200e "
)
"""Starts with '=' for the CSV guard; then CSI, OSC 8, OSC 52, BEL, C1, backspace, markup."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _string_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, str):
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _string_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _string_paths(value, (*path, index))


def _set(kb: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = kb
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _get(kb: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = kb
    for part in path:
        node = node[part]
    return node


def hostile_kb() -> tuple[dict[str, Any], int]:
    """The fixture KB with PAYLOAD before every string the schema lets hold it."""
    kb = mini_kb_dict()
    poisoned = 0
    for path in list(_string_paths(kb)):
        original = _get(kb, path)
        _set(kb, path, PAYLOAD + original)
        try:
            parse_kb(json.dumps(kb).encode(), Path("hostile.json"))
        except HanoiError:
            _set(kb, path, original)
        else:
            poisoned += 1
    return kb, poisoned


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    kb, poisoned = hostile_kb()
    assert poisoned > 40, "the payload must reach names, titles, quotes, notes..."
    path = tmp_path_factory.mktemp("hostile-kb") / "hostile.json"
    path.write_text(json.dumps(kb, ensure_ascii=False), encoding="utf-8")
    return path, kb


def _lookups(kb: dict[str, Any]) -> list[list[str]]:
    return [
        ["who", kb["people"][0]["name"]],
        ["who", "Minister"],  # several matches: the ranked table
        ["country", kb["countries"][0]["name"]],
        ["org", kb["organisations"][0]["name"]],
        ["stats", kb["figures"][0]["label"]],
        ["stats"],
        ["quotes"],
        ["timeline"],
        ["search", "evil"],
        ["search", "hyperlink"],
        ["sources"],
        ["sources", kb["sources"][0]["id"]],
        *(["list", kind] for kind in ("people", "countries", "orgs", "figures", "events")),
        ["list", "sources"],
        ["list", "statements"],
    ]


COLOUR = {
    "plain": {},
    "forced": {"NO_COLOR": None, "FORCE_COLOR": "1", "TERM": "xterm-256color"},
}
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _run(path: Path, args: list[str], env: dict[str, Any]) -> Outcome:
    return invoke("--data", str(path), *args, env=env)


@pytest.mark.parametrize("colour", COLOUR.values(), ids=COLOUR.keys())
def test_tables_neutralise_every_control(hostile: tuple[Path, dict[str, Any]], colour: Any) -> None:
    path, kb = hostile
    for args in _lookups(kb):
        outcome = _run(path, args, colour)
        assert_contract(outcome, {0})
        styled = _SGR.findall(outcome.stdout)
        if colour:
            assert styled, "colour is really on"
        # Rich's own SGR styles are all that may carry ESC; nothing else raw remains.
        assert not raw_controls(_SGR.sub("", outcome.stdout)), (args, outcome.stdout[:800])
        assert "\x1b[2J" not in outcome.stdout and "\x1b]" not in outcome.stdout
        # The text is shown, visibly escaped; markup is printed as written.
        if args[0] != "stats" or len(args) > 1:
            assert "\\x1b[2J" in outcome.stdout, args
        assert "[bold]b[/]" in outcome.stdout or args == ["timeline"] or args[0] == "stats"


def test_markdown_is_neutralised(hostile: tuple[Path, dict[str, Any]]) -> None:
    path, _ = hostile
    for kind in ("people", "statements", "sources", "events"):
        outcome = _run(path, ["list", kind, "--format", "md"], {})
        assert_contract(outcome, {0})
        assert not raw_controls(outcome.stdout)


def test_validate_and_cache_info_lines_are_neutralised(
    hostile: tuple[Path, dict[str, Any]],
) -> None:
    path, kb = hostile
    broken = copy.deepcopy(kb)
    broken["statements"][0]["speaker"] = PAYLOAD.strip()
    broken["people"][1]["id"] = broken["people"][0]["id"]
    bad = path.parent / f"bad-{PAYLOAD[:20]}.json".replace("/", "_")
    bad.write_text(json.dumps(broken), encoding="utf-8")
    for args, codes in (
        (["validate", str(bad)], {4}),
        (["--data", str(bad), "cache", "info"], {0}),
    ):
        outcome = invoke(*args)
        assert_contract(outcome, codes, report_on_stdout=True)
        assert not raw_controls(outcome.stdout), outcome.stdout
    outcome = invoke("--data", str(bad), "who", "x")
    assert_contract(outcome, {4})


def test_json_keeps_the_exact_text(hostile: tuple[Path, dict[str, Any]]) -> None:
    path, kb = hostile
    person = json.loads(_run(path, ["who", kb["people"][0]["name"], "--json"], {}).stdout)
    assert person["name"] == kb["people"][0]["name"]
    assert person["name"].startswith(PAYLOAD)
    statements = json.loads(_run(path, ["quotes", "--json"], {}).stdout)
    assert [s["quote"] for s in statements] == [s["quote"] for s in kb["statements"]]
    lines = _run(path, ["list", "sources", "--format", "jsonl"], {}).stdout.splitlines()
    assert [json.loads(line)["title"] for line in lines] == [s["title"] for s in kb["sources"]]
    # JSON escapes every control, C1 and bidi override included: safe at a terminal too.
    for args in (["list", "people", "--json"], ["list", "statements", "--format", "jsonl"]):
        assert not raw_controls(_run(path, args, {}).stdout)


def test_csv_defuses_formulas(hostile: tuple[Path, dict[str, Any]]) -> None:
    path, kb = hostile
    for kind in ("people", "countries", "orgs", "figures", "events", "sources", "statements"):
        outcome = _run(path, ["list", kind, "--format", "csv"], {})
        assert_contract(outcome, {0})
        rows = list(csv.reader(io.StringIO(outcome.stdout, newline="")))
        cells = [cell for row in rows[1:] for cell in row]
        assert cells
        assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)], kind
    names = list(csv.reader(io.StringIO(_run(path, ["list", "people", "-f", "csv"], {}).stdout)))
    assert names[1][1] == "'" + kb["people"][0]["name"]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_owasp_formula_start_is_guarded(tmp_path: Path, start: str) -> None:
    kb = mini_kb_dict()
    kb["people"][0]["name"] = start + "1+cmd|' /C calc'!A0"
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(kb), encoding="utf-8")
    outcome = invoke("--data", str(path), "list", "people", "--format", "csv")
    assert_contract(outcome, {0})
    rows = list(csv.reader(io.StringIO(outcome.stdout, newline="")))
    assert rows[1][1] == "'" + kb["people"][0]["name"]


def test_sanitize_is_the_one_terminal_filter() -> None:
    """Every control a terminal obeys becomes visible text; printable text is untouched."""
    dangerous = "".join(chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)] if code != 10)
    dangerous += "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\udcff"
    assert not raw_controls(sanitize(dangerous))
    assert "\udcff" not in sanitize(dangerous)
    ordinary = "Lương Tam Quang — “Hanoi” 🇻🇳 [bold] <b> %s {0}\n"
    assert sanitize(ordinary) == ordinary


def test_every_renderer_uses_sanitize() -> None:
    """tables.py draws KB text only through `text()`, which calls render.sanitize."""
    source = Path(__file__).resolve().parents[2].joinpath("src/hanoi_cli/tables.py").read_text()
    assert "from hanoi_cli.render import" in source and "sanitize" in source
    assert "markup=False" in source
    assert not re.search(r"Text\.from_markup|console\.print\(f", source)
