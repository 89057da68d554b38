"""The index: SQLite files of entity rows, links and pre-folded name keys, and the cache.

The core is built once per KB content from the validated models (`build.py`) and kept in the
cache directory, so a warm query opens one file, runs a few indexed lookups and assembles its
answer from a handful of rows (`views.py`): no pydantic, no full JSON parse, whatever the KB's
size. A big KB's core is built by two processes (`parallel.py`): a forked child checks the KB
and folds its names while the parent writes the entity rows. The trigram and full-text tables
(`derived.py`) are built from the core the first time a query needs them and cached beside
it, each tied to its core by a build id. After an edit of the KB (entities changed, added,
removed or moved), the rows that change are patched into copies of the cached files instead
of rebuilt (`patch.py`): the same tables, in half the time at 100,000 people.

The cache is never required. It is keyed by the KB's path and checked against the file's size,
mtime, ctime and inode (and its SHA-256 when the file changed within the last seconds of a
build). It is written to a temporary file and renamed into place, so readers never see half a
file and two builders cannot corrupt it. A cache that cannot be written, or cannot be read,
falls back to an index in memory with one warning on stderr.
"""

from __future__ import annotations

import binascii
import contextlib
import gc
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from hanoi_cli import __version__
from hanoi_cli.errors import KBUnreadableError
from hanoi_cli.paths import cache_dir
from hanoi_cli.views import Assembler, EntityRow

if TYPE_CHECKING:
    from hanoi_cli.build import NameTables
    from hanoi_cli.errors import Problem
    from hanoi_cli.models import KnowledgeBase

INDEX_FORMAT = "4"
RACY_NS = 3_000_000_000
"""A KB modified this close to the build may have changed again within the same mtime tick."""

Warn = Callable[[str], None]
_T = TypeVar("_T")
Doc = dict[str, Any]
Row = tuple[Any, ...]

_BATCH = 500
"""Documents assembled, or ids bound, per query: far below SQLite's cap on parameters."""


class CacheInfo(NamedTuple):
    kb_path: Path
    cache_file: Path | None
    exists: bool
    fresh: bool
    size_bytes: int
    built: str | None
    derived: tuple[str, ...] = ()
    """The tables built on first use that are cached for this index (`gram`, `fulltext`)."""


