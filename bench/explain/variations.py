"""Where a named variant (bench/probe/variants.py: a counter called under switches) moves its counter's
total, and why: the switches the probe saw differ from the plain call's, and the causes of the
reconciliation that change between the two (each side explained by its own rule model, not by the
difference). The report prints `section`; the rows are data a report can lay out as it likes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.explain.reconcile import CAUSES, Reconciliation
from bench.probe import variants
from bench.publish.markdown import code, number, signed, table, text


@dataclass(frozen=True)
class Move:
    """One variant whose total differs from the plain call's, in one cell, for one model."""

    cell: str
    model: str
    counter: str
    variant: str
    plain: float  # FLOPs, the plain call
    moved: float  # FLOPs, under the variant
    switches: tuple[str, ...]  # "grad_enabled: True -> False", as the probe saw them at the first layer
    causes: tuple[str, ...]  # "recurrent steps priced: - 232,585,824 -> 0"
    residual: float  # the variant's own residual: non-zero where its rule model does not know the switch


@dataclass(frozen=True)
class Tally:
    measured: int  # variant measurements
    moved: tuple[Move, ...]


def is_plain(job: str) -> bool:
    """A counter called the way a user calls it, not one of its named variants."""
    return not variants.split(job)[1]


def _switch_changes(plain: dict, variant: dict) -> tuple[str, ...]:
    seen_plain = plain["probe"]["provenance"].get("switches") or {}
    seen = variant["probe"]["provenance"].get("switches") or {}
    return tuple(
        f"{key}: {seen_plain.get(key)} -> {seen.get(key)}"
        for key in sorted(set(seen) | set(seen_plain))
        if seen.get(key) != seen_plain.get(key)
    )


def _by_cause(result: Reconciliation) -> dict[str, float]:
    return {cause: sum(a.flops for a in found) for cause, found in result.by_cause().items()}


def _cause_changes(plain: Reconciliation, variant: Reconciliation) -> tuple[str, ...]:
    before, after = _by_cause(plain), _by_cause(variant)
    changes = [
        f"{CAUSES[cause]}: {signed(before.get(cause, 0))} -> {signed(after.get(cause, 0))}"
        for cause in CAUSES
        if before.get(cause, 0) != after.get(cause, 0)
    ]
    if plain.residual != variant.residual:
        changes.append(f"residual: {signed(plain.residual)} -> {signed(variant.residual)}")
    return tuple(changes)


def _unmodelled() -> dict[str, list[str]]:
    """What the rule models do not model, with the variants it concerns."""
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
            Move(
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


def section(entries: list[dict], explained: list[Reconciliation]) -> str:
    """The report's section: one row per variant that moves a total; "" when no variant was measured."""
    found = tally(entries, explained)
    if not found.measured:
        return ""
    rows = [
        [
            code(m.model),
            m.cell,
            code(m.counter),
            code(m.variant),
            number(m.plain),
            number(m.moved),
            signed(m.moved - m.plain),
            text("; ".join(m.switches) or "-"),
            text("; ".join(m.causes) or "-"),
        ]
        for m in found.moved
    ]
    intro = (
        "## How a counter is called\n\n"
        "Each counter also runs under named variants (`counter@variant`): "
        + "; ".join(f"{code(name)}: {text(spec['summary'])}" for name, spec in sorted(variants.VARIANTS.items()))
        + f". Of {found.measured} variant measurements, {len(found.moved)} move their counter's total; the others"
        " equal the plain call's, and those that failed are listed under failures. Why: the switches the probe"
        " saw at the model's first layer, and the causes of the reconciliation that change. A residual that"
        " appears is what the counter's rule model does not know of the switch: "
        + "; ".join(f"{', '.join(map(code, names))}: {text(why)}" for why, names in _unmodelled().items())
        + ".\n\n"
    )
    if not rows:
        return intro
    return intro + table(
        ["model", "cell", "counter", "variant", "plain", "variant total", "moved by", "switches seen", "causes"], rows
    )
