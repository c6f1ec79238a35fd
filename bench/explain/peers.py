"""Models given as code (models/<name>.py) have no definition, so no analytic reference. The project's own
exact counter is their reference: it prices every op the model runs in the reference's own vocabulary, and on
every model that has a definition it equals the analytic reference (tests/test_recorded.py). Every other
counter is set against it. A model's torch_model() and keras_model() are two models, so each build has its own
reference; a build no exact counter counted is set against the median of its counts instead."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

from bench.counters import adapter_for
from bench.models.selection import PYTHON_FUNCTIONS
from bench.probe import catalog, variants
from bench.reference.convention import PRESETS, Convention
from bench.run.cells import order_key

LARGEST = 3  # departures kept per count


@dataclass(frozen=True)
class PeerCount:
    cell: str
    counter: str
    flops: float
    ratio: float | None  # to the build's reference; None when the reference is 0
    # where it departs most from the exact count: (module and its class, its FLOPs minus exact's there), largest
    # first; empty when either breakdown is not per module
    departures: tuple[tuple[str, float], ...] = ()

    def distance(self, reference: float) -> float:
        return self.flops - reference


@dataclass(frozen=True)
class PeerComparison:
    """One build of a model given as code: each counter's FLOPs beside its reference."""

    model: str
    build: str  # the function that built it: torch_model or keras_model
    summary: str  # the model's own one-line summary, from its record
    reference: float  # the exact count, else the median of the counts
    exact: PeerCount | None  # the count the reference is, when an exact counter counted the build
    counts: tuple[PeerCount, ...]  # in cell order, then by counter


def is_code(entry: dict) -> bool:
    """A measurement of a model given as Python code."""
    return bool(((entry.get("probe") or {}).get("definition") or {}).get("python"))


def build_of(job: str) -> str:
    """The function of a user's file a job counts: the one its counter's framework builds with."""
    framework = catalog.COUNTERS[variants.split(job)[0]].framework
    return next(function for function, frameworks in PYTHON_FUNCTIONS.items() if framework in frameworks)


def is_exact(job: str) -> bool:
    """The project's own counter of the reference's components (its plain run, not a variant)."""
    counter, variant = variants.split(job)
    return adapter_for(counter).components and not variant


def priced(items: list[dict], entry: dict, convention: Convention) -> float:
    """FLOPs of some of a count's items under the convention: a counter of the reference's components by each
    component's price, any other by its unit's."""
    adapter = adapter_for(entry["job"])
    if adapter.components:
        return sum(n * convention.weight(c) for item in items for c, n in item.get("components", {}).items())
    return sum(item["raw"] for item in items) * adapter.unit.flops(convention)


def flops(entry: dict, convention: Convention) -> float:
    """A count's total under the convention (its breakdown's, for a counter of the reference's components)."""
    if adapter_for(entry["job"]).components:
        return priced(entry["probe"]["breakdown"]["items"], entry, convention)
    return entry["probe"]["raw_total"] * adapter_for(entry["job"]).unit.flops(convention)


def _by_module(entry: dict, convention: Convention) -> Counter[str] | None:
    """FLOPs per module of a count whose breakdown is per module."""
    probe = entry["probe"]
    if catalog.COUNTERS[variants.split(entry["job"])[0]].breakdown != "module" or "breakdown" not in probe:
        return None
    found: Counter[str] = Counter()
    for item in probe["breakdown"]["items"]:
        found[item["name"]] += priced([item], entry, convention)
    return found


def departures(entry: dict, exact: dict | None, convention: Convention) -> tuple[tuple[str, float], ...]:
    """The modules where a count departs most from the exact count of the same build, by their breakdowns:
    the evidence of where a tool prices the model otherwise, where no rule model can say why."""
    mine, reference = _by_module(entry, convention), _by_module(exact, convention) if exact else None
    if mine is None or reference is None or entry is exact:
        return ()
    classes = {item["name"]: item.get("type") for item in exact["probe"]["breakdown"]["items"]}
    gaps = [
        (f"{module} ({classes[module]})" if classes.get(module) else module, mine[module] - reference[module])
        for module in sorted(set(mine) | set(reference))
    ]
    gaps = [gap for gap in gaps if gap[1]]
    return tuple(sorted(gaps, key=lambda gap: -abs(gap[1]))[:LARGEST])


def compare(entries: list[dict], convention: Convention = PRESETS["default"]) -> list[PeerComparison]:
    """Per model given as code and per build: each counter's FLOPs under the convention and its ratio to the
    build's reference."""
    measured = [e for e in entries if e["status"] == "ok" and e["kind"] == "count" and is_code(e)]
    found = []
    for model, build in sorted({(e["model"], build_of(e["job"])) for e in measured}):
        rows = sorted(
            (e for e in measured if e["model"] == model and build_of(e["job"]) == build),
            key=lambda e: (order_key(e["cell"]), e["job"]),
        )
        exact = next((e for e in rows if is_exact(e["job"])), None)
        # where a count departs is read against the exact count of its own cell: the same build, the same names
        # (a Keras build names its layers by what its process built before: conv2d in one cell, conv2d_1 in another)
        beside = {e["cell"]: e for e in reversed(rows) if is_exact(e["job"])}
        totals = [flops(e, convention) for e in rows]
        reference = flops(exact, convention) if exact else statistics.median(totals)
        counts = tuple(
            PeerCount(
                e["cell"],
                e["job"],
                total,
                total / reference if reference else None,
                departures(e, beside.get(e["cell"], exact), convention),
            )
            for e, total in zip(rows, totals, strict=True)
        )
        chosen = next((c for c, e in zip(counts, rows, strict=True) if e is exact), None)
        found.append(PeerComparison(model, build, rows[0]["probe"]["definition"].get("summary", ""), reference,
                                    chosen, counts))  # fmt: skip
    return found
