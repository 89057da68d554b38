"""Pydantic models of the knowledge base (KB).

Every entity and every claim carries `Evidence`: a source id and a quote copied verbatim from
that source's article. Ids are unique across the whole KB, so a reference (a speaker, a
participant, a representative) names exactly one entity whatever its kind.

This module is imported only to validate a KB or build the index; the query fast path reads
the validated index and never imports pydantic.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

SCHEMA_VERSION = 1

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300)]


def _finite(number: int | float) -> int | float:
    # Not pydantic's `allow_inf_nan=False`: it converts an int to a float to check it, which
    # fails on a 400-digit integer.
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("Input should be a finite number")
    return number


Number = Annotated[int | float, AfterValidator(_finite)]
"""A reported count or amount: JSON numbers that overflow to infinity (`1e400`) are refused."""

_DATE_PATTERNS = {
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
    "year": re.compile(r"^\d{4}$"),
}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Evidence(Model):
    """A verbatim quote from one source: exact words, no paraphrase, no ellipsis."""

    source: Id
    quote: Text


class PartialDate(Model):
    """A date known to a day, a month or a year (`2025-10-26`, `2025-10`, `2019`)."""

    value: str
    precision: Literal["day", "month", "year"]
    derivation: str | None = Field(
        default=None,
        description="How the date was worked out when the article does not print it in full.",
    )

    @model_validator(mode="after")
    def _value_matches_precision(self) -> PartialDate:
        if not _DATE_PATTERNS[self.precision].match(self.value):
            raise ValueError(
                f"date {self.value!r} does not have {self.precision} precision "
                "(expected YYYY-MM-DD, YYYY-MM or YYYY)"
            )
        month = int(self.value[5:7]) if self.precision != "year" else 1
        day = int(self.value[8:10]) if self.precision == "day" else 1
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise ValueError(f"date {self.value!r} is not a calendar date")
        return self


class Source(Model):
    """One news article: the only place facts may come from."""

    id: Id
    file: Annotated[str, StringConstraints(pattern=r"^[\w.-]+\.txt$")]
    outlet: Name
    title: Text
    url: str | None = None
    published: PartialDate | None = None
    language: str = "en"
    notes: list[Text] = Field(
        default_factory=list,
        description="How outlet, title or date were identified where the article is not explicit.",
    )
    omitted: list[Text] = Field(
        default_factory=list,
        description="Parts of the article left out of the KB, each with the reason.",
    )


class Title(Model):
    """A title or role a person holds, with the organisation and country it belongs to."""

    title: Name
    organisation: Id | None = None
    country: Id | None = None
    evidence: list[Evidence] = Field(min_length=1)


class Person(Model):
    id: Id
    name: Name
    aliases: list[Name] = Field(default_factory=list)
    shared_aliases: list[Name] = Field(
        default_factory=list,
        description="Aliases that knowingly name another entity of the same kind too.",
    )
    titles: list[Title] = Field(default_factory=list)
    country: Id | None = None
    evidence: list[Evidence] = Field(min_length=1)


CountryRoleName = Literal[
    "host",
    "proposer",
    "signatory",
    "supporter",
    "negotiator",
    "partner",
    "media",
    "beneficiary",
    "mentioned",
]


class CountryRole(Model):
    role: CountryRoleName
    note: Text | None = None
    evidence: list[Evidence] = Field(min_length=1)


class Country(Model):
    id: Id
    name: Name
    aliases: list[Name] = Field(default_factory=list)
    shared_aliases: list[Name] = Field(
        default_factory=list,
        description="Aliases that knowingly name another entity of the same kind too.",
    )
    roles: list[CountryRole] = Field(default_factory=list)
    representatives: list[Id] = Field(default_factory=list)
    evidence: list[Evidence] = Field(min_length=1)


OrganisationKind = Literal[
    "un-body",
    "intergovernmental",
    "ministry",
    "government-department",
    "government",
    "party",
    "news-outlet",
    "website",
    "research-institution",
    "university",
    "other",
]


class Organisation(Model):
    id: Id
    name: Name
    acronym: Name | None = None
    aliases: list[Name] = Field(default_factory=list)
    shared_aliases: list[Name] = Field(
        default_factory=list,
        description="Aliases that knowingly name another entity of the same kind too.",
    )
    kind: OrganisationKind
    country: Id | None = None
    parent: Id | None = None
    people: list[Id] = Field(default_factory=list)
    evidence: list[Evidence] = Field(min_length=1)


Comparator = Literal["exact", "more-than", "at-least", "around"]


class ReportedValue(Model):
    """One value as one source reports it, with what exactly it counts."""

    value: Number
    comparator: Comparator = "exact"
    qualifier: Text = Field(description="As of when, and what exactly was counted.")
    source: Id
    evidence: list[Evidence] = Field(min_length=1)


class BreakdownPart(Model):
    label: Name
    value: Number
    evidence: list[Evidence] = Field(min_length=1)


class Breakdown(Model):
    label: Name
    parts: list[BreakdownPart] = Field(min_length=1)
    note: Text | None = Field(
        default=None,
        description="Required when the parts do not add up to the figure's headline value.",
    )


class Figure(Model):
    id: Id
    label: Name
    aliases: list[Name] = Field(default_factory=list)
    shared_aliases: list[Name] = Field(
        default_factory=list,
        description="Aliases that knowingly name another entity of the same kind too.",
    )
    unit: Name
    values: list[ReportedValue] = Field(min_length=1)
    headline: Number
    headline_reason: Text
    breakdowns: list[Breakdown] = Field(default_factory=list)

    @model_validator(mode="after")
    def _headline_is_reported(self) -> Figure:
        if all(reported.value != self.headline for reported in self.values):
            raise ValueError(f"headline {self.headline} is not one of the reported values")
        return self

    @model_validator(mode="after")
    def _disagreeing_breakdown_is_explained(self) -> Figure:
        for breakdown in self.breakdowns:
            parts_sum = sum(part.value for part in breakdown.parts)
            if parts_sum != self.headline and breakdown.note is None:
                raise ValueError(
                    f"breakdown {breakdown.label!r} sums to {parts_sum}, not the headline "
                    f"{self.headline}, and has no note saying so"
                )
        return self


class Event(Model):
    id: Id
    title: Name
    date: PartialDate
    end_date: PartialDate | None = None
    place: Name | None = None
    participants: list[Id] = Field(default_factory=list)
    evidence: list[Evidence] = Field(min_length=1)


class Statement(Model):
    """Words attributed to a person or an organisation, as the article gives them."""

    id: Id
    speaker: Id
    kind: Literal["direct", "reported"]
    quote: Text = Field(description="The article's own words, verbatim.")
    summary: Text | None = Field(default=None, description="A short paraphrase.")
    topics: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]] = Field(
        default_factory=list
    )
    date: PartialDate | None = None
    event: Id | None = None
    evidence: list[Evidence] = Field(min_length=1)


class KnowledgeBase(Model):
    schema_version: Literal[1]
    sources: list[Source] = Field(min_length=1)
    people: list[Person] = Field(default_factory=list)
    countries: list[Country] = Field(default_factory=list)
    organisations: list[Organisation] = Field(default_factory=list)
    figures: list[Figure] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)


def json_schema_text() -> str:
    """The JSON Schema of a KB file, as shipped in `data/facts.schema.json`."""
    import json

    schema = KnowledgeBase.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hanoi-cli knowledge base"
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
