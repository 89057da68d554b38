"""Writes a validated KB into an index: entity rows, links, name keys and search tables.

The core of the index is built whenever the KB changes: each entity as its own compact JSON,
the reverse links a document needs (who said what, who took part, who works where), the
folded name keys that exact and prefix lookups use and the words in them (a surname lookup).
`views.py` assembles answer documents from the rows and links at query time: storing finished
documents made the index four times the KB's size and its build five times slower.

The tables derived from the core (`derived.py`) are built the first time a query needs them.
After an edit that leaves every entity's shape (`index_shape`) as it was, `patch.py` rewrites
the changed entities' rows instead of building anew.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import NamedTuple

from hanoi_cli.checks import KIND_OF_SECTION, Entity, alias_claims, entity_evidence
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
            (num_of[entity.id], entity.id, kind, names[entity.id], entity_json(entity))
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


def entity_json(entity: Entity) -> bytes:
    """The entity's row: compact JSON, what `model_dump_json` gives without its wrapper's cost."""
    return type(entity).__pydantic_serializer__.to_json(entity)


def row_name(entity: Entity, speaker: Entity | None = None) -> str:
    """The `name` column of the entity's row; a statement's is its `speaker`'s."""
    if isinstance(entity, Statement):
        return "" if speaker is None else _own_name(speaker)
    return _own_name(entity)


def index_shape(entity: Entity, num_of: dict[str, int]) -> tuple[object, ...]:
    """What the index and the KB's checks take from `entity` beyond its own row: its links,
    its name forms (the name, token and trigram rows), the name keys the alias check counts,
    and a source's file. An entity may change without touching another row of the index, or
    the result of a check, as long as its shape stays the same (`patch.py`).

    Raises KeyError for a reference to no entity of `num_of`.
    """
    return (
        tuple(_own_links(entity, num_of)),
        tuple(_cited_links(entity, num_of)),
        tuple(_name_forms(entity)),
        tuple(alias_claims(entity).items()),
        entity.file if isinstance(entity, Source) else None,
    )


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
    for section in ("organisations", "people", "countries", "events", "statements"):
        for entity in getattr(kb, section):
            yield from _own_links(entity, num_of)
    for section in KIND_OF_SECTION:
        if section != "sources":
            for entity in getattr(kb, section):
                yield from _cited_links(entity, num_of)


def _own_links(entity: Entity, num_of: dict[str, int]) -> Iterator[tuple[int, str, int]]:
    """The links `entity`'s own references make, but for the sources it cites."""
    if isinstance(entity, Organisation):
        at = num_of[entity.id]
        for person_id in entity.people:
            yield at, PEOPLE, num_of[person_id]
            yield num_of[person_id], ORGANISATIONS, at
        if entity.country:
            yield num_of[entity.country], ORGANISATIONS, at
        if entity.parent:
            yield num_of[entity.parent], CHILDREN, at
    elif isinstance(entity, Person):
        at = num_of[entity.id]
        if entity.country:
            yield num_of[entity.country], PEOPLE, at
        for title in entity.titles:
            if title.organisation:
                yield num_of[title.organisation], PEOPLE, at
                yield at, ORGANISATIONS, num_of[title.organisation]
            if title.country:
                yield num_of[title.country], PEOPLE, at
    elif isinstance(entity, Country):
        for person_id in entity.representatives:
            yield num_of[entity.id], PEOPLE, num_of[person_id]
    elif isinstance(entity, Event):
        for participant in entity.participants:
            yield num_of[participant], ATTENDED, num_of[entity.id]
    elif isinstance(entity, Statement):
        yield num_of[entity.speaker], SAID, num_of[entity.id]
        if entity.event:
            yield num_of[entity.event], HEARD, num_of[entity.id]


def _cited_links(entity: Entity, num_of: dict[str, int]) -> Iterator[tuple[int, str, int]]:
    if not isinstance(entity, Source):
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
