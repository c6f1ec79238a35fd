"""counted = analytic reference + named adjustments + residual, for one measurement.

The counter's adapter (bench/counters/) places every item the counter reported on a layer and a
component, and its rule model predicts each item from structure alone. The adjustments are the
prediction minus the reference, cause by cause: recurrent steps priced, the price of a
multiply-accumulate, bias adds, activations, element-wise ops, work outside the model. The
residual is what was counted minus what was predicted, item by item: it is a measurement of how
well the rule model knows the counter, and it is non-zero whenever a count departs from the rules.

Everything is computed in the tool's own unit and turned into FLOPs by the convention alone. What
comes out is data (numbers and the evidence they rest on); bench/publish/ words it (headings.py, words.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from bench.counters import Adapter, Item, Steps, Unit, adapter_for
from bench.explain import batching
from bench.models import selection
from bench.probe import variants, zoo
from bench.reference.convention import PRESETS, Convention
from bench.reference.formulas import LayerCost, analyse

__all__ = [
    "Adjustment",
    "Cause",
    "DefinitionNote",
    "Departure",
    "Drift",
    "Gap",
    "MacPrice",
    "Outside",
    "Pinned",
    "Reason",
    "Reconciliation",
    "Residual",
    "RuleCount",
    "StepsPriced",
    "reconcile",
]


class Cause(StrEnum):
    """Why a counter's total departs from the reference, in the order the report lists them. The value
    is the cause's key in flops.csv (`adjustment_<key>`) and in an adapter's `Item.cause`."""

    STEPS = "steps"
    MAC = "mac"
    BIAS = "bias"
    ACTIVATION = "activation"
    ACTIVATION_AS_OPS = "activation_as_ops"
    ELEMENTWISE = "elementwise"
    ROWS = "rows"
    OTHER = "other"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class StepsPriced:
    """A recurrent layer runs `steps` time steps; the counter prices `priced` of them."""

    steps: int
    priced: int
    step_flops: float  # one step's reference, under the convention


@dataclass(frozen=True)
class Outside:
    """Work the counter counts outside the model, in one bucket."""

    raw: int  # what the rule model predicts for it, in the tool's unit
    unit: Unit


@dataclass(frozen=True)
class MacPrice:
    """The counter prices a multiply-accumulate otherwise than the convention."""

    tool: str
    price: float  # FLOPs per multiply-accumulate, as the counter prices them
    weight: float  # FLOPs per multiply-accumulate under the convention


@dataclass(frozen=True)
class RuleCount:
    """One component of a layer as the reference counts it and as the counter's rules give it."""

    tool: str
    unit: Unit
    component: str  # "bias", "elementwise", "act:relu", "other"
    count: int  # how many the reference counts
    weight: float  # FLOPs each under the convention
    raw: int  # what the counter's rules give, in the tool's unit
    factor: float  # FLOPs per unit of the tool under the convention
    rules: tuple[str, ...]  # the rules applied, sorted


@dataclass(frozen=True)
class Adjustment:
    cause: Cause
    layer: str  # the model layer, or the bucket for work outside the model
    flops: float
    detail: StepsPriced | Outside | MacPrice | RuleCount  # what the rule model says the counter does
    evidence: tuple[str, ...] = ()  # node or module names it rests on


@dataclass(frozen=True)
class Departure:
    """One item whose count departs from its rule model's prediction."""

    name: str
    counted: int
    expected: int
    unit: Unit
    rule: str


@dataclass(frozen=True)
class Gap:
    """The total departs from the sum of the counter's own breakdown."""

    raw: int
    unit: Unit


@dataclass(frozen=True)
class Residual:
    """Counted minus predicted at one place (a layer, a bucket, or the total itself)."""

    place: str
    flops: float
    departures: tuple[Departure | Gap, ...]  # what departs there, with both numbers


class Drift(Enum):
    """How the definition a record holds stands to today's."""

    UNSEALED = "unsealed"  # it does not match the hash stored beside it
    UNKNOWN = "unknown"  # no model of its name is defined today
    EARLIER = "earlier"  # today's definition of the model differs


@dataclass(frozen=True)
class DefinitionNote:
    drift: Drift
    stored: str = ""  # sha256 of the record's definition
    today: str = ""  # sha256 of today's


@dataclass(frozen=True)
class Pinned:
    """What a number is pinned to: the counter tool and the framework, as installed."""

    tool: str
    tool_version: str
    framework: str
    framework_version: str
    display: str  # how the report names a counter that is part of its framework


@dataclass(frozen=True)
class Reason:
    """One named term of a row's explanation: a cause with its adjustments, or a residual."""

    flops: float
    cause: Cause | None = None  # None: a residual
    adjustments: tuple[Adjustment, ...] = ()
    residual: Residual | None = None


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
    pinned: Pinned
    adjustments: list[Adjustment] = field(default_factory=list)
    residuals: list[Residual] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)  # recurrent layer -> time steps it runs
    priced_steps: dict[str, int] = field(default_factory=dict)  # recurrent layer -> steps the counter priced
    why: dict[str, tuple[str, ...]] = field(default_factory=dict)  # layer -> why its steps were priced so
    notes: dict[str, list[str]] = field(default_factory=dict)  # layer -> other evidence-backed remarks
    definition_note: DefinitionNote | None = None  # set when the record's definition is not today's
    outside_why: str = ""  # the adapter's sentence on why the counter counts work outside the model
    priced: float | None = None  # a counter of components (Adapter.components): its items priced by the convention

    @property
    def total(self) -> float:
        return self.raw_total * self.unit_flops if self.priced is None else self.priced

    @property
    def residual(self) -> float:
        return sum(r.flops for r in self.residuals)

    def by_cause(self) -> dict[Cause, list[Adjustment]]:
        grouped: dict[Cause, list[Adjustment]] = {}
        for cause in Cause:
            found = [a for a in self.adjustments if a.cause == cause and a.flops]
            if found:
                grouped[cause] = found
        return grouped

    def reasons(self) -> tuple[Reason, ...]:
        """Every named term: each cause with its adjustments, then each residual."""
        said = [Reason(sum(a.flops for a in group), c, tuple(group)) for c, group in self.by_cause().items()]
        said += [Reason(x.flops, residual=x) for x in self.residuals]
        return tuple(said)


