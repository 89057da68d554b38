"""Brings a cached index up to date with a KB whose entities changed only in what they say.

An edit to a KB usually changes a quote, a summary or a title, not who is linked to whom: a
full rebuild of a 100,000-person index for it takes ~6 s, rewriting the rows of the changed
entities in a copy of the old index well under a second. `plan` decides whether a patch gives
exactly what a full build would, table by table, and if so which rows change:

- the KB has the same entities, ids and kinds, in the same order as the indexed one, so every
  row number stays (and no id is duplicated: the indexed KB passed its checks);
- each changed entity keeps its shape (`build.index_shape`): the same links, name forms,
  alias keys and source file, so the link, name, token and trigram tables and the name
  counts stay as they are, and the alias and duplicate-file checks find what they found in
  the indexed KB, which was nothing;
- each changed entity's references name entities of the right kinds (`check_references`).

Anything else (an entity added, removed, moved or renamed, a reference changed, a problem,
an old index that cannot be read) gets no plan: the caller builds in full, and an invalid KB
gets the full build's error. The pydantic validation of the whole file is not skipped.
"""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple

from hanoi_cli.build import entity_json, index_shape, row_name
from hanoi_cli.checks import KIND_OF_SECTION, Entity, check_references
from hanoi_cli.models import KnowledgeBase, Statement

EntityRow = tuple[int, str, str, bytes]
"""(num, kind, name, data): a row of the `entity` table, as `build.fill` writes it."""


class Plan(NamedTuple):
    changed: list[EntityRow]
    """The new rows of the entities whose JSON changed, in KB order."""


def plan(old: sqlite3.Connection, kb: KnowledgeBase, num_of: dict[str, int]) -> Plan | None:
    """The rows that turn the index `old` (of this code's format) into the index of `kb`, or
    None if only a full build can (see the module's docstring)."""
    entities: list[tuple[str, Entity]] = [
        (kind, entity)
        for section, kind in KIND_OF_SECTION.items()
        for entity in getattr(kb, section)
    ]
    indexed = old.execute("SELECT id, kind FROM entity ORDER BY num").fetchall()
    if indexed != [(entity.id, kind) for kind, entity in entities]:
        return None
    rows = old.execute("SELECT num, data FROM entity ORDER BY num")
    changed: list[tuple[int, str, Entity, bytes, bytes]] = []
    for (num, before), (kind, entity) in zip(rows, entities, strict=True):
        after = entity_json(entity)
        if after != before:
            changed.append((num, kind, entity, before, after))
    if not changed:
        return Plan([])
    kind_of_id = dict(indexed)
    if any(
        check_references(_kb_of([(kind, entity) for _, kind, entity, _, _ in changed]), kind_of_id)
    ):
        return None
    new_rows: list[EntityRow] = []
    for num, kind, entity, before, after in changed:
        try:
            was = type(entity).model_validate_json(before)
            if index_shape(was, num_of) != index_shape(entity, num_of):
                return None
        except (ValueError, KeyError):
            # A row this code cannot read back, or a reference to no entity.
            return None
        speaker = entities[num_of[entity.speaker] - 1][1] if isinstance(entity, Statement) else None
        new_rows.append((num, kind, row_name(entity, speaker), after))
    return Plan(new_rows)


def _kb_of(entities: list[tuple[str, Entity]]) -> KnowledgeBase:
    """A KB of just these entities, unvalidated: for checks that look at one entity at a time."""
    sections: dict[str, Any] = {section: [] for section in KIND_OF_SECTION}
    section_of = {kind: section for section, kind in KIND_OF_SECTION.items()}
    for kind, entity in entities:
        sections[section_of[kind]].append(entity)
    return KnowledgeBase.model_construct(schema_version=1, **sections)


def apply_to_core(core: sqlite3.Connection, patch: Plan, meta: dict[str, str]) -> None:
    """Rewrites the changed entities' rows and the build's meta in a copy of the old core."""
    core.executemany(
        "UPDATE entity SET name = ?, data = ? WHERE num = ?",
        [(name, data, num) for num, _, name, data in patch.changed],
    )
    core.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())


def apply_to_derived(table: str, target: sqlite3.Connection, patch: Plan) -> None:
    """Rewrites the changed entities' rows of derived `table` in a copy of the old one.

    The trigram table is made of name rows, which a patch leaves as they are; the full-text
    table has each entity's rows numbered from a rowid of its own (`derived.ROWS_PER_ENTITY`).
    """
    if table != "fulltext":
        return
    from hanoi_cli.derived import ROWS_PER_ENTITY, entity_fulltext_rows, insert_derived

    for num, kind, name, data in patch.changed:
        start = num * ROWS_PER_ENTITY
        target.execute(
            "DELETE FROM fulltext WHERE rowid >= ? AND rowid < ?", (start, start + ROWS_PER_ENTITY)
        )
        insert_derived(table, list(entity_fulltext_rows(num, kind, name, data)), target)