class Store:
    """Read access to a built index. The query layer's only view of the KB."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        kb_path: Path,
        warn: Warn,
        cache_file: Path | None = None,
    ) -> None:
        self.connection = connection
        self.kb_path = kb_path
        self._warn = warn
        # The cache file this index was read from, while it may still be rebuilt in place.
        self._cache_file = cache_file
        self._ready: set[str] = set()
        self._attached: set[str] = set()
        self._derived_repaired = False

    def require(self, table: str) -> None:
        """Makes a derived table (`gram`, `fulltext`) queryable.

        A fresh copy in the cache is attached; otherwise it is built now from the core tables
        and cached beside them, so only the first query that needs it after a KB change pays.
        """
        if table not in self._ready:
            self._retrying(lambda: self._provide(table))
            self._ready.add(table)

    def _provide(self, table: str) -> None:
        core_file = _database_file(self.connection)
        build_id = _read_meta(self.connection).get("build_id", "") if core_file else ""
        derived = _derived_file(core_file, table) if core_file is not None else None
        if derived is not None and _attach_fresh(self.connection, derived, table, build_id):
            self._attached.add(table)
            return
        from hanoi_cli.derived import derived_rows, write_derived

        # Reading the core may find it damaged: that error is the caller's to recover from.
        rows = derived_rows(table, self.connection)
        if derived is not None:
            try:
                _write_atomically(
                    derived, lambda target: _fill_derived(target, table, rows, build_id)
                )
            except (OSError, sqlite3.Error) as error:
                reason = getattr(error, "strerror", None) or str(error)
                self._warn(
                    f"cache not written ({derived.parent}: {reason}); "
                    f"using an in-memory {table} index"
                )
            else:
                if _attach_fresh(self.connection, derived, table, build_id):
                    self._attached.add(table)
                    return
                # Replaced at once by a build for a newer KB: keep this process's own copy.
        # In memory, not in a temporary file that a full /tmp could refuse.
        self.connection.execute("PRAGMA temp_store = MEMORY")
        write_derived(table, rows, self.connection, "temp")

    def rows(self, sql: str, parameters: Iterable[Any] = ()) -> list[Row]:
        values = tuple(parameters)
        return self._retrying(lambda: self._execute(sql, values))

    def _execute(self, sql: str, parameters: Row) -> list[Row]:
        return self.connection.execute(sql, parameters).fetchall()

    def _retrying(self, attempt: Callable[[], _T]) -> _T:
        """Runs `attempt`, repairing a damaged index and running it again until one repair
        is left to try. SQLite finds a damaged page only when a query reads it."""
        while True:
            try:
                return attempt()
            except (sqlite3.DatabaseError, ValueError) as error:
                self._repair(error)

    def _repair(self, error: Exception) -> None:
        """The cheapest repair not tried yet: the derived tables, then the core file, then an
        index in memory. A repair that meets damage itself gives way to the next one; when
        every repair has been tried, `error` is raised."""
        for repair in (self._repair_derived, self._repair_core, self._repair_in_memory):
            try:
                if repair(error):
                    return
            except (sqlite3.DatabaseError, ValueError):
                continue
        raise error

    def _damaged(self, error: Exception, what: str) -> None:
        core = _database_file(self.connection)
        self._warn(f"index cache {core or 'in memory'}{what} is damaged ({error}); rebuilding it")

    def _repair_derived(self, error: Exception) -> bool:
        if not self._attached or self._derived_repaired:
            return False
        self._derived_repaired = True
        # SQLite does not say which attached file the damaged page is in.
        self._damaged(error, " (or a table cached beside it)")
        core_file = _database_file(self.connection)
        for table in sorted(self._attached):
            self.connection.execute(f"DETACH DATABASE {table}_index")
            self._attached.discard(table)
            if core_file is not None:
                with contextlib.suppress(OSError):
                    _derived_file(core_file, table).unlink()
            self._provide(table)
        return True

    def _repair_core(self, error: Exception) -> bool:
        if self._cache_file is None:
            return False
        cache_file, self._cache_file = self._cache_file, None
        self._damaged(error, "")
        with contextlib.suppress(OSError):
            cache_file.unlink()
        self._replace_connection(_build(self.kb_path, cache_file, self._warn))
        return True

    def _repair_in_memory(self, error: Exception) -> bool:
        if _database_file(self.connection) is None:
            return False
        # A rebuilt file that is damaged too (a failing disk): an index in memory.
        self._damaged(error, "")
        self._replace_connection(_build(self.kb_path, None, self._warn))
        return True

    def _replace_connection(self, connection: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.connection.close()
        self.connection = connection
        self._attached.clear()
        self._derived_repaired = False
        # The query being retried may read a derived table: provide it from the new index.
        for table in sorted(self._ready):
            self._provide(table)

    def documents(self, nums: Iterable[int]) -> dict[int, Doc]:
        """The answer document of each entity, assembled from its row and links."""
        wanted = list(dict.fromkeys(nums))
        found: dict[int, Doc] = {}
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            found.update(self._retrying(partial(self._assemble, batch)))
        return found

    def all_documents(self, kind: str) -> Iterator[Doc]:
        """Every document of a kind, in the KB's order, a batch at a time."""
        nums = [
            num
            for (num,) in self.rows("SELECT num FROM entity WHERE kind = ? ORDER BY num", [kind])
        ]
        for start in range(0, len(nums), _BATCH):
            # A fresh assembler per batch: memory stays flat however big the KB is.
            yield from self.documents(nums[start : start + _BATCH]).values()

    def _assemble(self, nums: list[int]) -> dict[int, Doc]:
        return Assembler(self._entity_rows, self._links).documents(nums)

    def rows_in(self, sql: str, values: Sequence[Any]) -> list[Row]:
        """`rows` for a query whose `{marks}` is an `IN (...)` list of `values`."""
        return select_in(self.rows, sql, values)

    def _entity_rows(self, column: str, values: Sequence[Any]) -> list[EntityRow]:
        sql = f"SELECT num, id, kind, name, data FROM entity WHERE {column} IN ({{marks}})"
        return [EntityRow(*row) for row in select_in(self._execute, sql, values)]

    def _links(self, targets: Sequence[int]) -> list[tuple[int, str, int]]:
        sql = "SELECT target, role, source FROM link WHERE target IN ({marks}) ORDER BY rowid"
        return select_in(self._execute, sql, targets)

    def close(self) -> None:
        self.connection.close()


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """An index file opened read-only: never created, never written through this connection."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _database_file(connection: sqlite3.Connection) -> Path | None:
    """The file behind a connection's main database; None for one in memory."""
    for _, schema, file in connection.execute("PRAGMA database_list"):
        if schema == "main":
            return Path(file) if file else None
    return None


