"""Start-up and scale benchmarks for hanoi-cli: one command, one table of verdicts.

    python benchmarks/run.py                   # everything: start-up, N = 1k, 10k, 100k, cold
    python benchmarks/run.py --quick           # a quick look: 5 pairs, N = 1k only
    python benchmarks/run.py --sizes 10000 --pairs 25 --skip-startup

Every comparison runs its two commands interleaved (A B A B ...) after a warm-up, as
subprocesses timed by wall clock, and compares the medians: on a shared, noisy machine that
cancels most of the drift that separate series would pick up. hanoi runs through its console
script (`.venv/bin/hanoi`), the baselines as `python benchmarks/bare_*.py`, both with the
same interpreter and the same environment. The index cache lives in a private directory
under the work directory (default /tmp/hanoi-bench), never in the user's cache, and the big
KBs are written there too.

This is a benchmark, not a test: it reports, it does not gate CI. Exit status is 0 when every
row passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from synthetic_kb import (  # noqa: E402
    FUZZY_QUERY,
    KNOWN_PERSON,
    KNOWN_QUERY,
    REVISION_MARK,
    SEARCH_QUERY,
)

MIB = 1024 * 1024
Command = list[str]


@dataclass
class Row:
    check: str
    size: str
    a_ms: float | None
    b_ms: float | None
    value: str
    target: str
    verdict: str
    note: str = ""


def hanoi_command() -> Command:
    """The console script next to this interpreter, as an installed `hanoi` runs."""
    script = Path(sys.executable).parent / "hanoi"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "hanoi_cli"]


def default_real_kb() -> Path:
    """data/facts.json once it holds a KB, else the test fixture standing in for it."""
    real = REPO / "data" / "facts.json"
    try:
        if json.loads(real.read_text(encoding="utf-8")).get("people"):
            return real
    except (OSError, ValueError, AttributeError):
        pass
    return REPO / "tests" / "fixtures" / "mini_kb.json"


class Runner:
    def __init__(self, env: dict[str, str], warmup: int, pairs: int) -> None:
        self.env = env
        self.warmup = warmup
        self.pairs = pairs

    def once(self, command: Command) -> tuple[float, subprocess.CompletedProcess[bytes]]:
        start = time.perf_counter_ns()
        done = subprocess.run(command, env=self.env, capture_output=True, check=False)
        elapsed = (time.perf_counter_ns() - start) / 1e6
        return elapsed, done

    def check(self, command: Command, expect: str | None = None) -> bytes:
        _, done = self.once(command)
        if done.returncode != 0 or (expect is not None and expect.encode() not in done.stdout):
            sys.stderr.write(
                f"command failed or gave a wrong answer: {' '.join(command)}\n"
                f"exit {done.returncode}\n{done.stderr.decode(errors='replace')[-2000:]}\n"
            )
            raise SystemExit(2)
        return done.stdout

    def pair(self, a: Command, b: Command, pairs: int | None = None) -> Pair:
        """Medians (ms) of A and B, run interleaved after a warm-up of each."""
        for _ in range(self.warmup):
            self.once(a)
            self.once(b)
        a_times, b_times = [], []
        for _ in range(pairs or self.pairs):
            a_times.append(self.once(a)[0])
            b_times.append(self.once(b)[0])
        ratios = [a_ms / b_ms for a_ms, b_ms in zip(a_times, b_times, strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        return Pair(statistics.median(a_times), statistics.median(b_times), low, high)


@dataclass
class Pair:
    a_ms: float
    b_ms: float
    ratio_q1: float
    """Quartiles of the A/B ratios of single pairs: how much one pair moves on this machine."""
    ratio_q3: float


def ratio_row(check: str, size: str, measured: Pair, limit: float, note: str = "") -> Row:
    ratio = measured.a_ms / measured.b_ms
    verdict = "PASS" if ratio <= limit else "FAIL"
    spread = f"single pairs' ratios: middle half {measured.ratio_q1:.2f}-{measured.ratio_q3:.2f}x"
    note = f"{note}; {spread}" if note else spread
    return Row(
        check, size, measured.a_ms, measured.b_ms, f"{ratio:.3f}x", f"<= {limit}x", verdict, note
    )


def ensure_kb(size: int, workdir: Path, seed: int) -> Path:
    path = workdir / f"kb-{size}-seed{seed}.json"
    if not path.is_file():
        sys.stderr.write(f"writing {path} ...\n")
        subprocess.run(
            [
                sys.executable,
                str(HERE / "synthetic_kb.py"),
                "--people",
                str(size),
                "--out",
                str(path),
                "--seed",
                str(seed),
            ],
            check=True,
        )
    return path


def peak_rss_mib(runner: Runner, command: Command) -> float | None:
    time_binary = Path("/usr/bin/time")
    if not time_binary.is_file():
        return None
    done = subprocess.run(
        [str(time_binary), "-v", *command], env=runner.env, capture_output=True, check=False
    )
    found = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return int(found.group(1)) / 1024 if found else None


def set_revision(path: Path, revision: int) -> None:
    """Changes the KB's bytes in place, size unchanged: `(revision 000)` -> `(revision 007)`."""
    raw = path.read_bytes()
    new = re.sub(rb"\(revision \d{3}\)", f"(revision {revision % 1000:03d})".encode(), raw)
    path.write_bytes(new)


