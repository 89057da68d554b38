"""Shared fixtures: a small KB built from real article quotes, an isolated cache, a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hanoi_cli.cli import app
from hanoi_cli.index import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI_KB = FIXTURES / "mini_kb.json"
REPO_KB = ROOT / "data" / "facts.json"
SEEDS = ROOT.parent / "shared" / "seeds"

requires_articles = pytest.mark.skipif(
    not SEEDS.is_dir(), reason=f"the five articles are not at {SEEDS}"
)

TEST_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own cache directory and no KB override from the outer shell."""
    cache_home = tmp_path_factory.mktemp("cache-home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.delenv("HANOI_DATA", raising=False)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    return cache_home


def fail_on_warning(message: str) -> None:
    pytest.fail(f"unexpected warning: {message}")


@pytest.fixture
def mini_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(MINI_KB, {"XDG_CACHE_HOME": str(tmp_path)}, fail_on_warning)
    yield store
    store.close()


@pytest.fixture
def real_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(REPO_KB, {"XDG_CACHE_HOME": str(tmp_path)}, fail_on_warning)
    yield store
    store.close()


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """The CLI in-process, stdout and stderr apart, colour off, width pinned."""
    return CliRunner().invoke(app, list(args), env={**TEST_ENV, **(env or {})}, prog_name="hanoi")


def run_mini(*args: str) -> Result:
    return run_cli("--data", str(MINI_KB), *args)
