"""Name matching, search, quotes and the timeline, on the fixture KB, without the CLI."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hanoi_cli.errors import NotFoundError, UsageError
from hanoi_cli.index import Store
from hanoi_cli.query import (
    MAX_QUERY_CHARS,
    find,
    find_source,
    names_for_completion,
    parse_date_bound,
    search,
    statements,
    timeline,
)
from hanoi_cli.text import compact, fold, fold_quote


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Lương Tam Quang", "luong tam quang"),
        ("ĐẶNG Hoàng Giang", "dang hoang giang"),
        ("Secretary-General", "secretary general"),
        ("Int'l  press", "intl press"),
        ("Việt Nam", "viet nam"),
        ("  --  ", ""),
    ],
)
def test_fold(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_compact_makes_spacing_irrelevant() -> None:
    assert compact(fold("Viet Nam")) == compact(fold("Vietnam")) == "vietnam"


def test_fold_quote_folds_only_whitespace_and_typographic_quotes() -> None:
    assert fold_quote("“a  historic\nstep”") == '"a historic step"'
    assert fold_quote("25\u201326") != fold_quote("25-26")


def _ids(store: Store, kind: str, text: str) -> list[tuple[str, str]]:
    return [(match.id, match.tier) for match in find(store, kind, text)]


@pytest.mark.parametrize(
    ("typed", "tier"),
    [
        ("António Guterres", "exact"),
        ("antonio guterres", "exact"),
        ("ANTONIO-GUTERRES", "exact"),
        ("Antonio Guterres", "exact"),
        ("Guterres", "phrase"),
        ("guterres antonio", "token"),
        ("guter", "token-prefix"),
        ("Gutteres", "fuzzy"),
        ("Secretary-General", "phrase"),
        ("UN Secretary-General", "title"),
    ],
)
def test_person_matching_tiers(mini_store: Store, typed: str, tier: str) -> None:
    assert _ids(mini_store, "person", typed) == [("antonio-guterres", tier)]


def test_a_swapped_letter_in_a_short_name_is_forgiven(mini_store: Store) -> None:
    # "undoc" and "unodc" share no trigram: a small KB is scanned whole for typos.
    assert _ids(mini_store, "organisation", "UNDOC") == [("unodc", "fuzzy")]


def test_prefix_of_a_full_name(mini_store: Store) -> None:
    assert _ids(mini_store, "person", "Luong Tam Qu") == [("luong-tam-quang", "prefix")]


def test_spacing_and_diacritics_do_not_matter(mini_store: Store) -> None:
    for typed in ("Viet Nam", "Việt Nam", "VIETNAM"):
        assert [(m.id, m.tier, m.score) for m in find(mini_store, "country", typed)] == [
            ("vietnam", "exact", 100)
        ]


def test_alias_ranks_below_exact(mini_store: Store) -> None:
    assert [(m.id, m.score) for m in find(mini_store, "organisation", "UN")] == [
        ("united-nations", 95)
    ]


def test_acronym_is_an_alias(mini_store: Store) -> None:
    assert _ids(mini_store, "organisation", "unodc") == [("unodc", "alias")]


def test_several_matches_are_ranked_deterministically(mini_store: Store) -> None:
    # "United Nations" is a whole word run in two organisation names.
    matches = find(mini_store, "organisation", "united nations")
    assert [(m.id, m.tier) for m in matches] == [("united-nations", "exact")]
    matches = find(mini_store, "organisation", "nations")
    assert [m.id for m in matches] == ["united-nations", "unodc"]
    assert matches[0].score == matches[1].score
    assert matches == find(mini_store, "organisation", "NATIONS")


def test_shared_word_returns_every_person_having_it(mini_store: Store) -> None:
    matches = find(mini_store, "person", "director")
    assert [m.id for m in matches] == ["john-brandolino"]


def test_no_match_suggests_the_closest_names(mini_store: Store) -> None:
    with pytest.raises(NotFoundError) as caught:
        find(mini_store, "person", "Gutierez")
    assert caught.value.suggestions == ("António Guterres",)
    assert caught.value.message == "no person matches 'Gutierez'"


def test_no_match_without_anything_close(mini_store: Store) -> None:
    with pytest.raises(NotFoundError) as caught:
        find(mini_store, "person", "qqqqqqqq")
    assert caught.value.suggestions == ()


@pytest.mark.parametrize("typed", ["", "   ", "!!!", "—"])
def test_query_without_letters_is_a_usage_error(mini_store: Store, typed: str) -> None:
    with pytest.raises(UsageError, match="no letters or digits"):
        find(mini_store, "person", typed)


def test_overlong_query_is_refused(mini_store: Store) -> None:
    with pytest.raises(UsageError, match="limit is 1,000"):
        find(mini_store, "person", "a" * (MAX_QUERY_CHARS + 1))


def test_match_json_carries_the_document_and_the_match(mini_store: Store) -> None:
    [match] = find(mini_store, "person", "Quang")
    document = match.as_json()
    assert document["id"] == "luong-tam-quang"
    assert document["match"] == {"score": 80, "tier": "phrase", "matched": "luong tam quang"}
    assert document["statements"][0]["id"] == "quang-beacon"


def test_search_groups_by_kind_and_highlights(mini_store: Store) -> None:
    hits = search(mini_store, "beacon")
    assert [(hit.kind, hit.id, hit.field) for hit in hits] == [
        ("source", "vov-closing", "name"),
        ("statement", "quang-beacon", "quote"),
    ]
    hit = hits[1]
    start, end = hit.highlights[0]
    assert hit.snippet[start:end] == "beacon"


def test_search_ignores_diacritics_and_matches_word_starts(mini_store: Store) -> None:
    ids = {hit.id for hit in search(mini_store, "Lương")}
    assert "luong-tam-quang" in ids
    assert {hit.id for hit in search(mini_store, "cybersec")} >= {"quang-beacon"}


def test_search_with_fts_syntax_is_plain_text(mini_store: Store) -> None:
    assert search(mini_store, 'beacon OR "x" NEAR(') == []


def test_statements_filtered_by_speaker_and_topic(mini_store: Store) -> None:
    assert [s["id"] for s in statements(mini_store)] == ["guterres-historic-step", "quang-beacon"]
    assert [s["id"] for s in statements(mini_store, ["luong-tam-quang"])] == ["quang-beacon"]
    assert [s["id"] for s in statements(mini_store, topic="Signator")] == ["guterres-historic-step"]
    assert statements(mini_store, topic="weather") == []


def test_timeline_orders_by_date_and_filters_by_overlap(mini_store: Store) -> None:
    assert [e["id"] for e in timeline(mini_store)] == ["proposal", "closing-session"]
    assert [e["id"] for e in timeline(mini_store, "2025-10")] == ["closing-session"]
    assert [e["id"] for e in timeline(mini_store, None, "2019-06")] == ["proposal"]
    assert timeline(mini_store, "2025-10-27") == []


@pytest.mark.parametrize("bad", ["yesterday", "2025-13", "2025-10-32", "10/26/2025"])
def test_timeline_rejects_bad_dates(mini_store: Store, bad: str) -> None:
    with pytest.raises(UsageError, match="is not a date"):
        timeline(mini_store, bad)


def test_timeline_rejects_reversed_range(mini_store: Store) -> None:
    with pytest.raises(UsageError, match="after"):
        timeline(mini_store, "2026", "2025")


def test_parse_date_bound() -> None:
    assert parse_date_bound("2025", end=False) == "2025-01-01"
    assert parse_date_bound("2025-10", end=True) == "2025-10-31"


def test_find_source_by_id_or_file(mini_store: Store) -> None:
    assert find_source(mini_store, "vov-closing")["file"] == "002_0e96ded8a294ba41.txt"
    assert find_source(mini_store, "002_0e96ded8a294ba41.txt")["id"] == "vov-closing"
    with pytest.raises(NotFoundError) as caught:
        find_source(mini_store, "nope")
    assert caught.value.suggestions == ("vov-closing", "vietnamplus-media")


def test_completion_offers_the_spelling_being_typed(mini_store: Store) -> None:
    assert names_for_completion(mini_store, "person", "Luo") == ["Luong Tam Quang"]
    assert names_for_completion(mini_store, "person", "Lươ") == ["Lương Tam Quang"]
    assert names_for_completion(mini_store, "country", "Viet") == ["Viet Nam", "Vietnam"]
    assert names_for_completion(mini_store, "organisation", "un") == [
        "un",
        "unODC",
        "united Nations",
        "united Nations Office on Drugs and Crime",
    ]
    assert names_for_completion(mini_store, "figure", "sig") == ["signatories"]
    assert names_for_completion(mini_store, "person", "zz") == []


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_fold_ascii_fast_path_equals_the_general_path(text: str) -> None:
    from hanoi_cli.text import _fold_unicode

    assert fold(text) == _fold_unicode(text)