def _derived_file(core_file: Path, table: str) -> Path:
    """`index-....sqlite` -> `index-....gram.sqlite`: removed with it by `cache clear`."""
    return core_file.with_name(f"{core_file.stem}.{table}.sqlite")


def _attach_fresh(connection: sqlite3.Connection, path: Path, table: str, build_id: str) -> bool:
    """Attaches the derived `table` at `path` if it was built from this very core index."""
    if not path.is_file():
        return False
    schema = f"{table}_index"
    try:
        connection.execute(
            f"ATTACH DATABASE ? AS {schema}", (f"{path.resolve().as_uri()}?mode=ro",)
        )
    except sqlite3.Error:
        return False
    try:
        found = connection.execute(f"SELECT value FROM {schema}.meta WHERE key = 'core'").fetchone()
        fresh = found is not None and found[0] == build_id
    except sqlite3.Error:
        fresh = False
    if not fresh:
        connection.execute(f"DETACH DATABASE {schema}")
    return fresh


def _fill_derived(
    target: sqlite3.Connection, table: str, rows: list[tuple[object, ...]], build_id: str
) -> None:
    from hanoi_cli.derived import write_derived

    target.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    target.execute("INSERT INTO meta VALUES ('core', ?)", (build_id,))
    write_derived(table, rows, target)


def _stat_key(stat: os.stat_result) -> dict[str, str]:
    return {
        "kb_size": str(stat.st_size),
        "kb_mtime_ns": str(stat.st_mtime_ns),
        "kb_ctime_ns": str(stat.st_ctime_ns),
        "kb_inode": str(stat.st_ino),
    }


def cache_file_for(kb_path: Path, environ: Mapping[str, str]) -> Path | None:
    directory = cache_dir(environ)
    if directory is None:
        return None
    # CRC-32 only names the file (binascii loads in 0.2 ms, hashlib in 3 ms); the path stored
    # inside the index is what proves it belongs to this KB.
    path_bytes = os.fsencode(kb_path.absolute())
    return directory / f"index-{binascii.crc32(path_bytes):08x}-{len(path_bytes)}.sqlite"


def _path_text(kb_path: Path) -> str:
    """The KB's absolute path as text; bytes that are not UTF-8 are shown as `\\xff`."""
    return os.fsencode(kb_path.absolute()).decode("utf-8", "backslashreplace")


def select_in(run: Callable[[str, Row], list[Row]], sql: str, values: Sequence[Any]) -> list[Row]:
    """Runs `sql`, whose `{marks}` is an `IN (...)` list, over `values` a batch at a time."""
    rows: list[Row] = []
    for start in range(0, len(values), _BATCH):
        batch = tuple(values[start : start + _BATCH])
        rows += run(sql.format(marks=",".join("?" * len(batch))), batch)
    return rows


class _WarnOnce:
    """Passes on the first warning and drops the rest."""

    def __init__(self, warn: Warn) -> None:
        self._warn: Warn | None = warn

    def __call__(self, message: str) -> None:
        if self._warn is not None:
            warn, self._warn = self._warn, None
            warn(message)


