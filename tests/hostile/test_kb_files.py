"""Hostile KB files, given by --data or $HANOI_DATA: exit 3 (unreadable) or 4 (invalid).

Each failure is one `hanoi: error:` line naming the file; nothing is written but the cache.
"""

from __future__ import annotations

import codecs
import copy
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hanoi_cli import loading
from tests.conftest import MINI_KB
from tests.hostile.conftest import (
    Outcome,
    assert_contract,
    files_unchanged,
    invoke,
    process_env,
)
from tests.kbfactory import mini_kb_dict

MINI_BYTES = MINI_KB.read_bytes()
COMMANDS = [["who", "Guterres", "--json"], ["stats", "--json"], ["list", "people"]]


def run_on(path: Path | str, args: list[str], via_env: bool = False) -> Outcome:
    if via_env:
        return invoke(*args, env={"HANOI_DATA": str(path)})
    return invoke("--data", str(path), *args)


def write(directory: Path, data: bytes, name: str = "kb.json") -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def check_refused(path: Path | str, codes: set[int], prefix: str | None = None) -> None:
    """Every command, by option and by environment, refuses the file the same way."""
    watch = [Path(path)] if Path(path).exists() else []
    with files_unchanged(*watch):
        for args in COMMANDS:
            for via_env in (False, True):
                outcome = run_on(path, args, via_env)
                assert_contract(outcome, codes, error_prefix=prefix)
        outcome = invoke("validate", str(path))
        assert_contract(outcome, codes, report_on_stdout=True)


# --- files that cannot be read ------------------------------------------------------------


def test_missing_file(watched: Path) -> None:
    missing = watched / "absent.json"
    check_refused(missing, {3}, f"{missing}: no such file")


def test_directory(watched: Path) -> None:
    check_refused(watched, {3}, f"{watched}: is a directory")


def test_fifo_is_refused_without_blocking(watched: Path) -> None:
    fifo = watched / "kb.fifo"
    os.mkfifo(fifo)
    check_refused(fifo, {3}, f"{fifo}: not a regular file")


def test_endless_device_is_refused() -> None:
    check_refused("/dev/zero", {3}, "/dev/zero: not a regular file")


def test_symlink_loop(watched: Path) -> None:
    loop = watched / "loop.json"
    loop.symlink_to(loop)
    check_refused(loop, {3}, f"{loop}: cannot read")


def test_path_through_a_file(watched: Path) -> None:
    plain = write(watched, b"{}", "plain")
    check_refused(plain / "kb.json", {3}, f"{plain / 'kb.json'}: cannot read")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_permissions(watched: Path) -> None:
    path = write(watched, MINI_BYTES)
    path.chmod(0)
    check_refused(path, {3}, f"{path}: permission denied")


