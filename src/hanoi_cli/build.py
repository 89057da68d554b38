"""Writes a validated KB into an index: entity rows, links, name keys and search tables.

The core of the index is built whenever the KB changes: each entity as its own compact JSON,
the reverse links a document needs (who said what, who took part, who works where), the
folded name keys that exact and prefix lookups use and the words in them (a surname lookup).
`views.py` assembles answer documents from the rows and links at query time: storing finished
documents made the index four times the KB's size and its build five times slower.

The tables derived from the core (`derived.py`) are built the first time a query needs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import NamedTuple

from hanoi_cli.checks import KIND_OF_SECTION, Entity, entity_evidence
from hanoi_cli.models import (
    Country,
    Event,
    Figure,
    KnowledgeBase,
    Organisation,
    Person,
    Source,
    Statement,
)
from hanoi_cli.text import compact, fold
from hanoi_cli.views import (
    ATTENDED,
    CHILDREN,
    CITED_BY,
    HEARD,
    ORGANISATIONS,
    PEOPLE,
    SAID,
)

CORE_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entity(num INTEGER PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT NULL,
                    name TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE link(target INTEGER NOT NULL, role TEXT NOT NULL, source INTEGER NOT NULL);
CREATE TABLE name(kind TEXT NOT NULL, key TEXT NOT NULL, folded TEXT NOT NULL,
                  form TEXT NOT NULL, entity INTEGER NOT NULL);
-- One row per word of the names, with the nums of the entities that have it ("3,17,240"):
-- a row per (word, entity) made the table ten times longer and slower to build.
CREATE TABLE token(kind TEXT NOT NULL, token TEXT NOT NULL, entities TEXT NOT NULL,
                   PRIMARY KEY(kind, token)) WITHOUT ROWID;
"""

# Created after the bulk inserts: building an index once is cheaper than keeping it up to
# date. The entity and link indexes are built while the name rows may still be on their way.
ENTITY_INDEXES = """
CREATE UNIQUE INDEX entity_id ON entity(id);
CREATE INDEX entity_kind ON entity(kind, num);
CREATE INDEX link_target ON link(target);
"""
NAME_INDEXES = """
CREATE INDEX name_key ON name(kind, key);
CREATE INDEX name_entity ON name(entity);
"""

NameRow = tuple[str, str, str, str, int]
"""(kind, key, folded, form, entity num): one way to name an entity, folded for lookups."""


class NameTables(NamedTuple):
    """The rows of the `name` and `token` tables: the half of the build that `fill` can take
    from another process (see `index.py`)."""

    names: list[NameRow]
    tokens: list[tuple[str, str, str]]
    counts: dict[str, int]
    """How many names (not titles) each kind has: a small kind is scanned whole for typos."""


def numbering(kb: KnowledgeBase) -> dict[str, int]:
    """Each entity's row number, in KB order (sources first): the order answers are listed in."""
    num_of: dict[str, int] = {}
    for section in KIND_OF_SECTION:
        for entity in getattr(kb, section):
            num_of[entity.id] = len(num_of) + 1
    return num_of


def fill(
    connection: sqlite3.Connection,
    kb: KnowledgeBase,
    num_of: dict[str, int],
    meta: dict[str, str],
    names: Callable[[], NameTables],
) -> None:
    """Creates the core tables in an empty database and fills them from `kb`.

    `names()` gives the name and token rows (`name_tables`), perhaps computed by another
    process meanwhile, and raises KBInvalidError for a KB that fails its checks. An invalid KB
    can break the entity rows first (a dangling reference has no row number): its problems
    are the error then, not the KeyError.
    """
    connection.executescript(CORE_SCHEMA)
    try:
        _fill_entities(connection, kb, num_of)
        connection.executescript(ENTITY_INDEXES)
    except Exception:
        names()
        raise
    tables = names()
    connection.executemany("INSERT INTO name VALUES (?, ?, ?, ?, ?)", tables.names)
    connection.executemany("INSERT INTO token VALUES (?, ?, ?)", tables.tokens)
    names_meta = {f"names:{kind}": str(count) for kind, count in tables.counts.items()}
    connection.executemany("INSERT INTO meta VALUES (?, ?)", {**meta, **names_meta}.items())
    connection.executescript(NAME_INDEXES)
    connection.commit()


