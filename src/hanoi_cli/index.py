"""The index: a SQLite file of finished answer documents and pre-folded name keys.

Built once per KB content from the validated models and kept in the cache directory, so a
warm query opens one file, runs two or three indexed lookups and parses one document: no
pydantic, no full JSON parse, whatever the KB's size.

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
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from hanoi_cli import __version__
from hanoi_cli.errors import KBUnreadableError
from hanoi_cli.paths import cache_dir
from hanoi_cli.text import compact, fold

if TYPE_CHECKING:
    from hanoi_cli.models import KnowledgeBase

INDEX_FORMAT = "1"
RACY_NS = 3_000_000_000
"""A KB modified this close to the build may have changed again within the same mtime tick."""

Warn = Callable[[str], None]
Rebuild = Callable[[Exception], sqlite3.Connection]
Doc = dict[str, Any]
Row = tuple[Any, ...]

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entity(num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                    name TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE name(kind TEXT NOT NULL, key TEXT NOT NULL, folded TEXT NOT NULL,
                  form TEXT NOT NULL, entity INTEGER NOT NULL);
CREATE TABLE token(kind TEXT NOT NULL, token TEXT NOT NULL, entity INTEGER NOT NULL,
                   PRIMARY KEY(kind, token, entity)) WITHOUT ROWID;
CREATE VIRTUAL TABLE gram USING fts5(folded, kind UNINDEXED, entity UNINDEXED,
                                     tokenize='trigram');
CREATE VIRTUAL TABLE fulltext USING fts5(text, kind UNINDEXED, entity UNINDEXED,
                                         field UNINDEXED,
                                         tokenize='unicode61 remove_diacritics 2');
"""

# Created after the bulk insert: building an index once is cheaper than keeping it up to date.
_INDEXES = """
CREATE INDEX entity_kind ON entity(kind, num);
CREATE INDEX name_key ON name(kind, key);
CREATE INDEX name_entity ON name(entity);
"""

_GROUPED_DIGITS = re.compile(r"(\d),(\d{3})")

_NAMED_KINDS = ("person", "country", "organisation", "figure")


class CacheInfo(NamedTuple):
    kb_path: Path
    cache_file: Path | None
    exists: bool
    fresh: bool
    size_bytes: int
    built: str | None


class Store:
    """Read access to a built index. The query layer's only view of the KB."""

    def __init__(
        self, connection: sqlite3.Connection, kb_path: Path, rebuild: Rebuild | None = None
    ) -> None:
        self.connection = connection
        self.kb_path = kb_path
        # For an index read from the cache: SQLite finds a damaged page only when a query
        # reads it, so the first such failure swaps in a fresh index and runs the query again.
        self._rebuild = rebuild

    def rows(self, sql: str, parameters: Iterable[Any] = ()) -> list[Row]:
        return self._fetch(sql, tuple(parameters), decode=False)

    def _fetch(self, sql: str, parameters: Row, decode: bool) -> list[Row]:
        """Rows; with `decode`, the last column parsed from JSON."""
        try:
            return self._execute(sql, parameters, decode)
        except (sqlite3.DatabaseError, ValueError) as error:
            self._recover(error)
            return self._execute(sql, parameters, decode)

    def _execute(self, sql: str, parameters: Row, decode: bool) -> list[Row]:
        rows = self.connection.execute(sql, parameters).fetchall()
        if decode:
            return [(*row[:-1], json.loads(row[-1])) for row in rows]
        return rows

    def _recover(self, error: Exception) -> None:
        if self._rebuild is None:
            raise error
        rebuild, self._rebuild = self._rebuild, None
        self.connection.close()
        self.connection = rebuild(error)

    def documents(self, nums: Iterable[int]) -> dict[int, Doc]:
        wanted = list(dict.fromkeys(nums))
        found: dict[int, Doc] = {}
        # SQLite caps the number of bound parameters; 500 per batch stays far below it.
        for start in range(0, len(wanted), 500):
            batch = tuple(wanted[start : start + 500])
            marks = ",".join("?" * len(batch))
            sql = f"SELECT num, doc FROM entity WHERE num IN ({marks})"
            for num, doc in self._fetch(sql, batch, decode=True):
                found[num] = doc
        return found

    def all_documents(self, kind: str) -> Iterator[Doc]:
        done = 0
        while True:
            try:
                cursor = self.connection.execute(
                    "SELECT doc FROM entity WHERE kind = ? ORDER BY num LIMIT -1 OFFSET ?",
                    (kind, done),
                )
                for (doc,) in cursor:
                    yield json.loads(doc)
                    done += 1
                return
            except (sqlite3.DatabaseError, ValueError) as error:
                # Resume after the documents already given, from the rebuilt index.
                self._recover(error)

    def close(self) -> None:
        self.connection.close()


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


