"""counter total = analytic reference + named adjustments + residual, for one measurement.

Every adjustment is a difference between what the counter gave a layer's component (from its
own breakdown, attribution.py) and what the reference gives it (formulas.py priced by a
convention), or a bucket of counted ops outside the model. Recurrent layers first get a step
adjustment: (time steps the counter priced - time steps the layer runs) x the reference step;
their components are then compared per step priced. The residual is what remains and is shown
as it is, with the counted items that found no place: it is zero only when every counted FLOP has
found its cause.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench import attribution
from bench.attribution import LayerView
from bench.markdown import number
from bench.reference.convention import Convention
from bench.reference.formulas import LayerCost, analyse

__all__ = ["Adjustment", "Reconciliation", "reconcile", "CAUSES"]

# cause id -> the heading it gets in the report, in the order the report lists them
CAUSES = {
    "steps": "recurrent steps priced",
    "mac": "FLOPs per multiply-accumulate",
    "bias": "bias adds",
    "activation": "activation functions",
    "hard_sigmoid": "gates built with hard_sigmoid",
    "elementwise": "recurrent gate element-wise work",
    "outside": "ops that are not the model's inference",
}


@dataclass(frozen=True)
class Adjustment:
    cause: str  # a key of CAUSES
    layer: str  # the model layer, or the bucket for ops outside the model
    flops: float
    text: str  # one clause: what the counter did, with the numbers
    evidence: tuple[str, ...] = ()  # node or module names it rests on


@dataclass
class Reconciliation:
    cell: str
    model: str
    counter: str
    tool: str
    total: int
    reference: float
    convention: Convention
    adjustments: list[Adjustment] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)  # recurrent layer -> time steps it runs
    priced_steps: dict[str, int] = field(default_factory=dict)  # recurrent layer -> steps the counter priced
    why: dict[str, list[str]] = field(default_factory=dict)  # layer -> why its steps were priced so
    notes: dict[str, list[str]] = field(default_factory=dict)  # layer -> other evidence-backed remarks
    unexplained: list[str] = field(default_factory=list)  # counted items with no place: the residual's source

    @property
    def residual(self) -> float:
        return self.total - self.reference - sum(a.flops for a in self.adjustments)

    def by_cause(self) -> dict[str, list[Adjustment]]:
        grouped: dict[str, list[Adjustment]] = {}
        for cause in CAUSES:
            found = [a for a in self.adjustments if a.cause == cause and a.flops]
            if found:
                grouped[cause] = found
        return grouped


def reconcile(definition: dict, record: dict, convention: Convention) -> Reconciliation:
    probe = record["probe"]
    costs = analyse(definition)
    seen = attribution.attribute(definition, probe)
    result = Reconciliation(
        record["cell"],
        record["model"],
        record["job"],
        probe["provenance"]["counter_tool"]["name"],
        probe["flops"],
        sum(convention.flops(cost.total()) for cost in costs),
        convention,
    )
    for cost in costs:
        view = seen.layers.get(cost.name) or LayerView(cost.name)
        result.adjustments += _layer(cost, view, convention, result.tool)
        if cost.steps:
            result.steps[cost.name] = cost.steps
            result.priced_steps[cost.name] = view.steps_counted or 0
        if view.steps_why:
            result.why[cost.name] = view.steps_why
        if view.notes:
            result.notes[cost.name] = view.notes
    for bucket, (flops, names) in seen.outside.items():
        result.adjustments.append(
            Adjustment("outside", bucket, flops, f"{bucket}: {flops:,} FLOPs over {len(names)} nodes", tuple(names))
        )
    result.unexplained = [f"{name} ({flops:,} FLOPs): {why}" for name, flops, why in seen.unexplained]
    return result


def _layer(cost: LayerCost, view: LayerView, convention: Convention, tool: str) -> list[Adjustment]:
    expected: Counter[str] = Counter(cost.once)
    adjustments = []
    if cost.steps:
        priced = view.steps_counted or 0
        if priced != cost.steps:
            step_flops = convention.flops(cost.step)
            text = f"{cost.name} runs {cost.steps} time steps of {number(step_flops)} FLOPs each; {priced} priced"
            adjustments.append(Adjustment("steps", cost.name, (priced - cost.steps) * step_flops, text))
        for component, count in cost.step.items():
            expected[component] += priced * count
    counted = view.flops()
    for component in sorted(set(expected) | set(counted)):
        if counted[component] != expected[component] * convention.weight(component):
            evidence = [item for instance in view.instances.values() for item in instance.evidence.get(component, [])]
            adjustments.append(
                _component(cost.name, component, counted[component], expected[component], convention, evidence, tool)
            )
    return adjustments


LABELS = {"mac": "multiply-accumulates", "bias": "bias adds", "elementwise": "element-wise ops"}


def _component(
    layer: str, component: str, counted: float, count: int, convention: Convention, evidence: list[dict], tool: str
) -> Adjustment:
    """One component's difference, said as what the counter did with it, from the evidence."""
    names = tuple(item["name"] for item in evidence)
    weight = convention.weight(component)
    delta = counted - count * weight
    if component == "mac" and count:
        text = f"{layer}: {tool} counts {_flops(counted / count)} per multiply-accumulate, the convention {weight:g}"
        return Adjustment("mac", layer, delta, text, names)
    cause = "activation" if component.startswith("act:") else component
    label = LABELS.get(component, f"{component[4:]} values")
    if component.startswith("act:") and any(item.get("op") == "Minimum" for item in evidence):
        cause, label = "hard_sigmoid", f"{label} (built as hard_sigmoid: a mul, add, minimum and maximum each)"
    did = [f"{tool} counts {number(counted)} FLOPs"]
    if tool == "thop":
        raw = sum(item["raw"] for item in evidence)
        rules = ", ".join(sorted({item["rule"] for item in evidence}))
        did = [f"thop counts {raw:,} MACs for them ({number(counted)} FLOPs after x2; rule: {rules})"]
    else:
        uncounted = sorted({item["op"] for item in evidence if item.get("rule") == "no-rule"})
        if uncounted:
            did.append(f"it has no FLOPs rule for {', '.join(uncounted)}")
    text = f"{layer}: {count:,} {label} at {_flops(weight)} each in the reference; " + "; ".join(did)
    return Adjustment(cause, layer, delta, text, names)


def _flops(value: float) -> str:
    return f"{number(value)} FLOP{'' if value == 1 else 's'}"
