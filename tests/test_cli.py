"""The `hanoi` command end to end, in-process: golden text for people, parsed JSON for scripts."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from hanoi_cli import __version__
from hanoi_cli.errors import ExitCode
from tests.conftest import MINI_KB, SEEDS, requires_articles, run_cli, run_mini
from tests.kbfactory import KBDict, write_kb

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("HANOI_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, actual: str) -> None:
    """Exact text a person reads. Regenerate with HANOI_UPDATE_GOLDEN=1 and review the diff."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


def ok_json(*args: str) -> Any:
    result = run_mini(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "golden"),
    [
        (("who", "Guterres"), "who_guterres.txt"),
        (("who", "nations"), "who_not_a_person.txt"),
        (("org", "nations"), "org_several.txt"),
        (("country", "Viet Nam"), "country_vietnam.txt"),
        (("stats", "signatories"), "stats_signatories.txt"),
        (("stats",), "stats_all.txt"),
        (("list", "people"), "list_people.txt"),
        (("quotes",), "quotes.txt"),
        (("timeline",), "timeline.txt"),
        (("search", "beacon"), "search_beacon.txt"),
        (("sources", "vov-closing"), "source_vov_closing.txt"),
    ],
)
def test_golden_text(args: tuple[str, ...], golden: str) -> None:
    result = run_mini(*args)
    assert_golden(golden, result.stdout + (f"[stderr]\n{result.stderr}" if result.stderr else ""))
    assert "\x1b" not in result.stdout


def test_who_json_is_one_object_with_evidence() -> None:
    person = ok_json("who", "luong tam quang", "--json")
    assert person["id"] == "luong-tam-quang"
    assert person["name"] == "Lương Tam Quang"
    assert person["match"]["tier"] == "exact"
    assert person["titles"][0]["organisation"]["id"] == "ministry-of-public-security"
    assert all(item["quote"] and item["source"] for item in person["evidence"])
    assert {source["id"] for source in person["sources"]} == {"vov-closing"}


def test_json_is_utf8_not_escaped() -> None:
    result = run_mini("who", "Quang", "--json")
    assert "Lương Tam Quang" in result.stdout
    assert "\\u" not in result.stdout


def test_several_matches_are_an_array() -> None:
    orgs = ok_json("org", "nations", "--json")
    assert [org["id"] for org in orgs] == ["united-nations", "unodc"]


def test_not_found_is_exit_1_with_suggestion_on_stderr() -> None:
    result = run_mini("who", "Gutierez", "--json")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stdout == ""
    assert result.stderr == (
        "hanoi: error: no person matches 'Gutierez'; did you mean: António Guterres?\n"
    )


def test_empty_query_is_a_usage_error() -> None:
    result = run_mini("who", "  ")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == "hanoi: error: nothing to look up: the query has no letters or digits\n"


def test_stats_figure_json_keeps_every_value_and_the_disagreement() -> None:
    figure = ok_json("stats", "signatories", "--json")
    assert figure["headline"] == 72
    assert [value["display"] for value in figure["values"]] == ["72", "65", "64", "more than 70"]
    assert figure["sources_agree"] is False
    breakdown = figure["breakdowns"][0]
    assert (breakdown["parts_sum"], breakdown["total"], breakdown["adds_up"]) == (71, 72, False)


def test_stats_without_argument_lists_figures() -> None:
    assert [figure["id"] for figure in ok_json("stats", "--json")] == ["signatories"]


@pytest.mark.parametrize(
    ("kind", "first_id", "count"),
    [
        ("people", "luong-tam-quang", 3),
        ("countries", "vietnam", 1),
        ("orgs", "united-nations", 3),
        ("figures", "signatories", 1),
        ("events", "closing-session", 2),
        ("sources", "vov-closing", 2),
        ("statements", "guterres-historic-step", 2),
    ],
)
def test_list_json(kind: str, first_id: str, count: int) -> None:
    documents = ok_json("list", kind, "--json")
    assert len(documents) == count
    assert documents[0]["id"] == first_id


def test_empty_list_is_an_empty_array() -> None:
    assert ok_json("quotes", "--topic", "weather", "--json") == []
    assert ok_json("timeline", "--from", "2030", "--json") == []


def test_jsonl_is_one_document_per_line() -> None:
    result = run_mini("list", "people", "--format", "jsonl")
    lines = result.stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [
        "luong-tam-quang",
        "antonio-guterres",
        "john-brandolino",
    ]


def test_csv_has_header_and_flat_rows() -> None:
    result = run_mini("list", "people", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0] == {
        "id": "luong-tam-quang",
        "name": "Lương Tam Quang",
        "titles": "Minister of Public Security",
        "country": "Vietnam",
    }


def test_markdown_table() -> None:
    result = run_mini("stats", "--format", "md")
    assert result.stdout.splitlines() == [
        "| id | label | headline | unit | values | sources |",
        "|---|---|---|---|---|---|",
        "| signatories | Countries that signed the convention | 72 | countries "
        "| 72; 65; 64; more than 70 | 2 |",
    ]


