"""Generated hostile input (hypothesis): any query, any mangled KB, never a traceback.

The "ci" profile (default, tests/hostile/conftest.py) runs 1,500 examples per test: over
10,000 cases; `pytest --hypothesis-profile=long` runs ten times as many.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.conftest import assert_contract, assert_terminal_safe, invoke, invoke_mini
from tests.kbfactory import mini_kb_dict

# Full Unicode, lone surrogates (from arguments that are not UTF-8) and controls included.
ANY_TEXT = st.one_of(
    st.text(),
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.text(
        st.sampled_from("\x00\x1b\x07\x9b[]/\\()*.\"'%-@=+ \t\n\u202e\u200b\u0301aé1"), max_size=30
    ),
    st.sampled_from(["Guterres", "Viet Nam", "UNODC", "signatories", "historic", "2025-10"]).map(
        lambda known: known
    ),
)
AS_JSON = ["--json"]


@given(kind=st.sampled_from(["who", "country", "org", "stats"]), query=ANY_TEXT)
def test_any_name_lookup(kind: str, query: str) -> None:
    outcome = invoke_mini(kind, *AS_JSON, "--", query)
    assert_contract(outcome, {0, 1, 2}, as_json=True)


@given(query=ANY_TEXT, limit=st.integers(min_value=-5, max_value=2_000))
def test_any_search(query: str, limit: int) -> None:
    outcome = invoke_mini("search", "--limit", str(limit), *AS_JSON, "--", query)
    assert_contract(outcome, {0, 2}, as_json=True)


@given(option=st.sampled_from(["--by", "--topic"]), value=ANY_TEXT)
def test_any_quotes_filter(option: str, value: str) -> None:
    outcome = invoke_mini("quotes", option, value, *AS_JSON)
    assert_contract(outcome, {0, 1, 2}, as_json=True)


@given(start=st.none() | ANY_TEXT, stop=st.none() | ANY_TEXT)
def test_any_timeline_bounds(start: str | None, stop: str | None) -> None:
    args = [*(["--from", start] if start is not None else []), *(["--to", stop] if stop else [])]
    outcome = invoke_mini("timeline", *args, *AS_JSON)
    assert_contract(outcome, {0, 2}, as_json=True)


@given(query=ANY_TEXT, kind=st.sampled_from(["who", "search", "sources"]))
def test_any_query_as_a_table_is_terminal_safe(query: str, kind: str) -> None:
    outcome = invoke_mini(kind, "--", query)
    assert_contract(outcome, {0, 1, 2})
    assert_terminal_safe(outcome.stdout)


# --- mangled KBs ------------------------------------------------------------------------------

MINI = mini_kb_dict()
MINI_TEXT = json.dumps(MINI, ensure_ascii=False, indent=1)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.just([]),
    st.just({}),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if isinstance(node, dict | list) and node else []
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, value in children:
        found += _containers(value, (*path, key))
    return found


CONTAINERS = _containers(MINI)


def _at(kb: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        kb = kb[part]
    return kb


@st.composite
def mangled_kb(draw: st.DrawFn) -> bytes:
    """The fixture KB with 1-3 structural mutations, or its text cut or spliced."""
    how = draw(st.sampled_from(["structure", "structure", "structure", "truncate", "splice"]))
    if how == "truncate":
        return MINI_TEXT.encode()[: draw(st.integers(0, len(MINI_TEXT.encode()) - 1))]
    if how == "splice":
        raw = MINI_TEXT.encode()
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.binary(max_size=8) | st.sampled_from([b"{", b"]", b",", b'"', b"\\u"]))
        return raw[:at] + junk + raw[at + draw(st.integers(0, 3)) :]
    kb = copy.deepcopy(MINI)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(CONTAINERS))
        try:
            node = _at(kb, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped it
        if not isinstance(node, dict | list) or not node:
            continue
        key = draw(
            st.sampled_from(list(node.keys()) if isinstance(node, dict) else range(len(node)))
        )
        action = draw(st.sampled_from(["drop", "retype", "insert", "duplicate"]))
        if action == "drop":
            del node[key]
        elif action == "retype":
            node[key] = draw(JUNK)
        elif action == "insert" and isinstance(node, dict):
            node[draw(st.text(max_size=8))] = draw(JUNK)
        elif action == "insert":
            node.insert(key, draw(JUNK))
        elif isinstance(node, list):
            node.append(copy.deepcopy(node[key]))
    return json.dumps(kb, ensure_ascii=False).encode()


@pytest.fixture
def kb_file(tmp_path: Path) -> Path:
    return tmp_path / "mangled.json"


@given(
    data=mangled_kb(),
    command=st.sampled_from([["stats", "--json"], ["list", "people", "--json"], ["sources"]]),
)
def test_any_mangled_kb(kb_file: Path, data: bytes, command: list[str]) -> None:
    kb_file.write_bytes(data)
    outcome = invoke("--data", str(kb_file), *command)
    assert_contract(outcome, {0, 3, 4}, as_json="--json" in command)
    assert outcome.stderr.count("hanoi: error:") <= 1


@given(data=mangled_kb())
def test_any_mangled_kb_validates(kb_file: Path, data: bytes) -> None:
    kb_file.write_bytes(data)
    outcome = invoke("validate", str(kb_file))
    assert_contract(outcome, {0, 3, 4}, report_on_stdout=True)
    assert_terminal_safe(outcome.stdout)
