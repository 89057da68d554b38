"""Rich views for people at a terminal: detail panels, match lists, tables, search results.

Every string from the KB or the user goes through `render.sanitize` and into a `rich.text.Text`,
never into markup, so `[bold]` or an escape sequence in the data is shown, not obeyed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from hanoi_cli.query import Match, SearchHit
from hanoi_cli.render import COLUMNS, cell_text, flat_row, sanitize

Doc = dict[str, Any]

_HEADING = "bold"
_DIM = "dim"
_QUOTE = "italic"


def text(value: Any, style: str = "") -> Text:
    """KB or user text as a Rich `Text`: sanitised, never parsed as markup."""
    return Text(sanitize(cell_text(value)), style=style)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich would exit with status 1; the CLI's error boundary makes a closed pipe 141.
        self.quiet = True
        raise BrokenPipeError


def make_console(file: Any, *, width: int | None = None, color: bool | None = None) -> Console:
    """A console that never interprets markup, emoji codes or 'highlights' numbers.

    Colour follows Rich's rules (off when not a TTY, or when NO_COLOR is set) unless forced.
    """
    return _Console(
        file=file,
        width=width,
        no_color=None if color is None else not color,
        force_terminal=color,
        markup=False,
        emoji=False,
        highlight=False,
    )


def _table(*headers: str) -> Table:
    """A plain table; Rich wraps every column to fit the width, so no column is ever dropped."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _heading(title: str, count: int | None = None) -> Text:
    suffix = f" ({count})" if count is not None else ""
    return Text(f"\n{title}{suffix}", style=_HEADING)


def _names(refs: Iterable[Doc]) -> str:
    return ", ".join(str(ref["name"]) for ref in refs)


def _sources_line(evidence: Iterable[Doc]) -> str:
    return ", ".join(dict.fromkeys(str(item["source"]) for item in evidence))


def _date(date: Doc | None) -> str:
    return "" if date is None else str(date["value"])


def _header(doc: Doc, kind_label: str) -> list[RenderableType]:
    lines: list[RenderableType] = [text(doc["name"], "bold")]
    subtitle = Text(f"{kind_label} · ", style=_DIM)
    subtitle.append(text(doc["id"], _DIM))
    if doc.get("aliases"):
        subtitle.append(" · also: ", style=_DIM)
        subtitle.append(text(", ".join(doc["aliases"]), _DIM))
    lines.append(subtitle)
    return lines


def _field(label: str, value: Any) -> Text:
    line = Text(f"{label}: ", style=_HEADING)
    line.append(text(value))
    return line


def _statements(statements: Sequence[Doc], with_speaker: bool) -> list[RenderableType]:
    if not statements:
        return []
    parts: list[RenderableType] = [_heading("Statements", len(statements))]
    for statement in statements:
        # Quotation marks only around words the article quotes directly; reported speech is
        # the article's own sentence and is shown as such.
        if statement["kind"] == "direct":
            quote = Text("“", style=_QUOTE)
            quote.append(text(statement["quote"], _QUOTE))
            quote.append("”", style=_QUOTE)
        else:
            quote = text(statement["quote"])
        meta = Text("", style=_DIM)
        details = []
        if with_speaker:
            details.append(str(statement["speaker"]["name"]))
        details.append(str(statement["kind"]))
        if statement["date"]:
            details.append(_date(statement["date"]))
        if statement["event"]:
            details.append(str(statement["event"]["name"]))
        details.append("source: " + _sources_line(statement["evidence"]))
        details.append("id: " + str(statement["id"]))
        meta.append(text(" · ".join(details), _DIM))
        parts.append(Padding(Group(quote, meta), (0, 0, 0, 2), expand=False))
    return parts


def _events(events: Sequence[Doc]) -> list[RenderableType]:
    if not events:
        return []
    table = _table("Date", "Event")
    for event in events:
        table.add_row(text(flat_row("event", event)["date"]), text(event["title"]))
    return [_heading("Events", len(events)), table]


def _evidence(evidence: Sequence[Doc]) -> list[RenderableType]:
    if not evidence:
        return []
    table = _table("Source", "Quote")
    for item in evidence:
        table.add_row(text(item["source"]), text(f"“{item['quote']}”", _QUOTE))
    return [_heading("Evidence", len(evidence)), table]


def _sources(sources: Sequence[Doc]) -> list[RenderableType]:
    if not sources:
        return []
    table = _table("Id", "Outlet", "Title", "Published")
    for source in sources:
        table.add_row(
            text(source["id"]),
            text(source["outlet"]),
            text(source["title"]),
            text(_date(source["published"])),
        )
    return [_heading("Sources", len(sources)), table]


