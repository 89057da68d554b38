"""Finding things in the KB: name matching, search, quotes and the timeline.

No Typer, no Rich, no printing: functions take a `Store` and return documents and matches.

Name matching ranks each candidate in tiers, and only the best tier that has any match is
returned, so "Guterres" finds one person while "Luong" finds both people of that name:

======  ============  ==========================================================
score   tier          the folded query (case, accents, punctuation removed) ...
======  ============  ==========================================================
100     exact         equals the entity's name ("Lương Tam Quang" = "luong tam quang")
95      alias         equals an alias, acronym or id ("UNODC", "vn-foreign-ministry")
90      title         equals one of a person's titles ("Minister of Public Security")
85      prefix        starts a name, alias or title ("Lyukman")
80      phrase        is a run of whole words in one name, alias or title ("Secretary-General")
75      token         has each word somewhere in the entity's names and titles ("Tung Pham")
70      token-prefix  has each word starting a word there ("Ngu Min")
<=60    fuzzy         is close in spelling: similarity >= FUZZY_THRESHOLD ("Gutteres")
======  ============  ==========================================================

Ties are ordered by similarity, then name, then id, so the order is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from hanoi_cli.errors import NotFoundError, UsageError
from hanoi_cli.index import Doc, Store
from hanoi_cli.text import compact, fold
from hanoi_cli.views import ENTITY_KINDS

FUZZY_THRESHOLD = 80.0
"""Minimum rapidfuzz similarity (0-100) for a fuzzy match."""
SUGGESTION_THRESHOLD = 55.0
"""Minimum similarity for a name to be offered as "did you mean" when nothing matched."""
MAX_QUERY_CHARS = 1_000
"""Longer queries are refused: no name in the KB is near this long."""
_FUZZY_CANDIDATES = 300
_FUZZY_SCAN_LIMIT = 2_000
"""A kind with at most this many names is scanned whole for typos (a few ms)."""
_MIN_PREFIX = 3

TIER_SCORES = {
    "exact": 100,
    "alias": 95,
    "title": 90,
    "prefix": 85,
    "phrase": 80,
    "token": 75,
    "token-prefix": 70,
}
_FORM_TIER = {
    "name": "exact",
    "alias": "alias",
    "acronym": "alias",
    "id": "alias",
    "title": "title",
}


# NamedTuples, not dataclasses: a dataclass costs ~0.4 ms of every start-up to build.
class Match(NamedTuple):
    """One entity that answers a name query, with why it matched."""

    kind: str
    id: str
    name: str
    score: float
    tier: str
    matched: str
    document: Doc

    def as_json(self) -> Doc:
        return {
            **self.document,
            "match": {"score": self.score, "tier": self.tier, "matched": self.matched},
        }


def clean_query(text: str) -> tuple[str, str]:
    """(folded, compact) forms of a user's query, or `UsageError` when nothing is left."""
    if len(text) > MAX_QUERY_CHARS:
        raise UsageError(
            f"query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}"
        )
    folded = fold(text)
    if not folded:
        raise UsageError("nothing to look up: the query has no letters or digits")
    return folded, compact(folded)


def find(store: Store, kind: str, text: str) -> list[Match]:
    """Every entity of `kind` that the best matching tier finds, best first.

    Raises `NotFoundError` with the closest names as suggestions when nothing matches.
    """
    folded, key = clean_query(text)
    scored = _exact_tiers(store, kind, key)
    if not scored and len(key) >= _MIN_PREFIX:
        scored = _prefix_tier(store, kind, folded, key)
    if not scored:
        scored = _token_tiers(store, kind, folded)
    if not scored:
        scored = _fuzzy_tier(store, kind, folded, FUZZY_THRESHOLD)
    if not scored:
        elsewhere = _elsewhere(store, kind, folded)
        if elsewhere:
            raise NotFoundError(f"no {kind} matches {text!r}", (), elsewhere)
        suggestions = _fuzzy_tier(store, kind, folded, SUGGESTION_THRESHOLD)
        names = tuple(dict.fromkeys(hit.name for hit in _ranked(store, suggestions)[:5]))
        raise NotFoundError(f"no {kind} matches {text!r}", names)
    return _ranked(store, scored)


def find_speakers(store: Store, text: str) -> list[str]:
    """Ids of the speakers `quotes --by` means: people, organisations, or a country's own.

    Each kind is matched and the best-scoring kind wins, so "UN" is the organisation (alias)
    rather than a person whose title mentions it, and "Vietnam" is everyone from Vietnam.
    """
    best: list[Match] = []
    for kind in ("person", "organisation", "country"):
        try:
            matches = find(store, kind, text)
        except NotFoundError:
            continue
        if not best or matches[0].score > best[0].score:
            best = matches
        elif matches[0].score == best[0].score:
            best = best + matches
    if not best:
        find(store, "person", text)  # raises NotFoundError with suggestions
    speakers: list[str] = []
    for match in best:
        if match.kind == "country":
            speakers += [ref["id"] for ref in match.document["people"]]
            speakers += [ref["id"] for ref in match.document["organisations"]]
        else:
            speakers.append(match.id)
    return list(dict.fromkeys(speakers))


