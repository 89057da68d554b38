"""The index cache: never stale, never required, safe to share between processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from hanoi_cli import build, index
from hanoi_cli.errors import KBInvalidError, KBUnreadableError
from hanoi_cli.index import cache_file_for, cache_info, clear_cache, open_store
from hanoi_cli.query import find, search
from tests.kbfactory import KBDict, mini_kb_dict, write_kb


def _env(cache_home: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(cache_home)}


def _name(kb_path: Path, cache_home: Path, warnings: list[str] | None = None) -> str:
    store = open_store(kb_path, _env(cache_home), (warnings if warnings is not None else []).append)
    try:
        return find(store, "person", "Guterres")[0].name
    finally:
        store.close()


def _rename(name: str) -> object:
    def change(kb: KBDict) -> None:
        kb["people"][1]["name"] = name

    return change


def test_second_open_uses_the_cache_without_validating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_path = write_kb(tmp_path)
    assert _name(kb_path, tmp_path / "cache") == "António Guterres"
    # Make the file look old, so the stat check alone proves freshness.
    old = time.time_ns() - 60_000_000_000
    os.utime(kb_path, ns=(old, old))
    _name(kb_path, tmp_path / "cache")

    def fail(*_: object) -> None:
        raise AssertionError("the KB was parsed again")

    monkeypatch.setattr("hanoi_cli.loading.parse_kb", fail)
    assert _name(kb_path, tmp_path / "cache") == "António Guterres"


def test_changed_kb_is_never_answered_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path, _rename("Antonio First"))  # type: ignore[arg-type]
    assert _name(kb_path, cache) == "Antonio First"
    # Same size, same mtime: only the content hash can tell.
    stat = kb_path.stat()
    write_kb(tmp_path, _rename("Antonio Other"))  # type: ignore[arg-type]
    os.utime(kb_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert kb_path.stat().st_size == stat.st_size
    assert _name(kb_path, cache) == "Antonio Other"


def test_replaced_kb_file_is_detected(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path, _rename("Antonio One"))  # type: ignore[arg-type]
    assert _name(kb_path, cache) == "Antonio One"
    replacement = write_kb(tmp_path, _rename("Antonio Two"), "new.json")  # type: ignore[arg-type]
    replacement.replace(kb_path)
    assert _name(kb_path, cache) == "Antonio Two"


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not sqlite at all", b"SQLite format 3\x00" + b"\x00" * 50],
    ids=["empty", "text", "truncated-header"],
)
def test_corrupt_cache_is_rebuilt_silently(tmp_path: Path, garbage: bytes) -> None:
    kb_path = write_kb(tmp_path)
    cache_file = cache_file_for(kb_path, _env(tmp_path / "cache"))
    assert cache_file is not None
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(garbage)
    warnings: list[str] = []
    assert _name(kb_path, tmp_path / "cache", warnings) == "António Guterres"
    assert warnings == []
    assert sqlite3.connect(cache_file).execute("SELECT count(*) FROM entity").fetchone()[0] > 0


def test_foreign_sqlite_file_is_replaced(tmp_path: Path) -> None:
    kb_path = write_kb(tmp_path)
    cache_file = cache_file_for(kb_path, _env(tmp_path / "cache"))
    assert cache_file is not None
    cache_file.parent.mkdir(parents=True)
    sqlite3.connect(cache_file).execute("CREATE TABLE other(x)").connection.commit()
    assert _name(kb_path, tmp_path / "cache") == "António Guterres"


def test_unwritable_cache_falls_back_to_memory_with_one_warning(tmp_path: Path) -> None:
    kb_path = write_kb(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    warnings: list[str] = []
    assert _name(kb_path, blocker, warnings) == "António Guterres"
    assert len(warnings) == 1
    assert warnings[0].startswith("cache not written")
    assert blocker.read_text(encoding="utf-8").startswith("a file where")


def test_disk_full_while_writing_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_path = write_kb(tmp_path)

    def disk_full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "fill", _fill_then(disk_full))
    warnings: list[str] = []
    store = open_store(kb_path, _env(tmp_path / "cache"), warnings.append)
    store.close()
    assert warnings and "No space left on device" in warnings[0]
    assert list((tmp_path / "cache" / "hanoi-cli").iterdir()) == []


def _fill_then(failure: object) -> object:
    original = build.fill

    def fill(connection: sqlite3.Connection, *args: Any) -> None:
        if connection.execute("PRAGMA database_list").fetchone()[2]:  # a file, not :memory:
            failure()  # type: ignore[operator]
        original(connection, *args)

    return fill


def test_an_invalid_kb_with_an_unwritable_cache_reports_only_the_kb(tmp_path: Path) -> None:
    def dangling(kb: KBDict) -> None:
        kb["statements"][0]["speaker"] = "nobody-at-all"

    kb_path = write_kb(tmp_path, dangling)
    not_a_directory = tmp_path / "cache"
    not_a_directory.write_text("")
    warnings: list[str] = []
    with pytest.raises(KBInvalidError, match="nobody-at-all"):
        open_store(kb_path, _env(not_a_directory), warnings.append)
    assert warnings == []


def test_no_home_and_no_xdg_means_no_cache(tmp_path: Path) -> None:
    kb_path = write_kb(tmp_path)
    warnings: list[str] = []
    store = open_store(kb_path, {}, warnings.append)
    assert find(store, "person", "Guterres")[0].id == "antonio-guterres"
    assert warnings == []
    assert cache_file_for(kb_path, {}) is None


def _build_in_process(arguments: tuple[str, str]) -> str:
    kb_path, cache_home = arguments
    return _name(Path(kb_path), Path(cache_home))


def test_concurrent_builders_agree_and_leave_one_valid_cache(tmp_path: Path) -> None:
    kb_path = write_kb(tmp_path)
    cache = tmp_path / "cache"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        names = pool.map(_build_in_process, [(str(kb_path), str(cache))] * 8)
    assert set(names) == {"António Guterres"}
    files = sorted(path.name for path in (cache / "hanoi-cli").iterdir())
    # One core index (a name lookup needs no table built on first use); no temporary file.
    assert [name.split(".")[1:] for name in files] == [["sqlite"]]
    assert cache_info(kb_path, _env(cache)).fresh
    assert _name(kb_path, cache) == "António Guterres"


def _lookup(
    kb_path: Path, cache: Path, query: str, warnings: list[str] | None = None
) -> list[tuple[str, str]]:
    store = open_store(kb_path, _env(cache), (warnings if warnings is not None else []).append)
    try:
        return [(match.name, match.tier) for match in find(store, "person", query)]
    finally:
        store.close()


def _search(
    kb_path: Path, cache: Path, text: str, warnings: list[str] | None = None
) -> list[tuple[str, str]]:
    """`hanoi search`'s hits: it reads the full-text table, built on first use."""
    store = open_store(kb_path, _env(cache), (warnings if warnings is not None else []).append)
    try:
        return [(hit.id, hit.field) for hit in search(store, text)]
    finally:
        store.close()


