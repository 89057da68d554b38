"""An index patched after a KB edit equals, table by table, the index a full build makes.

Each test builds the index of a KB (with both derived tables cached), edits the KB, opens it
again (a patch or a full build, whichever the edit allows) and compares every row, rowid and
search rank with a full build of the edited KB in an empty cache.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hanoi_cli import build, index
from hanoi_cli.checks import SECTIONS
from hanoi_cli.derived import DERIVED_SCHEMA, derived_rowids
from hanoi_cli.errors import HanoiError, KBInvalidError
from hanoi_cli.index import open_store
from tests.conftest import REPO_KB, fail_on_warning
from tests.kbfactory import KBDict
from tests.test_views import _synthetic_kb

Edit = Callable[[KBDict], None]

_PER_BUILD = ("build_id", "built", "built_ns", "kb_mtime_ns", "kb_ctime_ns", "kb_inode")
_SEARCHES = ("convention", "cybercrime", "signed", "Hanoi", "edited", "2500", "quang")


def _env(cache_home: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(cache_home)}


def _open_all(kb_path: Path, cache_home: Path) -> None:
    """Opens the KB's index, building what it must, and both derived tables."""
    store = open_store(kb_path, _env(cache_home), fail_on_warning)
    try:
        for table in DERIVED_SCHEMA:
            store.require(table)
    finally:
        store.close()


def _contents(kb_path: Path, cache_home: Path) -> dict[str, Any]:
    """Every row of the core and derived tables, in rowid order, and what searches rank, with
    each entity's num replaced by its id: a patch keeps the nums it finds, where a full build
    numbers entities afresh. Asserts that each row's rowid lies in its entity's range."""
    core = index.cache_file_for(kb_path, _env(cache_home))
    assert core is not None
    found: dict[str, Any] = {}
    with sqlite3.connect(core) as connection:
        id_of: dict[int, str] = dict(connection.execute("SELECT num, id FROM entity"))
        found["entity"] = connection.execute(
            "SELECT id, kind, name, data FROM entity ORDER BY num"
        ).fetchall()
        found["link"] = []
        for rowid, target, role, source in connection.execute(
            "SELECT rowid, * FROM link ORDER BY rowid"
        ):
            assert build.generator_of_link(rowid) in (target, source)
            found["link"].append((id_of[target], role, id_of[source]))
        found["name"] = []
        for rowid, *name, entity in connection.execute("SELECT rowid, * FROM name ORDER BY rowid"):
            start, stop = build.name_rowids(entity)
            assert start <= rowid < stop
            found["name"].append((*name, id_of[entity]))
        found["token"] = [
            (kind, token, [id_of[int(num)] for num in nums.split(",")])
            for kind, token, nums in connection.execute("SELECT * FROM token")
        ]
        found["meta"] = [  # read as a dict: in no particular order
            row
            for row in connection.execute("SELECT * FROM meta ORDER BY key")
            if row[0] not in _PER_BUILD
        ]
        build_id = dict(connection.execute("SELECT * FROM meta"))["build_id"]
    for table in DERIVED_SCHEMA:
        with sqlite3.connect(index._derived_file(core, table)) as connection:
            assert connection.execute("SELECT value FROM meta").fetchone() == (build_id,)
            found[table] = []
            for rowid, *row in connection.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid"):
                entity = row[2]
                start, stop = derived_rowids(table, entity)
                assert start <= rowid < stop
                row[2] = id_of[entity]
                found[table].append(row)
            # FTS5's own check of its index against its rows: raises if they disagree.
            connection.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
            if table == "fulltext":
                found["ranks"] = [
                    [
                        (id_of[entity], field, rank)
                        for entity, field, rank in connection.execute(
                            "SELECT entity, field, rank FROM fulltext WHERE fulltext MATCH ? "
                            "ORDER BY rank, rowid",
                            (json.dumps(word),),
                        )
                    ]
                    for word in _SEARCHES
                ]
    return found


@pytest.fixture(params=["real", "synthetic"])
def kb(request: pytest.FixtureRequest) -> KBDict:
    if request.param == "real":
        loaded: KBDict = json.loads(REPO_KB.read_text(encoding="utf-8"))
        return loaded
    return _synthetic_kb(300)


def _write(path: Path, kb: KBDict, indent: int | None = 1) -> Path:
    path.write_text(json.dumps(kb, ensure_ascii=False, indent=indent), encoding="utf-8")
    return path