def test_permission_denied_simulated(watched: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root chmod 000 does not stop a read, so the open itself is made to fail."""
    path = write(watched, MINI_BYTES)
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    check_refused(path, {3}, f"{path}: permission denied")


@pytest.mark.parametrize("data", [b"", b" ", b"\n\t\r\n  "], ids=["empty", "space", "blank"])
def test_empty(watched: Path, data: bytes) -> None:
    path = write(watched, data)
    check_refused(path, {3}, f"{path}: is empty")


def test_empty_after_bom(watched: Path) -> None:
    path = write(watched, codecs.BOM_UTF8 + b"\n")
    check_refused(path, {3}, f"{path}: is empty")


def _truncation_offsets() -> list[int]:
    end = len(MINI_BYTES.rstrip())
    return sorted({*range(1, 40), *range(40, end, 97), end - 2, end - 1})


TRUNCATIONS = _truncation_offsets()


def test_truncated_at_many_offsets(watched: Path) -> None:
    for offset in TRUNCATIONS:
        path = write(watched, MINI_BYTES[:offset], f"cut-{offset}.json")
        outcome = run_on(path, ["who", "Guterres", "--json"])
        assert_contract(outcome, {3}, error_prefix=f"{path}: not valid JSON")
        # The error says where: a line and a column.
        assert " at line " in outcome.stderr or "EOF" in outcome.stderr
    assert len(TRUNCATIONS) > 100


NOT_UTF8 = {
    "ff-byte": lambda raw: raw.replace(b"VOV", b"V\xffOV", 1),
    "lone-continuation": lambda raw: raw.replace(b"VOV", b"V\x80OV", 1),
    "overlong-slash": lambda raw: raw.replace(b"VOV", b"V\xc0\xafOV", 1),
    "encoded-surrogate": lambda raw: raw.replace(b"VOV", b"V\xed\xa0\x80OV", 1),
    "cut-multibyte-at-end": lambda raw: raw.rstrip() + b"\xe1\xba",
    "latin-1": lambda raw: (
        raw.decode("utf-8").replace("ư", "u").replace("ơ", "o").encode("cp1252", "replace")
    ),
    "cp1258": lambda raw: raw.decode("utf-8").encode("cp1258", "replace"),
}


@pytest.mark.parametrize("change", NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_not_utf8(watched: Path, change: Callable[[bytes], bytes]) -> None:
    data = change(MINI_BYTES)
    path = write(watched, data)
    check_refused(path, {3}, f"{path}: not UTF-8 text (invalid byte at offset ")
    offset = int(invoke("--data", str(path), "stats").stderr.split("offset ")[1].split(")")[0])
    with pytest.raises(UnicodeDecodeError) as decoding:
        data.decode("utf-8")
    assert offset == decoding.value.start


def test_not_utf8_offset_across_a_chunk_boundary(watched: Path) -> None:
    """The UTF-8 check reads in chunks; the offset of the bad byte is still exact."""
    chunk = loading._CHECK_CHUNK
    body = b'{"pad": "' + b"a" * (chunk - 10) + "ệ".encode() + b"\xff" + b'"}'
    path = write(watched, body)
    outcome = run_on(path, ["stats"])
    assert_contract(outcome, {3})
    bad_byte = body.index(b"\xff")
    assert f"invalid byte at offset {bad_byte})" in outcome.stderr


def test_utf8_with_bom_is_accepted(watched: Path) -> None:
    path = write(watched, codecs.BOM_UTF8 + MINI_BYTES)
    with files_unchanged(path):
        for args in COMMANDS:
            assert_contract(run_on(path, args), {0}, as_json="--json" in args)
        assert_contract(invoke("validate", str(path)), {0})


UTF16 = {
    "utf-16": "utf-16",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
    "utf-32": "utf-32",
    "utf-32-le": "utf-32-le",
    "utf-32-be": "utf-32-be",
}


@pytest.mark.parametrize("encoding", UTF16.values(), ids=UTF16.keys())
def test_utf16_and_utf32_are_refused_clearly(watched: Path, encoding: str) -> None:
    path = write(watched, MINI_BYTES.decode("utf-8").encode(encoding))
    check_refused(path, {3})
    assert "UTF-16" in invoke("--data", str(path), "stats").stderr


TRAILING = {
    "garbage": b"garbage",
    "second-object": b"{}",
    "nul": b"\x00",
    "comment": b"// note",
    "comma": b",",
}


@pytest.mark.parametrize("tail", TRAILING.values(), ids=TRAILING.keys())
def test_trailing_garbage(watched: Path, tail: bytes) -> None:
    path = write(watched, MINI_BYTES + tail)
    check_refused(path, {3})


def test_trailing_whitespace_is_fine(watched: Path) -> None:
    path = write(watched, MINI_BYTES + b"\n\n  \t\n")
    assert_contract(run_on(path, ["stats", "--json"]), {0}, as_json=True)


NESTED = {
    "arrays": b"[" * 200_000 + b"]" * 200_000,
    "objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "in-a-field": b'{"schema_version": 1, "sources": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "unclosed": b"[" * 1_000_000,
    "in-a-quote": MINI_BYTES.replace(b'"VOV"', b"[" * 50_000 + b"]" * 50_000, 1),
}


@pytest.mark.parametrize("data", NESTED.values(), ids=NESTED.keys())
def test_deep_nesting_is_no_recursion_error(watched: Path, data: bytes) -> None:
    path = write(watched, data)
    check_refused(path, {3, 4})


def test_deep_nesting_in_a_subprocess_with_a_small_stack(watched: Path) -> None:
    """Not only under pytest: the real interpreter with its default recursion limit."""
    import subprocess

    path = write(watched, b"[" * 500_000 + b"]" * 500_000)
    completed = subprocess.run(
        [sys.executable, "-m", "hanoi_cli", "--data", str(path), "stats"],
        capture_output=True,
        env=process_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 3
    assert b"Traceback" not in completed.stderr
    assert completed.stderr.count(b"\n") == 1


HUGE_NUMBERS = {
    "long-integer": b"1" + b"0" * 100_000,
    "exponent": b"1e999999",
    "negative-exponent": b"-1e-999999",
    "nan": b"NaN",
    "infinity": b"Infinity",
    "minus-infinity": b"-Infinity",
    "big-float": b"1.7976931348623157e309",
    "int64-overflow": b"9223372036854775808",
    "negative-zero": b"-0",
}


@pytest.mark.parametrize("number", HUGE_NUMBERS.values(), ids=HUGE_NUMBERS.keys())
@pytest.mark.parametrize("where", ["schema_version", "value", "headline"])
def test_huge_numbers(watched: Path, number: bytes, where: str) -> None:
    text = MINI_BYTES
    if where == "schema_version":
        text = text.replace(b'"schema_version": 1', b'"schema_version": ' + number, 1)
    else:
        key = f'"{where}": '.encode()
        start = text.index(key) + len(key)
        end = start
        while text[end : end + 1].isdigit() or text[end : end + 1] in b".-eE+":
            end += 1
        text = text[:start] + number + text[end:]
    path = write(watched, text)
    check_refused(path, {3, 4})


# --- files that parse but are not a valid KB ------------------------------------------------

JUNK_VALUES: list[Any] = [None, -1, 1.5, True, "x", [], {}, [None]]


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, index))


def _replaced(kb: dict[str, Any], path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(kb)
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return changed


MINI_DICT = mini_kb_dict()
NODE_PATHS = list(_nodes(MINI_DICT))


def test_wrong_type_at_every_level(watched: Path) -> None:
    """Every node of the fixture KB replaced by every kind of junk: 0 or 4, never a crash."""
    cases = invalid = 0
    for path in NODE_PATHS:
        for junk in JUNK_VALUES:
            data = json.dumps(_replaced(MINI_DICT, path, junk), ensure_ascii=False).encode()
            kb = write(watched, data)
            outcome = invoke("validate", str(kb))
            assert_contract(outcome, {0, 4}, report_on_stdout=True)
            if outcome.exit_code == 4:
                invalid += 1
                # Below the top level, each problem line starts with its JSON path.
                first = outcome.stdout.splitlines()[0]
                assert ": " in first or not path
            cases += 1
    assert cases == len(NODE_PATHS) * len(JUNK_VALUES) > 1_500
    assert invalid > cases * 0.8


def test_wrong_types_through_the_lookup_commands(watched: Path) -> None:
    """A sample through `who` and `stats`, so the index build sees the survivors too."""
    for path in NODE_PATHS[::7]:
        for junk in (None, "x", [], {}):
            data = json.dumps(_replaced(MINI_DICT, path, junk), ensure_ascii=False).encode()
            kb = write(watched, data)
            for args in (["who", "Guterres", "--json"], ["stats"]):
                assert_contract(run_on(kb, args), {0, 1, 4}, as_json="--json" in args)


def _objects(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from _objects(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, (*path, index))


def test_unknown_field_at_every_level(watched: Path) -> None:
    count = 0
    for path in _objects(MINI_DICT):
        changed = copy.deepcopy(MINI_DICT)
        target = changed
        for part in path:
            target = target[part]
        target["unexpected_field"] = "\x1b[2Jsurprise"
        kb = write(watched, json.dumps(changed).encode())
        outcome = run_on(kb, ["stats", "--json"])
        assert_contract(outcome, {4}, error_prefix=f"{kb}: not a valid KB")
        assert "unexpected_field" in outcome.stderr
        count += 1
    assert count > 40


def test_duplicate_ids(watched: Path) -> None:
    changed = copy.deepcopy(MINI_DICT)
    changed["people"][1]["id"] = changed["people"][0]["id"]
    changed["organisations"][0]["id"] = changed["countries"][0]["id"]
    kb = write(watched, json.dumps(changed).encode())
    check_refused(kb, {4}, f"{kb}: not a valid KB")
    report = invoke("validate", str(kb)).stdout
    assert report.count("duplicate id") == 2


def test_duplicate_keys_in_one_object(watched: Path) -> None:
    text = MINI_BYTES.replace(b'"schema_version": 1,', b'"schema_version": 1, "schema_version": 2,')
    kb = write(watched, text)
    check_refused(kb, {3, 4})


DANGLING = {
    "speaker": lambda kb: kb["statements"][0].__setitem__("speaker", "nobody-here"),
    "evidence-source": lambda kb: kb["people"][0]["evidence"][0].__setitem__("source", "no-src"),
    "title-organisation": lambda kb: kb["people"][0]["titles"][0].__setitem__(
        "organisation", "no-org"
    ),
    "participant": lambda kb: kb["events"][0].setdefault("participants", []).append("ghost"),
    "wrong-kind": lambda kb: kb["statements"][0].__setitem__("speaker", kb["sources"][0]["id"]),
}


@pytest.mark.parametrize("change", DANGLING.values(), ids=DANGLING.keys())
def test_dangling_references(watched: Path, change: Callable[[dict[str, Any]], None]) -> None:
    changed = copy.deepcopy(MINI_DICT)
    change(changed)
    kb = write(watched, json.dumps(changed).encode())
    check_refused(kb, {4}, f"{kb}: not a valid KB")


def test_hostile_text_in_validation_problems_is_neutralised(watched: Path) -> None:
    changed = copy.deepcopy(MINI_DICT)
    changed["statements"][0]["speaker"] = "\x1b]52;c;ZXZpbA==\x07"
    changed["events"][0]["date"]["value"] = "\x1b[2J\u202e2025"
    kb = write(watched, json.dumps(changed).encode())
    outcome = invoke("validate", str(kb))
    assert_contract(outcome, {4}, report_on_stdout=True)
    from tests.hostile.conftest import assert_terminal_safe

    assert_terminal_safe(outcome.stdout)


# --- size ---------------------------------------------------------------------------------

_PEAK_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from hanoi_cli.cli import run
    try:
        run(["--data", sys.argv[1], "stats", "--json"])
    except SystemExit as done:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sys.stderr.write(f"PEAK {peak_kib} EXIT {done.code}\\n")
    """
)


