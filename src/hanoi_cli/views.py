"""Builds the answer documents: one JSON-ready dict per entity, with its references resolved.

Run once per KB when the index is built, so a query only fetches finished documents. The
documents are exactly what `--json` prints and what the tables show; their fields are listed in
the README ("JSON fields").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from hanoi_cli.checks import KIND_OF_SECTION, iter_evidence
from hanoi_cli.models import (
    Country,
    Event,
    Evidence,
    Figure,
    KnowledgeBase,
    Organisation,
    PartialDate,
    Person,
    ReportedValue,
    Source,
    Statement,
)

Doc = dict[str, Any]

_COMPARATOR_WORDS = {
    "exact": "",
    "more-than": "more than ",
    "at-least": "at least ",
    "around": "around ",
}


def format_number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) or not value.is_integer() else f"{int(value):,}"


def display_value(reported: ReportedValue) -> str:
    """`more-than` 70 -> `more than 70`."""
    return _COMPARATOR_WORDS[reported.comparator] + format_number(reported.value)


def _date(date: PartialDate | None) -> Doc | None:
    return None if date is None else date.model_dump(mode="json")


def _evidence(items: Iterable[Evidence]) -> list[Doc]:
    """Evidence as JSON, each (source, quote) pair once, in first-seen order."""
    unique = dict.fromkeys((item.source, item.quote) for item in items)
    return [{"source": source, "quote": quote} for source, quote in unique]


class ViewBuilder:
    """Resolves ids to names and collects the reverse links (who said what, who took part)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.by_id: dict[str, Any] = {}
        self.kind_of: dict[str, str] = {}
        for section, kind in KIND_OF_SECTION.items():
            for entity in getattr(kb, section):
                self.by_id[entity.id] = entity
                self.kind_of[entity.id] = kind
        self.statements_by: dict[str, list[Statement]] = defaultdict(list)
        self.statements_at: dict[str, list[Statement]] = defaultdict(list)
        for statement in kb.statements:
            self.statements_by[statement.speaker].append(statement)
            if statement.event:
                self.statements_at[statement.event].append(statement)
        self.events_of: dict[str, list[Event]] = defaultdict(list)
        for event in kb.events:
            for participant in event.participants:
                self.events_of[participant].append(event)
        self.people_of_org: dict[str, list[str]] = defaultdict(list)
        self.orgs_of_person: dict[str, list[str]] = defaultdict(list)
        # Reverse links computed once: looking them up per entity made a build quadratic.
        self.orgs_in_country: dict[str, list[str]] = defaultdict(list)
        self.children_of: dict[str, list[str]] = defaultdict(list)
        for org in kb.organisations:
            for person_id in org.people:
                _add(self.people_of_org[org.id], person_id)
                _add(self.orgs_of_person[person_id], org.id)
            if org.country:
                self.orgs_in_country[org.country].append(org.id)
            if org.parent:
                self.children_of[org.parent].append(org.id)
        self.people_of_country: dict[str, list[str]] = defaultdict(list)
        for person in kb.people:
            if person.country:
                _add(self.people_of_country[person.country], person.id)
            for title in person.titles:
                if title.organisation:
                    _add(self.people_of_org[title.organisation], person.id)
                    _add(self.orgs_of_person[person.id], title.organisation)
                if title.country:
                    _add(self.people_of_country[title.country], person.id)
        for country in kb.countries:
            for person_id in country.representatives:
                _add(self.people_of_country[country.id], person_id)
        self.source_order = {source.id: number for number, source in enumerate(kb.sources)}
        self._taken: dict[str, dict[str, list[Doc]]] | None = None
        self.names = {entity_id: _own_name(entity) for entity_id, entity in self.by_id.items()}
        for statement in kb.statements:
            self.names[statement.id] = self.names[statement.speaker]
        # Briefs are shared by every document that lists them: built once per entity.
        self._briefs: dict[str, Doc] = {}

    def name_of(self, entity_id: str) -> str:
        """What a reference shows: a name, label or title; a statement shows its speaker."""
        return self.names[entity_id]

    def ref(self, entity_id: str | None) -> Doc | None:
        if entity_id is None:
            return None
        return {"id": entity_id, "entity": self.kind_of[entity_id], "name": self.name_of(entity_id)}

    def refs(self, ids: Iterable[str]) -> list[Doc]:
        return [{"id": i, "entity": self.kind_of[i], "name": self.name_of(i)} for i in ids]

    def source_brief(self, source: Source) -> Doc:
        if source.id in self._briefs:
            return self._briefs[source.id]
        self._briefs[source.id] = brief = {
            "id": source.id,
            "outlet": source.outlet,
            "title": source.title,
            "url": source.url,
            "published": _date(source.published),
            "file": source.file,
        }
        return brief

    def sources_cited(self, *evidence_lists: Iterable[Evidence]) -> list[Doc]:
        """The sources behind a document, in the KB's order of sources."""
        cited = {item.source for items in evidence_lists for item in items}
        known = sorted(
            self.source_order[source_id] for source_id in cited if source_id in self.source_order
        )
        return [self.source_brief(self.kb.sources[number]) for number in known]

    def statement_brief(self, statement: Statement) -> Doc:
        if statement.id in self._briefs:
            return self._briefs[statement.id]
        self._briefs[statement.id] = brief = {
            "id": statement.id,
            "speaker": self.ref(statement.speaker),
            "kind": statement.kind,
            "quote": statement.quote,
            "summary": statement.summary,
            "topics": list(statement.topics),
            "date": _date(statement.date),
            "event": self.ref(statement.event),
            "evidence": _evidence(statement.evidence),
        }
        return brief

    def event_brief(self, event: Event) -> Doc:
        if event.id in self._briefs:
            return self._briefs[event.id]
        self._briefs[event.id] = brief = {
            "id": event.id,
            "title": event.title,
            "date": _date(event.date),
            "end_date": _date(event.end_date),
            "place": event.place,
        }
        return brief

    def _statements(self, speakers: Iterable[str]) -> list[Statement]:
        seen: dict[str, Statement] = {}
        for speaker in speakers:
            for statement in self.statements_by.get(speaker, []):
                seen.setdefault(statement.id, statement)
        return list(seen.values())

    def _events(self, participants: Iterable[str]) -> list[Event]:
        seen: dict[str, Event] = {}
        for participant in participants:
            for event in self.events_of.get(participant, []):
                seen.setdefault(event.id, event)
        return sorted(seen.values(), key=lambda event: event.date.value)

    def _with_context(
        self, doc: Doc, own: list[Evidence], statements: list[Statement], events: list[Event]
    ) -> Doc:
        """Adds the statements, events, evidence and cited sources every document carries."""
        doc["statements"] = [self.statement_brief(statement) for statement in statements]
        doc["events"] = [self.event_brief(event) for event in events]
        doc["evidence"] = _evidence(own)
        doc["sources"] = self.sources_cited(own, *(s.evidence for s in statements))
        return doc

    def person(self, person: Person) -> Doc:
        titles = [
            {
                "title": title.title,
                "organisation": self.ref(title.organisation),
                "country": self.ref(title.country),
                "evidence": _evidence(title.evidence),
            }
            for title in person.titles
        ]
        doc: Doc = {
            "entity": "person",
            "id": person.id,
            "name": person.name,
            "aliases": [*person.aliases, *person.shared_aliases],
            "country": self.ref(person.country),
            "titles": titles,
            "organisations": self.refs(self.orgs_of_person.get(person.id, [])),
        }
        own = [*person.evidence, *(e for title in person.titles for e in title.evidence)]
        statements = self._statements([person.id])
        return self._with_context(doc, own, statements, self._events([person.id]))

    def country(self, country: Country) -> Doc:
        people = self.people_of_country.get(country.id, [])
        orgs = self.orgs_in_country.get(country.id, [])
        doc: Doc = {
            "entity": "country",
            "id": country.id,
            "name": country.name,
            "aliases": [*country.aliases, *country.shared_aliases],
            "roles": [
                {"role": role.role, "note": role.note, "evidence": _evidence(role.evidence)}
                for role in country.roles
            ],
            "representatives": self.refs(country.representatives),
            "people": self.refs(people),
            "organisations": self.refs(orgs),
        }
        own = [*country.evidence, *(e for role in country.roles for e in role.evidence)]
        statements = self._statements([*people, *orgs])
        events = self._events([country.id, *people])
        return self._with_context(doc, own, statements, events)

    def organisation(self, org: Organisation) -> Doc:
        people = self.people_of_org.get(org.id, [])
        children = self.children_of.get(org.id, [])
        doc: Doc = {
            "entity": "organisation",
            "id": org.id,
            "name": org.name,
            "acronym": org.acronym,
            "aliases": [*org.aliases, *org.shared_aliases],
            "kind": org.kind,
            "country": self.ref(org.country),
            "parent": self.ref(org.parent),
            "children": self.refs(children),
            "people": self.refs(people),
        }
        statements = self._statements([org.id, *people])
        return self._with_context(doc, list(org.evidence), statements, self._events([org.id]))

    def figure(self, figure: Figure) -> Doc:
        values = [
            {
                "value": reported.value,
                "comparator": reported.comparator,
                "display": display_value(reported),
                "qualifier": reported.qualifier,
                "source": reported.source,
                "evidence": _evidence(reported.evidence),
            }
            for reported in figure.values
        ]
        breakdowns = []
        for breakdown in figure.breakdowns:
            parts_sum = sum(part.value for part in breakdown.parts)
            breakdowns.append(
                {
                    "label": breakdown.label,
                    "parts": [
                        {
                            "label": part.label,
                            "value": part.value,
                            "evidence": _evidence(part.evidence),
                        }
                        for part in breakdown.parts
                    ],
                    "parts_sum": parts_sum,
                    "total": figure.headline,
                    "adds_up": parts_sum == figure.headline,
                    "note": breakdown.note,
                }
            )
        evidence = [e for r in figure.values for e in r.evidence]
        evidence += [e for b in figure.breakdowns for p in b.parts for e in p.evidence]
        headline = next(r for r in figure.values if r.value == figure.headline)
        return {
            "entity": "figure",
            "id": figure.id,
            "label": figure.label,
            "name": figure.label,
            "aliases": [*figure.aliases, *figure.shared_aliases],
            "unit": figure.unit,
            "headline": figure.headline,
            "headline_display": display_value(headline),
            "headline_reason": figure.headline_reason,
            # "at least 40" and "40" agree on the number; only different numbers disagree.
            "sources_agree": len({reported.value for reported in figure.values}) == 1,
            "values": values,
            "breakdowns": breakdowns,
            "sources": self.sources_cited(evidence),
        }

    def event(self, event: Event) -> Doc:
        doc: Doc = {
            "entity": "event",
            **self.event_brief(event),
            "name": event.title,
            "participants": self.refs(event.participants),
        }
        statements = self.statements_at.get(event.id, [])
        doc["statements"] = [self.statement_brief(statement) for statement in statements]
        doc["evidence"] = _evidence(event.evidence)
        doc["sources"] = self.sources_cited(event.evidence)
        return doc

    def statement(self, statement: Statement) -> Doc:
        doc: Doc = {"entity": "statement", **self.statement_brief(statement)}
        doc["name"] = self.name_of(statement.speaker)
        doc["sources"] = self.sources_cited(statement.evidence)
        return doc

    def source(self, source: Source) -> Doc:
        taken = self._taken_from().get(source.id, {})
        return {
            "entity": "source",
            **self.source_brief(source),
            "name": source.title,
            "notes": list(source.notes),
            "omitted": list(source.omitted),
            "taken": {kind: taken.get(kind, []) for kind in ENTITY_KINDS if kind != "source"},
        }

    def _taken_from(self) -> dict[str, dict[str, list[Doc]]]:
        """Per source, per kind: the entities citing it, in KB order; one pass over the KB."""
        if self._taken is None:
            self._taken = defaultdict(lambda: defaultdict(list))
            for entity_id, entity in self.by_id.items():
                kind = self.kind_of[entity_id]
                if kind == "source":
                    continue
                ref = {"id": entity_id, "name": self.name_of(entity_id)}
                for source_id in _cited_sources(entity):
                    self._taken[source_id][kind].append(dict(ref))
        return self._taken

    def all_documents(self) -> Iterable[tuple[str, str, Doc]]:
        """(kind, id, document) for every entity, in the KB's order."""
        builders: tuple[tuple[str, list[Any], Any], ...] = (
            ("person", self.kb.people, self.person),
            ("country", self.kb.countries, self.country),
            ("organisation", self.kb.organisations, self.organisation),
            ("figure", self.kb.figures, self.figure),
            ("event", self.kb.events, self.event),
            ("statement", self.kb.statements, self.statement),
            ("source", self.kb.sources, self.source),
        )
        for kind, entities, build in builders:
            for entity in entities:
                yield kind, entity.id, build(entity)


ENTITY_KINDS = ("person", "country", "organisation", "figure", "event", "statement", "source")


def _own_name(entity: Any) -> str:
    if isinstance(entity, Figure):
        return entity.label
    if isinstance(entity, Event | Source):
        return entity.title
    if isinstance(entity, Statement):
        return ""  # replaced by the speaker's name once every name is known
    return str(entity.name)


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _cited_sources(entity: Any) -> set[str]:
    """Every source id that an entity's evidence names, at any depth."""
    return {evidence.source for _, evidence in iter_evidence("", entity)}