def reconcile(record: dict, convention: Convention, adapter: Adapter | None = None) -> Reconciliation:
    """Reconcile one measurement against the definition it measured (kept in the record)."""
    probe = record["probe"]
    definition = batching.as_counted(variants.split(record["job"])[0], probe["definition"])
    adapter = adapter or adapter_for(record["job"])
    reading = adapter.read(definition, probe)
    factor = adapter.unit.flops(convention)
    price = _pricing(adapter, convention, factor)
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
        _pinned(probe["provenance"], adapter.tool),
        definition_note=_definition_note(record["model"], probe),
        outside_why=adapter.outside,
    )
    for cost in costs:
        steps = reading.steps.get(cost.name)
        result.adjustments += _layer(cost, reading.at(cost.name), steps, convention, adapter, price)
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
        outside = Outside(predicted, adapter.unit)
        result.adjustments.append(Adjustment(Cause.OUTSIDE, bucket, predicted * factor, outside, _names(items)))
    for place in layers + buckets:
        off = [item for item in reading.at(place) if item.counted != item.expected]
        if off:
            delta = sum((item.counted - item.expected) * price(_component_of(item)) for item in off)
            departures = tuple(Departure(i.name, i.counted, i.expected, adapter.unit, i.rule) for i in off)
            result.residuals.append(Residual(place, delta, departures))
    if adapter.components:  # its total is its items priced; its raw_total, the default convention's
        result.priced = sum(item.counted * price(_component_of(item)) for item in reading.items)
        result.unit_flops = result.priced / result.raw_total if result.raw_total else 1.0
        default = _pricing(adapter, PRESETS["default"], 1)
        gap = probe["raw_total"] - sum(item.counted * default(_component_of(item)) for item in reading.items)
    else:
        gap = probe["raw_total"] - sum(item.counted for item in reading.items)
    if gap:
        result.residuals.append(Residual("total", gap * factor, (Gap(gap, adapter.unit),)))
    return result


def _pricing(adapter: Adapter, convention: Convention, factor: float) -> Callable[[str], float]:
    """FLOPs per counted unit of a component: the unit's price, or for a counter of components the
    convention's weight of the component itself."""
    if adapter.components:
        return convention.weight
    return lambda component: factor


def _component_of(item: Item) -> str:
    """The one component a counter of components' item counts."""
    return next(iter(item.predicted), "")


def _pinned(provenance: dict, display: str) -> Pinned:
    tool, framework = provenance["counter_tool"], provenance.get("framework") or {}
    return Pinned(tool["name"], tool["version"], framework.get("name", ""), framework.get("version", ""), display)


def _definition_note(model: str, probe: dict) -> DefinitionNote | None:
    stored = zoo.fingerprint(probe["definition"])
    if stored != probe.get("definition_sha256"):
        return DefinitionNote(Drift.UNSEALED, stored)
    today = selection.today(model)
    if today is None:
        return DefinitionNote(Drift.UNKNOWN, stored)
    if zoo.fingerprint(today) != stored:
        return DefinitionNote(Drift.EARLIER, stored, zoo.fingerprint(today))
    return None


def _layer(
    cost: LayerCost,
    items: list[Item],
    steps: Steps | None,
    convention: Convention,
    adapter: Adapter,
    price: Callable[[str], float],
) -> list[Adjustment]:
    """The layer's prediction minus its reference: a step adjustment, then one per component."""
    expected: Counter[str] = Counter(cost.once)
    adjustments = []
    if cost.steps:
        priced = steps.priced if steps else 0
        if priced != cost.steps:
            step_flops = convention.flops(cost.step)
            said = StepsPriced(cost.steps, priced, step_flops)
            adjustments.append(Adjustment(Cause.STEPS, cost.name, (priced - cost.steps) * step_flops, said))
        for component, count in cost.step.items():
            expected[component] += priced * count
    predicted: Counter[str] = Counter()
    for item in items:
        predicted.update(item.predicted)
    for component in sorted(set(expected) | set(predicted)):
        weight = convention.weight(component) if expected[component] else 0
        have, want = predicted[component] * price(component), expected[component] * weight
        if have != want:
            evidence = [item for item in items if component in item.predicted]
            adjustments.append(
                _component(
                    cost.name, component, expected[component], weight, have - want, evidence, adapter, price(component)
                )
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
    """One component's difference, with what the counter's rules do with it."""
    raw = sum(item.predicted[component] for item in items)
    override = next((item.cause for item in items if item.cause), "")
    if component == "mac" and count and not override:
        return Adjustment(Cause.MAC, layer, delta, MacPrice(adapter.tool, raw * factor / count, weight), _names(items))
    family = component.split(":", 1)[0]
    cause = Cause(override) if override else Cause.ACTIVATION if family == "act" else Cause(family)
    rules = tuple(sorted({item.rule for item in items}))
    said = RuleCount(adapter.tool, adapter.unit, component, count, weight, raw, factor, rules)
    return Adjustment(cause, layer, delta, said, _names(items))


def _names(items: list[Item]) -> tuple[str, ...]:
    return tuple(item.name for item in items)
