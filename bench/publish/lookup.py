"""`nox -s lookup -- MODEL [COUNTER]`: one model's numbers in the terminal, from its records alone.

Reads only results/*/MODEL/*.json (no report is written, no engine contacted; a record the last report
found valid, by its bytes, is not validated again): every counter at every
version, its number, its distance from the analytic reference and the causes, as one table, and the
jobs that gave no number. Bad input is one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import paths
from bench.explain import answer, rows
from bench.explain.rows import Row
from bench.probe import variants
from bench.publish.headings import columns, term
from bench.publish.markdown import number, signed
from bench.publish.words import failure_reason, failure_status
from bench.records import results, seal
from bench.records.memo import Memo
from bench.reference.convention import PRESETS

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nox -s lookup --", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model with records under results/ (e.g. seed)")
    parser.add_argument("counter", nargs="?", help="only this counter (a job name such as thop, or thop@no-grad)")
    parser.add_argument("--results", type=Path, default=paths.RESULTS)
    return parser


def known_models(where: Path) -> list[str]:
    return sorted({p.parent.name for p in where.glob("*/*/*.json")})


def rows_of(entries: list[dict]) -> list[Row]:
    """Each measurement's row under the default convention; one the reconciliation cannot read is shown
    unreconciled (the report names it as a problem). Imports no chart library: this has to be quick."""
    found = []
    for entry in entries:
        try:
            reconciled = answer.reconciliations([entry], PRESETS["default"])[0]
        except Exception:  # the report lists it, with the reason
            reconciled = []
        found.append(rows.build(entry, reconciled[0] if reconciled else None, PRESETS["default"]))
    return found


def _distance(r: Row) -> str:
    if r.reference is None:
        return "no reference"
    share = f" ({100 * r.share:.1f}%)" if r.share is not None else ""
    return signed(r.flops - r.reference) + share


def _causes(r: Row) -> str:
    if r.reference is None:
        return "not reconciled"
    said = [f"{term(reason)} {signed(reason.flops)}" for reason in r.reasons if reason.flops]
    return "; ".join(said) or "none: the counter counts what the reference counts"


def table(model: str, found: list[Row], failures: list[rows.Failure]) -> Table:
    heading = columns(found)
    reference = next((r.reference for r in found if r.reference is not None), None)
    title = f"{model}: analytic reference {number(reference)} FLOPs" if reference is not None else model
    shown = Table(title=title, title_justify="left")
    shown.add_column("counter @ framework, cell / job", overflow="fold")
    shown.add_column("as reported", justify="right", no_wrap=True)
    shown.add_column("FLOPs", justify="right", no_wrap=True)
    shown.add_column("distance", justify="right", no_wrap=True)
    shown.add_column("causes", overflow="fold")
    for r in sorted(found, key=lambda r: list(heading).index((r.cell, r.counter))):
        shown.add_row(
            f"{heading[(r.cell, r.counter)]}\n[dim]{r.cell} / {r.counter}[/dim]",
            f"{r.raw_total:,} {r.unit}",
            number(r.flops),
            _distance(r),
            _causes(r),
        )
    for f in failures:
        for _, job in f.jobs:
            shown.add_row(
                f"[dim]{f.cell} / {job}[/dim]",
                "-",
                "-",
                failure_status(f),
                failure_reason(f),
                style="dim",
            )
    return shown


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    args = _parser().parse_args(argv)
    console = console or Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # a pipe or a log: wide rows rather than folded numbers
    models = known_models(args.results)
    if args.model not in models:
        near = ", ".join(models[:30]) or "none: run nox -s matrix"
        print(f"error: no records of model {args.model!r} under {args.results} (models: {near})", file=sys.stderr)
        return EXIT_USAGE
    memo = Memo(paths.ROOT / ".matrix")  # the verdicts of the last report: a record seen valid is not checked again
    loaded = results.load(args.results, memo, model=args.model)
    memo.save(prune=False)
    records, edited = seal.split(loaded.records, args.results)  # as the report: an edited record is left out
    for problem in [*loaded.problems, *edited]:
        print(f"warning: left out {args.results / problem.path}: {problem.reason}", file=sys.stderr)
    chosen = [
        e for e in records if args.counter in (None, e["job"], variants.split(e["job"])[0]) and e["kind"] == "count"
    ]
    if not chosen:
        jobs = sorted({e["job"] for e in records if e["kind"] == "count"})
        print(
            f"error: model {args.model!r} has no records of counter {args.counter!r} (counters: {', '.join(jobs)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    found = rows_of([e for e in chosen if e["status"] == "ok"])
    failures = rows.failures([e for e in chosen if e["status"] != "ok"], {(r.cell, r.model, r.counter) for r in found})
    console.print(table(args.model, found, failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