def _count_full_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    builds: list[int] = []
    fill = build.fill

    def counted(*args: Any, **kwargs: Any) -> None:
        builds.append(1)
        fill(*args, **kwargs)

    monkeypatch.setattr(build, "fill", counted)
    return builds


def _edited(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *edits: Edit
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The index of `kb` after each edit in turn, built on the one before; the index a full
    build makes of the last; how many of the edits were built in full."""
    kb_path = _write(tmp_path / "kb.json", kb)
    _open_all(kb_path, tmp_path / "kept")
    builds = _count_full_builds(monkeypatch)
    for edit in edits:
        edit(kb)
        _write(kb_path, kb)
        _open_all(kb_path, tmp_path / "kept")
    patched = _contents(kb_path, tmp_path / "kept")
    full_builds = len(builds)
    _open_all(kb_path, tmp_path / "fresh")
    return patched, _contents(kb_path, tmp_path / "fresh"), full_builds


def _entities(kb: KBDict) -> Iterator[dict[str, Any]]:
    for section in ("sources", "people", "countries", "organisations", "figures", "events"):
        yield from kb.get(section, ())
    yield from kb.get("statements", ())


def _every_quote_and_title(kb: KBDict) -> None:
    for entity in _entities(kb):
        for evidence in entity.get("evidence", ()):
            evidence["quote"] += " edited"
        if "file" in entity:
            entity["title"] += " edited"


def _statement_summary(kb: KBDict) -> None:
    kb["statements"][-1]["summary"] = "An edited summary of 2,500 words"


def _event_title(kb: KBDict) -> None:
    kb["events"][0]["title"] = "An edited event title"


def _figure_reason(kb: KBDict) -> None:
    kb["figures"][0]["headline_reason"] += " edited"


def _person_quote(kb: KBDict) -> None:
    kb["people"][-1]["evidence"][0]["quote"] = "edited"


def _source_outlet(kb: KBDict) -> None:
    kb["sources"][0]["outlet"] = "Edited Outlet"


CONTENT_EDITS = [
    _every_quote_and_title,
    _statement_summary,
    _event_title,
    _figure_reason,
    _person_quote,
    _source_outlet,
]


def test_a_kb_written_again_with_other_whitespace_is_patched_with_no_row_changed(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_path = _write(tmp_path / "kb.json", kb)
    _open_all(kb_path, tmp_path)
    before = _contents(kb_path, tmp_path)
    builds = _count_full_builds(monkeypatch)
    _write(kb_path, kb, indent=None)
    _open_all(kb_path, tmp_path)
    assert builds == []
    after = _contents(kb_path, tmp_path)
    assert [row for row in after.pop("meta") if row[0] == "kb_size"] != [
        row for row in before.pop("meta") if row[0] == "kb_size"
    ]
    assert after == before


def _person_renamed(kb: KBDict) -> None:
    kb["people"][0]["name"] = "Edited Person Name"


def _speaker_changed(kb: KBDict) -> None:
    kb["statements"][0]["speaker"] = kb["people"][-1]["id"]


def _evidence_from_another_source(kb: KBDict) -> None:
    entity = kb["people"][0]
    other = next(s["id"] for s in kb["sources"] if s["id"] != entity["evidence"][0]["source"])
    entity["evidence"][0]["source"] = other


def _source_file_changed(kb: KBDict) -> None:
    kb["sources"][0]["file"] = "edited.txt"


def _new_person(kb: KBDict, number: int = 1) -> dict[str, Any]:
    return dict(
        kb["people"][0],
        id=f"edited-person-{number}",
        name=f"Edited Newcomer {number}",
        aliases=[],
        shared_aliases=[],
    )


def _article_added(kb: KBDict) -> None:
    """What a new article brings: its source, a person, and what they said, each appended."""
    source = dict(kb["sources"][0], id="edited-source", file="edited-article.txt", title="Edited")
    evidence = [{"source": "edited-source", "quote": "Edited Newcomer said so"}]
    person = dict(_new_person(kb), evidence=evidence)
    statement = dict(kb["statements"][0], id="edited-statement", speaker=person["id"])
    statement["evidence"] = evidence
    kb["sources"].append(source)
    kb["people"].append(person)
    kb["statements"].append(statement)


def _entity_removed(kb: KBDict) -> None:
    del kb["statements"][-1]


def _first_statement_removed(kb: KBDict) -> None:
    del kb["statements"][0]


def _person_inserted_first(kb: KBDict) -> None:
    kb["people"].insert(0, _new_person(kb, 5))


def _people_inserted_between(kb: KBDict) -> None:
    kb["people"][1:1] = [_new_person(kb, number) for number in (2, 3, 4)]


def _id_changed(kb: KBDict) -> None:
    kb["statements"][-1]["id"] = "an-edited-id"


def _name_handed_over(kb: KBDict) -> None:
    """The name of a person removed (the one `_person_inserted_first` added) goes to another:
    never claimed twice."""
    gone = kb["people"].pop(0)
    assert gone["id"].startswith("edited-person")
    kb["people"][-1]["name"] = gone["name"]


def _entities_swapped(kb: KBDict) -> None:
    kb["statements"][0], kb["statements"][1] = kb["statements"][1], kb["statements"][0]


def _person_moved_to_the_end(kb: KBDict) -> None:
    # Named in titles, statements and organisations: all of those are rewritten with it.
    kb["people"].append(kb["people"].pop(0))


def _last_source_moved_first(kb: KBDict) -> None:
    kb["sources"].insert(0, kb["sources"].pop())


def _no_room_left(kb: KBDict) -> None:
    # More entities than there are nums between two that a full build gave.
    kb["people"][0:0] = [_new_person(kb, number) for number in range(build.NUM_GAP)]


PATCHED_EDITS = [
    *CONTENT_EDITS,
    _person_renamed,
    _speaker_changed,
    _evidence_from_another_source,
    _source_file_changed,
    _article_added,
    _entity_removed,
    _first_statement_removed,
    _person_inserted_first,
    _people_inserted_between,
    _id_changed,
    _entities_swapped,
    _person_moved_to_the_end,
    _last_source_moved_first,
]
FULL_BUILD_EDITS = [_no_room_left]


@pytest.mark.parametrize(
    ("edit", "full_builds"),
    [(edit, 0) for edit in PATCHED_EDITS] + [(edit, 1) for edit in FULL_BUILD_EDITS],
    ids=lambda value: value.__name__.strip("_") if callable(value) else str(value),
)
def test_an_edit_gives_the_index_a_full_build_gives(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Edit, full_builds: int
) -> None:
    """Patched unless no num is left between two entities; made on top of an index patched
    already."""
    patched, fresh, builds = _edited(kb, tmp_path, monkeypatch, _statement_summary, edit)
    assert builds == full_builds
    assert patched == fresh
    assert any(rows for rows in fresh["ranks"])


def _newcomer_becomes_an_organisation(kb: KBDict) -> None:
    """The person `_person_inserted_first` added, named by no one, is now an organisation."""
    person = kb["people"].pop(0)
    assert person["id"].startswith("edited-person")
    organisation = dict(kb["organisations"][0], id=person["id"], name="Edited Organisation")
    organisation.update(acronym=None, aliases=[], shared_aliases=[], people=[], parent=None)
    kb["organisations"].insert(1, organisation)


@pytest.mark.parametrize(
    "then",
    [_name_handed_over, _newcomer_becomes_an_organisation],
    ids=["its-name-handed-over", "moved-to-another-section"],
)
def test_a_newcomer_removed_or_moved_again_is_patched(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: Edit
) -> None:
    patched, fresh, full_builds = _edited(kb, tmp_path, monkeypatch, _person_inserted_first, then)
    assert full_builds == 0
    assert patched == fresh


def test_patches_one_after_another_give_the_same_index(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edits = (*PATCHED_EDITS, _name_handed_over)
    patched, fresh, full_builds = _edited(kb, tmp_path, monkeypatch, *edits)
    assert full_builds == 0
    assert patched == fresh


def _dangling_event(kb: KBDict) -> None:
    kb["statements"][0]["event"] = "no-such-event"


def _figure_value_from_a_person(kb: KBDict) -> None:
    # Not a link: only the reference check can see it.
    kb["figures"][0]["values"][0]["source"] = kb["people"][0]["id"]


def _alias_taken(kb: KBDict) -> None:
    kb["people"][1]["aliases"].append(kb["people"][0]["name"])


def _newcomer_named_like_another(kb: KBDict) -> None:
    kb["people"].append(dict(_new_person(kb), name=kb["people"][0]["name"]))


def _newcomer_with_a_taken_id(kb: KBDict) -> None:
    kb["people"].append(dict(_new_person(kb), id=kb["people"][0]["id"]))


def _person_becomes_an_organisation(kb: KBDict) -> None:
    # Its id is still named where a person is expected: among an organisation's people.
    member = next(org["people"][0] for org in kb["organisations"] if org.get("people"))
    [person] = [person for person in kb["people"] if person["id"] == member]
    kb["people"].remove(person)
    organisation = dict(kb["organisations"][0], id=person["id"], name="Edited Organisation")
    organisation.update(acronym=None, aliases=[], shared_aliases=[], people=[], parent=None)
    kb["organisations"].append(organisation)


def _source_file_taken(kb: KBDict) -> None:
    kb["sources"][1]["file"] = kb["sources"][0]["file"]


@pytest.mark.parametrize(
    "edit",
    [
        _dangling_event,
        _figure_value_from_a_person,
        _alias_taken,
        _newcomer_named_like_another,
        _newcomer_with_a_taken_id,
        _source_file_taken,
        _person_becomes_an_organisation,
    ],
    ids=lambda edit: edit.__name__.strip("_"),
)
def test_an_edit_that_breaks_the_kb_gets_the_full_builds_error(
    kb: KBDict, tmp_path: Path, edit: Edit
) -> None:
    kb_path = _write(tmp_path / "kb.json", kb)
    _open_all(kb_path, tmp_path / "kept")
    edit(kb)
    _write(kb_path, kb)
    with pytest.raises(KBInvalidError) as patched:
        _open_all(kb_path, tmp_path / "kept")
    with pytest.raises(KBInvalidError) as fresh:
        _open_all(kb_path, tmp_path / "fresh")
    assert str(patched.value) == str(fresh.value)
    assert patched.value.problems == fresh.value.problems


def test_a_derived_table_not_cached_is_not_made_by_a_patch(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_path = _write(tmp_path / "kb.json", kb)
    open_store(kb_path, _env(tmp_path), fail_on_warning).close()
    core = index.cache_file_for(kb_path, _env(tmp_path))
    assert core is not None
    builds = _count_full_builds(monkeypatch)
    _statement_summary(kb)
    _write(kb_path, kb)
    open_store(kb_path, _env(tmp_path), fail_on_warning).close()
    assert builds == []
    assert sorted(path.name for path in core.parent.iterdir()) == [core.name]
    _open_all(kb_path, tmp_path)
    _open_all(kb_path, tmp_path / "fresh")
    assert _contents(kb_path, tmp_path) == _contents(kb_path, tmp_path / "fresh")


def test_an_index_replaced_while_the_patch_is_planned_is_built_in_full(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hanoi_cli import patch

    kb_path = _write(tmp_path / "kb.json", kb)
    _open_all(kb_path, tmp_path / "kept")
    core = index.cache_file_for(kb_path, _env(tmp_path / "kept"))
    assert core is not None
    plan = patch.plan

    def replaced_meanwhile(*args: Any) -> patch.Plan | None:
        planned = plan(*args)
        # As another process's build would: a new index under the same name.
        with sqlite3.connect(core) as connection:
            connection.execute("UPDATE meta SET value = 'another' WHERE key = 'build_id'")
        connection.close()
        return planned

    monkeypatch.setattr(patch, "plan", replaced_meanwhile)
    builds = _count_full_builds(monkeypatch)
    _statement_summary(kb)
    _write(kb_path, kb)
    _open_all(kb_path, tmp_path / "kept")
    assert builds == [1]
    _open_all(kb_path, tmp_path / "fresh")
    assert _contents(kb_path, tmp_path / "kept") == _contents(kb_path, tmp_path / "fresh")
    assert not list(core.parent.glob("*.tmp"))


def _string_leaves(node: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, str):
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from _string_leaves(value, (*path, position))


_REAL_KB: KBDict = json.loads(REPO_KB.read_text(encoding="utf-8"))
# Not the fields of a fixed form (a kind, a date, a file name): most edits there are
# rejected before any index is opened.
_FIXED = {"kind", "precision", "role", "comparator", "file", "language", "url", "value"}
_LEAVES = [path for path in _string_leaves(_REAL_KB) if path[-1] not in _FIXED]


@pytest.fixture(scope="module")
def indexed_real_kb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The real KB at a path of its own, and a cache home holding its index and tables."""
    directory = tmp_path_factory.mktemp("indexed")
    kb_path = _write(directory / "kb.json", _REAL_KB)
    _open_all(kb_path, directory / "base")
    return kb_path, directory / "base"


def _outcome(kb_path: Path, cache_home: Path) -> object:
    try:
        _open_all(kb_path, cache_home)
    except HanoiError as error:  # the same error from either build
        return type(error).__name__, str(error)
    return _contents(kb_path, cache_home)


_SECTIONS = [section for section in SECTIONS if _REAL_KB[section]]


def _move(kb: KBDict, how: str, section: str, at: int, to: int, *, number: int) -> None:
    """Removes, copies (under a new id) or moves the entity at `at` of `section`."""
    entities = kb[section]
    at %= len(entities)
    if how == "remove":
        del entities[at]
        return
    entity = entities.pop(at) if how == "move" else dict(entities[at], id=f"copy-{number}")
    entities.insert(to % (len(entities) + 1), entity)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(_LEAVES),
            st.booleans(),
            st.sampled_from(
                ["", "Guterres", "x", " 2,500 edited", "Lương Tam Quang", "vna-praise", "un"]
            ),
        ),
        max_size=3,
    ),
    moves=st.lists(
        st.tuples(
            st.sampled_from(["remove", "copy", "move"]),
            st.sampled_from(_SECTIONS),
            st.integers(0, 99),
            st.integers(0, 99),
        ),
        max_size=2,
    ),
)
def test_any_edit_gives_what_a_full_build_gives(
    indexed_real_kb: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    edits: list[tuple[tuple[Any, ...], bool, str]],
    moves: list[tuple[str, str, int, int]],
) -> None:
    """Any text of the KB replaced by, or extended with, a name, an id, a number or nothing,
    and entities removed, copied or moved: patched or built in full, the index (or the error)
    is the one a full build gives."""
    kb_path, base = indexed_real_kb
    kb = json.loads(json.dumps(_REAL_KB))
    for path, extend, text in edits:
        *parents, leaf = path
        node = kb
        for key in parents:
            node = node[key]
        node[leaf] = node[leaf] + text if extend else text
    for number, (how, section, at, to) in enumerate(moves):
        _move(kb, how, section, at, to, number=number)
    work = tmp_path_factory.mktemp("edit")
    shutil.copytree(base, work / "kept")
    original = kb_path.read_bytes()
    try:
        _write(kb_path, kb)
        kept = _outcome(kb_path, work / "kept")
        fresh = _outcome(kb_path, work / "fresh")
    finally:
        kb_path.write_bytes(original)
    assert kept == fresh


