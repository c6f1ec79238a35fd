"""The words for what the explain side finds: each adjustment's clause, each residual's items, a
definition's drift, a failure, a base image. The explain side (bench/explain/) returns numbers and
evidence; every sentence the report, the site, the terminal and the comparison print of them is made
here (and the names in headings.py), so all of them say the same."""

from __future__ import annotations

from typing import Protocol

from bench.explain.reconcile import (
    Adjustment,
    DefinitionNote,
    Departure,
    Drift,
    Gap,
    MacPrice,
    Outside,
    Reason,
    Residual,
    RuleCount,
    StepsPriced,
)
from bench.publish.markdown import number

# how a component is named when a clause counts it (other act:NAME components: "NAME values")
LABELS = {"mac": "multiply-accumulates", "bias": "bias adds", "elementwise": "element-wise ops"}


def flops(value: float) -> str:
    """`2 FLOPs`, `1 FLOP`."""
    return f"{number(value)} FLOP{'' if value == 1 else 's'}"


def clause(a: Adjustment) -> str:
    """One clause: what the rule model says the counter does, with the numbers."""
    said = a.detail
    if isinstance(said, StepsPriced):
        return f"{a.layer} runs {said.steps} time steps of {number(said.step_flops)} FLOPs each; {said.priced} priced"
    if isinstance(said, Outside):
        return f"{a.layer}: {said.raw:,} {said.unit.value}s over {len(a.evidence)} items"
    if isinstance(said, MacPrice):
        return (
            f"{a.layer}: {said.tool} prices a multiply-accumulate at {flops(said.price)},"
            f" the convention at {flops(said.weight)}"
        )
    return _rule_count(a.layer, said)


def _rule_count(layer: str, said: RuleCount) -> str:
    unit = said.unit.value
    gives = f"{said.tool} gives {said.raw:,} {unit}s"
    if said.factor != 1:
        gives += f" ({number(said.raw * said.factor)} FLOPs at {flops(said.factor)} per {unit})"
    rules = "; ".join(said.rules)
    if said.component == "other":
        return f"{layer}: ops the reference does not count; {gives} by its rules ({rules})"
    label = LABELS.get(said.component, f"{said.component[4:]} values")
    return (
        f"{layer}: {said.count:,} {label} at {flops(said.weight)} each in the reference; {gives} by its rules ({rules})"
    )


def departure(d: Departure | Gap) -> str:
    """One item of a residual, with both numbers."""
    if isinstance(d, Gap):
        return f"the total differs from the sum of the counter's own breakdown by {d.raw:,} {d.unit.value}s"
    return f"{d.name}: counted {d.counted:,} {d.unit.value}s, rule model {d.expected:,} ({d.rule})"


def residual_items(residual: Residual) -> tuple[str, ...]:
    """Each item a residual rests on, in words."""
    return tuple(departure(d) for d in residual.departures)


def clauses(reason: Reason) -> str:
    """A reason in words: its clauses, or its residual's items."""
    if reason.residual is not None:
        return "; ".join(residual_items(reason.residual))
    return "; ".join(clause(a) for a in reason.adjustments)


def definition_note(note: DefinitionNote) -> str:
    if note.drift is Drift.UNSEALED:
        return "the record's definition does not match the hash stored beside it"
    if note.drift is Drift.UNKNOWN:
        return "no model of this name is defined today; reconciled against the definition the record holds"
    return (
        f"measured with an earlier definition (sha256 {note.stored[:12]}; today's is"
        f" {note.today[:12]}); reconciled against the one the record holds"
    )


class Failed(Protocol):
    """A group of jobs that gave no number (explain.rows.Failure), as far as its words go."""

    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def expected(self) -> str: ...


def failure_status(f: Failed) -> str:
    """`failed (expected)` where the cell expects the failure."""
    return f"{f.status} (expected)" if f.expected else f.status


def failure_reason(f: Failed) -> str:
    return f"{f.reason} (expected: {f.expected})" if f.expected else f.reason


def base_image(kind: str, reference: str) -> str:
    """`local: flops-matrix/base:bullseye`; "" when the record names no base."""
    return f"{kind}: {reference}" if kind or reference else ""
