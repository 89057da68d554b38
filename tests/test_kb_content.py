"""The shipped KB answers the questions readers ask, with verbatim evidence.

These are acceptance tests of data/facts.json: a person, country, organisation or figure named
in the articles is found as people type it, and disagreements between articles are kept.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hanoi_cli.index import Store
from hanoi_cli.paths import packaged_kb_path
from hanoi_cli.query import find, find_speakers, search, statements, timeline
from tests.conftest import REPO_KB, SEEDS, requires_articles, run_cli


def test_packaged_kb_is_the_repository_kb() -> None:
    assert packaged_kb_path().read_bytes() == REPO_KB.read_bytes()


@requires_articles
def test_every_quote_is_verbatim_in_its_article() -> None:
    result = run_cli("validate", "--sources", str(SEEDS))
    assert result.exit_code == 0, result.stdout
    assert " 0 problems (" in result.stdout


def _names(store: Store, kind: str, typed: str) -> list[str]:
    return [match.name for match in find(store, kind, typed)]


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Guterres", "António Guterres"),
        ("antonio guterres", "António Guterres"),
        ("Gutteres", "António Guterres"),
        ("Secretary-General", "António Guterres"),
        ("Luong Tam Quang", "Lương Tam Quang"),
        ("LƯƠNG TAM QUANG", "Lương Tam Quang"),
        ("Minister of Public Security", "Lương Tam Quang"),
        ("Pham The Tung", "Phạm Thế Tùng"),
        ("Nguyen Minh Vu", "Nguyễn Minh Vũ"),
        ("Dang Hoang Giang", "Đặng Hoàng Giang"),
        ("Đặng Hoàng Giang", "Đặng Hoàng Giang"),
        ("Le Xuan Minh", "Lê Xuân Minh"),
        ("To Lam", "Tô Lâm"),
        ("Luong Cuong", "Lương Cường"),
        ("Pham Minh Chinh", "Phạm Minh Chính"),
        ("Lyukmanov", "Artur Lyukmanov"),
        ("Brandolino", "John Brandolino"),
        ("Thong Mengdavid", "Thong Mengdavid"),
    ],
)
def test_people_are_found_as_people_type_them(real_store: Store, typed: str, name: str) -> None:
    assert _names(real_store, "person", typed) == [name]


def test_kubayi_is_found_by_surname(real_store: Store) -> None:
    [name] = _names(real_store, "person", "Kubayi")
    assert "Kubayi" in name


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Luong", {"Lương Tam Quang", "Lương Cường"}),
        ("Pham", {"Phạm Thế Tùng", "Phạm Minh Chính"}),
    ],
)
def test_shared_surname_lists_everyone(real_store: Store, typed: str, expected: set[str]) -> None:
    assert set(_names(real_store, "person", typed)) == expected


def test_deputy_ministers(real_store: Store) -> None:
    names = set(_names(real_store, "person", "Deputy Minister"))
    assert {"Phạm Thế Tùng", "Nguyễn Minh Vũ", "Đặng Hoàng Giang"} <= names


@pytest.mark.parametrize(
    ("kind", "typed", "name"),
    [
        ("country", "Viet Nam", "Vietnam"),
        ("country", "Việt Nam", "Vietnam"),
        ("country", "Russian Federation", "Russia"),
        ("country", "South Africa", "South Africa"),
        ("country", "Cambodia", "Cambodia"),
        ("organisation", "UNODC", "United Nations Office on Drugs and Crime"),
        ("organisation", "Vietnam News Agency", "Vietnam News Agency"),
        ("organisation", "Ministry of Public Security", "Ministry of Public Security"),
    ],
)
def test_countries_and_organisations(real_store: Store, kind: str, typed: str, name: str) -> None:
    assert _names(real_store, kind, typed)[0] == name


def _figure(store: Store, typed: str) -> dict[str, Any]:
    [match] = find(store, "figure", typed)
    return match.document


def test_signatories_keep_every_reported_value(real_store: Store) -> None:
    figure = _figure(real_store, "signatories")
    assert figure["headline"] == 72
    assert figure["headline_reason"]
    reported = {(value["value"], value["comparator"]) for value in figure["values"]}
    assert {(72, "exact"), (65, "exact"), (64, "exact"), (70, "more-than")} <= reported
    assert figure["sources_agree"] is False
    assert len({value["source"] for value in figure["values"]}) >= 3


def test_regional_breakdown_is_flagged_as_not_adding_up(real_store: Store) -> None:
    [breakdown] = _figure(real_store, "signatories")["breakdowns"]
    parts = {part["label"]: part["value"] for part in breakdown["parts"]}
    assert sorted(parts.values()) == [12, 19, 19, 21]
    assert (breakdown["parts_sum"], breakdown["total"], breakdown["adds_up"]) == (71, 72, False)
    assert breakdown["note"]


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("delegates", 2500),
        ("press agencies", 189),
        ("reporters", 400),
        ("national delegations", 110),
    ],
)
def test_event_figures(real_store: Store, typed: str, value: int) -> None:
    assert _figure(real_store, typed)["headline"] == value


def test_there_are_many_figures(real_store: Store) -> None:
    figures = json.loads(run_cli("stats", "--json").stdout)
    assert len(figures) >= 15


def test_guterres_is_quoted_verbatim(real_store: Store) -> None:
    [guterres] = find(real_store, "person", "Guterres")
    quotes = [statement["quote"] for statement in statements(real_store, [guterres.id])]
    assert any("a historic step towards a safer digital world" in quote for quote in quotes)


def test_timeline_runs_from_the_2019_proposal_to_the_closing(real_store: Store) -> None:
    events = timeline(real_store)
    assert events[0]["date"]["value"].startswith("2019")
    days = {event["date"]["value"] for event in events}
    assert {"2025-10-25", "2025-10-26"} <= days


def test_every_entity_has_evidence(real_store: Store) -> None:
    for kind in ("person", "country", "organisation", "event", "statement"):
        for document in real_store.all_documents(kind):
            assert document["evidence"], f"{kind} {document['id']} has no evidence"


def test_a_name_shared_by_two_people_lists_both(real_store: Store) -> None:
    assert set(_names(real_store, "person", "Quang")) == {"Lương Tam Quang", "Quang Dung"}


@pytest.mark.parametrize(
    ("typed", "speakers"),
    [
        ("UN", {"United Nations"}),
        ("South Africa", {"Mmamiloko T. Kubayi"}),
        ("Cambodia", {"Thong Mengdavid"}),
        ("Guterres", {"António Guterres"}),
    ],
)
def test_quotes_by_a_person_organisation_or_country(
    real_store: Store, typed: str, speakers: set[str]
) -> None:
    found = statements(real_store, find_speakers(real_store, typed))
    assert {statement["speaker"]["name"] for statement in found} == speakers


def test_quotes_by_a_country_gathers_its_people(real_store: Store) -> None:
    speakers = {
        s["speaker"]["name"] for s in statements(real_store, find_speakers(real_store, "Viet Nam"))
    }
    assert {"Lương Tam Quang", "Phạm Thế Tùng", "Nguyễn Minh Vũ", "Đặng Hoàng Giang"} <= speakers


def test_ids_printed_in_tables_can_be_typed_back(real_store: Store) -> None:
    for kind in ("person", "country", "organisation", "figure"):
        for document in real_store.all_documents(kind):
            assert find(real_store, kind, document["id"])[0].id == document["id"]


@pytest.mark.parametrize("typed", ["Asia-Pacific", "African countries", "Latin America"])
def test_a_breakdown_part_finds_its_figure(real_store: Store, typed: str) -> None:
    assert [match.id for match in find(real_store, "figure", typed)] == ["signatories"]


def test_search_finds_a_number_written_with_or_without_its_comma(real_store: Store) -> None:
    with_comma = {hit.id for hit in search(real_store, "2,500")}
    without = {hit.id for hit in search(real_store, "2500")}
    assert "delegates" in with_comma and "delegates" in without


def test_search_ties_put_people_and_organisations_before_sources(real_store: Store) -> None:
    """ "VOV" is an organisation's name and three sources' outlet, with the same rank."""
    from hanoi_cli.query import search

    hits = search(real_store, "VOV")
    tied = [hit for hit in hits if hit.rank == hits[0].rank]
    assert {hit.kind for hit in tied} >= {"organisation", "source"}
    assert hits[0].kind == "organisation" and hits[0].id == "vov"
    kinds = [hit.kind for hit in tied]
    assert kinds.index("organisation") < kinds.index("source")