def open_store(
    kb_path: Path, environ: Mapping[str, str], warn: Warn, keep_build: bool = False
) -> Store:
    """A store for the KB at `kb_path`: from the cache when it is fresh, else built now.

    `keep_build`: a KB validated to build the index is kept, never freed: for a process that
    ends with `os._exit` after a small answer, which drops the memory whole. Freeing a
    100,000-person KB's models one by one takes ~0.35 s; keeping them holds their ~600 MiB
    while the command runs, so a command that goes on to build a large output frees them.
    """
    # One command, one warning at most (the build's and the store's): the first trouble is
    # the one worth reading.
    warn = _WarnOnce(warn)
    stat = _stat_kb(kb_path)
    cache_file = cache_file_for(kb_path, environ)
    if cache_file is not None:
        connection = _open_cached(cache_file, kb_path, stat)
        if connection is not None:
            return Store(connection, kb_path, warn, cache_file)
    return Store(_build(kb_path, cache_file, warn, keep_build), kb_path, warn)


def _stat_kb(kb_path: Path) -> os.stat_result:
    try:
        stat = kb_path.stat()
    except OSError:
        stat = None
    if stat is None or not kb_path.is_file():
        # Let the loader word the error: missing, a directory, permission denied.
        from hanoi_cli.loading import read_kb_bytes

        read_kb_bytes(kb_path)
        raise KBUnreadableError(f"{kb_path}: not a regular file")
    return stat


def _read_meta(connection: sqlite3.Connection) -> dict[str, str]:
    return dict(connection.execute("SELECT key, value FROM meta").fetchall())


def _open_cached(
    cache_file: Path, kb_path: Path, stat: os.stat_result
) -> sqlite3.Connection | None:
    """The cached index if it is for this KB content and this version, else None."""
    if not cache_file.is_file():
        return None
    connection = None
    try:
        connection = _connect_read_only(cache_file)
        meta = _read_meta(connection)
        same_build = _same_build(meta, _path_text(kb_path))
        same_stat = all(meta.get(key) == value for key, value in _stat_key(stat).items())
        # A KB changed within a few seconds of the build (or of the last check) may have
        # changed again within one timestamp tick: only its content hash can prove the cache
        # is for these bytes. ctime counts too: `cp -p` and `touch -d` set an old mtime.
        changed_ns = max(stat.st_mtime_ns, stat.st_ctime_ns)
        racy = changed_ns + RACY_NS > int(meta.get("built_ns", "0"))
        fresh = same_build and same_stat and not racy
        if same_build and not fresh:
            # Racy, or touched, copied or checked out again: the same bytes keep the index.
            checked_ns = time.time_ns()
            fresh = meta.get("kb_sha256") == _sha256_of(kb_path)
            if fresh and (not same_stat or checked_ns > changed_ns + RACY_NS):
                # Recorded, so that the next call need not hash the file again.
                _restamp(cache_file, meta["build_id"], stat, checked_ns)
    except (sqlite3.Error, OSError, ValueError):
        # A corrupt, truncated or foreign file: rebuild as if there were none.
        fresh = False
    if not fresh and connection is not None:
        connection.close()
    return connection if fresh else None


def _same_build(meta: dict[str, str], kb_path_text: str) -> bool:
    """Whether an index with `meta` was built by this code for the KB at this path."""
    return (
        meta.get("format") == INDEX_FORMAT
        and meta.get("version") == _code_version()
        and meta.get("kb_path") == kb_path_text
        and "build_id" in meta
    )


def _restamp(cache_file: Path, build_id: str, stat: os.stat_result, checked_ns: int) -> None:
    """Records the KB's new stat in an index its bytes still fit, so the next call need not
    hash the file again. Best effort: a read-only or busy cache is checked again next time."""
    try:
        # `mode=rw`: a cache cleared meanwhile is not created again, empty.
        uri = f"{cache_file.resolve().as_uri()}?mode=rw"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=0.2)) as connection:
            # No journal: a torn write is found like any damage and rebuilt, and no journal
            # file is left for SQLite to replay into an index renamed into place later.
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("BEGIN IMMEDIATE")
            found = connection.execute("SELECT value FROM meta WHERE key = 'build_id'").fetchone()
            # Another process may have renamed a new index into place since it was read.
            if found is not None and found[0] == build_id:
                # Hashed after `checked_ns`: a change after that is within the racy window.
                changes = {**_stat_key(stat), "built_ns": str(checked_ns)}
                connection.executemany(
                    "UPDATE meta SET value = ? WHERE key = ?",
                    [(value, key) for key, value in changes.items()],
                )
            connection.commit()
    except (sqlite3.Error, OSError):
        pass


