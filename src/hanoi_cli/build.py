"""Writes a validated KB into an index: entity rows, links, name keys and search tables.

The core of the index is built whenever the KB changes: each entity as its own compact JSON,
the reverse links a document needs (who said what, who took part, who works where) and the
folded name keys that exact and prefix lookups use. `views.py` assembles answer documents from
the rows and links at query time: storing finished documents made the index four times the
KB's size and its build five times slower.

The tables derived from the core (`derived.py`) are built the first time a query needs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

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
"""

# Created after the bulk insert: building an index once is cheaper than keeping it up to date.
CORE_INDEXES = """
CREATE UNIQUE INDEX entity_id ON entity(id);
CREATE INDEX entity_kind ON entity(kind, num);
CREATE INDEX link_target ON link(target);
CREATE INDEX name_key ON name(kind, key);
CREATE INDEX name_entity ON name(entity);
"""


def fill(connection: sqlite3.Connection, kb: KnowledgeBase, meta: dict[str, str]) -> None:
    """Creates the core tables in an empty database and fills them from `kb`."""
    connection.executescript(CORE_SCHEMA)
    sections: list[tuple[str, list[Entity]]] = [
        (kind, getattr(kb, section)) for section, kind in KIND_OF_SECTION.items()
    ]
    num_of: dict[str, int] = {}
    names: dict[str, str] = {}
    for _, entities in sections:
        for entity in entities:
            num_of[entity.id] = len(num_of) + 1
            names[entity.id] = _own_name(entity)
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
    name_rows: list[tuple[str, str, str, str, int]] = []
    counts: dict[str, int] = {}
    for kind, entities in sections:
        for entity in entities:
            num = num_of[entity.id]
            for form, text in _name_forms(entity):
                # An id is lower-case words joined by hyphens: its folded form needs no fold.
                folded = entity.id.replace("-", " ") if form == "id" else fold(text)
                if folded:
                    name_rows.append((kind, compact(folded), folded, form, num))
                    if form != "title":
                        counts[kind] = counts.get(kind, 0) + 1
    connection.executemany("INSERT INTO name VALUES (?, ?, ?, ?, ?)", name_rows)
    # How many names each kind has: a small kind is scanned whole for typos.
    names_meta = {f"names:{kind}": str(count) for kind, count in counts.items()}
    connection.executemany("INSERT INTO meta VALUES (?, ?)", {**meta, **names_meta}.items())
    connection.executescript(CORE_INDEXES)
    connection.commit()


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
