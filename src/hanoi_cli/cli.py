"""The `hanoi` command: parse options, ask the core, hand the result to a renderer.

Errors raised below become messages and exit codes in one place, `boundary.py`. Rich is
imported only by the commands that draw tables, so `--json` starts like a bare Typer app.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from hanoi_cli import __version__
from hanoi_cli.boundary import EXIT_CODES_HELP, HanoiGroup, flat, run_app, warn
from hanoi_cli.errors import ExitCode
from hanoi_cli.lazycommands import LazyTyper
from hanoi_cli.paths import resolve_kb_path
from hanoi_cli.render import sanitize, write_json

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from hanoi_cli.index import CacheInfo, Store
    from hanoi_cli.query import Match

app = LazyTyper(
    cls=HanoiGroup,
    help="Sourced facts about the UN Convention against Cybercrime (the Hanoi Convention).\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
)
cache_app = LazyTyper(help="See, build or remove the index cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"


class ListKind(StrEnum):
    people = "people"
    countries = "countries"
    orgs = "orgs"
    figures = "figures"
    events = "events"
    sources = "sources"
    statements = "statements"


_KIND_OF_LIST = {
    "people": "person",
    "countries": "country",
    "orgs": "organisation",
    "figures": "figure",
    "events": "event",
    "sources": "source",
    "statements": "statement",
}


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"hanoi-cli {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="PATH",
            help="KB file to use (default: $HANOI_DATA, then the packaged KB).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = resolve_kb_path(data, os.environ)


def _kb_path(ctx: typer.Context) -> Path:
    """The KB chosen by `--data`, `$HANOI_DATA` or the package, as the callback resolved it."""
    chosen = ctx.find_root().obj
    return chosen if isinstance(chosen, Path) else resolve_kb_path(None, os.environ)


def _store(ctx: typer.Context, small_answer: bool = False) -> Store:
    """The store for the chosen KB. `small_answer`: the command prints a bounded number of
    documents whatever the KB's size (a lookup, a search's `--limit`), so a KB validated for
    a rebuild may be kept for the process's exit to drop (see `__main__`) rather than freed."""
    from hanoi_cli.index import open_store

    keep = small_answer and _Process.exits_at_once
    return open_store(_kb_path(ctx), os.environ, warn, keep_build=keep)


class _Process:
    """Set by `run`: whether the process ends with `os._exit` after this command."""

    exits_at_once = False


def _console() -> Any:
    from hanoi_cli.tables import make_console

    return make_console(sys.stdout)


def _output_format(json_flag: bool, chosen: Format | None) -> Format:
    if json_flag and chosen not in (None, Format.json):
        raise typer.BadParameter("--json cannot be combined with --format " + chosen.value)
    return Format.json if json_flag else (chosen or Format.table)


def _emit_list(kind: str, docs: Sequence[dict[str, Any]], output: Format, title: str) -> None:
    from hanoi_cli import render

    if output is Format.json:
        render.write_json(sys.stdout, list(docs))
    elif output is Format.jsonl:
        render.write_jsonl(sys.stdout, docs)
    elif output in (Format.csv, Format.md):
        rows = [render.flat_row(kind, doc) for doc in docs]
        write = render.write_csv if output is Format.csv else render.write_markdown
        write(sys.stdout, render.COLUMNS[kind], rows)
    else:
        from hanoi_cli.tables import print_rows

        print_rows(_console(), kind, docs, title)


def _emit_matches(query: str, matches: Sequence[Match], as_json: bool) -> None:
    if as_json:
        documents = [match.as_json() for match in matches]
        write_json(sys.stdout, documents[0] if len(documents) == 1 else documents)
        return
    from hanoi_cli.tables import print_detail, print_matches

    if len(matches) == 1:
        print_detail(_console(), matches[0].document)
    else:
        print_matches(_console(), query, matches)


def _completer(kind: str) -> Callable[[str], list[str]]:
    def complete(incomplete: str) -> list[str]:
        try:
            from hanoi_cli.index import open_store
            from hanoi_cli.query import names_for_completion

            store = open_store(resolve_kb_path(None, os.environ), os.environ, lambda _: None)
            return names_for_completion(store, kind, incomplete)
        except Exception:
            # Completion runs inside the user's shell: it must never print a traceback.
            return []

    return complete


JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of a table.")
]
FormatOption = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="Output format (default: table).", case_sensitive=False),
]


def _lookup(ctx: typer.Context, kind: str, name: str, as_json: bool) -> None:
    from hanoi_cli.query import find

    _emit_matches(name, find(_store(ctx, small_answer=True), kind, name), as_json)


@app.command()
def who(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="Name, alias, surname or title; accents optional.",
            autocompletion=_completer("person"),
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Who is this person: titles, statements and sources.

    Example: hanoi who Guterres
    """
    _lookup(ctx, "person", name, as_json)


@app.command()
def country(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="Country name or alias (Viet Nam, Russian Federation).",
            autocompletion=_completer("country"),
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """A country's role in the story, its people, statements and sources.

    Example: hanoi country "Viet Nam"
    """
    _lookup(ctx, "country", name, as_json)


@app.command()
def org(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="Organisation name, acronym or alias (UNODC, VNA).",
            autocompletion=_completer("organisation"),
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """An organisation: kind, country, people, statements and sources.

    Example: hanoi org UNODC
    """
    _lookup(ctx, "organisation", name, as_json)


@app.command()
def stats(
    ctx: typer.Context,
    figure: Annotated[
        str | None,
        typer.Argument(
            help="Figure name or alias (signatories, delegates); omit for all figures.",
            autocompletion=_completer("figure"),
        ),
    ] = None,
    as_json: JsonFlag = False,
    output: FormatOption = None,
) -> None:
    """Figures: the headline and why, every reported value with its source, breakdowns.

    Example: hanoi stats signatories
    """
    if figure is None:
        from hanoi_cli.query import list_documents

        docs = list_documents(_store(ctx), "figure")
        _emit_list("figure", docs, _output_format(as_json, output), "Figures")
        return
    if output not in (None, Format.table, Format.json):
        raise typer.BadParameter(
            "--format applies to the list of figures; use --json for one figure"
        )
    _lookup(ctx, "figure", figure, as_json or output is Format.json)


@app.command()
def quotes(
    ctx: typer.Context,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Only statements by this person, organisation or country."),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option("--topic", help="Only statements with a topic tag containing this word."),
    ] = None,
    as_json: JsonFlag = False,
    output: FormatOption = None,
) -> None:
    """Statements with speaker, source and date.

    Example: hanoi quotes --by Guterres
    """
    from hanoi_cli.query import find_speakers, statements

    store = _store(ctx)
    speakers = find_speakers(store, by) if by is not None else None
    docs = statements(store, speakers, topic)
    _emit_list("statement", docs, _output_format(as_json, output), "Statements")


@app.command()
def timeline(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", metavar="DATE", help="YYYY, YYYY-MM or YYYY-MM-DD.")
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--to", metavar="DATE", help="YYYY, YYYY-MM or YYYY-MM-DD.")
    ] = None,
    as_json: JsonFlag = False,
    output: FormatOption = None,
) -> None:
    """Events in date order, with the precision of each date.

    Example: hanoi timeline --from 2025-10-25 --to 2025-10-26
    """
    from hanoi_cli.query import timeline as events_between

    docs = events_between(_store(ctx), start, stop)
    _emit_list("event", docs, _output_format(as_json, output), "Timeline")


@app.command()
def search(
    ctx: typer.Context,
    text: Annotated[
        str, typer.Argument(help="Words to look for; accents optional, word starts match.")
    ],
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="At most this many results.")
    ] = 50,
    as_json: JsonFlag = False,
    output: FormatOption = None,
) -> None:
    """Full-text search over names, titles, statements and evidence quotes.

    Example: hanoi search ransomware
    """
    from hanoi_cli.query import search as search_kb

    hits = search_kb(_store(ctx, small_answer=True), text, limit)
    chosen = _output_format(as_json, output)
    if chosen is Format.table:
        from hanoi_cli.tables import print_search

        print_search(_console(), text, hits)
    else:
        _emit_list("search", [hit.as_json() for hit in hits], chosen, "Results")


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[ListKind, typer.Argument(help="What to list.", case_sensitive=False)],
    as_json: JsonFlag = False,
    output: FormatOption = None,
) -> None:
    """Browse one kind of entity as a table.

    Example: hanoi list people
    """
    from hanoi_cli.query import list_documents

    entity_kind = _KIND_OF_LIST[kind.value]
    docs = list_documents(_store(ctx), entity_kind)
    _emit_list(entity_kind, docs, _output_format(as_json, output), kind.value.capitalize())


@app.command()
def sources(
    ctx: typer.Context,
    source_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="A source id or seed file name.")
    ] = None,
    as_json: JsonFlag = False,
    output: FormatOption = None,
) -> None:
    """The articles: outlet, title, URL, date, and what was taken from each.

    Example: hanoi sources
    """
    from hanoi_cli.query import find_source, list_documents

    store = _store(ctx)
    if source_id is None:
        docs = list_documents(store, "source")
        _emit_list("source", docs, _output_format(as_json, output), "Sources")
        return
    doc = find_source(store, source_id)
    if as_json or output is Format.json:
        write_json(sys.stdout, doc)
    else:
        from hanoi_cli.tables import print_detail

        print_detail(_console(), doc)


@app.command()
def validate(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(help="KB file (default: --data, $HANOI_DATA, then the packaged KB)."),
    ] = None,
    sources_dir: Annotated[
        Path | None,
        typer.Option(
            "--sources", metavar="DIR", help="Also check every quote is verbatim in these articles."
        ),
    ] = None,
) -> None:
    """Check a KB file: schema, references, ids, aliases and (with --sources) quotes.

    Prints one line per problem with its JSON path. Exit 0 when clean, 4 when not.

    Example: hanoi validate --sources ../shared/seeds
    """
    from hanoi_cli.validation import validate_file

    report = validate_file(path or _kb_path(ctx), sources_dir)
    for problem in report.problems:
        sys.stdout.write(flat(str(problem)) + "\n")
    sys.stdout.write(flat(report.summary()) + "\n")
    if report.problems:
        raise typer.Exit(int(ExitCode.KB_INVALID))


@cache_app.command("info")
def cache_info(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Where the index cache for the current KB is, and whether it is fresh.

    Example: hanoi cache info
    """
    from hanoi_cli.index import cache_info as read_cache_info

    _write_cache_info(read_cache_info(_kb_path(ctx), os.environ), as_json)


@cache_app.command("build")
def cache_build(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Build the index cache for the current KB now, search tables included; then show it.

    The first query after the KB changes builds the index (seconds for a KB of 100,000
    people); run this right after changing the KB and no query waits. A fresh index is kept.
    Exit 4 when the KB is not valid.

    Example: hanoi --data big.json cache build
    """
    from hanoi_cli.index import build_cache

    _write_cache_info(build_cache(_kb_path(ctx), os.environ, warn), as_json)


def _write_cache_info(info: CacheInfo, as_json: bool) -> None:
    document = {
        "kb": str(info.kb_path),
        "cache_file": str(info.cache_file) if info.cache_file else None,
        "exists": info.exists,
        "fresh": info.fresh,
        "size_bytes": info.size_bytes,
        "built": info.built,
        "built_on_use": list(info.derived),
    }
    if as_json:
        write_json(sys.stdout, document)
        return
    for key, value in document.items():
        text = ", ".join(value) if isinstance(value, list) else "" if value is None else str(value)
        sys.stdout.write(f"{key}: {sanitize(text)}\n")


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every index file in the cache directory.

    Example: hanoi cache clear
    """
    from hanoi_cli.index import clear_cache

    directory, removed = clear_cache(os.environ)
    sys.stdout.write(sanitize(f"removed {removed} index file(s) from {directory}") + "\n")


def run(argv: Sequence[str] | None = None, *, exits_at_once: bool = False) -> NoReturn:
    """The command line. `exits_at_once`: the caller ends the process with `os._exit` after
    it (`__main__`), so what a lookup's rebuild validated need not be freed."""
    _Process.exits_at_once = exits_at_once
    run_app(app, argv)