_INDEX_CODE = (
    "models.py",
    "checks.py",
    "build.py",
    "derived.py",
    "patch.py",
    "views.py",
    "index.py",
    "text.py",
)


def _code_version() -> str:
    """The release plus when the code that shapes the index last changed.

    An upgrade changes the release; an edited source checkout changes the files' mtimes. Either
    way an index built by other code is not reused.
    """
    package = Path(__file__).parent
    stamps = []
    for name in _INDEX_CODE:
        try:
            stamps.append((package / name).stat().st_mtime_ns)
        except OSError:
            stamps.append(0)
    return f"{__version__}+{max(stamps)}"


def _sha256_of(kb_path: Path) -> str:
    import hashlib

    try:
        with kb_path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return ""


def _build(
    kb_path: Path, cache_file: Path | None, warn: Warn, keep: bool = False
) -> sqlite3.Connection:
    # Validating a KB makes millions of small objects and no garbage cycles; with the cyclic
    # collector running, validating a 100,000-person KB took 6.6 s instead of 1.2 s.
    with _collector_paused():
        connection = _build_now(kb_path, cache_file, warn, keep)
        if keep:
            # Kept for good: no collection needs to walk them again.
            gc.freeze()
        return connection


_KEPT: list[object] = []
"""What builds asked to keep (`open_store(keep_build=True)`) made: never freed."""


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build_now(
    kb_path: Path, cache_file: Path | None, warn: Warn, keep: bool
) -> sqlite3.Connection:
    import hashlib

    from hanoi_cli.build import NameTables, fill, numbering
    from hanoi_cli.loading import invalid_kb, read_kb_bytes, validate_kb
    from hanoi_cli.parallel import Aside

    built_ns = time.time_ns()
    stat = kb_path.stat()
    raw = read_kb_bytes(kb_path)
    kb = validate_kb(raw, kb_path)
    meta = {
        "format": INDEX_FORMAT,
        "version": _code_version(),
        # A path that is not UTF-8 cannot be stored as SQLite text: keep its bytes readable.
        "kb_path": _path_text(kb_path),
        "kb_sha256": hashlib.sha256(raw).hexdigest(),
        "built_ns": str(built_ns),
        # Names this build: a derived table cached beside it is used only with the same id.
        "build_id": f"{built_ns}-{os.getpid()}",
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built_ns / 1e9)),
        **_stat_key(stat),
    }
    big = len(raw) >= PARALLEL_BYTES
    del raw
    if cache_file is not None and _patched(cache_file, kb, meta):
        if keep:
            _KEPT.append(kb)
        return _connect_read_only(cache_file)
    num_of = numbering(kb)
    work = partial(_checked_names, kb, num_of)
    # A big KB's checks and name keys are built by a second process meanwhile: at 100,000
    # people they are half the build. Forking a small KB costs more than it saves.
    with Aside(work, fork=big) as checked:
        if keep:
            _KEPT.append((kb, num_of, checked))

        def names() -> NameTables:
            found = checked.result()
            if isinstance(found, NameTables):
                return found
            raise invalid_kb(kb_path, found)

        def fill_core(connection: sqlite3.Connection) -> None:
            fill(connection, kb, num_of, meta, names)

        if cache_file is not None:
            try:
                return _build_file(fill_core, cache_file)
            except (OSError, sqlite3.Error) as error:
                # An invalid KB is the error to report, not the cache it could not be written to.
                names()
                reason = getattr(error, "strerror", None) or str(error)
                warn(f"cache not written ({cache_file.parent}: {reason}); using an in-memory index")
        connection = sqlite3.connect(":memory:")
        fill_core(connection)
        return connection


PARALLEL_BYTES = 1 << 20
"""KBs this big (about 1,400 people) build their checks and name keys in a second process.
Measured builds: even at 0.7 MiB the fork costs no more than it saves; at 2 MiB it saves 20%,
at 7 MiB 25%."""