def open_store(kb_path: Path, environ: Mapping[str, str], warn: Warn) -> Store:
    """A store for the KB at `kb_path`: from the cache when it is fresh, else built now."""
    stat = _stat_kb(kb_path)
    cache_file = cache_file_for(kb_path, environ)
    if cache_file is not None:
        connection = _open_cached(cache_file, kb_path, stat)
        if connection is not None:
            return Store(connection, kb_path, _rebuilder(kb_path, cache_file, warn))
    return Store(_build(kb_path, cache_file, warn), kb_path)


def _rebuilder(kb_path: Path, cache_file: Path, warn: Warn) -> Rebuild:
    def rebuild(error: Exception) -> sqlite3.Connection:
        warn(f"index cache {cache_file} is damaged ({error}); rebuilding it")
        with contextlib.suppress(OSError):
            cache_file.unlink()
        return _build(kb_path, cache_file, warn)

    return rebuild


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
        connection = sqlite3.connect(f"{cache_file.resolve().as_uri()}?mode=ro", uri=True)
        meta = _read_meta(connection)
        fresh = (
            meta.get("format") == INDEX_FORMAT
            and meta.get("version") == _code_version()
            and meta.get("kb_path") == _path_text(kb_path)
            and all(meta.get(key) == value for key, value in _stat_key(stat).items())
        )
        # A KB changed close to the build may have changed again within one mtime tick:
        # only its content hash can prove the cache is for these bytes.
        if fresh and stat.st_mtime_ns + RACY_NS > int(meta.get("built_ns", "0")):
            fresh = meta.get("kb_sha256") == _sha256_of(kb_path)
    except (sqlite3.Error, OSError, ValueError):
        # A corrupt, truncated or foreign file: rebuild as if there were none.
        fresh = False
    if not fresh and connection is not None:
        connection.close()
    return connection if fresh else None


_DOCUMENT_CODE = ("models.py", "views.py", "index.py", "text.py")


def _code_version() -> str:
    """The release plus when the code that shapes the index last changed.

    An upgrade changes the release; an edited source checkout changes the files' mtimes. Either
    way an index built by other code is not reused.
    """
    package = Path(__file__).parent
    stamps = []
    for name in _DOCUMENT_CODE:
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


def _build(kb_path: Path, cache_file: Path | None, warn: Warn) -> sqlite3.Connection:
    # Validating a KB makes millions of small objects and no garbage cycles; with the cyclic
    # collector running, validating a 100,000-person KB took 6.6 s instead of 1.2 s.
    with _collector_paused():
        return _build_now(kb_path, cache_file, warn)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build_now(kb_path: Path, cache_file: Path | None, warn: Warn) -> sqlite3.Connection:
    import hashlib

    from hanoi_cli.loading import parse_kb, read_kb_bytes

    built_ns = time.time_ns()
    stat = kb_path.stat()
    raw = read_kb_bytes(kb_path)
    kb = parse_kb(raw, kb_path)
    meta = {
        "format": INDEX_FORMAT,
        "version": _code_version(),
        # A path that is not UTF-8 cannot be stored as SQLite text: keep its bytes readable.
        "kb_path": _path_text(kb_path),
        "kb_sha256": hashlib.sha256(raw).hexdigest(),
        "built_ns": str(built_ns),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built_ns / 1e9)),
        **_stat_key(stat),
    }
    del raw
    if cache_file is not None:
        try:
            return _build_file(kb, meta, cache_file)
        except (OSError, sqlite3.Error) as error:
            reason = getattr(error, "strerror", None) or str(error)
            warn(f"cache not written ({cache_file.parent}: {reason}); using an in-memory index")
    connection = sqlite3.connect(":memory:")
    _fill(connection, kb, meta)
    return connection


def _build_file(kb: KnowledgeBase, meta: dict[str, str], cache_file: Path) -> sqlite3.Connection:
    import tempfile

    cache_file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=cache_file.name + ".", suffix=".tmp", dir=cache_file.parent
    )
    os.close(handle)
    try:
        connection = sqlite3.connect(temporary)
        try:
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("PRAGMA synchronous = OFF")
            _fill(connection, kb, meta)
        finally:
            connection.close()
        # Atomic: a reader sees the old index or the new one, never a partial file.
        Path(temporary).replace(cache_file)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    return sqlite3.connect(f"{cache_file.resolve().as_uri()}?mode=ro", uri=True)