def _peak_run(path: Path) -> tuple[int, int, str]:
    import subprocess

    completed = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(path)],
        capture_output=True,
        env=process_env(),
        timeout=120,
        check=False,
    )
    stderr = completed.stderr.decode()
    last = stderr.strip().splitlines()[-1].split()
    return int(last[1]) * 1024, int(last[3]), stderr


def test_200_megabyte_file_is_refused_before_it_is_read(watched: Path) -> None:
    path = watched / "huge.json"
    with path.open("wb") as handle:
        handle.write(b'{"schema_version": 1, "sources": [')
        handle.truncate(200 * 1024 * 1024)  # sparse: no disk, no time
    peak, code, stderr = _peak_run(path)
    assert code == 3
    assert "larger than the 134,217,728-byte limit" in stderr
    assert "Traceback" not in stderr
    assert peak < 150 * 1024 * 1024, f"peak memory {peak:,} bytes"


def test_file_under_the_limit_is_read_once_not_copied(watched: Path) -> None:
    """120 MB of a JSON string full of NUL bytes: memory stays near the file's own size."""
    size = 120 * 1024 * 1024
    path = watched / "big.json"
    with path.open("wb") as handle:
        handle.write(b'{"schema_version": 1, "notes": "')
        handle.truncate(size)
    peak, code, stderr = _peak_run(path)
    assert code == 3
    assert "NUL byte at offset" in stderr
    assert "Traceback" not in stderr
    assert peak < size + 150 * 1024 * 1024, f"peak memory {peak:,} bytes"


def test_sparse_file_starting_with_nul_is_refused_from_its_first_bytes(watched: Path) -> None:
    path = watched / "zeros.json"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    peak, code, stderr = _peak_run(path)
    assert code == 3
    assert "UTF-16, UTF-32 or binary" in stderr
    assert peak < 150 * 1024 * 1024
