"""Where a named variant (bench/probe/variants.py: a counter called under switches) moves its counter's
total, and why: the switches the probe saw differ from the plain call's, and the causes of the
reconciliation that change between the two (each side explained by its own rule model, not by the
difference). The rows are data; bench/publish/explained.py lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.explain.reconcile import Cause, Reconciliation
from bench.probe import variants


@dataclass(frozen=True)
class SwitchChange:
    """A switch the probe saw at the model's first layer, in the plain call and under the variant."""

    key: str
    plain: object
    variant: object


@dataclass(frozen=True)
class CauseChange:
    """A cause's FLOPs (None: the residual) in the plain call's reconciliation and in the variant's."""

    cause: Cause | None
    plain: float
    variant: float


@dataclass(frozen=True)
class VariantMove:
    """One variant whose total differs from the plain call's, in one cell, for one model."""

    cell: str
    model: str
    counter: str
    variant: str
    plain: float  # FLOPs, the plain call
    moved: float  # FLOPs, under the variant
    switches: tuple[SwitchChange, ...]
    causes: tuple[CauseChange, ...]
    residual: float  # the variant's own residual: non-zero where its rule model does not know the switch


@dataclass(frozen=True)
class Tally:
    measured: int  # variant measurements
    moved: tuple[VariantMove, ...]


def is_plain(job: str) -> bool:
    """A counter called the way a user calls it, not one of its named variants."""
    return not variants.split(job)[1]


def _switch_changes(plain: dict, variant: dict) -> tuple[SwitchChange, ...]:
    seen_plain = plain["probe"]["provenance"].get("switches") or {}
    seen = variant["probe"]["provenance"].get("switches") or {}
    return tuple(
        SwitchChange(key, seen_plain.get(key), seen.get(key))
        for key in sorted(set(seen) | set(seen_plain))
        if seen.get(key) != seen_plain.get(key)
    )


def _by_cause(result: Reconciliation) -> dict[Cause, float]:
    return {cause: sum(a.flops for a in found) for cause, found in result.by_cause().items()}


def _cause_changes(plain: Reconciliation, variant: Reconciliation) -> tuple[CauseChange, ...]:
    before, after = _by_cause(plain), _by_cause(variant)
    changes = [
        CauseChange(cause, before.get(cause, 0), after.get(cause, 0))
        for cause in Cause
        if before.get(cause, 0) != after.get(cause, 0)
    ]
    if plain.residual != variant.residual:
        changes.append(CauseChange(None, plain.residual, variant.residual))
    return tuple(changes)


def unmodelled() -> dict[str, list[str]]:
    """What the rule models do not model (the variants registry's words), with the variants it concerns."""
    found: dict[str, list[str]] = {}
    for name, spec in sorted(variants.VARIANTS.items()):
        if spec["unmodelled"]:
            found.setdefault(spec["unmodelled"], []).append(name)
    return found


def tally(entries: list[dict], explained: list[Reconciliation]) -> Tally:
    """Each measured variant against the plain measurement of the same counter, cell and model."""
    records = {(e["cell"], e["model"], e["job"]): e for e in entries if e["status"] == "ok" and e["kind"] == "count"}
    results = {(r.cell, r.model, r.counter): r for r in explained}
    measured, moved = 0, []
    for (cell, model, job), entry in sorted(records.items()):
        counter, variant = variants.split(job)
        if not variant:
            continue
        measured += 1
        plain = records.get((cell, model, counter))
        if plain is None or plain["probe"]["flops"] == entry["probe"]["flops"]:
            continue
        before, after = results.get((cell, model, counter)), results.get((cell, model, job))
        moved.append(
            VariantMove(
                cell,
                model,
                counter,
                variant,
                plain["probe"]["flops"],
                entry["probe"]["flops"],
                _switch_changes(plain, entry),
                _cause_changes(before, after) if before and after else (),
                after.residual if after else 0.0,
            )
        )
    return Tally(measured, tuple(moved))