def _context(doc: Doc, *, with_speaker: bool) -> list[RenderableType]:
    """What every person, country and organisation view ends with."""
    return [
        *_statements(doc["statements"], with_speaker=with_speaker),
        *_events(doc["events"]),
        *_evidence(doc["evidence"]),
        *_sources(doc["sources"]),
    ]


def person_view(doc: Doc) -> list[RenderableType]:
    parts = _header(doc, "person")
    if doc["country"]:
        parts.append(_field("Country", doc["country"]["name"]))
    if doc["organisations"]:
        parts.append(_field("Organisations", _names(doc["organisations"])))
    if doc["titles"]:
        table = _table("Title", "Organisation", "Country", "Source")
        for title in doc["titles"]:
            table.add_row(
                text(title["title"]),
                text(title["organisation"]["name"] if title["organisation"] else ""),
                text(title["country"]["name"] if title["country"] else ""),
                text(_sources_line(title["evidence"])),
            )
        parts += [_heading("Titles", len(doc["titles"])), table]
    return parts + _context(doc, with_speaker=False)


def country_view(doc: Doc) -> list[RenderableType]:
    parts = _header(doc, "country")
    if doc["roles"]:
        table = _table("Role", "Note", "Source")
        for role in doc["roles"]:
            table.add_row(
                text(role["role"]), text(role["note"]), text(_sources_line(role["evidence"]))
            )
        parts += [_heading("Role in the story", len(doc["roles"])), table]
    for label, key in (
        ("Representatives", "representatives"),
        ("People", "people"),
        ("Organisations", "organisations"),
    ):
        if doc[key]:
            parts.append(_field(label, _names(doc[key])))
    return parts + _context(doc, with_speaker=True)


def organisation_view(doc: Doc) -> list[RenderableType]:
    parts = _header(doc, "organisation")
    parts.append(_field("Kind", doc["kind"]))
    if doc["acronym"]:
        parts.append(_field("Acronym", doc["acronym"]))
    for label, key in (("Country", "country"), ("Part of", "parent")):
        if doc[key]:
            parts.append(_field(label, doc[key]["name"]))
    for label, key in (("Units", "children"), ("People", "people")):
        if doc[key]:
            parts.append(_field(label, _names(doc[key])))
    return parts + _context(doc, with_speaker=True)


def figure_view(doc: Doc) -> list[RenderableType]:
    parts: list[RenderableType] = [text(doc["label"], "bold")]
    subtitle = Text("figure · ", style=_DIM)
    subtitle.append(text(doc["id"], _DIM))
    parts.append(subtitle)
    headline = Text("Headline: ", style=_HEADING)
    headline.append(text(f"{doc['headline_display']} {doc['unit']}", "bold"))
    parts += [headline, _field("Why", doc["headline_reason"])]
    distinct = list(dict.fromkeys(value["display"] for value in doc["values"]))
    if not doc["sources_agree"]:
        parts.append(_field("Sources disagree", ", ".join(distinct)))
    elif len(distinct) > 1:
        parts.append(_field("Same number, worded differently", ", ".join(distinct)))
    table = _table("Value", "Qualifier", "Source", "Quote")
    for value in doc["values"]:
        quotes = " / ".join(f"“{item['quote']}”" for item in value["evidence"])
        table.add_row(
            text(value["display"], "bold"),
            text(value["qualifier"]),
            text(value["source"]),
            text(quotes, _QUOTE),
        )
    parts += [_heading("Reported values", len(doc["values"])), table]
    for breakdown in doc["breakdowns"]:
        parts.append(_heading(f"Breakdown: {sanitize(breakdown['label'])}"))
        parts_table = _table("Part", "Value", "Source")
        for part in breakdown["parts"]:
            parts_table.add_row(
                text(part["label"]), text(part["value"]), text(_sources_line(part["evidence"]))
            )
        parts.append(parts_table)
        relation = "=" if breakdown["adds_up"] else "≠"
        total = Text(
            f"Sum of parts {breakdown['parts_sum']} {relation} total {breakdown['total']}",
            style="bold" if breakdown["adds_up"] else "bold yellow",
        )
        parts.append(total)
        if breakdown["note"]:
            parts.append(_field("Note", breakdown["note"]))
    parts += _sources(doc["sources"])
    return parts


def event_view(doc: Doc) -> list[RenderableType]:
    parts: list[RenderableType] = [text(doc["title"], "bold")]
    subtitle = Text("event · ", style=_DIM)
    subtitle.append(text(doc["id"], _DIM))
    parts.append(subtitle)
    when = _date(doc["date"]) + (f" to {_date(doc['end_date'])}" if doc["end_date"] else "")
    parts.append(_field("Date", f"{when} ({doc['date']['precision']})"))
    if doc["date"].get("derivation"):
        parts.append(_field("Dated by", doc["date"]["derivation"]))
    if doc["place"]:
        parts.append(_field("Place", doc["place"]))
    if doc["participants"]:
        parts.append(_field("Participants", _names(doc["participants"])))
    parts += _statements(doc["statements"], with_speaker=True)
    return parts + _evidence(doc["evidence"]) + _sources(doc["sources"])


