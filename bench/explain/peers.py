"""Models given as code (models/<name>.py) have no definition, so no analytic reference: their
counters are compared with each other instead, each against the median of all of them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.run.cells import order_key


@dataclass(frozen=True)
class PeerCount:
    cell: str
    counter: str
    flops: float
    ratio: float | None  # to the median of the model's counts; None when the median is 0


@dataclass(frozen=True)
class PeerComparison:
    """One model given as code: each counter's FLOPs beside the median of all of them."""

    model: str
    summary: str  # the model's own one-line summary, from its record
    median: float
    counts: tuple[PeerCount, ...]  # in cell order, then by counter


def is_code(entry: dict) -> bool:
    """A measurement of a model given as Python code."""
    return bool(((entry.get("probe") or {}).get("definition") or {}).get("python"))


def compare(entries: list[dict]) -> list[PeerComparison]:
    """Per model given as code, by name: each counter's FLOPs and its ratio to the median of the counters."""
    measured = [e for e in entries if e["status"] == "ok" and e["kind"] == "count" and is_code(e)]
    found = []
    for model in sorted({e["model"] for e in measured}):
        rows = sorted((e for e in measured if e["model"] == model), key=lambda e: (order_key(e["cell"]), e["job"]))
        median = statistics.median(e["probe"]["flops"] for e in rows)
        counts = tuple(
            PeerCount(e["cell"], e["job"], e["probe"]["flops"], e["probe"]["flops"] / median if median else None)
            for e in rows
        )
        found.append(PeerComparison(model, rows[0]["probe"]["definition"].get("summary", ""), median, counts))
    return found
