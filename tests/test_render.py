"""Renderers: the terminal sanitiser, CSV guarding, Markdown escaping, Rich views."""

from __future__ import annotations

import io
import json

import pytest

from hanoi_cli.render import (
    cell_text,
    csv_guard,
    flat_row,
    json_text,
    sanitize,
    write_csv,
    write_markdown,
)
from hanoi_cli.tables import make_console, print_rows


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain Lương text", "plain Lương text"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]8;;http://evil\x07link\x1b]8;;\x07", "\\x1b]8;;http://evil\\x07link\\x1b]8;;\\x07"),
        ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"),
        ("\x9b31m", "\\x9b31m"),
        ("back\x08\x08space", "back\\x08\\x08space"),
        ("\u202eevil", "\\u202eevil"),
        ("tab\there", "tab\\x09here"),
        ("two\nlines", "two\nlines"),
        ("[bold]not markup[/]", "[bold]not markup[/]"),
    ],
)
def test_sanitize_makes_controls_visible(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


def test_sanitized_text_has_no_escape_bytes() -> None:
    hostile = "".join(chr(code) for code in range(0x00, 0xA0)) + "\u2066\u2069\ufeff"
    cleaned = sanitize(hostile)
    assert not any(ord(char) < 0x20 and char != "\n" for char in cleaned)
    assert not any(0x7F <= ord(char) <= 0x9F for char in cleaned)


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_guard_neutralises_formulas(lead: str) -> None:
    assert csv_guard(f"{lead}HYPERLINK(1)") == f"'{lead}HYPERLINK(1)"


def test_csv_guard_leaves_ordinary_cells_and_numbers() -> None:
    assert csv_guard("Lương Tam Quang") == "Lương Tam Quang"
    assert csv_guard(-5) == -5


def test_write_csv_applies_the_guard_to_every_cell() -> None:
    out = io.StringIO()
    write_csv(out, ["id", "name"], [{"id": "x", "name": "=cmd|' /C calc'!A0"}])
    assert out.getvalue() == "id,name\nx,'=cmd|' /C calc'!A0\n"


def test_markdown_escapes_pipes_and_controls() -> None:
    out = io.StringIO()
    write_markdown(out, ["name"], [{"name": "a|b\x1b[2J\nc"}])
    assert out.getvalue().splitlines()[2] == "| a\\|b\\\\x1b[2J c |"


def test_cell_text() -> None:
    assert cell_text(None) == ""
    assert cell_text(["a", ["b", 2]]) == "a; b; 2"
    assert cell_text(True) == "yes"


def test_json_keeps_exact_text_unescaped() -> None:
    text = json_text({"name": "Lương \x1b[31m"})
    assert "Lương" in text
    assert json.loads(text) == {"name": "Lương \x1b[31m"}


def _table_output(color: bool) -> str:
    out = io.StringIO()
    console = make_console(out, width=80, color=color)
    doc = {
        "id": "evil",
        "name": "[bold red]Boss[/] \x1b]52;c;aGk=\x07",
        "titles": [{"title": "\x1b[2J:smile:"}],
        "country": None,
    }
    print_rows(console, "person", [doc], "People")
    return out.getvalue()


def test_table_shows_markup_and_escapes_as_text() -> None:
    output = _table_output(color=False)
    assert "[bold red]Boss[/]" in output
    assert "\\x1b]52;c;aGk=\\x07" in output
    assert ":smile:" in output
    assert "\x1b" not in output and "\x07" not in output


def test_colour_output_contains_only_rich_styling() -> None:
    output = _table_output(color=True)
    assert "\x1b]" not in output  # no OSC at all, so no hyperlink or clipboard write
    assert "\x07" not in output
    assert "\x1b[2J" not in output


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ("2025-10-25", None, "2025-10-25"),
        ("2025-10-25", "2025-10-26", "2025-10-25/26"),
        ("2025-10-30", "2025-11-02", "2025-10-30/11-02"),
        ("2024-12-30", "2025-01-02", "2024-12-30/2025-01-02"),
        ("2019", "2024", "2019/2024"),
        ("2025-10", "2025-11", "2025-10/11"),
    ],
)
def test_event_date_ranges_are_short_iso_intervals(start: str, end: str | None, shown: str) -> None:
    def date(value: str | None) -> dict[str, str] | None:
        return None if value is None else {"value": value, "precision": "day"}

    doc = {"id": "e", "date": date(start), "end_date": date(end), "title": "t", "place": None}
    assert flat_row("event", doc)["date"] == shown


@pytest.mark.parametrize("width", [64, 80, 120])
def test_narrow_terminals_wrap_columns_and_drop_none(width: int) -> None:
    from hanoi_cli.render import COLUMNS

    doc = {
        "id": "registered-attendees",
        "label": "Registered to attend (before the event)",
        "headline_display": "around 100",
        "unit": "UN member states and international organisations",
        "values": [{"display": "around 100"}, {"display": "more than 70"}],
        "sources": [{}, {}],
    }
    out = io.StringIO()
    print_rows(make_console(out, width=width, color=False), "figure", [doc], "Figures")
    header = out.getvalue().splitlines()[1].split()
    assert header == list(COLUMNS["figure"])
