"""The models accept the fixture KB and reject each kind of malformed entity."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from hanoi_cli.models import Figure, KnowledgeBase, PartialDate, Person, json_schema_text
from tests.conftest import ROOT
from tests.kbfactory import mini_kb_dict


def test_fixture_kb_is_valid() -> None:
    kb = KnowledgeBase.model_validate(mini_kb_dict())
    assert [person.id for person in kb.people] == [
        "luong-tam-quang",
        "antonio-guterres",
        "john-brandolino",
    ]
    assert kb.figures[0].headline == 72


def _figure(**changes: Any) -> dict[str, Any]:
    figure = dict(mini_kb_dict()["figures"][0])
    figure.update(changes)
    return figure


def test_unknown_field_is_rejected() -> None:
    person = mini_kb_dict()["people"][0] | {"nickname": "Quang"}
    with pytest.raises(ValidationError, match="nickname"):
        Person.model_validate(person)


def test_strict_types_do_not_coerce_strings_to_numbers() -> None:
    figure = _figure(headline="72")
    with pytest.raises(ValidationError, match="headline"):
        Figure.model_validate(figure)


def test_headline_must_be_one_of_the_reported_values() -> None:
    with pytest.raises(ValidationError, match="headline 71 is not one of the reported values"):
        Figure.model_validate(_figure(headline=71))


def test_breakdown_that_does_not_add_up_needs_a_note() -> None:
    figure = _figure()
    figure["breakdowns"] = [dict(figure["breakdowns"][0], note=None)]
    with pytest.raises(ValidationError, match="sums to 71, not the headline 72"):
        Figure.model_validate(figure)


def test_breakdown_that_adds_up_needs_no_note() -> None:
    figure = _figure()
    part = dict(figure["breakdowns"][0]["parts"][0], value=72)
    figure["breakdowns"] = [{"label": "by region", "parts": [part]}]
    assert Figure.model_validate(figure).breakdowns[0].note is None


@pytest.mark.parametrize(
    ("value", "precision"),
    [("2025-10", "day"), ("2025-10-26", "year"), ("2025-13", "month"), ("25-10-2025", "day")],
)
def test_partial_date_value_must_match_its_precision(value: str, precision: str) -> None:
    with pytest.raises(ValidationError):
        PartialDate.model_validate({"value": value, "precision": precision})


@pytest.mark.parametrize("bad_id", ["Luong", "luong tam", "-luong", "luong--quang", ""])
def test_ids_are_lowercase_slugs(bad_id: str) -> None:
    person = mini_kb_dict()["people"][0] | {"id": bad_id}
    with pytest.raises(ValidationError, match="id"):
        Person.model_validate(person)


def test_every_person_needs_evidence() -> None:
    person = mini_kb_dict()["people"][0] | {"evidence": []}
    with pytest.raises(ValidationError, match="evidence"):
        Person.model_validate(person)


def test_empty_quote_is_rejected() -> None:
    person = mini_kb_dict()["people"][0]
    person["evidence"] = [{"source": "vov-closing", "quote": ""}]
    with pytest.raises(ValidationError, match="quote"):
        Person.model_validate(person)


def test_shipped_schema_matches_the_models() -> None:
    shipped = (ROOT / "data" / "facts.schema.json").read_text(encoding="utf-8")
    assert shipped == json_schema_text(), "run: python scripts/export_schema.py"


@pytest.mark.parametrize("kb_file", ["data/facts.json", "tests/fixtures/mini_kb.json"])
def test_entity_evidence_finds_what_the_generic_walk_finds(kb_file: str) -> None:
    """The index's per-field evidence lists miss nothing the model-walking check sees."""
    from collections import Counter

    from hanoi_cli.checks import KIND_OF_SECTION, SECTIONS, entity_evidence, iter_evidence
    from hanoi_cli.views import evidence_items

    kb = KnowledgeBase.model_validate_json((ROOT / kb_file).read_bytes())
    for section in SECTIONS:
        for entity in getattr(kb, section):
            walked = Counter(evidence for _, evidence in iter_evidence("", entity))
            assert Counter(entity_evidence(entity)) == walked, entity.id
            # The query side reads the same places in the stored JSON.
            stored = evidence_items(KIND_OF_SECTION[section], entity.model_dump(mode="json"))
            assert Counter((item["source"], item["quote"]) for item in stored) == Counter(
                (evidence.source, evidence.quote) for evidence in walked.elements()
            ), entity.id


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity"])
@pytest.mark.parametrize("field", ["value", "headline"])
def test_numbers_that_are_not_finite_are_refused(number: str, field: str) -> None:
    """JSON has no infinity, but `1e400` overflows to one: no figure can be infinite."""
    figure = _figure()
    if field == "value":
        figure["values"] = [{**figure["values"][0], "value": "NUMBER"}]
    else:
        figure["headline"] = "NUMBER"
    raw = json.dumps(figure).replace('"NUMBER"', number)
    with pytest.raises(ValidationError, match="finite number"):
        Figure.model_validate_json(raw)


def test_a_huge_integer_is_a_number_not_a_crash() -> None:
    """Finite, so allowed; checking it must not convert it to a float (which overflows)."""
    huge = 10**400
    figure = _figure()
    figure["values"] = [{**figure["values"][0], "value": huge}]
    figure["headline"] = huge
    figure["breakdowns"] = []
    assert Figure.model_validate_json(json.dumps(figure)).headline == huge
