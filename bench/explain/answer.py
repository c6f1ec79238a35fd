"""The report's answer as data: every counter's total reconciled with the analytic reference, per model.

Nothing here knows a model, counter or layer by name: the answer is drawn from whatever
reconciliations there are. bench/publish/explained.py writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bench.counters import ADAPTERS
from bench.explain import batching, peers
from bench.explain.reconcile import Cause, Reconciliation, reconcile
from bench.probe import catalog, variants
from bench.reference.convention import Convention
from bench.reference.formulas import analyse
from bench.run.cells import order_key


class Unread(Enum):
    """Why a measurement was not reconciled."""

    SCHEMA = "schema"  # recorded by another probe schema than today's
    NO_ADAPTER = "no adapter"  # no counter adapter on the host


@dataclass(frozen=True)
class Skipped:
    """A measurement not reconciled, and why."""

    model: str
    cell: str
    job: str
    why: Unread
    schema: object = None  # the schema it was recorded by (Unread.SCHEMA)


@dataclass(frozen=True)
class StepsPricing:
    """A recurrent layer of the model: its steps, its share of the reference, and what each tool prices."""

    layer: str
    steps: int
    flops: float  # the layer's reference
    priced: tuple[tuple[str, int, int], ...]  # (tool, fewest steps priced, most), by tool


@dataclass(frozen=True)
class CauseSize:
    """One cause of disagreement for a model: its largest size in any row, and the tools it concerns."""

    cause: Cause
    flops: float  # the largest |FLOPs| of the cause in any of the model's rows
    tools: tuple[str, ...]  # the tools whose rows have it, by name
    steps: tuple[StepsPricing, ...] = ()  # for Cause.STEPS: each recurrent layer


@dataclass(frozen=True)
class ModelAnswer:
    """Per model: how far the counters spread around the reference, and the largest causes."""

    model: str
    reference: float
    low: float  # the lowest total, in percent of the reference (0 without a reference)
    high: float  # the highest
    causes: tuple[CauseSize, ...]  # the three largest, largest first
    rows: int
    off: tuple[Reconciliation, ...]  # the rows with a residual, in reading order


@dataclass(frozen=True)
class LayerReference:
    """One layer's part of the analytic reference."""

    name: str
    flops: float
    steps: int  # time steps it runs (0: not recurrent)
    step_flops: float  # one step's FLOPs


def reconciliations(entries: list[dict], convention: Convention) -> tuple[list[Reconciliation], list[Skipped]]:
    """One per measurement the current probe schema describes and a counter adapter reads; and why
    the others were not reconciled."""
    found, skipped = [], []
    for entry in entries:
        probe = entry.get("probe") or {}
        if probe.get("schema") != catalog.COUNT_SCHEMA:
            skipped.append(Skipped(entry["model"], entry["cell"], entry["job"], Unread.SCHEMA, probe.get("schema")))
        elif peers.is_code(entry):
            continue  # no definition, no reference: peers.compare sets it beside the other counters
        elif variants.split(entry["job"])[0] not in ADAPTERS:
            skipped.append(Skipped(entry["model"], entry["cell"], entry["job"], Unread.NO_ADAPTER))
        else:
            found.append(reconcile(entry, convention))
    return found, skipped


def ordered(rows: list[Reconciliation]) -> list[Reconciliation]:
    """In reading order: by model, cell, counter."""
    return sorted(rows, key=lambda r: (r.model, order_key(r.cell), r.counter))


def model_answer(rows: list[Reconciliation]) -> ModelAnswer:
    """The answer for one model's rows."""
    reference = rows[0].reference
    shares = [100 * r.total / reference for r in rows] if reference else [0.0]
    size: dict[Cause, float] = {}
    for r in rows:
        for cause, group in r.by_cause().items():
            size[cause] = max(size.get(cause, 0), abs(sum(a.flops for a in group)))
    ranked = sorted(size, key=lambda c: (-size[c], list(Cause).index(c)))[:3]
    causes = tuple(
        CauseSize(
            c,
            size[c],
            tuple(sorted({r.tool for r in rows if c in r.by_cause()})),
            _steps(rows) if c is Cause.STEPS else (),
        )
        for c in ranked
    )
    off = tuple(r for r in ordered(rows) if r.residual)
    return ModelAnswer(rows[0].model, reference, min(shares), max(shares), causes, len(rows), off)


def _steps(rows: list[Reconciliation]) -> tuple[StepsPricing, ...]:
    """Each recurrent layer: its share of the reference, and how many steps each tool prices."""
    found = []
    references = layer_references(rows[0])
    for layer, steps in rows[0].steps.items():
        priced: dict[str, list[int]] = {}
        for r in rows:
            priced.setdefault(r.tool, []).append(r.priced_steps.get(layer, 0))
        spans = tuple((tool, min(counts), max(counts)) for tool, counts in sorted(priced.items()))
        flops = next(x.flops for x in references if x.name == layer)
        found.append(StepsPricing(layer, steps, flops, spans))
    return tuple(found)


def layer_references(r: Reconciliation) -> tuple[LayerReference, ...]:
    """The reference of `r`, layer by layer, under its convention."""
    convention = r.convention
    return tuple(
        LayerReference(cost.name, convention.flops(cost.total()), cost.steps, convention.flops(cost.step))
        for cost in analyse(r.definition)
    )


def at_own_batch(rows: list[Reconciliation]) -> Reconciliation:
    """The row whose reference is at the model's own batch (a per-sample counter's is at a batch of 1)."""
    return next((r for r in rows if not batching.per_sample(r.counter)), rows[0])