_COMMAND_OF_KIND = {"person": "who", "country": "country", "organisation": "org", "figure": "stats"}


def _elsewhere(store: Store, kind: str, folded: str) -> tuple[str, ...]:
    """Commands that find the query as another kind: `hanoi country Vietnam` for `who Vietnam`."""
    import shlex

    commands: list[str] = []
    for other, command in _COMMAND_OF_KIND.items():
        if other == kind:
            continue
        hits = _exact_tiers(store, other, compact(folded)) or _token_tiers(store, other, folded)
        strong = {num: hit for num, hit in hits.items() if hit.score >= TIER_SCORES["token"]}
        names = [match.name for match in _ranked(store, strong)[:3]]
        commands += [f"hanoi {command} {shlex.quote(name)}" for name in names]
    return tuple(commands)


class _Hit:
    __slots__ = ("matched", "score", "similarity", "tier")

    def __init__(self, score: float, tier: str, similarity: float, matched: str) -> None:
        self.score = score
        self.tier = tier
        self.similarity = similarity
        self.matched = matched


def _keep_best(hits: dict[int, _Hit], num: int, hit: _Hit) -> None:
    current = hits.get(num)
    if current is None or (hit.score, hit.similarity) > (current.score, current.similarity):
        hits[num] = hit


def _exact_tiers(store: Store, kind: str, key: str) -> dict[int, _Hit]:
    hits: dict[int, _Hit] = {}
    for entity, form, folded in store.rows(
        "SELECT entity, form, folded FROM name WHERE kind = ? AND key = ?", [kind, key]
    ):
        tier = _FORM_TIER[form]
        _keep_best(hits, entity, _Hit(TIER_SCORES[tier], tier, 100.0, folded))
    return _best_tier_only(hits)


def _prefix_tier(store: Store, kind: str, folded: str, key: str) -> dict[int, _Hit]:
    """Names that the query starts mid-word ("Lyukman"); whole words are the phrase tier's."""
    hits: dict[int, _Hit] = {}
    for entity, form in store.rows(
        "SELECT entity, folded FROM name WHERE kind = ? AND key > ? AND key < ?",
        [kind, key, key + "\U0010ffff"],
    ):
        if f"{form} ".startswith(f"{folded} "):
            # "Quang" is a whole word of "Quang Dung" as much as of "Luong Tam Quang".
            continue
        similarity = 100.0 * len(key) / max(len(compact(form)), 1)
        _keep_best(hits, entity, _Hit(TIER_SCORES["prefix"], "prefix", similarity, form))
    return hits


def _token_tiers(store: Store, kind: str, folded: str) -> dict[int, _Hit]:
    words = list(dict.fromkeys(folded.split()))
    exact = _entities_with_tokens(store, kind, words, prefix=False)
    hits: dict[int, _Hit] = {}
    if exact:
        phrase = f" {folded} "
        for entity, form_folded in _forms_of(store, exact):
            tier = "phrase" if phrase in f" {form_folded} " else "token"
            similarity = 100.0 * len(folded) / max(len(form_folded), 1)
            _keep_best(hits, entity, _Hit(TIER_SCORES[tier], tier, similarity, form_folded))
        for entity in exact:
            hits.setdefault(entity, _Hit(TIER_SCORES["token"], "token", 0.0, folded))
        return _best_tier_only(hits)
    loose = _entities_with_tokens(store, kind, words, prefix=True)
    for entity, form_folded in _forms_of(store, loose):
        similarity = 100.0 * len(folded) / max(len(form_folded), 1)
        _keep_best(
            hits, entity, _Hit(TIER_SCORES["token-prefix"], "token-prefix", similarity, form_folded)
        )
    return hits


def _entities_with_tokens(store: Store, kind: str, words: list[str], prefix: bool) -> set[int]:
    """Entities that have every word as a whole token (or, with `prefix`, a token's start)."""
    found: set[int] | None = None
    for word in words:
        if prefix:
            rows = store.rows(
                "SELECT entities FROM token WHERE kind = ? AND token >= ? AND token < ?",
                [kind, word, word + "\U0010ffff"],
            )
        else:
            rows = store.rows(
                "SELECT entities FROM token WHERE kind = ? AND token = ?", [kind, word]
            )
        entities = {int(num) for (nums,) in rows for num in nums.split(",")}
        found = entities if found is None else found & entities
        if not found:
            return set()
    return found or set()


