"""Checks a schema-valid KB as a whole: ids, references, aliases and verbatim quotes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel

from hanoi_cli.errors import Problem
from hanoi_cli.models import (
    Country,
    Event,
    Evidence,
    Figure,
    KnowledgeBase,
    Organisation,
    Person,
    Source,
    Statement,
)
from hanoi_cli.text import compact, fold, fold_quote

SECTIONS = ("sources", "people", "countries", "organisations", "figures", "events", "statements")
KIND_OF_SECTION = {
    "sources": "source",
    "people": "person",
    "countries": "country",
    "organisations": "organisation",
    "figures": "figure",
    "events": "event",
    "statements": "statement",
}


def find_problems(kb: KnowledgeBase) -> Iterator[Problem]:
    """Every duplicate id, dangling reference and ambiguous alias, each with its JSON path."""
    kind_of_id: dict[str, str] = {}
    for section in SECTIONS:
        for index, entity in enumerate(getattr(kb, section)):
            if entity.id in kind_of_id:
                yield Problem(
                    f"{section}[{index}].id",
                    f"duplicate id {entity.id!r} (already used by a {kind_of_id[entity.id]})",
                )
            else:
                kind_of_id[entity.id] = KIND_OF_SECTION[section]
    yield from check_references(kb, kind_of_id)
    yield from _check_aliases(kb)
    for index, source in enumerate(kb.sources):
        if sum(other.file == source.file for other in kb.sources) > 1:
            yield Problem(f"sources[{index}].file", f"file {source.file!r} is used twice")


def check_references(kb: KnowledgeBase, kind_of_id: Mapping[str, str]) -> Iterator[Problem]:
    # A big KB has millions of references: each is checked with one dict lookup, and its JSON
    # path is only written out when it is wrong.
    def wrong(ref: str | None, *kinds: str) -> str | None:
        if ref is None:
            return None
        found = kind_of_id.get(ref)
        if found in kinds:
            return None
        if found is None:
            return f"{ref!r} does not name any {' or '.join(kinds)}"
        return f"{ref!r} is a {found}, expected a {' or '.join(kinds)}"

    for section in SECTIONS[1:]:
        for i, entity in enumerate(getattr(kb, section)):
            if all(kind_of_id.get(item.source) == "source" for item in entity_evidence(entity)):
                continue
            for path, evidence in iter_evidence(f"{section}[{i}]", entity):
                if message := wrong(evidence.source, "source"):
                    yield Problem(f"{path}.source", message)
    for i, person in enumerate(kb.people):
        if message := wrong(person.country, "country"):
            yield Problem(f"people[{i}].country", message)
        for j, title in enumerate(person.titles):
            if message := wrong(title.organisation, "organisation"):
                yield Problem(f"people[{i}].titles[{j}].organisation", message)
            if message := wrong(title.country, "country"):
                yield Problem(f"people[{i}].titles[{j}].country", message)
    for i, country in enumerate(kb.countries):
        for j, ref in enumerate(country.representatives):
            if message := wrong(ref, "person"):
                yield Problem(f"countries[{i}].representatives[{j}]", message)
    for i, org in enumerate(kb.organisations):
        if message := wrong(org.country, "country"):
            yield Problem(f"organisations[{i}].country", message)
        if message := wrong(org.parent, "organisation"):
            yield Problem(f"organisations[{i}].parent", message)
        for j, ref in enumerate(org.people):
            if message := wrong(ref, "person"):
                yield Problem(f"organisations[{i}].people[{j}]", message)
    for i, figure in enumerate(kb.figures):
        for j, reported in enumerate(figure.values):
            at = f"figures[{i}].values[{j}]"
            if message := wrong(reported.source, "source"):
                yield Problem(f"{at}.source", message)
            for k, evidence in enumerate(reported.evidence):
                if evidence.source != reported.source:
                    yield Problem(
                        f"{at}.evidence[{k}].source",
                        f"evidence from {evidence.source!r} backs a value reported by "
                        f"{reported.source!r}",
                    )
    for i, event in enumerate(kb.events):
        for j, ref in enumerate(event.participants):
            if message := wrong(ref, "person", "country", "organisation"):
                yield Problem(f"events[{i}].participants[{j}]", message)
    for i, statement in enumerate(kb.statements):
        if message := wrong(statement.speaker, "person", "organisation"):
            yield Problem(f"statements[{i}].speaker", message)
        if message := wrong(statement.event, "event"):
            yield Problem(f"statements[{i}].event", message)


def _check_aliases(kb: KnowledgeBase) -> Iterator[Problem]:
    """A name or alias may point to one entity of a kind, unless it is marked as shared."""
    for section in ("people", "countries", "organisations", "figures"):
        owners: dict[str, list[tuple[int, bool]]] = defaultdict(list)
        for index, entity in enumerate(getattr(kb, section)):
            for key, shared in alias_claims(entity).items():
                owners[key].append((index, shared))
        for key, claims in owners.items():
            if len(claims) == 1:
                continue
            unmarked = [index for index, shared in claims if not shared]
            if len(unmarked) > 1:
                where = ", ".join(f"{section}[{index}]" for index in unmarked)
                yield Problem(
                    f"{section}[{unmarked[1]}]",
                    f"name or alias {key!r} is used by {where}; "
                    "list it in shared_aliases if that is intended",
                )


def alias_claims(entity: Entity) -> dict[str, bool]:
    """The name keys an entity claims, each with whether it is marked as shared: what the alias
    check counts. Statements, events and sources claim none."""
    if not isinstance(entity, Person | Country | Organisation | Figure):
        return {}
    primary = entity.label if isinstance(entity, Figure) else entity.name
    forms = [primary, *entity.aliases]
    if isinstance(entity, Organisation) and entity.acronym:
        forms.append(entity.acronym)
    keys = dict.fromkeys((compact(fold(form)) for form in forms), False)
    for form in entity.shared_aliases:
        keys[compact(fold(form))] = True
    keys.pop("", None)
    return keys


def _all_evidence(kb: KnowledgeBase) -> Iterator[tuple[str, Evidence]]:
    """Every Evidence in the KB with its JSON path, wherever it sits."""
    for section in SECTIONS[1:]:
        for i, entity in enumerate(getattr(kb, section)):
            yield from iter_evidence(f"{section}[{i}]", entity)


Entity = Source | Person | Country | Organisation | Figure | Event | Statement


def entity_evidence(entity: Entity) -> list[Evidence]:
    """Every Evidence inside one entity, listed field by field.

    The same as `iter_evidence` (a test holds them equal) but without its generic walk, which
    took most of a big KB's reference checks.
    """
    if isinstance(entity, Person):
        return [*entity.evidence, *(item for title in entity.titles for item in title.evidence)]
    if isinstance(entity, Country):
        return [*entity.evidence, *(item for role in entity.roles for item in role.evidence)]
    if isinstance(entity, Figure):
        found = [item for reported in entity.values for item in reported.evidence]
        found += [
            item
            for breakdown in entity.breakdowns
            for part in breakdown.parts
            for item in part.evidence
        ]
        return found
    if isinstance(entity, Source):
        return []
    return list(entity.evidence)


def iter_evidence(path: str, node: object) -> Iterator[tuple[str, Evidence]]:
    """Every Evidence inside a model, at any depth, with its JSON path."""
    if isinstance(node, Evidence):
        yield path, node
        return
    if not isinstance(node, BaseModel):
        return
    for name in type(node).model_fields:
        value = getattr(node, name)
        # Only models can hold evidence: skipping text and numbers here, not one call deeper,
        # made this walk 3x faster on a big KB.
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from iter_evidence(f"{path}.{name}[{index}]", item)
        elif isinstance(value, BaseModel):
            yield from iter_evidence(f"{path}.{name}", value)


def verify_quotes(kb: KnowledgeBase, sources_dir: Path) -> Iterator[Problem]:
    """Every evidence quote, and every statement's quote, is verbatim in its article."""
    articles: dict[str, str | None] = {}
    for index, source in enumerate(kb.sources):
        try:
            articles[source.id] = fold_quote((sources_dir / source.file).read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            articles[source.id] = None
            reason = getattr(error, "strerror", None) or type(error).__name__
            yield Problem(f"sources[{index}].file", f"cannot read {source.file}: {reason}")
    for path, evidence in _all_evidence(kb):
        article = articles.get(evidence.source)
        if article is not None and fold_quote(evidence.quote) not in article:
            yield Problem(f"{path}.quote", f"not found verbatim in {evidence.source!r}")
    for index, statement in enumerate(kb.statements):
        quote = fold_quote(statement.quote)
        cited = [articles.get(evidence.source) for evidence in statement.evidence]
        # An unreadable source was reported above; only a quote missing from readable ones is.
        readable = [article for article in cited if article is not None]
        if len(readable) == len(cited) and not any(quote in article for article in readable):
            yield Problem(f"statements[{index}].quote", "not found verbatim in any cited source")
