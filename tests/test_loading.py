"""Reading and validating KB files: every bad file is one clear error, never a traceback."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from hanoi_cli.errors import ExitCode, KBInvalidError, KBUnreadableError
from hanoi_cli.loading import json_path, load_kb
from tests.conftest import MINI_KB
from tests.kbfactory import KBDict, write_kb


def test_fixture_loads() -> None:
    assert load_kb(MINI_KB).countries[0].name == "Vietnam"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"  \n", "is empty"),
        (b'{"schema_version": 1, "sources": [', "not valid JSON"),
        (b"\xff\xfe\x00\x01garbage", "UTF-16 or UTF-32"),
        (b'{"a": "\xe9"}', r"not UTF-8 text \(invalid byte at offset 7\)"),
        (b"{} trailing", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
    ids=["empty", "blank", "truncated", "utf16-bom", "latin1", "trailing-garbage", "deep-nesting"],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "kb.json"
    path.write_bytes(content)
    with pytest.raises(KBUnreadableError, match=message) as caught:
        load_kb(path)
    assert caught.value.exit_code is ExitCode.KB_UNREADABLE
    assert "\n" not in caught.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KBUnreadableError, match="no such file"):
        load_kb(tmp_path / "absent.json")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(KBUnreadableError, match="is a directory"):
        load_kb(tmp_path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    path.write_bytes(codecs.BOM_UTF8 + MINI_KB.read_bytes())
    assert len(load_kb(path).people) == 3


def test_json_path_formatting() -> None:
    assert json_path(("people", 3, "titles", 0, "evidence", 0)) == "people[3].titles[0].evidence[0]"
    assert json_path(()) == ""


def _problems(tmp_path: Path, change: object) -> list[str]:
    path = write_kb(tmp_path, change)  # type: ignore[arg-type]
    with pytest.raises(KBInvalidError) as caught:
        load_kb(path)
    assert caught.value.exit_code is ExitCode.KB_INVALID
    return [str(problem) for problem in caught.value.problems]


def test_schema_problem_names_its_json_path(tmp_path: Path) -> None:
    def change(kb: KBDict) -> None:
        kb["people"][1]["titles"][0]["evidence"][0]["quote"] = 42

    assert _problems(tmp_path, change) == [
        "people[1].titles[0].evidence[0].quote: Input should be a valid string"
    ]


def test_wrong_schema_version(tmp_path: Path) -> None:
    def change(kb: KBDict) -> None:
        kb["schema_version"] = 2

    assert _problems(tmp_path, change)[0].startswith("schema_version: Input should be 1")


def test_duplicate_id_across_kinds(tmp_path: Path) -> None:
    def change(kb: KBDict) -> None:
        kb["organisations"][0]["id"] = "vietnam"
        kb["organisations"][1]["parent"] = "vietnam"

    problems = _problems(tmp_path, change)
    assert "organisations[0].id: duplicate id 'vietnam' (already used by a country)" in problems


def test_dangling_and_wrong_kind_references(tmp_path: Path) -> None:
    def change(kb: KBDict) -> None:
        kb["statements"][0]["speaker"] = "nobody"
        kb["people"][0]["titles"][0]["organisation"] = "vietnam"
        kb["people"][0]["evidence"][0]["source"] = "no-such-source"

    assert _problems(tmp_path, change) == [
        "people[0].evidence[0].source: 'no-such-source' does not name any source",
        "people[0].titles[0].organisation: 'vietnam' is a country, expected a organisation",
        "statements[0].speaker: 'nobody' does not name any person or organisation",
    ]


def test_ambiguous_alias_is_a_problem_unless_shared(tmp_path: Path) -> None:
    def clash(kb: KBDict) -> None:
        kb["people"][2]["aliases"] = ["Antonio Guterres"]

    problems = _problems(tmp_path, clash)
    assert problems == [
        "people[2]: name or alias 'antonioguterres' is used by people[1], people[2]; "
        "list it in shared_aliases if that is intended"
    ]

    def shared(kb: KBDict) -> None:
        kb["people"][2]["shared_aliases"] = ["Antonio Guterres"]

    assert load_kb(write_kb(tmp_path, shared, "shared.json")).people[2].shared_aliases == [
        "Antonio Guterres"
    ]


def test_alias_clash_ignores_case_and_diacritics(tmp_path: Path) -> None:
    def clash(kb: KBDict) -> None:
        kb["people"][2]["aliases"] = ["LUONG TAM-QUANG"]

    assert "luongtamquang" in _problems(tmp_path, clash)[0]


def test_evidence_of_a_value_must_come_from_its_source(tmp_path: Path) -> None:
    def change(kb: KBDict) -> None:
        kb["figures"][0]["values"][0]["source"] = "vietnamplus-media"

    assert _problems(tmp_path, change) == [
        "figures[0].values[0].evidence[0].source: evidence from 'vov-closing' backs a value "
        "reported by 'vietnamplus-media'"
    ]


def test_all_problems_are_reported_not_just_the_first(tmp_path: Path) -> None:
    def change(kb: KBDict) -> None:
        for person in kb["people"]:
            person["country"] = "atlantis"

    assert len(_problems(tmp_path, change)) == 3


def test_kb_written_by_json_dumps_round_trips(tmp_path: Path) -> None:
    path = write_kb(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8"))["schema_version"] == 1
    assert load_kb(path) == load_kb(MINI_KB)