def test_derived_table_of_an_older_index_is_never_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    assert [field for _, field in _search(kb_path, cache, "Minh")] == []
    assert cache_info(kb_path, _env(cache)).derived == ("fulltext",)
    write_kb(tmp_path, _rename("Lương Tâm Minh"))  # type: ignore[arg-type]
    # The old full-text file is still on disk, but it belongs to the previous core index.
    assert cache_info(kb_path, _env(cache)).derived == ()
    assert "name" in [field for _, field in _search(kb_path, cache, "Minh")]


def test_corrupt_derived_table_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    expected = _search(kb_path, cache, "Quang")
    assert expected
    [fulltext_file] = (cache / "hanoi-cli").glob("*.fulltext.sqlite")
    fulltext_file.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert _search(kb_path, cache, "Quang") == expected
    assert cache_info(kb_path, _env(cache)).derived == ("fulltext",)


def test_unwritable_cache_for_a_derived_table_falls_back_to_memory(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    assert _lookup(kb_path, cache, "António Guterres") == [("António Guterres", "exact")]
    [core] = (cache / "hanoi-cli").glob("*.sqlite")
    # A directory where the full-text file should go: it cannot be written.
    blocker = core.with_name(f"{core.stem}.fulltext.sqlite")
    blocker.mkdir()
    warnings: list[str] = []
    assert ("luong-tam-quang", "name") in _search(kb_path, cache, "Quang", warnings)
    assert len(warnings) == 1 and "in-memory fulltext index" in warnings[0]
    assert blocker.is_dir()


def test_missing_kb_is_reported_by_the_loader(tmp_path: Path) -> None:
    with pytest.raises(KBUnreadableError, match="no such file"):
        open_store(tmp_path / "absent.json", _env(tmp_path), [].append)
    with pytest.raises(KBUnreadableError, match="is a directory"):
        open_store(tmp_path, _env(tmp_path), [].append)


def test_cache_info_and_clear(tmp_path: Path) -> None:
    kb_path = write_kb(tmp_path)
    env = _env(tmp_path / "cache")
    assert cache_info(kb_path, env).exists is False
    _name(kb_path, tmp_path / "cache")
    info = cache_info(kb_path, env)
    assert info.exists and info.fresh and info.size_bytes > 0 and info.built
    # A name lookup reads the core alone: no table is built on first use.
    assert info.derived == ()
    assert ("luong-tam-quang", "name") in _search(kb_path, tmp_path / "cache", "Quang")
    info = cache_info(kb_path, env)
    assert info.derived == ("fulltext",)
    files = list((tmp_path / "cache" / "hanoi-cli").iterdir())
    assert info.size_bytes == sum(path.stat().st_size for path in files)
    kb_path.write_text(json.dumps(json.loads(kb_path.read_text("utf-8"))), encoding="utf-8")
    assert cache_info(kb_path, env).fresh is False
    assert clear_cache(env) == (tmp_path / "cache" / "hanoi-cli", 2)
    assert cache_info(kb_path, env).exists is False


def test_index_built_by_other_code_is_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_path = write_kb(tmp_path)
    env = _env(tmp_path / "cache")
    _name(kb_path, tmp_path / "cache")
    assert cache_info(kb_path, env).fresh
    monkeypatch.setattr(index, "_code_version", lambda: "9.9.9+1")
    assert cache_info(kb_path, env).fresh is False
    _name(kb_path, tmp_path / "cache")
    assert cache_info(kb_path, env).fresh


def test_figure_values_that_differ_only_in_wording_agree(tmp_path: Path) -> None:
    def reword(kb: KBDict) -> None:
        figure = kb["figures"][0]
        figure["values"] = [figure["values"][0], {**figure["values"][0], "comparator": "at-least"}]
        figure["breakdowns"] = []

    store = open_store(write_kb(tmp_path, reword), _env(tmp_path / "cache"), [].append)
    [match] = find(store, "figure", "signatories")
    assert match.document["sources_agree"] is True
    assert [value["display"] for value in match.document["values"]] == ["72", "at least 72"]


def test_damaged_derived_table_is_rebuilt_without_the_core(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    env = _env(cache)
    expected = _search(kb_path, cache, "historic")
    assert expected
    [core] = (cache / "hanoi-cli").glob("index-*-*[0-9].sqlite")
    core_stat = core.stat()
    [fulltext_file] = (cache / "hanoi-cli").glob("*.fulltext.sqlite")
    connection = sqlite3.connect(fulltext_file)
    [(root,)] = connection.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'fulltext_data'"
    )
    connection.close()
    # Junk in the table's own page; its meta table still says it belongs to this core.
    original = fulltext_file.read_bytes()
    start = (root - 1) * 4096
    damaged = original[:start] + b"\xff" * 4096 + original[start + 4096 :]
    fulltext_file.write_bytes(damaged)
    warnings: list[str] = []
    assert _search(kb_path, cache, "historic", warnings) == expected
    assert len(warnings) == 1 and "is damaged" in warnings[0]
    # Only the damaged table was rebuilt: the core is as it was.
    assert (core.stat().st_ino, core.stat().st_mtime_ns) == (
        core_stat.st_ino,
        core_stat.st_mtime_ns,
    )
    assert cache_info(kb_path, env).derived == ("fulltext",)
    assert fulltext_file.read_bytes() != damaged


def test_two_unwritable_derived_tables_give_one_warning(tmp_path: Path) -> None:
    kb = mini_kb_dict()
    template = kb["people"][0]
    # More names than are scanned whole, so a typo needs the trigram table as well.
    kb["people"] += [
        {**template, "id": f"person-{n}", "name": f"Person Number {n}", "aliases": []}
        for n in range(2_100)
    ]
    kb_path = tmp_path / "big.json"
    kb_path.write_text(json.dumps(kb), encoding="utf-8")
    cache = tmp_path / "cache"
    assert _lookup(kb_path, cache, "Lương Tam Quang")
    [core] = (cache / "hanoi-cli").glob("*.sqlite")
    for table in ("gram", "fulltext"):
        core.with_name(f"{core.stem}.{table}.sqlite").mkdir()
    warnings: list[str] = []
    store = open_store(kb_path, _env(cache), warnings.append)
    try:
        assert find(store, "person", "Lương Tam Quangg")[0].tier == "fuzzy"
        assert search(store, "historic")
    finally:
        store.close()
    assert len(warnings) == 1 and warnings[0].startswith("cache not written")


def test_core_without_a_build_id_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    expected = _lookup(kb_path, cache, "Tam")
    [core] = (cache / "hanoi-cli").glob("index-*-*[0-9].sqlite")
    connection = sqlite3.connect(core)
    connection.execute("DELETE FROM meta WHERE key = 'build_id'")
    connection.commit()
    connection.close()
    assert cache_info(kb_path, _env(cache)).fresh is False
    assert _lookup(kb_path, cache, "Tam") == expected
    assert cache_info(kb_path, _env(cache)).fresh is True


def test_temporary_files_left_by_a_killed_build_are_removed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    core = cache_file_for(kb_path, _env(cache))
    assert core is not None
    core.parent.mkdir(parents=True)
    stale = core.with_name(f"{core.name}.abc123.tmp")
    recent = core.with_name(f"{core.name}.def456.tmp")
    for path in (stale, recent):
        path.write_bytes(b"half an index")
    hour_ago = time.time_ns() - 3_600_000_000_000
    os.utime(stale, ns=(hour_ago, hour_ago))
    _name(kb_path, cache)
    # The old one was left by a killed build; the new one may be another build in progress.
    assert not stale.exists() and recent.exists()


def _no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise AssertionError("the KB was parsed again")

    monkeypatch.setattr("hanoi_cli.loading.parse_kb", fail)


@pytest.mark.parametrize("how", ["touched", "copied over", "rewritten"])
def test_same_bytes_with_a_new_stat_keep_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    assert _name(kb_path, cache) == "António Guterres"
    old = time.time_ns() - 60_000_000_000
    if how == "touched":
        os.utime(kb_path, ns=(old, old))
    elif how == "copied over":
        copy = tmp_path / "copy.json"
        copy.write_bytes(kb_path.read_bytes())
        os.utime(copy, ns=(old, old))
        copy.replace(kb_path)  # a new inode
    else:
        kb_path.write_bytes(kb_path.read_bytes())
        os.utime(kb_path, ns=(old, old))
    _no_parse(monkeypatch)
    # A change a few seconds old is hashed on every call (it may change again within one
    # timestamp tick); a shorter window here stands for those seconds having passed.
    monkeypatch.setattr(index, "RACY_NS", 1_000_000)
    time.sleep(0.01)
    assert _name(kb_path, cache) == "António Guterres"
    # The index now knows the new stat: the next call does not even hash the file.
    monkeypatch.setattr(index, "_sha256_of", lambda _: pytest.fail("hashed again"))
    assert _name(kb_path, cache) == "António Guterres"


def test_a_recent_change_is_hashed_until_its_window_has_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    _name(kb_path, cache)
    hashes: list[Path] = []
    real_sha = index._sha256_of
    monkeypatch.setattr(index, "_sha256_of", lambda path: hashes.append(path) or real_sha(path))
    # Half a second stands for the few seconds in which a file may change again unseen.
    monkeypatch.setattr(index, "RACY_NS", 500_000_000)
    kb_path.touch()  # mtime and ctime: now
    _name(kb_path, cache)
    _name(kb_path, cache)
    assert len(hashes) == 2  # within the window every call proves the bytes
    time.sleep(0.6)
    _name(kb_path, cache)  # past it: hashed once more, and recorded
    for _ in range(3):
        _name(kb_path, cache)
    assert len(hashes) == 3


def _built_core(tmp_path: Path) -> tuple[Path, Path]:
    """A KB and its cached core index."""
    kb_path = write_kb(tmp_path)
    _name(kb_path, tmp_path / "cache")
    core = cache_file_for(kb_path, _env(tmp_path / "cache"))
    assert core is not None and core.is_file()
    return kb_path, core


def test_restamp_leaves_an_index_built_meanwhile_alone(tmp_path: Path) -> None:
    kb_path, core = _built_core(tmp_path)
    before = dict(sqlite3.connect(core).execute("SELECT key, value FROM meta").fetchall())
    os.utime(kb_path, ns=(1, 1))
    index._restamp(core, "another build", kb_path.stat(), time.time_ns())
    after = dict(sqlite3.connect(core).execute("SELECT key, value FROM meta").fetchall())
    assert after == before


def _damage_entity_pages(core: Path, *tables: str) -> None:
    """Junk in the root page of each table (default: `entity`); the meta table stays."""
    connection = sqlite3.connect(core)
    roots = [
        connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[
            0
        ]
        for table in tables or ("entity",)
    ]
    connection.close()
    data = core.read_bytes()
    for root in roots:
        start = (root - 1) * 4096
        data = data[:start] + b"\xff" * 4096 + data[start + 4096 :]
    core.write_bytes(data)


def test_a_rebuilt_core_that_is_damaged_too_falls_back_to_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing disk: every core written is damaged. One warning, the right answer."""
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    expected = _lookup(kb_path, cache, "Tam")  # the token table is cached too
    [core] = (cache / "hanoi-cli").glob("index-*-*[0-9].sqlite")
    _damage_entity_pages(core)
    real_build = index._build

    def failing_disk(path: Path, cache_file: Path | None, warn: object) -> sqlite3.Connection:
        connection = real_build(path, cache_file, warn)  # type: ignore[arg-type]
        if cache_file is not None and cache_file.exists():
            connection.close()
            # The name table too: providing the token table again meets the damage.
            _damage_entity_pages(cache_file, "entity", "name")
            return sqlite3.connect(f"{cache_file.resolve().as_uri()}?mode=ro", uri=True)
        return connection

    monkeypatch.setattr(index, "_build", failing_disk)
    warnings: list[str] = []
    assert _lookup(kb_path, cache, "Tam", warnings) == expected
    assert len(warnings) == 1 and "is damaged" in warnings[0]


def test_damaged_core_and_an_unwritable_cache_give_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    expected = _lookup(kb_path, cache, "António Guterres")
    [core] = (cache / "hanoi-cli").glob("index-*-*[0-9].sqlite")
    _damage_entity_pages(core)

    def read_only(*_: object, **__: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    warnings: list[str] = []
    assert _lookup(kb_path, cache, "António Guterres", warnings) == expected
    assert len(warnings) == 1 and "is damaged" in warnings[0]


def test_restamp_never_creates_a_cache_file(tmp_path: Path) -> None:
    kb_path, core = _built_core(tmp_path)
    build_id = dict(sqlite3.connect(core).execute("SELECT key, value FROM meta"))["build_id"]
    core.unlink()  # `hanoi cache clear` in another process
    index._restamp(core, build_id, kb_path.stat(), time.time_ns())
    assert not core.exists()


@pytest.mark.parametrize(
    ("crowded", "left"),
    [(True, ["sqlite"]), (False, ["fulltext", "sqlite"])],
    ids=["built", "patched"],
)
def test_a_new_core_keeps_no_table_of_the_old_one_but_those_it_patched(
    tmp_path: Path, crowded: bool, left: list[str]
) -> None:
    cache = tmp_path / "cache"
    kb_path = write_kb(tmp_path)
    store = open_store(kb_path, _env(cache), [].append)
    search(store, "historic")
    store.close()
    assert cache_info(kb_path, _env(cache)).derived == ("fulltext",)
    # A table that an older version built beside the core, and this one no longer does.
    [core] = (cache / "hanoi-cli").glob("index-*-*[0-9].sqlite")
    core.with_name(f"{core.stem}.token.sqlite").write_bytes(b"SQLite format 3\x00")

    def renamed(kb: KBDict) -> None:
        _rename("Antonio Other")(kb)  # type: ignore[operator]
        if crowded:  # more people before the first than nums left there: built anew
            kb["people"][0:0] = [
                {**kb["people"][0], "id": f"new-{n}", "name": f"New {n}", "aliases": []}
                for n in range(build.NUM_GAP)
            ]

    write_kb(tmp_path, renamed)
    # The "Guterres" lookup of a new core needed no table built on first use.
    assert _name(kb_path, cache) == "Antonio Other"
    names = sorted(path.name.split(".")[1] for path in (cache / "hanoi-cli").iterdir())
    assert names == left
    assert cache_info(kb_path, _env(cache)).derived == tuple(left[:-1])