def _patched(cache_file: Path, kb: KnowledgeBase, meta: dict[str, str]) -> bool:
    """Brings the cached index of an earlier version of this KB up to date by rewriting the
    rows of the entities that changed (`patch.py`) in a copy renamed into place, and so the
    derived tables cached with it. False if only a full build can: none is cached, it is of
    another format, the KB changed in a way a patch cannot follow, or it cannot be written.
    """
    from hanoi_cli.derived import DERIVED_SCHEMA
    from hanoi_cli.patch import apply_to_core, apply_to_derived, plan

    try:
        with contextlib.closing(_connect_read_only(cache_file)) as old:
            old_meta = _read_meta(old)
            patch = plan(old, kb) if _same_build(old_meta, meta["kb_path"]) else None
        if patch is None:
            return False

        def fill_core(connection: sqlite3.Connection) -> None:
            # Another process may have renamed a new index into place since it was planned.
            if _read_meta(connection).get("build_id") != old_meta["build_id"]:
                raise _NotFilled
            apply_to_core(connection, patch, meta)

        _write_atomically(cache_file, fill_core, copy_of=cache_file)
    except (_NotFilled, OSError, sqlite3.Error, ValueError, KeyError, TypeError):
        # Not written, or an old index whose rows do not read as this code wrote them
        # (damaged, or foreign): a full build replaces it.
        return False
    for table in DERIVED_SCHEMA:

        def fill_derived(connection: sqlite3.Connection, table: str = table) -> None:
            found = connection.execute("SELECT value FROM meta WHERE key = 'core'").fetchone()
            if found != (old_meta["build_id"],):
                raise _NotFilled
            apply_to_derived(table, connection, patch)
            connection.execute("UPDATE meta SET value = ? WHERE key = 'core'", (meta["build_id"],))

        # Not cached, or for another core: built again on first use. A file left for another
        # core is not removed: a reader of the new one may have just built it afresh.
        derived = _derived_file(cache_file, table)
        with contextlib.suppress(_NotFilled, OSError, sqlite3.Error, ValueError):
            _write_atomically(derived, fill_derived, copy_of=derived)
    _remove_derived(cache_file, keep=DERIVED_SCHEMA)
    return True


def _checked_names(kb: KnowledgeBase, num_of: dict[str, int]) -> NameTables | tuple[Problem, ...]:
    """The KB's name and token rows, or the problems `find_problems` found in it."""
    from hanoi_cli.build import name_tables
    from hanoi_cli.checks import find_problems

    return tuple(find_problems(kb)) or name_tables(kb, num_of)


def _build_file(
    fill_core: Callable[[sqlite3.Connection], None], cache_file: Path
) -> sqlite3.Connection:
    _write_atomically(cache_file, fill_core)
    # The derived tables beside it belong to the index just replaced: never used again.
    _remove_derived(cache_file)
    return _connect_read_only(cache_file)


def _remove_derived(cache_file: Path, keep: Iterable[str] = ()) -> None:
    """Removes the derived tables cached beside `cache_file`, but those named in `keep`; and
    so the tables an older version built that this one does not (`.token.sqlite` before
    format 3)."""
    from glob import escape

    kept = {_derived_file(cache_file, table) for table in keep}
    for derived in cache_file.parent.glob(f"{escape(cache_file.stem)}.*.sqlite"):
        if derived not in kept:
            with contextlib.suppress(OSError):
                derived.unlink()


