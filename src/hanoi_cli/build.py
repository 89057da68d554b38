"""Writes a validated KB into an index: entity rows, links, name keys and search tables.

The core of the index is built whenever the KB changes: each entity as its own compact JSON,
the reverse links a document needs (who said what, who took part, who works where), the
folded name keys that exact and prefix lookups use and the words in them (a surname lookup).
`views.py` assembles answer documents from the rows and links at query time: storing finished
documents made the index four times the KB's size and its build five times slower.

The tables derived from the core (`derived.py`) are built the first time a query needs them.

Every row belongs to one entity and takes a rowid (or num) from a range of that entity's own,
in KB order (`numbering`, `entity_names`, `entity_links`): after an edit, `patch.py` rewrites,
adds or removes the rows of the entities that changed, and no other row moves.
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

NameRow = tuple[int, str, str, str, str, int]
"""(rowid, kind, key, folded, form, entity num): one way to name an entity, folded for lookups."""
LinkRow = tuple[int, int, str, int]
"""(rowid, target, role, source): `source` is listed under `role` in `target`'s document."""

SECTION_SPAN = 1 << 32
"""The nums of a section's entities lie between its place (from 1) times this and the next
place's: a full build numbers them `NUM_GAP` apart, in KB order (`numbering`). A patch keeps
every other entity's num and gives an added entity one between its neighbours' (`patch.py`)."""
NUM_GAP = 1 << 6
"""How far apart a full build numbers a section's entities: room for six entities inserted
one after the other at the same place before a full build is needed."""
NAMES_PER_ENTITY = 1 << 20
"""The name rows of the entity numbered `num` have rowids from `num * NAMES_PER_ENTITY`."""
LINKS_PER_ENTITY = 1 << 20
"""The links an entity makes have rowids from `phase << 56 | num * LINKS_PER_ENTITY` (see
`_PHASE`), so that rowid order is the order documents list them in."""
_PHASE = {"organisation": 0, "person": 1, "country": 2, "event": 3, "statement": 4}
"""The links an entity's own references make are listed by kind in this order, then those of
the sources every entity cites (`_CITED`)."""
_CITED = 5


class NameTables(NamedTuple):
    """The rows of the `name` and `token` tables: the half of the build that `fill` can take
    from another process (see `index.py`)."""

    names: list[NameRow]
    tokens: list[tuple[str, str, str]]
    counts: dict[str, int]
    """How many names (not titles) each kind has: a small kind is scanned whole for typos."""


def numbering(kb: KnowledgeBase) -> dict[str, int]:
    """Each entity's row number (see `SECTION_SPAN`), in KB order (sources first): the order
    answers are listed in."""
    num_of: dict[str, int] = {}
    for place, section in enumerate(KIND_OF_SECTION, start=1):
        first = place * SECTION_SPAN
        for position, entity in enumerate(getattr(kb, section), start=1):
            num_of[entity.id] = first + position * NUM_GAP
    return num_of


def generator_of_link(rowid: int) -> int:
    """The num of the entity that made the link with this rowid (see `LINKS_PER_ENTITY`)."""
    return (rowid & ((1 << 56) - 1)) // LINKS_PER_ENTITY


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
    connection.executemany(INSERT_NAME, tables.names)
    connection.executemany("INSERT INTO token VALUES (?, ?, ?)", tables.tokens)
    names_meta = {f"names:{kind}": str(count) for kind, count in tables.counts.items()}
    connection.executemany("INSERT INTO meta VALUES (?, ?)", {**meta, **names_meta}.items())
    connection.executescript(NAME_INDEXES)
    connection.commit()


INSERT_ENTITY = "INSERT INTO entity VALUES (?, ?, ?, ?, ?)"
INSERT_LINK = "INSERT INTO link(rowid, target, role, source) VALUES (?, ?, ?, ?)"
INSERT_NAME = "INSERT INTO name(rowid, kind, key, folded, form, entity) VALUES (?, ?, ?, ?, ?, ?)"


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
        INSERT_ENTITY,
        (
            (num_of[entity.id], entity.id, kind, names[entity.id], entity_json(entity))
            for kind, entities in sections
            for entity in entities
        ),
    )
    connection.executemany(INSERT_LINK, _links(kb, num_of))


def name_tables(kb: KnowledgeBase, num_of: dict[str, int]) -> NameTables:
    """The folded name keys of every entity, and the words in them."""
    names: list[NameRow] = []
    for section, kind in KIND_OF_SECTION.items():
        for entity in getattr(kb, section):
            names += entity_names(kind, entity, num_of[entity.id])
    counts: dict[str, int] = {}
    for _, kind, _, _, form, _ in names:
        if form != "title":
            counts[kind] = counts.get(kind, 0) + 1
    tokens = [
        (kind, token, ",".join(map(str, nums)))
        for (kind, token), nums in sorted(token_owners(names).items())
    ]
    return NameTables(names, tokens, counts)


def entity_names(kind: str, entity: Entity, num: int) -> list[NameRow]:
    """The name rows of one entity, numbered `num`."""
    rows: list[NameRow] = []
    for form, text in _name_forms(entity):
        # An id is lower-case words joined by hyphens: its folded form needs no fold.
        folded = entity.id.replace("-", " ") if form == "id" else fold(text)
        if folded:
            rowid = num * NAMES_PER_ENTITY + len(rows)
            rows.append((rowid, kind, compact(folded), folded, form, num))
    return rows