def startup_rows(runner: Runner, hanoi: Command, startup_pairs: int) -> list[Row]:
    python = [sys.executable]
    hanoi_json = [*hanoi, "who", KNOWN_QUERY, "--json"]
    bare_json = [*python, str(HERE / "bare_json_app.py"), "who", KNOWN_QUERY, "--json"]
    runner.check(hanoi_json, KNOWN_PERSON)
    runner.check(bare_json)
    rows = [
        ratio_row(
            "start-up: who --json / bare_json_app",
            "real",
            runner.pair(hanoi_json, bare_json, startup_pairs),
            1.05,
        )
    ]
    hanoi_table = [*hanoi, "who", KNOWN_QUERY]
    bare_table = [*python, str(HERE / "bare_table_app.py"), "who", KNOWN_QUERY]
    runner.check(hanoi_table, KNOWN_PERSON)
    runner.check(bare_table)
    rows.append(
        ratio_row(
            "start-up: who (table) / bare_table_app",
            "real",
            runner.pair(hanoi_table, bare_table, startup_pairs),
            1.1,
        )
    )
    return rows


def on(hanoi: Command, kb: Path, *args: str) -> Command:
    return [*hanoi, "--data", str(kb), *args]


def scale_rows(runner: Runner, hanoi: Command, real_kb: Path, big_kb: Path, size: int) -> list[Row]:
    label = f"{size:,}"
    rows: list[Row] = []
    who_big = on(hanoi, big_kb, "who", KNOWN_QUERY, "--json")
    who_real = on(hanoi, real_kb, "who", KNOWN_QUERY, "--json")
    runner.check(who_big, KNOWN_PERSON)
    runner.check(who_real, KNOWN_PERSON)
    rows.append(
        ratio_row("warm who --json: big / real KB", label, runner.pair(who_big, who_real), 1.3)
    )

    jq = shutil.which("jq")
    if jq is None:
        rows.append(
            Row(
                "warm who --json / jq select",
                label,
                None,
                None,
                "-",
                "<= 0.2x",
                "SKIP",
                "jq not installed (apt-get install -y jq)",
            )
        )
    else:
        jq_select = [jq, f'.people[] | select(.name | contains("{KNOWN_QUERY}"))', str(big_kb)]
        runner.check(jq_select, KNOWN_PERSON)
        rows.append(
            ratio_row("warm who --json / jq select", label, runner.pair(who_big, jq_select), 0.2)
        )

    fuzzy_big = on(hanoi, big_kb, "who", FUZZY_QUERY, "--json")
    fuzzy_real = on(hanoi, real_kb, "who", FUZZY_QUERY, "--json")
    runner.check(fuzzy_big, KNOWN_PERSON)
    runner.check(fuzzy_real, KNOWN_PERSON)
    rows.append(
        ratio_row(
            f"fuzzy who {FUZZY_QUERY}: big / real KB",
            label,
            runner.pair(fuzzy_big, fuzzy_real),
            2.0,
        )
    )

    search_big = on(hanoi, big_kb, "search", SEARCH_QUERY, "--json")
    search_real = on(hanoi, real_kb, "search", SEARCH_QUERY, "--json")
    runner.check(search_big)
    runner.check(search_real)
    rows.append(
        ratio_row(
            f"search {SEARCH_QUERY}: big / real KB",
            label,
            runner.pair(search_big, search_real),
            2.0,
        )
    )

    rss = peak_rss_mib(runner, who_big)
    rows.append(
        Row(
            "peak RSS, warm who --json",
            label,
            None,
            None,
            "-" if rss is None else f"{rss:.1f} MiB",
            "<= 150 MiB",
            "SKIP" if rss is None else ("PASS" if rss <= 150 else "FAIL"),
            "/usr/bin/time missing (apt-get install -y time)" if rss is None else "",
        )
    )

    return rows