def _fill(connection: sqlite3.Connection, kb: KnowledgeBase, meta: dict[str, str]) -> None:
    from hanoi_cli.views import ViewBuilder

    connection.executescript(_SCHEMA)
    builder = ViewBuilder(kb)
    entities: list[tuple[int, str, str, str, str]] = []
    names: list[tuple[str, str, str, str, int]] = []
    tokens: set[tuple[str, str, int]] = set()
    grams: list[tuple[str, str, int]] = []
    fulltext: list[tuple[str, str, int, str]] = []
    for num, (kind, entity_id, doc) in enumerate(builder.all_documents(), start=1):
        name = str(doc["name"])
        # Compact separators and no cycle check (documents are trees): a third faster to write.
        encoded = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), check_circular=False)
        entities.append((num, entity_id, kind, name, encoded))
        for form, text in _name_forms(kind, doc):
            folded = fold(text)
            if not folded:
                continue
            names.append((kind, compact(folded), folded, form, num))
            tokens.update((kind, token, num) for token in folded.split())
            if form != "title":
                grams.append((folded, kind, num))
        for field, text in _searchable(kind, doc):
            fulltext.append((text, kind, num, field))
            if _GROUPED_DIGITS.search(text):
                # "2,500" is indexed as "2" and "500": a second row lets "2500" find it too.
                fulltext.append((_GROUPED_DIGITS.sub(r"\1\2", text), kind, num, field))
    connection.executemany("INSERT INTO entity VALUES (?, ?, ?, ?, ?)", entities)
    connection.executemany("INSERT INTO name VALUES (?, ?, ?, ?, ?)", names)
    connection.executemany("INSERT INTO token VALUES (?, ?, ?)", sorted(tokens))
    connection.executemany("INSERT INTO gram VALUES (?, ?, ?)", grams)
    connection.executemany("INSERT INTO fulltext VALUES (?, ?, ?, ?)", fulltext)
    gram_counts: dict[str, int] = {}
    for _, kind, _ in grams:
        gram_counts[kind] = gram_counts.get(kind, 0) + 1
    counts = {f"names:{kind}": str(count) for kind, count in gram_counts.items()}
    connection.executemany("INSERT INTO meta VALUES (?, ?)", {**meta, **counts}.items())
    connection.executescript(_INDEXES)
    connection.commit()


def _name_forms(kind: str, doc: Doc) -> Iterator[tuple[str, str]]:
    """The ways a user may name an entity: name, id, aliases, acronym, titles (people) and
    breakdown parts (figures), the last two ranked as titles."""
    if kind not in _NAMED_KINDS:
        return
    yield "name", doc["name"]
    # Ids are printed in every table, so a user may type one back.
    yield "id", doc["id"]
    for alias in doc["aliases"]:
        yield "alias", alias
    if doc.get("acronym"):
        yield "acronym", doc["acronym"]
    if kind == "person":
        for title in doc["titles"]:
            yield "title", title["title"]
    if kind == "figure":
        # "Asia-Pacific" finds the figure whose breakdown counts it.
        for breakdown in doc["breakdowns"]:
            for part in breakdown["parts"]:
                yield "title", part["label"]


def _searchable(kind: str, doc: Doc) -> Iterator[tuple[str, str]]:
    """(field, text) pairs that `hanoi search` looks through."""
    yield "name", doc["name"]
    for alias in doc.get("aliases", []):
        yield "alias", alias
    for title in doc.get("titles", []):
        yield "title", title["title"]
    if kind == "statement":
        yield "quote", doc["quote"]
        if doc.get("summary"):
            yield "summary", doc["summary"]
    if kind == "figure":
        yield "headline_reason", doc["headline_reason"]
        for value in doc["values"]:
            yield "qualifier", value["qualifier"]
    if kind == "source":
        yield "outlet", doc["outlet"]
    quotes = {item["quote"] for item in doc.get("evidence", [])}
    if kind == "figure":
        # A figure's evidence sits on its values and breakdown parts.
        quotes |= {item["quote"] for value in doc["values"] for item in value["evidence"]}
        for breakdown in doc["breakdowns"]:
            quotes |= {item["quote"] for part in breakdown["parts"] for item in part["evidence"]}
    if kind == "statement":
        quotes.discard(doc["quote"])
    for quote in sorted(quotes):
        yield "evidence", quote


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
    built = None
    if connection is not None:
        built = _read_meta(connection).get("built")
        connection.close()
    return CacheInfo(kb_path, cache_file, True, connection is not None, size, built)


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
