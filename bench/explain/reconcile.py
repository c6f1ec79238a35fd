"""counted = analytic reference + named adjustments + residual, for one measurement.

The counter's adapter (bench/counters/) places every item the counter reported on a layer and a
component, and its rule model predicts each item from structure alone. The adjustments are the
prediction minus the reference, cause by cause: recurrent steps priced, the price of a
multiply-accumulate, bias adds, activations, element-wise ops, work outside the model. The
residual is what was counted minus what was predicted, item by item: it is a measurement of how
well the rule model knows the counter, and it is non-zero whenever a count departs from the rules.

Everything is computed in the tool's own unit and turned into FLOPs by the convention alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.counters import Adapter, Item, Steps, Unit, adapter_for
from bench.explain import batching
from bench.models import selection
from bench.probe import variants, zoo
from bench.publish.markdown import number
from bench.reference.convention import Convention
from bench.reference.formulas import LayerCost, analyse

__all__ = ["Adjustment", "Residual", "Reconciliation", "reconcile", "CAUSES"]

# cause id -> the heading it gets in the report, in the order the report lists them
CAUSES = {
    "steps": "recurrent steps priced",
    "mac": "FLOPs per multiply-accumulate",
    "bias": "bias adds",
    "activation": "activation functions",
    "activation_as_ops": "activations built from other ops",
    "elementwise": "element-wise ops",
    "rows": "rows of a layer not priced",
    "other": "other ops inside layers",
    "outside": "work outside the model",
}
LABELS = {"mac": "multiply-accumulates", "bias": "bias adds", "elementwise": "element-wise ops"}


@dataclass(frozen=True)
class Adjustment:
    cause: str  # a key of CAUSES
    layer: str  # the model layer, or the bucket for work outside the model
    flops: float
    text: str  # one clause: what the rule model says the counter does, with the numbers
    evidence: tuple[str, ...] = ()  # node or module names it rests on


@dataclass(frozen=True)
class Residual:
    """Counted minus predicted at one place (a layer, a bucket, or the total itself)."""

    place: str
    flops: float
    items: tuple[str, ...]  # each item whose count departs from its prediction, with both numbers


@dataclass
class Reconciliation:
    cell: str
    model: str
    counter: str
    tool: str
    unit: Unit
    raw_total: int  # the counter's total in its own unit
    unit_flops: float  # FLOPs per unit under the convention
    reference: float
    convention: Convention
    definition: dict
    adjustments: list[Adjustment] = field(default_factory=list)
    residuals: list[Residual] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)  # recurrent layer -> time steps it runs
    priced_steps: dict[str, int] = field(default_factory=dict)  # recurrent layer -> steps the counter priced
    why: dict[str, tuple[str, ...]] = field(default_factory=dict)  # layer -> why its steps were priced so
    notes: dict[str, list[str]] = field(default_factory=dict)  # layer -> other evidence-backed remarks
    versions: str = ""  # "thop 0.1.1 @ torch 2.13.0": what the number is pinned to
    definition_note: str = ""  # set when the record's definition is not today's
    outside_why: str = ""  # the adapter's sentence on why the counter counts work outside the model

    @property
    def total(self) -> float:
        return self.raw_total * self.unit_flops

    @property
    def residual(self) -> float:
        return sum(r.flops for r in self.residuals)

    def by_cause(self) -> dict[str, list[Adjustment]]:
        grouped: dict[str, list[Adjustment]] = {}
        for cause in CAUSES:
            found = [a for a in self.adjustments if a.cause == cause and a.flops]
            if found:
                grouped[cause] = found
        return grouped


def reconcile(record: dict, convention: Convention, adapter: Adapter | None = None) -> Reconciliation:
    """Reconcile one measurement against the definition it measured (kept in the record)."""
    probe = record["probe"]
    definition = batching.as_counted(variants.split(record["job"])[0], probe["definition"])
    adapter = adapter or adapter_for(record["job"])
    reading = adapter.read(definition, probe)
    factor = adapter.unit.flops(convention)
    costs = analyse(definition)
    result = Reconciliation(
        record["cell"],
        record["model"],
        record["job"],
        adapter.tool,
        adapter.unit,
        probe["raw_total"],
        factor,
        sum(convention.flops(cost.total()) for cost in costs),
        convention,
        definition,
        versions=_versions(probe["provenance"], adapter.tool),
        definition_note=_definition_note(record["model"], probe),
        outside_why=adapter.outside,
    )
    for cost in costs:
        steps = reading.steps.get(cost.name)
        result.adjustments += _layer(cost, reading.at(cost.name), steps, convention, adapter, factor)
        if cost.steps:
            result.steps[cost.name] = cost.steps
            result.priced_steps[cost.name] = steps.priced if steps else 0
            result.why[cost.name] = steps.why if steps else ()
    result.notes = reading.notes
    layers = [cost.name for cost in costs]
    buckets = list(dict.fromkeys(item.place for item in reading.items if item.place not in layers))
    for bucket in buckets:
        items = reading.at(bucket)
        predicted = sum(item.expected for item in items)
        text = f"{bucket}: {predicted:,} {adapter.unit.value}s over {len(items)} items"
        result.adjustments.append(Adjustment("outside", bucket, predicted * factor, text, _names(items)))
    for place in layers + buckets:
        off = [item for item in reading.at(place) if item.counted != item.expected]
        if off:
            delta = sum(item.counted - item.expected for item in off)
            result.residuals.append(Residual(place, delta * factor, tuple(_departure(i, adapter.unit) for i in off)))
    gap = probe["raw_total"] - sum(item.counted for item in reading.items)
    if gap:
        why = f"the total differs from the sum of the counter's own breakdown by {gap:,} {adapter.unit.value}s"
        result.residuals.append(Residual("total", gap * factor, (why,)))
    return result


def _versions(provenance: dict, display: str) -> str:
    tool, framework = provenance["counter_tool"], provenance.get("framework") or {}
    return pinned(tool["name"], tool["version"], framework.get("name", ""), framework.get("version", ""), display)


def pinned(tool: str, tool_version: str, framework: str, framework_version: str, display: str) -> str:
    """`thop 0.1.1 @ torch 2.13.0`: what a number is pinned to. A counter that is part of its
    framework (tool named as the framework) is called by its `display` name, not versioned twice."""
    on = f"{framework} {framework_version}".strip()
    if tool == framework:
        return f"{display} @ {on}"
    return f"{tool} {tool_version} @ {on}" if framework else f"{tool} {tool_version}"


def _definition_note(model: str, probe: dict) -> str:
    stored = zoo.fingerprint(probe["definition"])
    if stored != probe.get("definition_sha256"):
        return "the record's definition does not match the hash stored beside it"
    today = selection.today(model)
    if today is None:
        return "no model of this name is defined today; reconciled against the definition the record holds"
    if zoo.fingerprint(today) != stored:
        return (
            f"measured with an earlier definition (sha256 {stored[:12]}; today's is"
            f" {zoo.fingerprint(today)[:12]}); reconciled against the one the record holds"
        )
    return ""


def _layer(
    cost: LayerCost, items: list[Item], steps: Steps | None, convention: Convention, adapter: Adapter, factor: float
) -> list[Adjustment]:
    """The layer's prediction minus its reference: a step adjustment, then one per component."""
    expected: Counter[str] = Counter(cost.once)
    adjustments = []
    if cost.steps:
        priced = steps.priced if steps else 0
        if priced != cost.steps:
            step_flops = convention.flops(cost.step)
            text = f"{cost.name} runs {cost.steps} time steps of {number(step_flops)} FLOPs each; {priced} priced"
            adjustments.append(Adjustment("steps", cost.name, (priced - cost.steps) * step_flops, text))
        for component, count in cost.step.items():
            expected[component] += priced * count
    predicted: Counter[str] = Counter()
    for item in items:
        predicted.update(item.predicted)
    for component in sorted(set(expected) | set(predicted)):
        weight = convention.weight(component) if expected[component] else 0
        have, want = predicted[component] * factor, expected[component] * weight
        if have != want:
            evidence = [item for item in items if component in item.predicted]
            adjustments.append(
                _component(cost.name, component, expected[component], weight, have - want, evidence, adapter, factor)
            )
    return adjustments