def test_json_flag_and_other_format_conflict() -> None:
    result = run_mini("list", "people", "--json", "--format", "csv")
    assert result.exit_code == ExitCode.USAGE
    assert "--json cannot be combined with --format csv" in result.stderr


def test_quotes_by_person_and_by_organisation_name() -> None:
    assert [s["id"] for s in ok_json("quotes", "--by", "Quang", "--json")] == ["quang-beacon"]
    result = run_mini("quotes", "--by", "UNODC", "--json")
    assert json.loads(result.stdout) == []


def test_quotes_by_unknown_speaker() -> None:
    result = run_mini("quotes", "--by", "Nobody At All")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stderr.startswith("hanoi: error: no person matches 'Nobody At All'")


def test_timeline_range_and_bad_date() -> None:
    assert [e["id"] for e in ok_json("timeline", "--to", "2020", "--json")] == ["proposal"]
    result = run_mini("timeline", "--from", "26/10/2025")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == (
        "hanoi: error: '26/10/2025' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD\n"
    )


def test_search_json_has_snippets_and_highlight_offsets() -> None:
    hits = ok_json("search", "historic", "--json")
    assert hits[0]["id"] == "guterres-historic-step"
    start, end = hits[0]["highlights"][0]
    assert hits[0]["snippet"][start:end] == "historic"


def test_sources_list_and_unknown_source() -> None:
    assert [s["id"] for s in ok_json("sources", "--json")] == ["vov-closing", "vietnamplus-media"]
    result = run_mini("sources", "nope")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "did you mean: vov-closing; vietnamplus-media?" in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.stdout == f"hanoi-cli {__version__}\n"


def test_data_option_and_env_var_choose_the_kb(tmp_path: Path) -> None:
    def rename(kb: KBDict) -> None:
        kb["people"][1]["name"] = "Antonio G. Guterres"

    other = write_kb(tmp_path, rename)
    by_option = run_cli("--data", str(other), "who", "Guterres", "--json")
    by_env = run_cli("who", "Guterres", "--json", env={"HANOI_DATA": str(other)})
    assert json.loads(by_option.stdout)["name"] == "Antonio G. Guterres"
    assert json.loads(by_env.stdout)["name"] == "Antonio G. Guterres"


def test_bad_kb_is_one_line_with_its_exit_code(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1', encoding="utf-8")
    result = run_cli("--data", str(broken), "who", "Guterres")
    assert result.exit_code == ExitCode.KB_UNREADABLE
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"hanoi: error: {broken}: not valid JSON")

    invalid = write_kb(tmp_path, lambda kb: kb["people"][0].pop("evidence"))
    result = run_cli("--data", str(invalid), "who", "Guterres")
    assert result.exit_code == ExitCode.KB_INVALID
    assert result.stderr == (
        f"hanoi: error: {invalid}: not a valid KB (1 problem; first: "
        "people[0].evidence: Field required)\n"
    )


@requires_articles
def test_validate_clean_kb_against_the_articles() -> None:
    result = run_cli("validate", str(MINI_KB), "--sources", str(SEEDS))
    assert result.exit_code == 0, result.stdout
    assert result.stdout == (
        f"{MINI_KB}: 0 problems (2 sources, 3 people, 1 countries, 3 organisations, 1 figures, "
        f"2 events, 2 statements; quotes checked against {SEEDS})\n"
    )


@requires_articles
def test_validate_catches_a_changed_quote(tmp_path: Path) -> None:
    def paraphrase(kb: KBDict) -> None:
        kb["people"][0]["titles"][0]["evidence"][0]["quote"] = "Minister Quang said on October 26"

    path = write_kb(tmp_path, paraphrase)
    result = run_cli("validate", str(path), "--sources", str(SEEDS))
    assert result.exit_code == ExitCode.KB_INVALID
    assert result.stdout.splitlines()[0] == (
        "people[0].titles[0].evidence[0].quote: not found verbatim in 'vov-closing'"
    )
    assert "1 problem " in result.stdout


@requires_articles
def test_validate_folds_whitespace_and_typographic_quotes(tmp_path: Path) -> None:
    def straighten(kb: KBDict) -> None:
        evidence = kb["statements"][0]["evidence"][0]
        evidence["quote"] = evidence["quote"].replace("“", '"').replace("”", '"').replace(" ", "  ")

    result = run_cli("validate", str(write_kb(tmp_path, straighten)), "--sources", str(SEEDS))
    assert result.exit_code == 0, result.stdout


@requires_articles
def test_validate_statement_quote_must_be_verbatim(tmp_path: Path) -> None:
    def paraphrase(kb: KBDict) -> None:
        kb["statements"][0]["quote"] = "a historic step toward a safer digital world."

    result = run_cli("validate", str(write_kb(tmp_path, paraphrase)), "--sources", str(SEEDS))
    assert result.stdout.splitlines()[0] == (
        "statements[0].quote: not found verbatim in any cited source"
    )