def token_owners(names: list[NameRow]) -> dict[tuple[str, str], dict[int, None]]:
    """(kind, word) -> the nums of the entities that have a name with that word, in the
    order of `names`."""
    owners: dict[tuple[str, str], dict[int, None]] = {}
    for _, kind, _, folded, _, num in names:
        for token in folded.split():
            owners.setdefault((kind, token), {})[num] = None
    return owners


SECTION_OF_KIND = {kind: section for section, kind in KIND_OF_SECTION.items()}


def entity_json(entity: Entity) -> bytes:
    """The entity's row: compact JSON, what `model_dump_json` gives without its wrapper's cost."""
    return type(entity).__pydantic_serializer__.to_json(entity)


def row_name(entity: Entity, speaker: Entity | None = None) -> str:
    """The `name` column of the entity's row; a statement's is its `speaker`'s."""
    if isinstance(entity, Statement):
        return "" if speaker is None else _own_name(speaker)
    return _own_name(entity)


def _own_name(entity: Entity) -> str:
    if isinstance(entity, Figure):
        return entity.label
    if isinstance(entity, Event | Source):
        return entity.title
    if isinstance(entity, Statement):
        return ""  # its speaker's name, once every name is known
    return entity.name


def _links(kb: KnowledgeBase, num_of: dict[str, int]) -> Iterator[LinkRow]:
    """Every link row, in rowid order: a document lists each role's sources in this order."""
    for kind, phase in _PHASE.items():
        for entity in getattr(kb, SECTION_OF_KIND[kind]):
            yield from _own_links(entity, num_of, _first_link(phase, num_of[entity.id]))
    for section in KIND_OF_SECTION:
        if section != "sources":
            for entity in getattr(kb, section):
                yield from _cited_links(entity, num_of, _first_link(_CITED, num_of[entity.id]))


def entity_links(kind: str, entity: Entity, num_of: dict[str, int]) -> list[LinkRow]:
    """The link rows one entity makes. Raises KeyError for a reference to no entity."""
    num = num_of[entity.id]
    rows: list[LinkRow] = []
    if kind in _PHASE:
        rows += _own_links(entity, num_of, _first_link(_PHASE[kind], num))
    rows += _cited_links(entity, num_of, _first_link(_CITED, num))
    return rows


def name_rowids(num: int) -> tuple[int, int]:
    """The range (start, stop) of rowids the name rows of the entity numbered `num` take."""
    return num * NAMES_PER_ENTITY, (num + 1) * NAMES_PER_ENTITY


def link_rowids(num: int) -> list[tuple[int, int]]:
    """The ranges (start, stop) of rowids the links of the entity numbered `num` may take."""
    return [
        (_first_link(phase, num), _first_link(phase, num) + LINKS_PER_ENTITY)
        for phase in (*_PHASE.values(), _CITED)
    ]


def _first_link(phase: int, num: int) -> int:
    return phase << 56 | num * LINKS_PER_ENTITY


def _own_links(entity: Entity, num_of: dict[str, int], rowid: int) -> Iterator[LinkRow]:
    """The links `entity`'s own references make (but for the sources it cites), numbered from
    `rowid`. The count is kept by hand: a generator over these took 0.2 s at 100,000 people."""
    if isinstance(entity, Organisation):
        at = num_of[entity.id]
        for person_id in entity.people:
            yield rowid, at, PEOPLE, num_of[person_id]
            yield rowid + 1, num_of[person_id], ORGANISATIONS, at
            rowid += 2
        if entity.country:
            yield rowid, num_of[entity.country], ORGANISATIONS, at
            rowid += 1
        if entity.parent:
            yield rowid, num_of[entity.parent], CHILDREN, at
    elif isinstance(entity, Person):
        at = num_of[entity.id]
        if entity.country:
            yield rowid, num_of[entity.country], PEOPLE, at
            rowid += 1
        for title in entity.titles:
            if title.organisation:
                yield rowid, num_of[title.organisation], PEOPLE, at
                yield rowid + 1, at, ORGANISATIONS, num_of[title.organisation]
                rowid += 2
            if title.country:
                yield rowid, num_of[title.country], PEOPLE, at
                rowid += 1
    elif isinstance(entity, Country):
        for person_id in entity.representatives:
            yield rowid, num_of[entity.id], PEOPLE, num_of[person_id]
            rowid += 1
    elif isinstance(entity, Event):
        for participant in entity.participants:
            yield rowid, num_of[participant], ATTENDED, num_of[entity.id]
            rowid += 1
    elif isinstance(entity, Statement):
        yield rowid, num_of[entity.speaker], SAID, num_of[entity.id]
        if entity.event:
            yield rowid + 1, num_of[entity.event], HEARD, num_of[entity.id]


def _cited_links(entity: Entity, num_of: dict[str, int], rowid: int) -> Iterator[LinkRow]:
    if not isinstance(entity, Source):
        at = num_of[entity.id]
        for source_id in dict.fromkeys(item.source for item in entity_evidence(entity)):
            yield rowid, num_of[source_id], CITED_BY, at
            rowid += 1


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