COLD_COMMANDS = {
    f"who {KNOWN_QUERY}": ("who", KNOWN_QUERY, "--json"),
    f"who {FUZZY_QUERY} (typo)": ("who", FUZZY_QUERY, "--json"),
    f"search {SEARCH_QUERY}": ("search", SEARCH_QUERY, "--json"),
}
"""First calls measured after an edit of one statement: the index and the tables built on
first use (trigram, full text) are patched, the changed statement's rows rewritten."""

Change = Callable[[Path, int], str | None]
"""Changes the KB (or the cache) before a cold call; returns text the answer must hold."""


def edit_statement(path: Path, step: int) -> str | None:
    """One statement's summary edited in place: a patch."""
    set_revision(path, step)
    return REVISION_MARK.replace("000", f"{step % 1000:03d}")


def add_article(path: Path, step: int) -> str | None:
    """What a new article brings, appended: its source, a person, and a statement by
    Guterres that cites it. A patch adds their rows."""
    kb = json.loads(path.read_bytes())
    source = dict(kb["sources"][0], id=f"article-{step}", file=f"article-{step}.txt")
    quote = f"A new article (number {step})"
    evidence = [{"source": source["id"], "quote": quote}]
    person = dict(
        kb["people"][-1],
        id=f"newcomer-{step}",
        name=f"Newcomer Number {step}",
        aliases=[],
        shared_aliases=[],
        evidence=evidence,
    )
    speaker = next(person["id"] for person in kb["people"] if person["name"] == KNOWN_PERSON)
    statement = dict(
        kb["statements"][-1], id=f"article-{step}-statement", speaker=speaker, quote=quote
    )
    statement["evidence"] = evidence
    kb["sources"].append(source)
    kb["people"].append(person)
    kb["statements"].append(statement)
    path.write_text(json.dumps(kb, ensure_ascii=False), encoding="utf-8")
    return quote


def remove_insert_move(path: Path, step: int) -> str | None:
    """A statement in the middle removed, a person inserted in the middle of the people, and
    Guterres moved to the end of them: a patch, which keeps every other entity's num, and
    rewrites what refers to Guterres."""
    kb = json.loads(path.read_bytes())
    statements = kb["statements"]
    del statements[len(statements) // 2]
    people = kb["people"]
    [guterres] = [person for person in people if person["name"] == KNOWN_PERSON]
    people.remove(guterres)
    people.append(guterres)
    name = f"Inserted Person {step}"
    person = dict(kb["people"][-1], id=f"inserted-{step}", name=name, aliases=[])
    person["shared_aliases"] = []
    kb["people"].insert(len(kb["people"]) // 2, person)
    path.write_text(json.dumps(kb, ensure_ascii=False), encoding="utf-8")
    return None


def clear_index(cache_home: Path) -> Change:
    """No index at all (first use, an upgrade, or a change no patch can follow): a full build."""

    def change(path: Path, step: int) -> str | None:
        for index_file in (cache_home / "hanoi-cli").glob("index-*"):
            index_file.unlink()
        return None

    return change


def cold_rows(
    runner: Runner, hanoi: Command, big_kb: Path, size: int, cold_runs: int, *, cache_home: Path
) -> list[Row]:
    def unchecked(path: Path, step: int) -> str | None:
        edit_statement(path, step)
        return None  # a typo or a search need not show the edited summary

    rows = [
        cold_row(
            runner,
            on(hanoi, big_kb, *arguments),
            size,
            cold_runs,
            label=f"{label} after an edit",
            change=edit_statement if label == f"who {KNOWN_QUERY}" else unchecked,
        )
        for label, arguments in COLD_COMMANDS.items()
    ]
    who = on(hanoi, big_kb, *COLD_COMMANDS[f"who {KNOWN_QUERY}"])
    for when, change in (
        ("after an article was added", add_article),
        ("after entities were removed, inserted, moved", remove_insert_move),
        ("with no index: a full build", clear_index(cache_home)),
    ):
        label = f"who {KNOWN_QUERY} {when}"
        rows.append(cold_row(runner, who, size, cold_runs, label=label, change=change))
    return rows


def cold_row(
    runner: Runner, command: Command, size: int, cold_runs: int, *, label: str, change: Change
) -> Row:
    """The first call after `change`: the index patched or built, then the answer."""
    big_kb = Path(command[command.index("--data") + 1])
    original = big_kb.read_bytes()
    cold_times: list[float] = []
    cold_rss: list[float] = []
    correct = 0
    for step in range(1, cold_runs + 1):
        expect = change(big_kb, step)
        elapsed, done = runner.once(command)
        cold_times.append(elapsed)
        # The answer must show the change (or, for a typo or a search, be an answer).
        if done.returncode == 0 and (expect is None or expect.encode() in done.stdout):
            correct += 1
        change(big_kb, step + 100)
        rss = peak_rss_mib(runner, command)
        if rss is not None:
            cold_rss.append(rss)
    big_kb.write_bytes(original)
    # Leave a warm cache for the original bytes.
    runner.check(command)
    worst = max(cold_times) / 1000
    verdict = "PASS" if worst <= 5.0 and correct == cold_runs else "FAIL"
    note = f"{correct}/{cold_runs} answers right"
    if cold_rss:
        note += f"; peak RSS {max(cold_rss):.0f} MiB"
    return Row(
        f"cold: first {label} (worst)",
        f"{size:,}",
        max(cold_times),
        None,
        f"{worst:.2f} s",
        "<= 5 s",
        verdict,
        note,
    )


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}); Python {platform.python_version()}; "
        f"{platform.system()} {platform.release()}"
    )


