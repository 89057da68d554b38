"""Answer documents, assembled at query time from the index's entity rows and links.

The index keeps each entity as the KB file has it (its own JSON, references as ids) and the
reverse links (who said what, who took part, who works where). A document is one entity with
its references resolved to names and its reverse links added: exactly what `--json` prints and
what the tables show. Its fields are listed in the README ("JSON fields").

Documents are built in batches: the rows and links a batch needs are fetched a level at a time
with one query per level, so a batch of 500 costs a handful of queries, not thousands. No
pydantic here: the rows were validated when the index was built.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

Doc = dict[str, Any]
Data = dict[str, Any]

ENTITY_KINDS = ("person", "country", "organisation", "figure", "event", "statement", "source")

# Link roles, stored as (target, role, source) in the KB's order. Each reads "target's ROLE
# includes source": a person's `said` includes a statement, an event's `heard` a statement.
SAID = "said"  # person/organisation <- statement whose speaker it is
HEARD = "heard"  # event <- statement made at it
ATTENDED = "attended"  # person/country/organisation <- event it took part in
PEOPLE = "people"  # organisation/country <- person who works there or is from there
ORGANISATIONS = "organisations"  # person <- organisation; country <- organisation based there
CHILDREN = "children"  # organisation <- organisation whose parent it is
CITED_BY = "cited_by"  # source <- any entity whose evidence quotes it

_COMPARATOR_WORDS = {
    "exact": "",
    "more-than": "more than ",
    "at-least": "at least ",
    "around": "around ",
}


def format_number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) or not value.is_integer() else f"{int(value):,}"


def display_value(value: float, comparator: str) -> str:
    """`more-than` 70 -> `more than 70`."""
    return _COMPARATOR_WORDS[comparator] + format_number(value)


def _evidence(items: Iterable[Data]) -> list[Doc]:
    """Evidence as JSON, each (source, quote) pair once, in first-seen order."""
    unique = dict.fromkeys((item["source"], item["quote"]) for item in items)
    return [{"source": source, "quote": quote} for source, quote in unique]


class EntityRow(NamedTuple):
    num: int
    id: str
    kind: str
    name: str
    """What a reference shows: a name, label or title; a statement shows its speaker's name."""
    data: str
    """The entity as the KB file has it, as compact JSON."""


class DamagedIndexError(ValueError):
    """The index lacks a row or link that a validated KB always has."""


RowFetcher = Callable[[str, Sequence[Any]], list[EntityRow]]
"""(column, values) -> the entity rows whose `num` or `id` is one of the values."""
LinkFetcher = Callable[[Sequence[int]], list[tuple[int, str, int]]]
"""target nums -> their (target, role, source) links, in the order they were stored."""


def evidence_items(kind: str, data: Data) -> list[Data]:
    """Every evidence item inside an entity's data, wherever it sits."""
    items: list[Data] = list(data.get("evidence", ()))
    if kind == "person":
        items += [item for title in data["titles"] for item in title["evidence"]]
    elif kind == "country":
        items += [item for role in data["roles"] for item in role["evidence"]]
    elif kind == "figure":
        items += [item for value in data["values"] for item in value["evidence"]]
        items += [
            item
            for breakdown in data["breakdowns"]
            for part in breakdown["parts"]
            for item in part["evidence"]
        ]
    return items


def _references(kind: str, data: Data) -> Iterable[str]:
    """Every id an entity's own data names: references and the sources of its evidence."""
    refs: list[str | None] = [item["source"] for item in evidence_items(kind, data)]
    if kind == "person":
        refs.append(data["country"])
        refs += [
            ref for title in data["titles"] for ref in (title["organisation"], title["country"])
        ]
    elif kind == "country":
        refs += data["representatives"]
    elif kind == "organisation":
        refs += [data["country"], data["parent"]]
    elif kind == "event":
        refs += data["participants"]
    elif kind == "statement":
        refs += [data["speaker"], data["event"]]
    return [ref for ref in refs if ref is not None]


