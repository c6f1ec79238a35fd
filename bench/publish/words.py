"""The words for what the explain side finds: each cause's heading, each adjustment's clause, each
residual's items, a number's pins and a column's heading. The explain side (bench/explain/) returns
numbers and evidence; every sentence the report, the site, the terminal and the comparison print of
them is made here, so all of them say the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bench.explain.reconcile import (
    Adjustment,
    Cause,
    DefinitionNote,
    Departure,
    Drift,
    Gap,
    MacPrice,
    Outside,
    Pinned,
    Reason,
    Residual,
    RuleCount,
    StepsPriced,
)
from bench.publish.markdown import number
from bench.run.cells import order_key

# each cause's heading, in the report's words; the report lists causes in the enum's order
HEADINGS = {
    Cause.STEPS: "recurrent steps priced",
    Cause.MAC: "FLOPs per multiply-accumulate",
    Cause.BIAS: "bias adds",
    Cause.ACTIVATION: "activation functions",
    Cause.ACTIVATION_AS_OPS: "activations built from other ops",
    Cause.ELEMENTWISE: "element-wise ops",
    Cause.ROWS: "rows of a layer not priced",
    Cause.OTHER: "other ops inside layers",
    Cause.OUTSIDE: "work outside the model",
}
# how a component is named when a clause counts it (other act:NAME components: "NAME values")
LABELS = {"mac": "multiply-accumulates", "bias": "bias adds", "elementwise": "element-wise ops"}
RESIDUAL = "residual"


def unnamed(headings: dict[Cause, str]) -> list[Cause]:
    """The causes a table of headings leaves without one (or with an empty one)."""
    return [cause for cause in Cause if not headings.get(cause)]


if unnamed(HEADINGS):  # checked when imported: a cause the report could not name
    raise ImportError(f"bench.publish.words: causes without a heading: {unnamed(HEADINGS)}")


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


def term(reason: Reason) -> str:
    """A reason's name: its cause's heading, or where its residual is."""
    if reason.residual is not None:
        return f"{RESIDUAL} at {reason.residual.place}"
    assert reason.cause is not None
    return HEADINGS[reason.cause]


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


def pinned(p: Pinned) -> str:
    """`thop 0.1.1 @ torch 2.13.0`: what a number is pinned to. A counter that is part of its
    framework (tool named as the framework) is called by its display name, not versioned twice."""
    on = f"{p.framework} {p.framework_version}".strip()
    if p.tool == p.framework:
        return f"{p.display} @ {on}"
    return f"{p.tool} {p.tool_version} @ {on}" if p.framework else f"{p.tool} {p.tool_version}"


class Placed(Protocol):
    """A published row as far as its column heading goes (explain.rows.Row)."""

    @property
    def cell(self) -> str: ...
    @property
    def counter(self) -> str: ...
    @property
    def framework(self) -> str: ...
    @property
    def pinned(self) -> Pinned: ...


def columns(rows: Sequence[Placed]) -> dict[tuple[str, str], str]:
    """(cell, counter) -> its column heading, in reading order (framework, cell, counter). Headings
    are the pins; columns the pins cannot tell apart also get what tells them apart: the counter,
    the cell, or both."""
    keys = sorted({(r.cell, r.counter): r for r in rows}.items(), key=lambda kv: _column_order(kv[1]))
    heading = {key: pinned(row.pinned) for key, row in keys}
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, text in heading.items():
        groups.setdefault(text, []).append(key)
    for text, group in groups.items():
        if len(group) == 1:
            continue
        for place in (1, 0):
            if len({key[place] for key in group}) == len(group):
                heading |= {key: f"{text} ({key[place]})" for key in group}
                break
        else:
            heading |= {key: f"{text} ({key[1]} in {key[0]})" for key in group}
    return heading


def _column_order(row: Placed) -> tuple:
    return row.framework, order_key(row.cell), row.counter
