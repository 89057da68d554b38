"""Every command through the installed entry point, in a real process, from another directory.

CI installs the package non-editable, so these runs use the KB shipped inside the package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_ENV


def hanoi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HANOI_")}
    env.update(TEST_ENV)
    return subprocess.run(
        [sys.executable, "-m", "hanoi_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("who", "Guterres", "--json"), "António Guterres"),
        (("who", "Luong Tam Quang", "--json"), "Lương Tam Quang"),
        (("country", "Viet Nam", "--json"), "Vietnam"),
        (("org", "UNODC", "--json"), "UNODC"),
        (("stats", "signatories", "--json"), "72"),
        (("stats", "--format", "csv"), "signatories"),
        (("quotes", "--by", "Guterres", "--format", "jsonl"), "historic step"),
        (("timeline", "--from", "2025-10-26", "--format", "md"), "2025-10-26"),
        (("search", "ransomware"), "ransomware"),
        (("list", "orgs"), "UNODC"),
        (("sources", "vov-closing"), "VOV.VN"),
        (("validate",), " 0 problems ("),
        (("cache", "info"), "fresh: True"),
        (("--version",), "hanoi-cli "),
    ],
)
def test_command_works_from_any_directory(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    if args[0] == "cache":
        hanoi("who", "Guterres", cwd=tmp_path)
    result = hanoi(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert expected in result.stdout
    if "--json" in args:
        json.loads(result.stdout)


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = shutil.which("hanoi", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run(
        [script, "who", "Gutteres", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert json.loads(result.stdout)["id"] == "antonio-guterres"