def source_view(doc: Doc) -> list[RenderableType]:
    parts: list[RenderableType] = [text(doc["title"], "bold")]
    subtitle = Text("source · ", style=_DIM)
    subtitle.append(text(f"{doc['id']} · {doc['file']}", _DIM))
    parts += [subtitle, _field("Outlet", doc["outlet"])]
    if doc["url"]:
        parts.append(_field("URL", doc["url"]))
    if doc["published"]:
        published = doc["published"]
        parts.append(_field("Published", f"{published['value']} ({published['precision']})"))
        if published.get("derivation"):
            parts.append(_field("Dated by", published["derivation"]))
    for label, key in (("Notes", "notes"), ("Left out", "omitted")):
        if doc[key]:
            parts.append(_heading(label, len(doc[key])))
            parts += [Padding(text(f"- {line}"), (0, 0, 0, 2), expand=False) for line in doc[key]]
    taken = [(kind, items) for kind, items in doc["taken"].items() if items]
    if taken:
        table = _table("Kind", "Count", "Taken from this article")
        for kind, items in taken:
            table.add_row(text(kind), text(len(items)), text(_names(items)))
        parts += [_heading("What the KB takes from it"), table]
    return parts


def statement_view(doc: Doc) -> list[RenderableType]:
    return [
        *_header({**doc, "aliases": []}, "statement"),
        *_statements([doc], with_speaker=True),
        *_sources(doc["sources"]),
    ]


DETAIL_VIEWS = {
    "person": person_view,
    "country": country_view,
    "organisation": organisation_view,
    "figure": figure_view,
    "event": event_view,
    "source": source_view,
    "statement": statement_view,
}


def print_detail(console: Console, doc: Doc) -> None:
    console.print(Group(*DETAIL_VIEWS[str(doc["entity"])](doc)))


def print_matches(console: Console, query: str, matches: Sequence[Match]) -> None:
    """Several entities answer the query: a ranked table to choose from."""
    heading = Text(f"{len(matches)} matches for ", style=_HEADING)
    heading.append(text(repr(query), _HEADING))
    table = _table("#", "Name", "Id", "Details", "Match")
    for rank, match in enumerate(matches, start=1):
        table.add_row(
            text(rank),
            text(match.name),
            text(match.id),
            text(_details(match.document)),
            text(f"{match.tier} {match.score:g}"),
        )
    console.print(Group(heading, table))


def _details(doc: Doc) -> str:
    kind = doc["entity"]
    if kind == "person":
        return "; ".join(title["title"] for title in doc["titles"][:2])
    if kind == "country":
        return ", ".join(dict.fromkeys(role["role"] for role in doc["roles"]))
    if kind == "organisation":
        return str(doc["kind"])
    if kind == "figure":
        return f"{doc['headline_display']} {doc['unit']}"
    return ""


def print_rows(console: Console, kind: str, docs: Sequence[Doc], title: str) -> None:
    if kind == "statement":
        # Quotes are prose: a list reads better than a table squeezed into columns.
        statements = _statements(docs, with_speaker=True)
        console.print(Group(Text(f"{title} ({len(docs)})", style=_HEADING), *statements[1:]))
        return
    columns = COLUMNS[kind]
    table = _table(*columns)
    for doc in docs:
        row = flat_row(kind, doc)
        table.add_row(*(text(row[column]) for column in columns))
    heading = Text(f"{title} ({len(docs)})", style=_HEADING)
    console.print(Group(heading, table))


def print_search(console: Console, query: str, hits: Sequence[SearchHit]) -> None:
    heading = Text(f"{len(hits)} result{'' if len(hits) == 1 else 's'} for ", style=_HEADING)
    heading.append(text(repr(query), _HEADING))
    parts: list[RenderableType] = [heading]
    current = None
    for hit in hits:
        if hit.kind != current:
            current = hit.kind
            parts.append(_heading(hit.kind))
        line = Text("  ")
        line.append(text(hit.name, "bold"))
        line.append(text(f"  ({hit.id}, {hit.field})", _DIM))
        parts.append(line)
        parts.append(Padding(_highlighted(hit), (0, 0, 0, 4), expand=False))
    console.print(Group(*parts))


def _highlighted(hit: SearchHit) -> Text:
    snippet = Text()
    position = 0
    for start, end in hit.highlights:
        snippet.append(text(hit.snippet[position:start]))
        snippet.append(text(hit.snippet[start:end], "bold reverse"))
        position = end
    snippet.append(text(hit.snippet[position:]))
    return snippet