def _component(
    layer: str,
    component: str,
    count: int,
    weight: float,
    delta: float,
    items: list[Item],
    adapter: Adapter,
    factor: float,
) -> Adjustment:
    """One component's difference, said as what the counter's rules do with it."""
    rules = "; ".join(sorted({item.rule for item in items}))
    raw = sum(item.predicted[component] for item in items)
    override = next((item.cause for item in items if item.cause), "")
    if component == "mac" and count and not override:
        price = _flops(raw * factor / count)
        text = f"{layer}: {adapter.tool} prices a multiply-accumulate at {price}, the convention at {_flops(weight)}"
        return Adjustment("mac", layer, delta, text, _names(items))
    family = component.split(":", 1)[0]
    cause = override or ("activation" if family == "act" else family)
    gives = f"{adapter.tool} gives {raw:,} {adapter.unit.value}s"
    if factor != 1:
        gives += f" ({number(raw * factor)} FLOPs at {_flops(factor)} per {adapter.unit.value})"
    if component == "other":
        text = f"{layer}: ops the reference does not count; {gives} by its rules ({rules})"
    else:
        label = LABELS.get(component, f"{component[4:]} values")
        text = f"{layer}: {count:,} {label} at {_flops(weight)} each in the reference; {gives} by its rules ({rules})"
    return Adjustment(cause, layer, delta, text, _names(items))


def _departure(item: Item, unit: Unit) -> str:
    return f"{item.name}: counted {item.counted:,} {unit.value}s, rule model {item.expected:,} ({item.rule})"


def _names(items: list[Item]) -> tuple[str, ...]:
    return tuple(item.name for item in items)


def _flops(value: float) -> str:
    return f"{number(value)} FLOP{'' if value == 1 else 's'}"
