"""`nox -s report -- --compare OLD_RESULTS_DIR`: what changed between two result sets.

Per model and counter (in its cell): the old and new totals, the pins when they moved, and each
named adjustment whose FLOPs moved. Both sides are reconciled under the same convention, from their
records alone; rows only on one side are listed as added or gone. Nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from bench.explain.reconcile import Cause
from bench.explain.rows import Row, ordered
from bench.publish import report
from bench.publish.headings import HEADINGS, pinned
from bench.publish.markdown import code, number, signed, table
from bench.records import results
from bench.reference.convention import Convention


class NotResults(ValueError):
    """A folder to compare with that is not a results folder; the message is one line."""


def rows_of(folder: Path, convention: Convention) -> list[Row]:
    """The rows a results folder publishes; NotResults when it is missing or holds no record."""
    if not folder.is_dir():
        raise NotResults(f"--compare: {folder} is not a folder")
    loaded = results.load(folder)
    if not loaded.records and not loaded.problems:
        raise NotResults(f"--compare: {folder} holds no result records (<cell>/<model>/<job>.json)")
    return report.rows_of(loaded.records, convention)


def moved(old: Row, new: Row) -> list[str]:
    """Each adjustment (and the residual) whose FLOPs differ, old -> new."""
    said = [
        f"{HEADINGS[cause]}: {signed(old.adjustments[cause])} → {signed(new.adjustments[cause])}"
        for cause in Cause
        if old.adjustments[cause] != new.adjustments[cause]
    ]
    if old.reference != new.reference:
        said.append(f"reference: {_maybe(old.reference)} → {_maybe(new.reference)}")
    if (old.residual or 0) != (new.residual or 0):
        said.append(f"residual: {_maybe(old.residual)} → {_maybe(new.residual)}")
    return said


def _maybe(value: float | None) -> str:
    return "-" if value is None else number(value)


def compare(old: list[Row], new: list[Row]) -> str:
    """A markdown table of the rows that changed, were added or are gone; and how many did not change."""
    before = {r.key: r for r in old}
    after = {r.key: r for r in new}
    body, same = [], 0
    for r in ordered(list({**before, **after}.values())):
        a, b = before.get(r.key), after.get(r.key)
        pins_a, pins_b = a and pinned(a.pinned), b and pinned(b.pinned)
        if a is not None and b is not None and a.flops == b.flops and pins_a == pins_b and not moved(a, b):
            same += 1
            continue
        pins = pins_a if b is None else pins_b if a is None or pins_a == pins_b else f"{pins_a} → {pins_b}"
        change = "gone" if b is None else "added" if a is None else signed(b.flops - a.flops)
        causes = "; ".join(moved(a, b)) if a and b else "-"
        body.append(
            [
                code(r.model),
                r.cell,
                code(r.counter),
                pins,
                _maybe(a and a.flops),
                _maybe(b and b.flops),
                change,
                causes or "none",
            ]
        )
    plural = "s" * (same != 1)
    summary = f"{len(body)} row{'s' * (len(body) != 1)} changed, added or gone; {same} row{plural} unchanged.\n"
    if not body:
        return summary
    header = ["model", "cell", "counter", "pinned to", "old FLOPs", "new FLOPs", "change", "adjustments that moved"]
    return summary + "\n" + table(header, body)