def _write_atomically(
    path: Path, fill: Callable[[sqlite3.Connection], None], copy_of: Path | None = None
) -> None:
    """Writes a SQLite file with `fill` beside `path` (into a copy of `copy_of`, if given),
    then renames it into place.

    Atomic: a reader sees the old file or the new one, never a partial file, and two
    processes writing at once leave one of their files, whole.
    """
    import shutil

    with _replacing(path) as temporary:
        if copy_of is not None:
            shutil.copyfile(copy_of, temporary)
        _fill_file(temporary, fill)


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[str]:
    """A new temporary file beside `path`, renamed over `path` when the block ends normally and
    removed when it does not (an error, Ctrl-C, SIGTERM, or a process that filled it killed)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield temporary
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def _fill_file(temporary: str, fill: Callable[[sqlite3.Connection], None]) -> None:
    connection = sqlite3.connect(temporary)
    try:
        # No journal: a failed build leaves a temporary file that is deleted, not repaired.
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        fill(connection)
        connection.commit()
    finally:
        connection.close()


STALE_TEMPORARY_NS = 600_000_000_000
"""A temporary file this old is not another process's build in progress (a 100,000-person
build takes seconds): it was left by a build that was killed."""


def _remove_stale_temporaries(path: Path) -> None:
    from glob import escape

    now = time.time_ns()
    for temporary in path.parent.glob(f"{escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - temporary.stat().st_mtime_ns > STALE_TEMPORARY_NS:
                temporary.unlink()


def cache_info(kb_path: Path, environ: Mapping[str, str]) -> CacheInfo:
    cache_file = cache_file_for(kb_path, environ)
    if cache_file is None or not cache_file.is_file():
        return CacheInfo(kb_path, cache_file, False, False, 0, None)
    size = cache_file.stat().st_size
    try:
        stat = kb_path.stat()
    except OSError:
        stat = None
    connection = _open_cached(cache_file, kb_path, stat) if stat is not None else None
    if connection is None:
        return CacheInfo(kb_path, cache_file, True, False, size, None)
    from hanoi_cli.derived import DERIVED_SCHEMA

    derived: list[str] = []
    try:
        meta = _read_meta(connection)
        for table in DERIVED_SCHEMA:
            path = _derived_file(cache_file, table)
            if _attach_fresh(connection, path, table, meta.get("build_id", "")):
                # Gone already if another process cleared the cache meanwhile.
                with contextlib.suppress(OSError):
                    size += path.stat().st_size
                    derived.append(table)
    finally:
        connection.close()
    return CacheInfo(kb_path, cache_file, True, True, size, meta.get("built"), tuple(derived))


def build_cache(kb_path: Path, environ: Mapping[str, str], warn: Warn) -> CacheInfo:
    """Builds the index of the KB now, unless it is fresh, and every table built on first use:
    after it, no query waits for a build until the KB changes again."""
    from hanoi_cli.derived import DERIVED_SCHEMA
    from hanoi_cli.parallel import Aside

    store = open_store(kb_path, environ, warn)
    try:
        *firsts, last = DERIVED_SCHEMA
        core_file = _database_file(store.connection)
        if core_file is not None:
            # The last table (the full text, the longest) is built meanwhile by a second
            # process, into a temporary file this one renames into place, or removes if that
            # process did not fill it (killed, or no need). `require` below then finds it
            # fresh, or builds it here and warns of what stood in the way.
            with contextlib.suppress(_NotFilled, OSError, sqlite3.Error):
                derived = _derived_file(core_file, last)
                with _replacing(derived) as temporary:
                    fill = partial(_fill_derived_file, core_file, last, temporary)
                    with Aside(fill) as side:
                        for table in firsts:
                            store.require(table)
                        if not side.result():
                            raise _NotFilled
        for table in DERIVED_SCHEMA:
            store.require(table)
    finally:
        store.close()
    return cache_info(kb_path, environ)


class _NotFilled(Exception):
    """A temporary file not to be renamed into place: left empty, or filled from a file that
    another process replaced meanwhile."""


def _fill_derived_file(core_file: Path, table: str, temporary: str) -> bool:
    """Fills `temporary` with derived `table` of the core at `core_file`, through connections
    of its own (this may be a forked child, which must not use its parent's). False if the
    cached table is fresh already, or if it could not be built."""
    from hanoi_cli.derived import derived_rows

    try:
        with contextlib.closing(_connect_read_only(core_file)) as core:
            build_id = _read_meta(core).get("build_id", "")
            if _attach_fresh(core, _derived_file(core_file, table), table, build_id):
                return False
            rows = derived_rows(table, core)
        _fill_file(temporary, lambda target: _fill_derived(target, table, rows, build_id))
    except (OSError, sqlite3.Error):
        return False
    return True


def clear_cache(environ: Mapping[str, str]) -> tuple[Path | None, int]:
    """Removes every index file this tool wrote; returns the directory and the count."""
    directory = cache_dir(environ)
    if directory is None or not directory.is_dir():
        return directory, 0
    removed = 0
    for path in directory.glob("index-*.sqlite*"):
        # Gone already (another process), or not a file this tool wrote (a directory).
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            path.unlink()
            removed += 1
    return directory, removed