def test_validate_lists_every_schema_problem(tmp_path: Path) -> None:
    def break_two(kb: KBDict) -> None:
        kb["people"][0]["name"] = 7
        kb["events"][0]["date"]["precision"] = "week"

    result = run_cli("validate", str(write_kb(tmp_path, break_two)))
    assert result.exit_code == ExitCode.KB_INVALID
    assert result.stdout.splitlines() == [
        "people[0].name: Input should be a valid string",
        "events[0].date.precision: Input should be 'day', 'month' or 'year'",
        f"{tmp_path / 'kb.json'}: 2 problems",
    ]


def test_validate_unreadable_file_and_missing_sources_dir(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "absent.json"))
    assert result.exit_code == ExitCode.KB_UNREADABLE
    assert result.stderr == f"hanoi: error: {tmp_path / 'absent.json'}: no such file\n"
    result = run_cli("validate", str(MINI_KB), "--sources", str(tmp_path / "nowhere"))
    assert result.exit_code == ExitCode.USAGE


def test_cache_info_and_clear(isolated_environment: Path) -> None:
    run_mini("who", "António Guterres")
    info = json.loads(run_mini("cache", "info", "--json").stdout)
    assert info["exists"] is True and info["fresh"] is True
    assert Path(info["cache_file"]).parent == isolated_environment / "hanoi-cli"
    # An exact name needs only the core index; a search builds the full-text table once.
    assert info["built_on_use"] == []
    run_mini("search", "ransomware")
    info = json.loads(run_mini("cache", "info", "--json").stdout)
    assert info["built_on_use"] == ["fulltext"]
    assert "built_on_use: fulltext\n" in run_mini("cache", "info").stdout
    result = run_cli("cache", "clear")
    assert result.stdout == f"removed 2 index file(s) from {isolated_environment / 'hanoi-cli'}\n"
    assert json.loads(run_mini("cache", "info", "--json").stdout)["exists"] is False


def _cache_files(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in directory.iterdir()
    }


def test_cache_build_leaves_nothing_to_build_on_use(isolated_environment: Path) -> None:
    result = run_mini("cache", "build", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    info = json.loads(result.stdout)
    assert info["fresh"] is True and info["built_on_use"] == ["gram", "fulltext"]
    cache = isolated_environment / "hanoi-cli"
    built = _cache_files(cache)
    assert len(built) == 3
    # Lookups, typos and searches find every table ready: no file is written or replaced.
    for args in (["who", "Guterres"], ["who", "Gutteres"], ["search", "ransomware"]):
        assert run_mini(*args, "--json").exit_code == 0
    assert _cache_files(cache) == built
    # A fresh index is kept, not rebuilt.
    again = json.loads(run_mini("cache", "build", "--json").stdout)
    assert again == info and _cache_files(cache) == built
    assert "built_on_use: gram, fulltext\n" in run_mini("cache", "build").stdout


def test_cache_build_of_an_invalid_kb(isolated_environment: Path, tmp_path: Path) -> None:
    def dangling(kb: KBDict) -> None:
        kb["statements"][0]["speaker"] = "nobody-at-all"

    result = run_cli("--data", str(write_kb(tmp_path, dangling)), "cache", "build")
    assert result.exit_code == ExitCode.KB_INVALID
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert "not a valid KB" in result.stderr
    assert not (isolated_environment / "hanoi-cli").exists() or not any(
        (isolated_environment / "hanoi-cli").iterdir()
    )


COMMANDS = ["who", "country", "org", "stats", "quotes", "timeline", "search", "list", "sources",
            "validate", "cache", "cache info", "cache build", "cache clear"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = run_cli(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Usage: hanoi" in result.stdout
    if command != "cache":
        assert "Example: hanoi" in result.stdout


def test_top_level_help_documents_exit_codes() -> None:
    result = run_cli("--help")
    assert "Exit codes: 0 ok; 1 nothing found; 2 usage error" in " ".join(result.stdout.split())
    for command in ("who", "country", "org", "stats", "quotes", "timeline", "search", "list"):
        assert command in result.stdout


def test_not_found_points_to_the_command_that_knows_the_name() -> None:
    result = run_mini("who", "Viet Nam")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert (
        result.stderr == "hanoi: error: no person matches 'Viet Nam'; try: hanoi country Vietnam\n"
    )
    result = run_mini("org", "guterres")
    assert result.stderr == (
        "hanoi: error: no organisation matches 'guterres'; try: hanoi who 'António Guterres'\n"
    )


def test_shell_completion_completes_names_from_the_kb() -> None:
    from hanoi_cli.cli import _completer

    assert "Luong Tam Quang" in _completer("person")("Luong T")
    assert _completer("figure")("signat")[0] == "signatories"


def test_sources_by_file_name_without_extension() -> None:
    assert ok_json("sources", "002_0e96ded8a294ba41", "--json")["id"] == "vov-closing"


def test_events_in_a_view_show_their_whole_span(tmp_path: Path) -> None:
    def two_days(kb: KBDict) -> None:
        kb["events"][0]["end_date"] = {"value": "2025-10-27", "precision": "day"}

    result = run_cli("--data", str(write_kb(tmp_path, two_days)), "who", "Brandolino")
    assert "2025-10-26/27   Closing session" in result.stdout