def print_table(rows: Sequence[Row]) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    header = ("check", "N", "A median ms", "B median ms", "value", "target", "verdict")
    table = [header] + [
        (r.check, r.size, ms(r.a_ms), ms(r.b_ms), r.value, r.target, r.verdict) for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for number, line in enumerate(table):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {r.check} ({r.size}): {r.note}" for r in rows if r.note]
    if notes:
        print()
        print("\n".join(notes))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated numbers of people (default: 1000,10000,100000)",
    )
    parser.add_argument("--pairs", type=int, default=15, help="interleaved pairs per row (>= 15)")
    parser.add_argument(
        "--startup-pairs",
        type=int,
        default=41,
        help="pairs for the two start-up rows, whose targets leave ~10 ms of room (default 41)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="warm-up runs of each command")
    parser.add_argument("--cold-runs", type=int, default=3, help="cache rebuilds per size")
    parser.add_argument(
        "--quick", action="store_true", help="5 pairs, N = 1,000, 1 cold run: a look, not a verdict"
    )
    parser.add_argument("--skip-startup", action="store_true", help="only the scale rows")
    parser.add_argument(
        "--real-kb",
        type=Path,
        default=None,
        help="the reference KB (default: data/facts.json, else the test fixture)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/hanoi-bench"),
        help="where big KBs and the private cache go (default: /tmp/hanoi-bench)",
    )
    parser.add_argument("--seed", type=int, default=5, help="seed for the synthetic KBs")
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.sizes, args.cold_runs, args.warmup = 5, "1000", 1, 1
        args.startup_pairs = 5
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    real_kb = (args.real_kb or default_real_kb()).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    env.pop("HANOI_DATA", None)
    env.update(
        {
            "XDG_CACHE_HOME": str(args.workdir / "cache"),
            "HANOI_DATA": str(real_kb),
            "COLUMNS": "100",
            "PYTHONDONTWRITEBYTECODE": "",
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE")
    runner = Runner(env, args.warmup, args.pairs)
    hanoi = hanoi_command()

    print(f"machine: {machine()}")
    print(
        f"hanoi: {' '.join(hanoi)}; real KB: {real_kb}; pairs: {args.pairs}"
        + (" (quick: not a verdict)" if args.quick else "")
    )
    print()
    rows: list[Row] = []
    if not args.skip_startup:
        rows += startup_rows(runner, hanoi, args.startup_pairs)
    for size in sizes:
        big_kb = ensure_kb(size, args.workdir, args.seed)
        sys.stderr.write(f"measuring N = {size:,} ...\n")
        rows += scale_rows(runner, hanoi, real_kb, big_kb, size)
        cache_home = args.workdir / "cache"
        rows += cold_rows(runner, hanoi, big_kb, size, args.cold_runs, cache_home=cache_home)
    print_table(rows)
    return 0 if all(row.verdict in ("PASS", "SKIP") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
