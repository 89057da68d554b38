"""The index tables derived from the core, built the first time a query needs one.

`gram` (trigrams for typos in a big KB) and `fulltext` (`hanoi search`) are read from the
core tables alone, so a lookup that needs neither (a name) never waits for them, and
building one needs neither the KB file nor pydantic.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator

from hanoi_cli.views import Data, evidence_items

DERIVED_SCHEMA = {
    "gram": """
        CREATE VIRTUAL TABLE {schema}.gram USING fts5(folded, kind UNINDEXED, entity UNINDEXED,
                                                      tokenize='trigram');
    """,
    "fulltext": """
        CREATE VIRTUAL TABLE {schema}.fulltext USING fts5(
            text, kind UNINDEXED, entity UNINDEXED, field UNINDEXED,
            tokenize='unicode61 remove_diacritics 2');
    """,
}
"""The tables built on first use, each from the core alone."""

_COLUMNS = {
    "gram": "rowid, folded, kind, entity",
    "fulltext": "rowid, text, kind, entity, field",
}

ROWS_PER_ENTITY = 1 << 24
"""An entity's full-text rows are numbered from its num times this (its trigram rows take the
rowids of its name rows): each table stays in KB order, and an entity's rows can be replaced in
place (`patch.py`)."""

_GROUPED_DIGITS = re.compile(r"(\d),(\d{3})")


DerivedRows = list[tuple[object, ...]]


def derived_rows(table: str, core: sqlite3.Connection) -> DerivedRows:
    """The rows of derived `table`, read from the `core` tables."""
    if table == "gram":
        return core.execute(
            "SELECT rowid, folded, kind, entity FROM name WHERE form != 'title' ORDER BY rowid"
        ).fetchall()
    if table == "fulltext":
        return list(_fulltext_rows(core))
    raise ValueError(f"no derived table {table!r}")


def write_derived(
    table: str, rows: DerivedRows, target: sqlite3.Connection, schema: str = "main"
) -> None:
    """Creates derived `table` in `target`'s `schema` (`main`, or `temp` for this process)."""
    target.executescript(DERIVED_SCHEMA[table].format(schema=schema))
    insert_derived(table, rows, target, schema)
    target.commit()


def insert_derived(
    table: str, rows: DerivedRows, target: sqlite3.Connection, schema: str = "main"
) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        target.executemany(
            f"INSERT INTO {schema}.{table}({_COLUMNS[table]}) VALUES ({marks})", rows
        )


def derived_rowids(table: str, num: int) -> tuple[int, int]:
    """The range (start, stop) of rowids the rows of the entity numbered `num` take in derived
    `table`: a trigram row takes its name row's rowid."""
    if table == "gram":
        from hanoi_cli.build import name_rowids

        return name_rowids(num)
    return num * ROWS_PER_ENTITY, (num + 1) * ROWS_PER_ENTITY


def _fulltext_rows(core: sqlite3.Connection) -> Iterator[tuple[int, str, str, int, str]]:
    for num, kind, name, data in core.execute("SELECT num, kind, name, data FROM entity"):
        yield from entity_fulltext_rows(num, kind, name, data)


def entity_fulltext_rows(
    num: int, kind: str, name: str, data: bytes
) -> Iterator[tuple[int, str, str, int, str]]:
    """The full-text rows of the entity numbered `num`: (rowid, text, kind, num, field)."""
    rowid = num * ROWS_PER_ENTITY
    for field, text in _searchable(kind, json.loads(data), name):
        yield rowid, text, kind, num, field
        rowid += 1
        if _GROUPED_DIGITS.search(text):
            # "2,500" is indexed as "2" and "500": a second row lets "2500" find it too.
            yield rowid, _GROUPED_DIGITS.sub(r"\1\2", text), kind, num, field
            rowid += 1


def _searchable(kind: str, data: Data, name: str) -> Iterator[tuple[str, str]]:
    """(field, text) pairs that `hanoi search` looks through."""
    yield "name", name
    for alias in (*data.get("aliases", ()), *data.get("shared_aliases", ())):
        yield "alias", alias
    for title in data.get("titles", ()):
        yield "title", title["title"]
    quotes = {item["quote"] for item in evidence_items(kind, data)}
    if kind == "statement":
        yield "quote", data["quote"]
        if data["summary"]:
            yield "summary", data["summary"]
        quotes.discard(data["quote"])
    if kind == "figure":
        yield "headline_reason", data["headline_reason"]
        for value in data["values"]:
            yield "qualifier", value["qualifier"]
    if kind == "source":
        yield "outlet", data["outlet"]
    for quote in sorted(quotes):
        yield "evidence", quote
