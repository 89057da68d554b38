"""Hostile queries and options: a documented exit code, one error line, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import MINI_KB
from tests.hostile.conftest import (
    assert_contract,
    assert_terminal_safe,
    decode_outcome,
    hanoi_process,
    invoke,
    invoke_mini,
)

TEN_MB = "g" * 10_000_000

HOSTILE_QUERIES = {
    "empty": "",
    "whitespace": " \t\n\u3000\u00a0",
    "ten-megabytes": TEN_MB,
    "nul": "Gut\x00erres",
    "controls": "\x01\x1b[2J\x1b]52;c;ZXZpbA==\x07\x08\x7f\x9b31m",
    "lone-surrogate": "Guterres\udcff",
    "rtl-override": "\u202eserretuG",
    "zero-width": "Gu\u200bter\u200dres\ufeff",
    "combining": "Gu\u0301te\u0300rres",
    "combining-only": "\u0301" * 500,
    "emoji": "🇻🇳🔥👩‍💻",
    "rich-markup": "[bold]Guterres[/]",
    "rich-close": "[/]",
    "rich-link": "[link=https://evil.example]Guterres[/link]",
    "shell": "$(rm -rf ~); `id` | tee x & echo > /tmp/x; *",
    "regex-star": ".*",
    "regex-paren": "(",
    "regex-class": "[a-",
    "backslash": "\\",
    "quotes": "'\"",
    "fts-syntax": 'NEAR(a b) AND "x OR -y*',
    "sql": "'; DROP TABLE entity; --",
    "like": "%_%",
    "percent-format": "%s%n{0}{name}",
    "unicode-max": "\U0010ffff\ufffe\uffff",
    "long-word": "x" * 1_000,
    "just-over-limit": "x" * 1_001,
}

# Where a query goes: a positional argument or an option value, with --json where it exists.
SLOTS = {
    "who": ["who"],
    "country": ["country"],
    "org": ["org"],
    "stats": ["stats"],
    "search": ["search"],
    "sources": ["sources"],
    "quotes-by": ["quotes", "--by"],
    "quotes-topic": ["quotes", "--topic"],
    "timeline-from": ["timeline", "--from"],
    "timeline-to": ["timeline", "--to"],
}


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
@pytest.mark.parametrize("query", HOSTILE_QUERIES.values(), ids=HOSTILE_QUERIES.keys())
@pytest.mark.parametrize("slot", SLOTS.values(), ids=SLOTS.keys())
def test_hostile_query(slot: list[str], query: str, as_json: bool) -> None:
    args = [*slot, "--", query] if len(slot) == 1 else [*slot, query]
    outcome = invoke_mini(*args, *(["--json"] if as_json and len(slot) > 1 else []))
    if as_json and len(slot) == 1:
        outcome = invoke_mini(slot[0], "--json", "--", query)
    assert_contract(outcome, {0, 1, 2}, as_json=as_json)
    assert len(outcome.stderr) < 2_000, "an error line must stay short, whatever was typed"
    if not as_json:
        assert_terminal_safe(outcome.stdout)


@pytest.mark.parametrize("slot", ["who", "search"])
@pytest.mark.parametrize("query", ["", " \t ", "(.*)", "\u0301\u200b"])
def test_nothing_to_look_up_is_a_usage_error(slot: str, query: str) -> None:
    outcome = invoke_mini(slot, "--", query)
    assert_contract(outcome, {2}, error_prefix="nothing to look up")


def test_ten_megabyte_query_is_refused_quickly() -> None:
    outcome = invoke_mini("who", TEN_MB)
    assert_contract(outcome, {2}, error_prefix="query is 10,000,000 characters long")


def test_markup_in_a_query_is_shown_not_obeyed() -> None:
    outcome = invoke_mini("search", "[bold]historic[/]")
    assert_contract(outcome, {0})
    assert "'[bold]historic[/]'" in outcome.stdout


def test_escape_in_a_query_is_echoed_visibly() -> None:
    outcome = invoke_mini("who", "\x1b[2JGuterrez")
    assert_contract(outcome, {0, 1})
    assert "\\x1b[2J" in outcome.stdout + outcome.stderr


VERY_LONG = "9" * 100_000

BAD_OPTIONS = {
    "unknown-long": ["who", "Guterres", "--bogus"],
    "unknown-short": ["who", "-z", "Guterres"],
    "unknown-global": ["--bogus", "who", "Guterres"],
    "unknown-command": ["whom", "Guterres"],
    "escape-in-option-name": ["who", "--\x1b[2J\x1b]8;;x\x07", "Guterres"],
    "missing-argument": ["who"],
    "missing-option-value": ["quotes", "--by"],
    "flag-with-value": ["who", "Guterres", "--json=yes"],
    "bad-list-kind": ["list", "\x1b[31mpeople"],
    "bad-format": ["list", "people", "--format", "x" * 100_000],
    "json-and-csv": ["list", "people", "--json", "--format", "csv"],
    "limit-zero": ["search", "historic", "--limit", "0"],
    "limit-huge": ["search", "historic", "--limit", VERY_LONG],
    "limit-negative": ["search", "historic", "--limit", "-1"],
    "limit-text": ["search", "historic", "--limit", "ten"],
    "long-date": ["timeline", "--from", VERY_LONG],
    "date-not-calendar": ["timeline", "--from", "2025-13-45"],
    "dates-reversed": ["timeline", "--from", "2026", "--to", "2025"],
    "stats-format-for-one": ["stats", "signatories", "--format", "csv"],
    "long-data-path": ["--data", "/" + "d" * 100_000, "who", "Guterres"],
    "long-data-component": ["--data", "x" * 300, "who", "Guterres"],
    "sources-dir-missing": ["validate", str(MINI_KB), "--sources", "/nonexistent/dir"],
}

BAD_OPTION_CODES = {"long-data-path": {3}, "long-data-component": {3}}


@pytest.mark.parametrize("args", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_bad_options_are_one_line_usage_errors(args: list[str]) -> None:
    name = next(key for key, value in BAD_OPTIONS.items() if value is args)
    run = invoke if args[0] in ("--data", "validate") else invoke_mini
    outcome = run(*args)
    assert_contract(outcome, BAD_OPTION_CODES.get(name, {2}))
    assert len(outcome.stderr) < 1_000


def test_usage_error_names_the_help_to_read() -> None:
    outcome = invoke_mini("who", "--bogus")
    assert outcome.stderr == "hanoi: error: No such option: --bogus (see 'hanoi who --help')\n"


def test_no_arguments_still_shows_the_help() -> None:
    outcome = invoke()
    assert outcome.exit_code == 2
    assert "Usage: hanoi" in outcome.stdout + outcome.stderr


def test_missing_command_is_one_line() -> None:
    assert_contract(invoke_mini(), {2}, error_prefix="Missing command.")


# Arguments that are not UTF-8 reach Python as lone surrogates (PEP 383); a real process with
# a strict UTF-8 locale is the only place they can come from.
RAW_ARGV = {
    "who": [b"who", b"\xff"],
    "who-mixed": [b"who", b"Guterres\xff\xfe"],
    "who-json": [b"who", b"Gu\xffterres", b"--json"],
    "search-table": [b"search", b"historic\xff"],
    "search-json": [b"search", b"historic\xff", b"--json"],
    "topic": [b"quotes", b"--topic", b"\xc3("],
    "by": [b"quotes", b"--by", b"\xed\xa0\x80"],
    "date": [b"timeline", b"--from", b"\xff2025"],
    "source": [b"sources", b"\xff"],
    "option": [b"who", b"--\xff", b"x"],
    "data-missing": [b"--data", b"/nonexistent/\xff\x1b[2J.json", b"who", b"x"],
    "data-cache-info": [b"--data", b"/nonexistent/\xff\x1b[2J.json", b"cache", b"info"],
    "data-cache-info-json": [b"--data", b"/nonexistent/\xff.json", b"cache", b"info", b"--json"],
    "data-validate": [b"--data", b"/nonexistent/\xff.json", b"validate"],
}


@pytest.mark.parametrize("argv", RAW_ARGV.values(), ids=RAW_ARGV.keys())
def test_argv_that_is_not_utf8(argv: list[bytes]) -> None:
    args = argv if argv[0] == b"--data" else [b"--data", bytes(MINI_KB), *argv]
    completed = hanoi_process(args, env={"LC_ALL": "C.UTF-8"})
    outcome = decode_outcome(completed)
    assert_contract(outcome, {0, 1, 2, 3}, as_json=b"--json" in argv)
    assert_terminal_safe(outcome.stdout)
    # Both streams are valid UTF-8 a terminal or a parser can take.
    completed.stdout.decode("utf-8")
    completed.stderr.decode("utf-8")


def test_kb_path_that_is_not_utf8(tmp_path: Path) -> None:
    """A real KB file whose name is not UTF-8: the cache stores it, JSON escapes it."""
    directory = os.fsencode(str(tmp_path))
    path = directory + b"/kb-\xff\x1b[2J.json"
    Path(os.fsdecode(path)).write_bytes(MINI_KB.read_bytes())
    env = {"LC_ALL": "C.UTF-8", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for args, as_json in (
        ([b"who", b"Guterres", b"--json"], True),
        ([b"who", b"Guterres"], False),
        ([b"cache", b"info", b"--json"], True),
        ([b"cache", b"info"], False),
        ([b"validate"], False),
    ):
        completed = hanoi_process([b"--data", path, *args], env=env)
        outcome = decode_outcome(completed)
        assert_contract(outcome, {0}, as_json=as_json)
        assert_terminal_safe(outcome.stdout)
        completed.stdout.decode("utf-8")
        if args[:2] == [b"cache", b"info"] and as_json:
            assert json.loads(outcome.stdout)["kb"].endswith("kb-\udcff\x1b[2J.json")
