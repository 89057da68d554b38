"""Brings a cached index up to date with an edited KB by rewriting the rows that changed.

An edit to a KB usually changes a few entities, adds some (a new article: its source, people,
statements) or removes some: a full rebuild of a 100,000-person index takes ~6 s, rewriting
the changed entities' rows in a copy of the old index well under one. Every row of the index
belongs to one entity and is numbered from that entity's num (`build.py`, `derived.py`), and
nums only need to follow KB order, so an entity's rows can be replaced, removed or added
without moving any other's. `plan` decides whether a patch gives what a full build would, and
if so what to write. What it gives is a full build's index but for the nums themselves: the
same rows in the same order, each naming the same entities (a full build numbers entities
`NUM_GAP` apart; a patch keeps the nums it finds and gives an added entity one between its
neighbours').

- Entities may be changed, added, removed or moved. The most entities still in order keep
  their nums; a moved one is numbered anew, and every entity that refers to it is rewritten
  with its new num. Only a lack of room needs a full build: no num left between two
  neighbours (after more than six entities inserted at one place since the last full build,
  64 at once, or most of a section put in another order, which keeps a short run in place
  and has to number the rest around it).
- The edited KB passes the checks a full build makes, looked at where an edit can break them:
  no duplicate id; the rewritten entities' references name entities of the right kinds, and
  no entity kept refers to one removed; no two sources share a file; no name or alias a
  rewritten entity claims is claimed by another entity of its kind unless all but one of
  them mark it as shared.
- A rewritten person's or organisation's name is also the `name` of their statements' rows:
  those are rewritten with it.

Anything else (or an old index that cannot be read) gets no plan: the caller builds in full,
and an invalid KB gets the full build's error. The pydantic validation of the whole file is
not skipped.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

from hanoi_cli.build import (
    NUM_GAP,
    SECTION_OF_KIND,
    SECTION_SPAN,
    LinkRow,
    NameRow,
    entity_json,
    entity_links,
    entity_names,
    generator_of_link,
    link_rowids,
    name_rowids,
    row_name,
    token_owners,
)
from hanoi_cli.checks import KIND_OF_SECTION, Entity, alias_claims, check_references
from hanoi_cli.index import select_in
from hanoi_cli.models import KnowledgeBase, Statement
from hanoi_cli.text import compact, fold

EntityRow = tuple[int, str, str, str, bytes]
"""(num, id, kind, name, data): a row of the `entity` table, as `build.fill` writes it."""


class Plan(NamedTuple):
    entities: list[EntityRow]
    """The rows of the entities to rewrite (changed, added, or named after a renamed speaker)."""
    removed: list[int]
    """The nums of the entities no longer in the KB."""
    links: list[LinkRow]
    names: list[NameRow]
    tokens: list[tuple[str, str, str | None]]
    """(kind, word, the nums of the entities named with it) to write; None to delete."""
    counts: dict[str, int] | None
    """How many names (not titles) each kind has; None if unchanged."""

    def cleared(self) -> list[int]:
        """The nums whose rows go: the removed entities' and the rewritten ones'."""
        return [*self.removed, *(num for num, *_ in self.entities)]


def plan(old: sqlite3.Connection, kb: KnowledgeBase) -> Plan | None:
    """What turns the index `old` (of this code's format) into the index of `kb`, or None if
    only a full build can (see the module's docstring)."""
    indexed: dict[str, int] = dict(old.execute("SELECT id, num FROM entity"))
    numbered = _numbering(kb, indexed)
    if numbered is None:
        return None
    num_of, moved = numbered
    entities = [
        (kind, entity)
        for section, kind in KIND_OF_SECTION.items()
        for entity in getattr(kb, section)
    ]
    removed = sorted(indexed[entity_id] for entity_id in indexed.keys() - num_of.keys())
    # The entities whose links name a moved entity's old num are rewritten with its new one.
    referrers: set[str] = set()
    if moved:
        id_of = {num: entity_id for entity_id, num in indexed.items()}
        makers = _link_makers(old, sorted(moved.values()))
        referrers = {id_of[num] for num in makers if id_of[num] in num_of}
    rewritten = _rewritten(old, kb, entities, num_of, referrers)
    if rewritten is None:
        return None
    if not rewritten and not removed:
        return Plan([], [], [], [], [], None)
    cleared = sorted({*removed, *moved.values()})  # nums whose entity rows go
    gone = {*cleared, *rewritten}
    if not _still_valid(old, kb, rewritten, removed, gone=gone, kind_of_id=_KindOf(num_of)):
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
    return Plan(rows, cleared, links, names, *_name_changes(old, gone, names))


class _KindOf(Mapping[str, str]):
    """id -> kind, read from the nums (each section has its own range of nums)."""

    def __init__(self, num_of: dict[str, int]) -> None:
        self._num_of = num_of

    def __getitem__(self, entity_id: str) -> str:
        return _KINDS[self._num_of[entity_id] // SECTION_SPAN - 1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._num_of)

    def __len__(self) -> int:
        return len(self._num_of)


_KINDS = list(KIND_OF_SECTION.values())


def _numbering(
    kb: KnowledgeBase, indexed: dict[str, int]
) -> tuple[dict[str, int], dict[str, int]] | None:
    """Each entity's num, and the old num of each entity that moved. An entity keeps the num
    it has in the index (`indexed`: id -> num), unless it has moved: to another section, or
    out of order (the most entities that are still in order keep theirs). Added and moved
    entities get a num between their neighbours'. None if there is no room, or if an id is
    used twice."""
    num_of: dict[str, int] = {}
    moved: dict[str, int] = {}
    for place, section in enumerate(KIND_OF_SECTION, start=1):
        low = before = place * SECTION_SPAN  # no entity takes it: the section starts above
        limit = low + SECTION_SPAN
        entities = getattr(kb, section)
        kept = _still_in_order(entities, indexed, low, limit)
        waiting: list[str] = []  # numbered once the next kept num is known
        for entity in entities:
            num = indexed.get(entity.id)
            if num is not None and (
                not low < num < limit or (kept is not None and entity.id not in kept)
            ):
                moved[entity.id] = num  # from another section, or out of order
                num = None
            if num is None:
                waiting.append(entity.id)
                continue
            if num <= before or (waiting and not _spread(waiting, before, num, num_of)):
                return None
            num_of[entity.id] = before = num
        # Appended: numbered as a full build would, after the last one kept.
        after = before + (len(waiting) + 1) * NUM_GAP
        if after > limit or not _spread(waiting, before, after, num_of):
            return None
    count = sum(len(getattr(kb, section)) for section in KIND_OF_SECTION)
    return (num_of, moved) if len(num_of) == count else None


def _still_in_order(
    entities: list[Entity], indexed: dict[str, int], low: int, high: int
) -> set[str] | None:
    """The ids of the most entities of a section whose nums (between `low` and `high`) are
    still in order: a longest increasing run of them, by patience sorting; None if all of
    them are (the usual case, found at once)."""
    nums = [num for entity in entities if low < (num := indexed.get(entity.id, low)) < high]
    if all(a < b for a, b in pairwise(nums)):
        return None
    ids = [entity.id for entity in entities if low < indexed.get(entity.id, low) < high]
    tails: list[int] = []  # the smallest last num of an increasing run of each length
    ends: list[int] = []  # where each of those runs ends
    previous = [-1] * len(nums)
    for position, num in enumerate(nums):
        length = bisect_left(tails, num)
        if length == len(tails):
            tails.append(num)
            ends.append(position)
        else:
            tails[length] = num
            ends[length] = position
        previous[position] = ends[length - 1] if length else -1
    kept: set[str] = set()
    position = ends[-1]
    while position >= 0:
        kept.add(ids[position])
        position = previous[position]
    return kept


def _spread(waiting: list[str], low: int, high: int, num_of: dict[str, int]) -> bool:
    """Numbers the ids in `waiting` evenly between `low` and `high` (both excluded)."""
    step = (high - low) // (len(waiting) + 1)
    if waiting and step == 0:
        return False
    for position, entity_id in enumerate(waiting, start=1):
        num_of[entity_id] = low + position * step
    waiting.clear()
    return True


Rewritten = dict[int, tuple[str, str, Entity]]
"""num -> (the `name` of its row, kind, entity), in KB order."""


def _rewritten(
    old: sqlite3.Connection,
    kb: KnowledgeBase,
    entities: list[tuple[str, Entity]],
    num_of: dict[str, int],
    referrers: set[str],
) -> Rewritten | None:
    """The entities whose rows change: added, moved or changed ones, the `referrers` of moved
    ones, and the statements of a speaker whose name changed; None if a statement's speaker
    is not a person or an organisation of the KB. Entities and rows are both walked in num
    order."""
    rows = iter(old.execute("SELECT num, id, name, data FROM entity ORDER BY num"))
    was = next(rows, None)
    rewritten: Rewritten = {}
    renamed: set[str] = set()
    speakers: dict[str, Entity] = {person.id: person for person in kb.people}
    speakers.update((org.id, org) for org in kb.organisations)
    for kind, entity in entities:
        num = num_of[entity.id]
        while was is not None and was[0] < num:
            was = next(rows, None)  # a removed entity's
        old_name = None
        if was is not None and was[0] == num and was[1] == entity.id:
            _, _, old_name, old_data = was
            # A row's name is its entity's own, in its JSON, or its speaker's (persons and
            # organisations come before statements): only then is it worth working out.
            if (
                old_data == entity_json(entity)
                and entity.id not in referrers
                and not (isinstance(entity, Statement) and entity.speaker in renamed)
            ):
                continue
        name = _row_name(entity, speakers)
        if name is None:
            return None
        if old_name is not None and name != old_name and kind != "statement":
            renamed.add(entity.id)
        rewritten[num] = (name, kind, entity)
    return rewritten


def _row_name(entity: Entity, speakers: dict[str, Entity]) -> str | None:
    """The `name` column of the entity's row; None for a statement by no known speaker."""
    if isinstance(entity, Statement):
        speaker = speakers.get(entity.speaker)
        return None if speaker is None else row_name(entity, speaker)
    return row_name(entity)


def _still_valid(
    old: sqlite3.Connection,
    kb: KnowledgeBase,
    rewritten: Rewritten,
    removed: list[int],
    *,
    gone: set[int],
    kind_of_id: Mapping[str, str],
) -> bool:
    """Whether the checks of a full build would pass (see the module's docstring). `gone`:
    the old nums whose rows go (removed, moved and rewritten entities')."""
    sections: dict[str, Any] = {section: [] for section in KIND_OF_SECTION}
    for _, kind, entity in rewritten.values():
        sections[SECTION_OF_KIND[kind]].append(entity)
    if any(check_references(KnowledgeBase.model_construct(**sections), kind_of_id)):
        return False
    if sections["sources"] and len({source.file for source in kb.sources}) != len(kb.sources):
        return False
    return not _still_referred_to(old, removed, gone) and not any(
        _alias_problems(old, rewritten, gone)
    )


def _still_referred_to(old: sqlite3.Connection, removed: list[int], gone: set[int]) -> bool:
    """Whether an entity kept as it was refers to a removed one."""
    return bool(_link_makers(old, removed) - gone)


def _link_makers(old: sqlite3.Connection, nums: list[int]) -> set[int]:
    """The nums of the entities whose links name one of `nums`: every reference makes a link
    (`build.entity_links`), numbered from the entity that makes it."""
    run = _runner(old)
    rows = [
        *select_in(run, "SELECT rowid FROM link WHERE target IN ({marks})", nums),
        *select_in(run, "SELECT rowid FROM link WHERE source IN ({marks})", nums),
    ]
    return {generator_of_link(rowid) for (rowid,) in rows}


def _runner(connection: sqlite3.Connection) -> Callable[[str, Sequence[Any]], list[Any]]:
    """A query's rows, as `index.select_in` runs it."""
    return lambda sql, values: connection.execute(sql, values).fetchall()


def _alias_problems(
    old: sqlite3.Connection, rewritten: Rewritten, gone: set[int]
) -> Iterator[tuple[str, str]]:
    """(kind, key) for each name or alias a rewritten entity claims that two entities of its
    kind claim without marking it as shared: what `_check_aliases` finds, for these keys. A
    key no rewritten entity claims any more has lost a claim, which cannot make a problem.
    The rows of `gone` entities (removed or rewritten) are read as they are about to be."""
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
            if owner not in gone:
                owners[owner] = key in _shared_keys(old, owner)
        if sum(not shared for shared in owners.values()) > 1:
            yield kind, key


def _shared_keys(old: sqlite3.Connection, num: int) -> set[str]:
    (data,) = old.execute("SELECT data FROM entity WHERE num = ?", (num,)).fetchone()
    return {compact(fold(alias)) for alias in json.loads(data).get("shared_aliases", ())}


def _name_changes(
    old: sqlite3.Connection, gone: set[int], names: list[NameRow]
) -> tuple[list[tuple[str, str, str | None]], dict[str, int]]:
    """The token rows that the old names of `gone` entities (removed or rewritten) and the
    new `names` touch, as they become, and how many names (not titles) each kind then has."""
    counts = {
        key.removeprefix("names:"): int(value)
        for key, value in old.execute("SELECT key, value FROM meta WHERE key LIKE 'names:%'")
    }
    touched = set(token_owners(names))
    sql = "SELECT kind, folded, form FROM name WHERE entity IN ({marks})"
    for kind, folded, form in select_in(_runner(old), sql, sorted(gone)):
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
        owners = owners.difference(gone).union(now.get((kind, token), ()))
        tokens.append((kind, token, ",".join(map(str, sorted(owners))) if owners else None))
    return tokens, {kind: count for kind, count in counts.items() if count}


def apply_to_core(core: sqlite3.Connection, patch: Plan, meta: dict[str, str]) -> None:
    """Rewrites the planned rows and the build's meta in a copy of the old core."""
    from hanoi_cli.build import INSERT_ENTITY, INSERT_LINK, INSERT_NAME

    for num in patch.cleared():
        for start, stop in link_rowids(num):
            core.execute("DELETE FROM link WHERE rowid >= ? AND rowid < ?", (start, stop))
        core.execute("DELETE FROM name WHERE rowid >= ? AND rowid < ?", name_rowids(num))
    core.executemany("DELETE FROM entity WHERE num = ?", [(num,) for num in patch.removed])
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


def apply_to_derived(table: str, target: sqlite3.Connection, patch: Plan) -> None:
    """Rewrites the planned entities' rows of derived `table` in a copy of the old one."""
    from hanoi_cli.derived import derived_rowids, entity_fulltext_rows, insert_derived

    for num in patch.cleared():
        target.execute(
            f"DELETE FROM {table} WHERE rowid >= ? AND rowid < ?", derived_rowids(table, num)
        )
    if table == "gram":
        rows: list[tuple[object, ...]] = [
            (rowid, folded, kind, num)
            for rowid, kind, _, folded, form, num in patch.names
            if form != "title"
        ]
    else:
        rows = [
            row
            for num, _, kind, name, data in patch.entities
            for row in entity_fulltext_rows(num, kind, name, data)
        ]
    insert_derived(table, rows, target)
