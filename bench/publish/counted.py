"""What `nox -s count -- path/to/model.py` shows: one model of a user's, every count set against its exact count
(bench/explain/peers.py), as a table in the terminal and the same as markdown and CSV beside the results."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.table import Table

from bench.explain.peers import PeerComparison, PeerCount
from bench.explain.rows import Failure
from bench.publish.markdown import code, number, signed, table, text
from bench.publish.words import failure_reason, failure_status
from bench.records.results import write_text_atomically

FOLDER = "counts"  # under the results folder: <model>.md and <model>.csv
HEADER = ["build", "cell", "counter", "FLOPs", "distance", "% of reference", "where it departs most"]


def _share(count: PeerCount) -> str:
    return "-" if count.ratio is None else f"{100 * count.ratio:.1f}"


def _where(count: PeerCount, build: PeerComparison) -> str:
    if build.exact is count:
        return "the reference"
    return "; ".join(f"{module} {signed(gap)}" for module, gap in count.departures)


def _heading(build: PeerComparison) -> str:
    if build.exact:
        return f"exact count ({build.exact.counter} in {build.exact.cell})"
    return f"no exact count: median of {len(build.counts)} counts"


def lines(found: list[PeerComparison]) -> list[list[str]]:
    """One line per count: its build, where it ran, its FLOPs, its distance from the reference and where the
    distance lies."""
    return [
        [
            b.build,
            c.cell,
            c.counter,
            number(c.flops),
            signed(c.distance(b.reference)),
            _share(c),
            _where(c, b),
        ]
        for b in found
        for c in b.counts
    ]


def terminal(model: str, found: list[PeerComparison], failures: list[Failure]) -> Table:
    references = "; ".join(f"{b.build}(): {number(b.reference)} FLOPs, the {_heading(b)}" for b in found)
    shown = Table(title=f"{model}: {references or 'no count'}", title_justify="left")
    for name in HEADER:
        shown.add_column(name, justify="right" if name in ("FLOPs", "distance", "% of reference") else "left")
    for line in lines(found):
        shown.add_row(*line)
    for f in failures:
        for _, job in f.jobs:
            shown.add_row("", f.cell, job, "-", failure_status(f), "", failure_reason(f), style="dim")
    return shown


def markdown(model: str, found: list[PeerComparison], failures: list[Failure]) -> str:
    parts = [f"# {code(model)}: every counter against the exact count\n"]
    for b in found:
        parts.append(f"- {code(b.build + '()')}: {number(b.reference)} FLOPs, the {text(_heading(b))}")
    parts.append("\n" + table(HEADER, [[text(cell) for cell in line] for line in lines(found)]))
    if failures:
        parts.append("## Jobs that gave no number\n")
        parts.append(
            table(
                ["cell", "job", "status", "why"],
                [
                    [text(f.cell), code(job), failure_status(f), text(failure_reason(f))]
                    for f in failures
                    for _, job in f.jobs
                ],
            )
        )
    return "\n".join(parts)


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def to_csv(found: list[PeerComparison]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["build", "cell", "counter", "flops", "reference", "distance", "ratio", "departures"])
    for b in found:
        for c in b.counts:
            departures = "; ".join(f"{module}={_plain(gap)}" for module, gap in c.departures)
            ratio = "" if c.ratio is None else f"{c.ratio:.6f}"
            writer.writerow(
                [b.build, c.cell, c.counter, _plain(c.flops), _plain(b.reference), _plain(c.distance(b.reference)),
                 ratio, departures]
            )  # fmt: skip
    return out.getvalue()


def write(results: Path, model: str, found: list[PeerComparison], failures: list[Failure]) -> tuple[Path, Path]:
    """<results>/counts/<model>.md and .csv, each written whole or not at all."""
    folder = results / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    md, sheet = folder / f"{model}.md", folder / f"{model}.csv"
    write_text_atomically(md, markdown(model, found, failures))
    write_text_atomically(sheet, to_csv(found))
    return md, sheet
