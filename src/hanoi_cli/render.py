"""Output for scripts and plain text: JSON, JSONL, CSV, Markdown, and the terminal sanitiser.

Light on imports on purpose: `--json` never loads Rich. Rich views live in `tables.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

Row = dict[str, Any]

# C0 controls except newline, DEL, C1 controls, the bidirectional overrides and isolates
# that can reorder what a reader sees ("Trojan Source"), and lone surrogates: a file name or
# argument that is not UTF-8 arrives as U+DC80-U+DCFF and cannot be written as UTF-8 text.
# Patterns, compiled by `re` on first use and cached there: compiling this one took 0.8 ms of
# every start-up, and `--json` never needs it.
_UNSAFE = "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
# What `json.dumps(ensure_ascii=False)` leaves raw but a terminal may obey (DEL, C1 such as
# U+009B CSI, bidi overrides) or UTF-8 cannot carry (lone surrogates). These occur only inside
# JSON strings, where a `\\uXXXX` escape is valid JSON that loads back to the same text.
_JSON_UNSAFE = "[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def sanitize(text: str) -> str:
    """Terminal-safe text: every control, escape or bidi-override character becomes visible.

    ESC, CSI, OSC and BEL cannot reach the terminal, so KB text can neither move the cursor,
    set the clipboard (OSC 52) nor open a hyperlink (OSC 8). JSON output is not sanitised: it
    carries the exact text, escaped by JSON.
    """
    return re.sub(_UNSAFE, _visible_escape, text)


def _visible_escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _json_dumps(document: Any, indent: int | None, ascii_only: bool = False) -> str:
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent)
    return re.sub(_JSON_UNSAFE, lambda found: f"\\u{ord(found.group()):04x}", text)


def json_text(document: Any, ascii_only: bool = False) -> str:
    return _json_dumps(document, indent=2, ascii_only=ascii_only) + "\n"


def write_json(out: TextIO, document: Any) -> None:
    out.write(json_text(document, _ascii_only(out)))


def write_jsonl(out: TextIO, documents: Iterable[Any]) -> None:
    ascii_only = _ascii_only(out)
    for document in documents:
        out.write(_json_dumps(document, indent=None, ascii_only=ascii_only) + "\n")


def _ascii_only(out: TextIO) -> bool:
    """A stream that is not UTF-8 gets JSON in ASCII: `\\u` escapes, the same text once
    parsed, where raw characters might have no bytes in its encoding."""
    encoding = (getattr(out, "encoding", None) or "utf-8").lower().replace("_", "-")
    return not encoding.startswith("utf")


def cell_text(value: Any) -> str:
    """One table cell as text: lists joined with '; ', None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "; ".join(cell_text(item) for item in value)
    return str(value)


def csv_guard(value: Any) -> Any:
    """OWASP CSV-injection defence: a text cell that a spreadsheet would run is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> None:
    import csv
    import io

    buffer = io.StringIO()
    # The writer quotes a cell holding a character of its line terminator: with CRLF, a lone
    # CR in a cell is quoted too, not left to end the row early. Rows still end in LF.
    writer = csv.writer(buffer, lineterminator="\r\n")
    lines = []
    for cells in [columns, *([csv_guard(cell_text(row.get(c))) for c in columns] for row in rows)]:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        lines.append(buffer.getvalue()[:-2] + "\n")
    out.write("".join(lines))


def _markdown_cell(value: Any) -> str:
    text = sanitize(cell_text(value)).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.split())


def write_markdown(out: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> None:
    out.write("| " + " | ".join(columns) + " |\n")
    out.write("|" + "|".join("---" for _ in columns) + "|\n")
    for row in rows:
        out.write("| " + " | ".join(_markdown_cell(row.get(c)) for c in columns) + " |\n")


# --- flat rows for list-shaped output (table, CSV, Markdown) ---------------------------------


def _name(ref: Any) -> str:
    return str(ref["name"]) if isinstance(ref, dict) else ""


def _date_text(date: Any) -> str:
    return str(date["value"]) if isinstance(date, dict) else ""


def _date_range(doc: Row) -> str:
    """ISO 8601 interval, the end shortened by what it shares: `2025-10-25/26`."""
    start = _date_text(doc["date"])
    end = _date_text(doc.get("end_date"))
    if not end:
        return start
    start_parts, end_parts = start.split("-"), end.split("-")
    shared = 0
    while (
        shared < min(len(start_parts), len(end_parts)) - 1
        and start_parts[shared] == end_parts[shared]
        and len(start_parts) == len(end_parts)
    ):
        shared += 1
    return f"{start}/{'-'.join(end_parts[shared:])}"


COLUMNS: dict[str, tuple[str, ...]] = {
    "person": ("id", "name", "titles", "country"),
    "country": ("id", "name", "roles", "representatives"),
    "organisation": ("id", "name", "acronym", "kind", "country"),
    "figure": ("id", "label", "headline", "unit", "values", "sources"),
    "event": ("date", "precision", "title", "place", "id"),
    "source": ("id", "outlet", "title", "published", "url"),
    "statement": ("id", "speaker", "kind", "quote", "date", "sources"),
    "search": ("entity", "id", "name", "field", "snippet"),
}


def flat_row(kind: str, doc: Row) -> Row:
    """The columns a table, CSV or Markdown shows for one document of `kind`."""
    if kind == "person":
        titles = [title["title"] for title in doc["titles"]]
        return {
            "id": doc["id"],
            "name": doc["name"],
            "titles": titles,
            "country": _name(doc["country"]),
        }
    if kind == "country":
        roles = list(dict.fromkeys(role["role"] for role in doc["roles"]))
        reps = [_name(ref) for ref in doc["representatives"]]
        return {"id": doc["id"], "name": doc["name"], "roles": roles, "representatives": reps}
    if kind == "organisation":
        return {
            "id": doc["id"],
            "name": doc["name"],
            "acronym": doc["acronym"],
            "kind": doc["kind"],
            "country": _name(doc["country"]),
        }
    if kind == "figure":
        values = list(dict.fromkeys(value["display"] for value in doc["values"]))
        return {
            "id": doc["id"],
            "label": doc["label"],
            "headline": doc["headline_display"],
            "unit": doc["unit"],
            "values": values,
            "sources": len(doc["sources"]),
        }
    if kind == "event":
        return {
            "id": doc["id"],
            "date": _date_range(doc),
            "precision": doc["date"]["precision"],
            "title": doc["title"],
            "place": doc["place"],
        }
    if kind == "source":
        return {
            "id": doc["id"],
            "outlet": doc["outlet"],
            "title": doc["title"],
            "published": _date_text(doc["published"]),
            "url": doc["url"],
        }
    if kind == "statement":
        return {
            "id": doc["id"],
            "speaker": _name(doc["speaker"]),
            "kind": doc["kind"],
            "quote": doc["quote"],
            "date": _date_text(doc["date"]),
            "sources": list(dict.fromkeys(item["source"] for item in doc["evidence"])),
        }
    if kind == "search":
        return {column: doc[column] for column in COLUMNS["search"]}
    raise ValueError(f"no row shape for {kind!r}")
