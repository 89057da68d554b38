"""Brings a cached index up to date with an edited KB by rewriting the rows that changed.

An edit to a KB usually changes a few entities or adds some at the end of their sections (a
new article: its source, people, statements): a full rebuild of a 100,000-person index takes
~6 s, rewriting the changed entities' rows in a copy of the old index well under one. Every
row of the index belongs to one entity and is numbered from that entity's num (`build.py`,
`derived.py`), and an entity's num is its place in its section, so an entity's rows can be
replaced without moving any other's. `plan` decides whether a patch gives exactly what a
full build would, table by table, and if so what to write:

- every entity of the indexed KB is still in its place, with the same id: entities may be
  added at the end of a section, not removed or moved (which changes other entities' nums);
- the edited KB passes the checks a full build makes, looked at where an edit can break them:
  no duplicate id, the rewritten entities' references name entities of the right kinds, no
  two sources share a file, and no name or alias a rewritten entity claims is claimed by
  another entity of its kind unless all but one of them mark it as shared;
- a rewritten person's or organisation's name is also the `name` of their statements' rows:
  those are rewritten with it.

Anything else (or an old index that cannot be read) gets no plan: the caller builds in full,
and an invalid KB gets the full build's error. The pydantic validation of the whole file is
not skipped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any, NamedTuple

from hanoi_cli.build import (
    NAMES_PER_ENTITY,
    SECTION_OF_KIND,
    LinkRow,
    NameRow,
    entity_json,
    entity_links,
    entity_names,
    link_rowids,
    row_name,
    token_owners,
)
from hanoi_cli.checks import KIND_OF_SECTION, Entity, alias_claims, check_references
from hanoi_cli.models import KnowledgeBase, Statement
from hanoi_cli.text import compact, fold

EntityRow = tuple[int, str, str, str, bytes]
"""(num, id, kind, name, data): a row of the `entity` table, as `build.fill` writes it."""


class Plan(NamedTuple):
    entities: list[EntityRow]
    """The rows of the entities to rewrite (changed, added, or named after a renamed speaker)."""
    links: list[LinkRow]
    names: list[NameRow]
    tokens: list[tuple[str, str, str | None]]
    """(kind, word, the nums of the entities named with it) to write; None to delete."""
    counts: dict[str, int] | None
    """How many names (not titles) each kind has; None if unchanged."""

    def nums(self) -> list[int]:
        return [num for num, *_ in self.entities]


def plan(old: sqlite3.Connection, kb: KnowledgeBase, num_of: dict[str, int]) -> Plan | None:
    """What turns the index `old` (of this code's format) into the index of `kb`, or None if
    only a full build can (see the module's docstring)."""
    entities: list[tuple[str, Entity]] = [
        (kind, entity)
        for section, kind in KIND_OF_SECTION.items()
        for entity in getattr(kb, section)
    ]
    if len(num_of) != len(entities):
        return None  # a duplicate id
    rewritten = _rewritten(old, kb, entities, num_of)
    if rewritten is None:
        return None
    if not rewritten:
        return Plan([], [], [], [], None)
    if not _still_valid(old, kb, rewritten, {entity.id: kind for kind, entity in entities}):
        return None
    try:
        links = [
            row
            for _, kind, entity in rewritten.values()
            for row in entity_links(kind, entity, num_of)
        ]
    except KeyError:
        return None  # a reference to no entity, which the reference check has seen already
    names = [
        row
        for num, (_, kind, entity) in rewritten.items()
        for row in entity_names(kind, entity, num)
    ]
    rows = [
        (num, entity.id, kind, name, entity_json(entity))
        for num, (name, kind, entity) in rewritten.items()
    ]
    return Plan(rows, links, names, *_name_changes(old, rewritten, names))


Rewritten = dict[int, tuple[str, str, Entity]]
"""num -> (the `name` of its row, kind, entity), in KB order."""


def _rewritten(
    old: sqlite3.Connection,
    kb: KnowledgeBase,
    entities: list[tuple[str, Entity]],
    num_of: dict[str, int],
) -> Rewritten | None:
    """The entities whose rows change: added or changed ones, and the statements of a speaker
    whose name changed; None if an indexed entity is gone or has moved, or a statement's
    speaker is not a person or an organisation of the KB."""
    indexed = iter(old.execute("SELECT num, id, kind, name, data FROM entity ORDER BY num"))
    was = next(indexed, None)
    rewritten: Rewritten = {}
    renamed: set[str] = set()
    speakers: dict[str, Entity] = {person.id: person for person in kb.people}
    speakers.update((org.id, org) for org in kb.organisations)
    for kind, entity in entities:
        num = num_of[entity.id]
        if was is not None and was[0] < num:
            return None
        if was is not None and was[0] == num:
            _, old_id, old_kind, old_name, old_data = was
            was = next(indexed, None)
            if (old_id, old_kind) != (entity.id, kind):
                return None
            # A row's name is its entity's own, in its JSON, or its speaker's (persons and
            # organisations come before statements): only then is it worth working out.
            if old_data == entity_json(entity) and not (
                isinstance(entity, Statement) and entity.speaker in renamed
            ):
                continue
        else:
            old_name = None
        name = _row_name(entity, speakers)
        if name is None:
            return None
        if old_name is not None and name != old_name and kind != "statement":
            renamed.add(entity.id)
        rewritten[num] = (name, kind, entity)
    return rewritten if was is None else None


def _row_name(entity: Entity, speakers: dict[str, Entity]) -> str | None:
    """The `name` column of the entity's row; None for a statement by no known speaker."""
    if isinstance(entity, Statement):
        speaker = speakers.get(entity.speaker)
        return None if speaker is None else row_name(entity, speaker)
    return row_name(entity)


def _still_valid(
    old: sqlite3.Connection, kb: KnowledgeBase, rewritten: Rewritten, kind_of_id: dict[str, str]
) -> bool:
    """Whether the checks of a full build would pass (see the module's docstring)."""
    sections: dict[str, Any] = {section: [] for section in KIND_OF_SECTION}
    for _, kind, entity in rewritten.values():
        sections[SECTION_OF_KIND[kind]].append(entity)
    if any(check_references(KnowledgeBase.model_construct(**sections), kind_of_id)):
        return False
    if sections["sources"] and len({source.file for source in kb.sources}) != len(kb.sources):
        return False
    return not any(_alias_problems(old, rewritten))


def _alias_problems(old: sqlite3.Connection, rewritten: Rewritten) -> Iterator[tuple[str, str]]:
    """(kind, key) for each name or alias a rewritten entity claims that two entities of its
    kind claim without marking it as shared: what `_check_aliases` finds, for these keys. A
    key no rewritten entity claims any more has lost a claim, which cannot make a problem."""
    claims: dict[tuple[str, str], dict[int, bool]] = {}
    for num, (_, kind, entity) in rewritten.items():
        for key, shared in alias_claims(entity).items():
            claims.setdefault((kind, key), {})[num] = shared
    for (kind, key), owners in claims.items():
        for (owner,) in old.execute(
            "SELECT DISTINCT entity FROM name WHERE kind = ? AND key = ? "
            "AND form IN ('name', 'alias', 'acronym')",
            (kind, key),
        ):
            if owner not in rewritten:
                owners[owner] = key in _shared_keys(old, owner)
        if sum(not shared for shared in owners.values()) > 1:
            yield kind, key


def _shared_keys(old: sqlite3.Connection, num: int) -> set[str]:
    (data,) = old.execute("SELECT data FROM entity WHERE num = ?", (num,)).fetchone()
    return {compact(fold(alias)) for alias in json.loads(data).get("shared_aliases", ())}


def _name_changes(
    old: sqlite3.Connection, rewritten: Rewritten, names: list[NameRow]
) -> tuple[list[tuple[str, str, str | None]], dict[str, int]]:
    """The token rows that the rewritten entities' old and new names touch, as they become,
    and how many names (not titles) each kind then has."""
    counts = {
        key.removeprefix("names:"): int(value)
        for key, value in old.execute("SELECT key, value FROM meta WHERE key LIKE 'names:%'")
    }
    touched = set(token_owners(names))
    nums = list(rewritten)
    for start in range(0, len(nums), 500):
        batch = nums[start : start + 500]
        marks = ",".join("?" * len(batch))
        for kind, folded, form in old.execute(
            f"SELECT kind, folded, form FROM name WHERE entity IN ({marks})", batch
        ):
            touched.update((kind, token) for token in folded.split())
            counts[kind] -= form != "title"
    for _, kind, _, _, form, _ in names:
        counts[kind] = counts.get(kind, 0) + (form != "title")
    now = token_owners(names)
    tokens: list[tuple[str, str, str | None]] = []
    for kind, token in sorted(touched):
        found = old.execute(
            "SELECT entities FROM token WHERE kind = ? AND token = ?", (kind, token)
        ).fetchone()
        owners = {int(num) for num in found[0].split(",")} if found else set()
        owners = owners.difference(rewritten).union(now.get((kind, token), ()))
        tokens.append((kind, token, ",".join(map(str, sorted(owners))) if owners else None))
    return tokens, {kind: count for kind, count in counts.items() if count}


def apply_to_core(core: sqlite3.Connection, patch: Plan, meta: dict[str, str]) -> None:
    """Rewrites the planned rows and the build's meta in a copy of the old core."""
    from hanoi_cli.build import INSERT_ENTITY, INSERT_LINK, INSERT_NAME

    for num in patch.nums():
        for start, stop in link_rowids(num):
            core.execute("DELETE FROM link WHERE rowid >= ? AND rowid < ?", (start, stop))
        core.execute("DELETE FROM name WHERE rowid >= ? AND rowid < ?", _name_rowids(num))
    core.executemany(INSERT_ENTITY.replace("INSERT", "INSERT OR REPLACE"), patch.entities)
    core.executemany(INSERT_LINK, patch.links)
    core.executemany(INSERT_NAME, patch.names)
    core.executemany(
        "DELETE FROM token WHERE kind = ? AND token = ?",
        [(kind, token) for kind, token, owners in patch.tokens if owners is None],
    )
    core.executemany(
        "INSERT OR REPLACE INTO token VALUES (?, ?, ?)",
        [row for row in patch.tokens if row[2] is not None],
    )
    if patch.counts is not None:
        core.execute("DELETE FROM meta WHERE key LIKE 'names:%'")
        meta = {**meta, **{f"names:{kind}": str(count) for kind, count in patch.counts.items()}}
    core.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())


def _name_rowids(num: int) -> tuple[int, int]:
    return num * NAMES_PER_ENTITY, (num + 1) * NAMES_PER_ENTITY


def apply_to_derived(table: str, target: sqlite3.Connection, patch: Plan) -> None:
    """Rewrites the planned entities' rows of derived `table` in a copy of the old one."""
    from hanoi_cli.derived import ROWS_PER_ENTITY, entity_fulltext_rows, insert_derived

    rows: list[tuple[object, ...]] = []
    for num, _, kind, name, data in patch.entities:
        if table == "gram":
            start, stop = _name_rowids(num)
        else:
            start, stop = num * ROWS_PER_ENTITY, (num + 1) * ROWS_PER_ENTITY
            rows += entity_fulltext_rows(num, kind, name, data)
        target.execute(f"DELETE FROM {table} WHERE rowid >= ? AND rowid < ?", (start, stop))
    if table == "gram":
        rows = [
            (rowid, folded, kind, num)
            for rowid, kind, _, folded, form, num in patch.names
            if form != "title"
        ]
    insert_derived(table, rows, target)