def _forms_of(store: Store, entities: Iterable[int]) -> list[tuple[int, str]]:
    sql = "SELECT entity, folded FROM name WHERE entity IN ({marks})"
    return [(entity, folded) for entity, folded in store.rows_in(sql, sorted(entities))]


def _fuzzy_tier(store: Store, kind: str, folded: str, threshold: float) -> dict[int, _Hit]:
    from rapidfuzz import fuzz

    hits: dict[int, _Hit] = {}
    for entity, candidate in _fuzzy_candidates(store, kind, folded):
        similarity = max(
            fuzz.ratio(folded, candidate),
            *(fuzz.ratio(folded, word) for word in candidate.split()),
        )
        if similarity >= threshold:
            score = round(60.0 * similarity / 100.0, 1)
            _keep_best(hits, entity, _Hit(score, "fuzzy", similarity, candidate))
    return hits


def _fuzzy_candidates(store: Store, kind: str, folded: str) -> list[tuple[int, str]]:
    """Names worth scoring: every name of a small kind, else those sharing a trigram.

    Trigrams find most typos fast at any size, but miss a swap in a short name ("UNDOC" and
    "UNODC" share none), so a kind with few names is simply scanned.
    """
    count = store.rows("SELECT value FROM meta WHERE key = ?", [f"names:{kind}"])
    if count and int(count[0][0]) <= _FUZZY_SCAN_LIMIT:
        rows = store.rows(
            "SELECT entity, folded FROM name WHERE kind = ? AND form != 'title' ORDER BY rowid",
            [kind],
        )
        return [(entity, candidate) for entity, candidate in rows]
    grams = {folded[i : i + 3] for i in range(len(folded) - 2)}
    if not grams:
        return []
    match_expression = " OR ".join(f'"{gram}"' for gram in sorted(grams))
    store.require("gram")
    rows = store.rows(
        "SELECT entity, folded FROM gram WHERE gram MATCH ? AND kind = ? ORDER BY rank LIMIT ?",
        [match_expression, kind, _FUZZY_CANDIDATES],
    )
    return [(entity, candidate) for entity, candidate in rows]


def _best_tier_only(hits: dict[int, _Hit]) -> dict[int, _Hit]:
    if not hits:
        return hits
    best = max(hit.score for hit in hits.values())
    return {entity: hit for entity, hit in hits.items() if hit.score == best}


def _ranked(store: Store, hits: dict[int, _Hit]) -> list[Match]:
    documents = store.documents(hits)
    matches = [
        Match(
            kind=str(documents[num]["entity"]),
            id=str(documents[num]["id"]),
            name=str(documents[num]["name"]),
            score=hit.score,
            tier=hit.tier,
            matched=hit.matched,
            document=documents[num],
        )
        for num, hit in hits.items()
    ]
    similarity = {documents[num]["id"]: hit.similarity for num, hit in hits.items()}
    matches.sort(key=lambda m: (-m.score, -similarity[m.id], m.name.casefold(), m.id))
    return matches


def names_for_completion(store: Store, kind: str, incomplete: str) -> list[str]:
    """Names and aliases whose folded form starts with what was typed so far.

    Shells keep only candidates that start with the typed text itself, so both spellings are
    offered: `Luo` completes to the alias `Luong Tam Quang`, `Lươ` to `Lương Tam Quang`.
    """
    key = compact(fold(incomplete))
    rows = store.rows(
        "SELECT DISTINCT entity FROM name WHERE kind = ? AND form IN ('name', 'alias', 'acronym') "
        "AND key >= ? AND key < ? LIMIT 50",
        [kind, key, key + "\U0010ffff"],
    )
    candidates: list[str] = []
    for document in store.documents(entity for (entity,) in rows).values():
        forms = [document["name"], *document["aliases"], document.get("acronym") or ""]
        candidates += [form for form in forms if form and compact(fold(form)).startswith(key)]
    # Shells drop candidates that do not start with the typed text verbatim, so the typed part
    # keeps the user's own letters (`un` -> `unODC`); the lookup itself ignores case.
    typed = incomplete.casefold()
    literal = [
        incomplete + form[len(incomplete) :]
        for form in candidates
        if form.casefold().startswith(typed) and len(form.casefold()) == len(form)
    ]
    return sorted(dict.fromkeys(literal or candidates))


# --- search -------------------------------------------------------------------------------

_KIND_ORDER = (
    "CASE f.kind "
    + " ".join(f"WHEN '{kind}' THEN {number}" for number, kind in enumerate(ENTITY_KINDS))
    + " END"
)

HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
_SEARCH_LIMIT = 200


class SearchHit(NamedTuple):
    kind: str
    id: str
    name: str
    field: str
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    rank: float

    def as_json(self) -> Doc:
        return {
            "entity": self.kind,
            "id": self.id,
            "name": self.name,
            "field": self.field,
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
            "rank": self.rank,
        }