class Assembler:
    """Builds documents for a batch of entities; remembers every row it fetched."""

    def __init__(self, fetch_rows: RowFetcher, fetch_links: LinkFetcher) -> None:
        self._fetch_rows = fetch_rows
        self._fetch_links = fetch_links
        self._by_num: dict[int, EntityRow] = {}
        self._num_of: dict[str, int] = {}
        self._data: dict[int, Data] = {}
        self._links: dict[int, dict[str, list[int]]] = {}
        self._briefs: dict[int, Doc] = {}

    # --- fetching -------------------------------------------------------------------------

    def _load(self, nums: Iterable[int] = (), ids: Iterable[str] = ()) -> None:
        missing_nums = sorted({num for num in nums if num not in self._by_num})
        missing_ids = sorted({i for i in ids if i not in self._num_of})
        rows: list[EntityRow] = []
        if missing_nums:
            rows += self._fetch_rows("num", missing_nums)
        if missing_ids:
            rows += self._fetch_rows("id", missing_ids)
        for row in rows:
            self._by_num[row.num] = row
            self._num_of[row.id] = row.num

    def _load_links(self, nums: Iterable[int]) -> None:
        missing = sorted({num for num in nums if num not in self._links})
        if not missing:
            return
        for num in missing:
            self._links[num] = {}
        for target, role, source in self._fetch_links(missing):
            self._links[target].setdefault(role, []).append(source)

    def row(self, num: int) -> EntityRow:
        if num not in self._by_num:
            self._load(nums=[num])
            if num not in self._by_num:
                raise DamagedIndexError(f"entity #{num} is missing from the index")
        return self._by_num[num]

    def num_of(self, entity_id: str) -> int:
        if entity_id not in self._num_of:
            self._load(ids=[entity_id])
            if entity_id not in self._num_of:
                raise DamagedIndexError(f"entity {entity_id!r} is missing from the index")
        return self._num_of[entity_id]

    def data(self, num: int) -> Data:
        if num not in self._data:
            parsed = json.loads(self.row(num).data)
            if not isinstance(parsed, dict):
                raise DamagedIndexError(f"entity #{num} is not a JSON object in the index")
            self._data[num] = parsed
        return self._data[num]

    def linked(self, num: int, role: str) -> list[int]:
        """The nums linked to `num` under `role`, each once, in the KB's order."""
        self._load_links([num])
        return list(dict.fromkeys(self._links[num].get(role, ())))

    def prefetch(self, nums: Sequence[int]) -> None:
        """Fetch, a level at a time, every row and link that documents for `nums` read."""
        self._load(nums=nums)
        self._load_links(nums)
        # Countries and organisations also show their people's statements and events.
        second = [
            linked
            for num in nums
            if self.row(num).kind in ("country", "organisation")
            for role in (PEOPLE, ORGANISATIONS)
            for linked in self._links[num].get(role, ())
        ]
        self._load_links(second)
        targets = [*nums, *second]
        level: set[int] = {
            s for t in targets for sources in self._links[t].values() for s in sources
        }
        ids = {ref for num in nums for ref in _references(self.row(num).kind, self.data(num))}
        self._load(nums=level, ids=ids)
        # Statements and events name their speakers, events and sources in turn.
        ids = {
            ref
            for num in level
            if num in self._by_num and self._by_num[num].kind in ("statement", "event")
            for ref in _references(self._by_num[num].kind, self.data(num))
        }
        self._load(ids=ids)

    # --- pieces ---------------------------------------------------------------------------

    def ref(self, entity_id: str | None) -> Doc | None:
        if entity_id is None:
            return None
        row = self.row(self.num_of(entity_id))
        return {"id": row.id, "entity": row.kind, "name": row.name}

    def refs_of_ids(self, ids: Iterable[str]) -> list[Doc]:
        return self.refs(self.num_of(entity_id) for entity_id in ids)

    def refs(self, nums: Iterable[int]) -> list[Doc]:
        rows = [self.row(num) for num in nums]
        return [{"id": row.id, "entity": row.kind, "name": row.name} for row in rows]

    def source_brief(self, num: int) -> Doc:
        if num in self._briefs:
            return self._briefs[num]
        source = self.data(num)
        self._briefs[num] = brief = {
            "id": source["id"],
            "outlet": source["outlet"],
            "title": source["title"],
            "url": source["url"],
            "published": source["published"],
            "file": source["file"],
        }
        return brief

    def sources_cited(self, *evidence_lists: Iterable[Data]) -> list[Doc]:
        """The sources behind a document, in the KB's order of sources."""
        cited = {item["source"] for items in evidence_lists for item in items}
        # Sources are stored first, in the KB's order, so their nums keep that order.
        nums = sorted(self.num_of(source_id) for source_id in cited)
        return [self.source_brief(num) for num in nums]

    def statement_brief(self, num: int) -> Doc:
        if num in self._briefs:
            return self._briefs[num]
        statement = self.data(num)
        self._briefs[num] = brief = {
            "id": statement["id"],
            "speaker": self.ref(statement["speaker"]),
            "kind": statement["kind"],
            "quote": statement["quote"],
            "summary": statement["summary"],
            "topics": list(statement["topics"]),
            "date": statement["date"],
            "event": self.ref(statement["event"]),
            "evidence": _evidence(statement["evidence"]),
        }
        return brief

    def event_brief(self, num: int) -> Doc:
        if num in self._briefs:
            return self._briefs[num]
        event = self.data(num)
        self._briefs[num] = brief = {
            "id": event["id"],
            "title": event["title"],
            "date": event["date"],
            "end_date": event["end_date"],
            "place": event["place"],
        }
        return brief

    def _statements(self, speakers: Iterable[int]) -> list[int]:
        return list(dict.fromkeys(s for speaker in speakers for s in self.linked(speaker, SAID)))

    def _events(self, participants: Iterable[int]) -> list[int]:
        nums = dict.fromkeys(e for p in participants for e in self.linked(p, ATTENDED))
        return sorted(nums, key=lambda num: str(self.data(num)["date"]["value"]))

    def _with_context(
        self, doc: Doc, own: list[Data], statements: list[int], events: list[int]
    ) -> Doc:
        """Adds the statements, events, evidence and cited sources every document carries."""
        doc["statements"] = [self.statement_brief(num) for num in statements]
        doc["events"] = [self.event_brief(num) for num in events]
        doc["evidence"] = _evidence(own)
        quoted = [self.data(num)["evidence"] for num in statements]
        doc["sources"] = self.sources_cited(own, *quoted)
        return doc

    # --- documents ------------------------------------------------------------------------

    def documents(self, nums: Sequence[int]) -> dict[int, Doc]:
        """The answer document of each entity in `nums`."""
        self.prefetch(nums)
        return {num: self.document(num) for num in nums}

    def document(self, num: int) -> Doc:
        kind = self.row(num).kind
        build: Callable[[int, Data], Doc] = getattr(self, f"_{kind}")
        return build(num, self.data(num))

    def _person(self, num: int, person: Data) -> Doc:
        titles = [
            {
                "title": title["title"],
                "organisation": self.ref(title["organisation"]),
                "country": self.ref(title["country"]),
                "evidence": _evidence(title["evidence"]),
            }
            for title in person["titles"]
        ]
        doc: Doc = {
            "entity": "person",
            "id": person["id"],
            "name": person["name"],
            "aliases": [*person["aliases"], *person["shared_aliases"]],
            "country": self.ref(person["country"]),
            "titles": titles,
            "organisations": self.refs(self.linked(num, ORGANISATIONS)),
        }
        own = [*person["evidence"], *(e for title in person["titles"] for e in title["evidence"])]
        return self._with_context(doc, own, self._statements([num]), self._events([num]))

    def _country(self, num: int, country: Data) -> Doc:
        people = self.linked(num, PEOPLE)
        orgs = self.linked(num, ORGANISATIONS)
        doc: Doc = {
            "entity": "country",
            "id": country["id"],
            "name": country["name"],
            "aliases": [*country["aliases"], *country["shared_aliases"]],
            "roles": [
                {
                    "role": role["role"],
                    "note": role["note"],
                    "evidence": _evidence(role["evidence"]),
                }
                for role in country["roles"]
            ],
            "representatives": self.refs_of_ids(country["representatives"]),
            "people": self.refs(people),
            "organisations": self.refs(orgs),
        }
        own = [*country["evidence"], *(e for role in country["roles"] for e in role["evidence"])]
        statements = self._statements([*people, *orgs])
        return self._with_context(doc, own, statements, self._events([num, *people]))

    def _organisation(self, num: int, org: Data) -> Doc:
        people = self.linked(num, PEOPLE)
        doc: Doc = {
            "entity": "organisation",
            "id": org["id"],
            "name": org["name"],
            "acronym": org["acronym"],
            "aliases": [*org["aliases"], *org["shared_aliases"]],
            "kind": org["kind"],
            "country": self.ref(org["country"]),
            "parent": self.ref(org["parent"]),
            "children": self.refs(self.linked(num, CHILDREN)),
            "people": self.refs(people),
        }
        statements = self._statements([num, *people])
        return self._with_context(doc, list(org["evidence"]), statements, self._events([num]))

    def _figure(self, num: int, figure: Data) -> Doc:
        headline = figure["headline"]
        values = [
            {
                "value": reported["value"],
                "comparator": reported["comparator"],
                "display": display_value(reported["value"], reported["comparator"]),
                "qualifier": reported["qualifier"],
                "source": reported["source"],
                "evidence": _evidence(reported["evidence"]),
            }
            for reported in figure["values"]
        ]
        breakdowns = []
        for breakdown in figure["breakdowns"]:
            parts_sum = sum(part["value"] for part in breakdown["parts"])
            breakdowns.append(
                {
                    "label": breakdown["label"],
                    "parts": [
                        {
                            "label": part["label"],
                            "value": part["value"],
                            "evidence": _evidence(part["evidence"]),
                        }
                        for part in breakdown["parts"]
                    ],
                    "parts_sum": parts_sum,
                    "total": headline,
                    "adds_up": parts_sum == headline,
                    "note": breakdown["note"],
                }
            )
        evidence = [e for reported in figure["values"] for e in reported["evidence"]]
        evidence += [e for b in figure["breakdowns"] for p in b["parts"] for e in p["evidence"]]
        chosen = next(reported for reported in figure["values"] if reported["value"] == headline)
        return {
            "entity": "figure",
            "id": figure["id"],
            "label": figure["label"],
            "name": figure["label"],
            "aliases": [*figure["aliases"], *figure["shared_aliases"]],
            "unit": figure["unit"],
            "headline": headline,
            "headline_display": display_value(chosen["value"], chosen["comparator"]),
            "headline_reason": figure["headline_reason"],
            # "at least 40" and "40" agree on the number; only different numbers disagree.
            "sources_agree": len({reported["value"] for reported in figure["values"]}) == 1,
            "values": values,
            "breakdowns": breakdowns,
            "sources": self.sources_cited(evidence),
        }

    def _event(self, num: int, event: Data) -> Doc:
        doc: Doc = {
            "entity": "event",
            **self.event_brief(num),
            "name": event["title"],
            "participants": self.refs_of_ids(event["participants"]),
        }
        doc["statements"] = [self.statement_brief(s) for s in self.linked(num, HEARD)]
        doc["evidence"] = _evidence(event["evidence"])
        doc["sources"] = self.sources_cited(event["evidence"])
        return doc

    def _statement(self, num: int, statement: Data) -> Doc:
        doc: Doc = {"entity": "statement", **self.statement_brief(num)}
        doc["name"] = self.row(num).name
        doc["sources"] = self.sources_cited(statement["evidence"])
        return doc

    def _source(self, num: int, source: Data) -> Doc:
        taken: dict[str, list[Doc]] = {kind: [] for kind in ENTITY_KINDS if kind != "source"}
        for citing in self.linked(num, CITED_BY):
            row = self.row(citing)
            taken[row.kind].append({"id": row.id, "name": row.name})
        return {
            "entity": "source",
            **self.source_brief(num),
            "name": source["title"],
            "notes": list(source["notes"]),
            "omitted": list(source["omitted"]),
            "taken": taken,
        }