def test_a_cache_that_cannot_be_written_is_neither_patched_nor_required(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import tempfile

    kb_path = _write(tmp_path / "kb.json", kb)
    _open_all(kb_path, tmp_path)
    core = index.cache_file_for(kb_path, _env(tmp_path))
    assert core is not None
    before = core.read_bytes()

    def full(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    _statement_summary(kb)
    _write(kb_path, kb)
    warnings: list[str] = []
    store = open_store(kb_path, _env(tmp_path), warnings.append)
    try:
        rows = store.rows("SELECT data FROM entity WHERE id = ?", [kb["statements"][-1]["id"]])
    finally:
        store.close()
    assert warnings == [
        f"cache not written ({core.parent}: No space left on device); using an in-memory index"
    ]
    assert json.loads(rows[0][0])["summary"] == kb["statements"][-1]["summary"]
    assert core.read_bytes() == before
    assert not list(core.parent.glob("*.tmp"))


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE meta SET value = 'x' WHERE key = 'names:person'",
        "DELETE FROM meta WHERE key = 'names:person'",
        "UPDATE token SET entities = 'x'",
    ],
    ids=["count-not-a-number", "count-missing", "token-not-numbers"],
)
def test_an_old_index_that_does_not_read_right_is_built_in_full(
    kb: KBDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    kb_path = _write(tmp_path / "kb.json", kb)
    _open_all(kb_path, tmp_path / "kept")
    core = index.cache_file_for(kb_path, _env(tmp_path / "kept"))
    assert core is not None
    with sqlite3.connect(core) as connection:
        connection.execute(damage)
    connection.close()
    builds = _count_full_builds(monkeypatch)
    # An edit that reads what the damage broke: every person's name and its words.
    for person in kb["people"]:
        person["name"] += " Edited"
        for evidence in person["evidence"]:
            evidence["quote"] += " edited"
    _write(kb_path, kb)
    _open_all(kb_path, tmp_path / "kept")
    assert builds == [1]
    _open_all(kb_path, tmp_path / "fresh")
    assert _contents(kb_path, tmp_path / "kept") == _contents(kb_path, tmp_path / "fresh")