def search(store: Store, text: str, limit: int = 50) -> list[SearchHit]:
    """Full-text search; one hit per entity, grouped by kind, kinds ordered by best hit."""
    folded, _ = clean_query(text)
    expression = " ".join(f'"{word}"*' for word in folded.split())
    store.require("fulltext")
    rows = store.rows(
        "SELECT f.kind, e.id, e.name, f.field, "
        f"snippet(fulltext, 0, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '…', 16), rank "
        "FROM fulltext f JOIN entity e ON e.num = f.entity "
        # Equal ranks are common (the same word in a name and in a source's outlet): people
        # first and sources last, then the KB's order, whatever order the rows were stored in.
        f"WHERE fulltext MATCH ? ORDER BY rank, {_KIND_ORDER}, f.rowid LIMIT ?",
        [expression, _SEARCH_LIMIT],
    )
    best: dict[str, SearchHit] = {}
    for kind, entity_id, name, field_name, marked, rank in rows:
        if entity_id in best:
            continue
        snippet, spans = _split_highlights(marked)
        best[entity_id] = SearchHit(
            kind, entity_id, name, field_name, snippet, spans, round(rank, 4)
        )
    kind_order: dict[str, int] = {}
    for hit in best.values():
        kind_order.setdefault(hit.kind, len(kind_order))
    hits = sorted(best.values(), key=lambda hit: (kind_order[hit.kind], hit.rank, hit.id))
    return hits[:limit]


def _split_highlights(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    start = 0
    for piece in re.split(f"([{HIGHLIGHT_START}{HIGHLIGHT_END}])", marked):
        if piece == HIGHLIGHT_START:
            start = position
        elif piece == HIGHLIGHT_END:
            spans.append((start, position))
        else:
            plain.append(piece)
            position += len(piece)
    return "".join(plain), tuple(spans)


# --- lists, quotes, timeline --------------------------------------------------------------


def list_documents(store: Store, kind: str) -> list[Doc]:
    return list(store.all_documents(kind))


def statements(
    store: Store, speakers: Sequence[str] | None = None, topic: str | None = None
) -> list[Doc]:
    """Statements, optionally only those of some speakers (ids) or on a topic (word)."""
    wanted_topic = compact(fold(topic)) if topic is not None else None
    if topic is not None and not wanted_topic:
        raise UsageError("--topic needs a word with letters or digits")
    found = []
    for doc in store.all_documents("statement"):
        if speakers is not None and doc["speaker"]["id"] not in speakers:
            continue
        if wanted_topic is not None and not any(
            wanted_topic in compact(fold(tag)) for tag in doc["topics"]
        ):
            continue
        found.append(doc)
    return found


_DATE = r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$"  # compiled on first use, by `re`


def parse_date_bound(text: str, *, end: bool) -> str:
    """`2025` or `2025-10` or `2025-10-25` as the first (or, with `end`, last) day it covers."""
    found = re.match(_DATE, text.strip())
    if not found:
        raise UsageError(f"{text!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = found.groups()
    if month is not None and not 1 <= int(month) <= 12:
        raise UsageError(f"{text!r} is not a date: month must be 01-12")
    if day is not None and not 1 <= int(day) <= 31:
        raise UsageError(f"{text!r} is not a date: day must be 01-31")
    return f"{year}-{month or ('12' if end else '01')}-{day or ('31' if end else '01')}"


def _span(date: dict[str, Any], end: bool) -> str:
    return parse_date_bound(str(date["value"]), end=end)


def timeline(store: Store, start: str | None = None, stop: str | None = None) -> list[Doc]:
    """Events in date order; with bounds, those whose dates overlap [start, stop]."""
    low = parse_date_bound(start, end=False) if start else None
    high = parse_date_bound(stop, end=True) if stop else None
    if low and high and low > high:
        raise UsageError(f"--from {start} is after --to {stop}")
    events = []
    for doc in store.all_documents("event"):
        first = _span(doc["date"], end=False)
        last = _span(doc["end_date"] or doc["date"], end=True)
        if (low and last < low) or (high and first > high):
            continue
        events.append(doc)
    # A stable sort: events on the same day keep the KB's order, which is the order the
    # articles tell them in (no time of day is given).
    events.sort(key=lambda doc: (_span(doc["date"], end=False), doc["date"]["precision"] != "day"))
    return events


def find_source(store: Store, text: str) -> Doc:
    """A source by its id or its seed file name (with or without `.txt`)."""
    wanted = text.strip()
    for doc in store.all_documents("source"):
        if wanted in (doc["id"], doc["file"], doc["file"].removesuffix(".txt")):
            return doc
    known = tuple(doc["id"] for doc in store.all_documents("source"))
    raise NotFoundError(f"no source with id or file {text!r}", known)