def _fill_entities(
    connection: sqlite3.Connection, kb: KnowledgeBase, num_of: dict[str, int]
) -> None:
    sections: list[tuple[str, list[Entity]]] = [
        (kind, getattr(kb, section)) for section, kind in KIND_OF_SECTION.items()
    ]
    names = {entity.id: _own_name(entity) for _, entities in sections for entity in entities}
    for statement in kb.statements:
        names[statement.id] = names[statement.speaker]
    connection.executemany(
        "INSERT INTO entity VALUES (?, ?, ?, ?, ?)",
        (
            (num_of[entity.id], entity.id, kind, names[entity.id], _json(entity))
            for kind, entities in sections
            for entity in entities
        ),
    )
    connection.executemany("INSERT INTO link VALUES (?, ?, ?)", _links(kb, num_of))


def name_tables(kb: KnowledgeBase, num_of: dict[str, int]) -> NameTables:
    """The folded name keys of every entity, and the words in them."""
    names: list[NameRow] = []
    counts: dict[str, int] = {}
    for section, kind in KIND_OF_SECTION.items():
        for entity in getattr(kb, section):
            num = num_of[entity.id]
            for form, text in _name_forms(entity):
                # An id is lower-case words joined by hyphens: its folded form needs no fold.
                folded = entity.id.replace("-", " ") if form == "id" else fold(text)
                if folded:
                    names.append((kind, compact(folded), folded, form, num))
                    if form != "title":
                        counts[kind] = counts.get(kind, 0) + 1
    owners: dict[tuple[str, str], dict[int, None]] = {}
    for kind, _, folded, _, num in names:
        for token in folded.split():
            owners.setdefault((kind, token), {})[num] = None
    tokens = [
        (kind, token, ",".join(map(str, nums))) for (kind, token), nums in sorted(owners.items())
    ]
    return NameTables(names, tokens, counts)


def _json(entity: Entity) -> bytes:
    """The entity as compact JSON: what `model_dump_json` gives, without its wrapper's cost."""
    return type(entity).__pydantic_serializer__.to_json(entity)


def _own_name(entity: Entity) -> str:
    if isinstance(entity, Figure):
        return entity.label
    if isinstance(entity, Event | Source):
        return entity.title
    if isinstance(entity, Statement):
        return ""  # its speaker's name, once every name is known
    return entity.name


def _links(kb: KnowledgeBase, num_of: dict[str, int]) -> Iterator[tuple[int, str, int]]:
    """(target, role, source) rows; a document lists each role's sources in this order."""
    for org in kb.organisations:
        at = num_of[org.id]
        for person_id in org.people:
            yield at, PEOPLE, num_of[person_id]
            yield num_of[person_id], ORGANISATIONS, at
        if org.country:
            yield num_of[org.country], ORGANISATIONS, at
        if org.parent:
            yield num_of[org.parent], CHILDREN, at
    for person in kb.people:
        at = num_of[person.id]
        if person.country:
            yield num_of[person.country], PEOPLE, at
        for title in person.titles:
            if title.organisation:
                yield num_of[title.organisation], PEOPLE, at
                yield at, ORGANISATIONS, num_of[title.organisation]
            if title.country:
                yield num_of[title.country], PEOPLE, at
    for country in kb.countries:
        for person_id in country.representatives:
            yield num_of[country.id], PEOPLE, num_of[person_id]
    for event in kb.events:
        for participant in event.participants:
            yield num_of[participant], ATTENDED, num_of[event.id]
    for statement in kb.statements:
        yield num_of[statement.speaker], SAID, num_of[statement.id]
        if statement.event:
            yield num_of[statement.event], HEARD, num_of[statement.id]
    for section in KIND_OF_SECTION:
        if section == "sources":
            continue
        for entity in getattr(kb, section):
            for source_id in dict.fromkeys(item.source for item in entity_evidence(entity)):
                yield num_of[source_id], CITED_BY, num_of[entity.id]


def _name_forms(entity: Entity) -> Iterator[tuple[str, str]]:
    """The ways a user may name an entity: name, id, aliases, acronym, titles (people) and
    breakdown parts (figures), the last two ranked as titles."""
    if not isinstance(entity, Person | Country | Organisation | Figure):
        return
    yield "name", entity.label if isinstance(entity, Figure) else entity.name
    # Ids are printed in every table, so a user may type one back.
    yield "id", entity.id
    for alias in (*entity.aliases, *entity.shared_aliases):
        yield "alias", alias
    if isinstance(entity, Organisation) and entity.acronym:
        yield "acronym", entity.acronym
    if isinstance(entity, Person):
        for title in entity.titles:
            yield "title", title.title
    if isinstance(entity, Figure):
        # "Asia-Pacific" finds the figure whose breakdown counts it.
        for breakdown in entity.breakdowns:
            for part in breakdown.parts:
                yield "title", part.label
