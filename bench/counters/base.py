"""What a counter adapter gives the reconciliation: each thing the counter counted, placed on a
layer (or a bucket outside the model) and a reference component, with what the counter's rule
model predicts for it from structure alone (never from the counted number)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from bench.probe import catalog, zoo
from bench.reference.convention import Convention

__all__ = [
    "Unit",
    "Item",
    "Steps",
    "Reading",
    "Adapter",
    "outside_definition",
    "nodes_by_module",
]

BUCKET_UNDEFINED = "modules outside the definition"


class Unit(Enum):
    """The unit a tool reports in. Converting it to FLOPs is the convention's job."""

    FLOP = "FLOP"
    MAC = "MAC"

    def flops(self, convention: Convention) -> float:
        return 1 if self is Unit.FLOP else convention.weight("mac")


@dataclass(frozen=True)
class Item:
    """One graph node or module the counter reports, with the rule model's prediction for it."""

    name: str
    place: str  # the model layer it belongs to, or a bucket for work outside the model
    counted: int  # what the counter reported for it, in the tool's unit
    predicted: Counter[str]  # component -> what the rule model predicts, in the tool's unit
    rule: str  # the counter's rule as the rule model applies it: the evidence, in words
    macs: int = 0  # multiply-accumulates the rule model sees priced in it (recurrent steps come from these)
    where: str = ""  # where in the layer: "loop body", "outside the loop", ...
    cause: str = ""  # a reconcile.Cause value overriding the component's own

    @property
    def expected(self) -> int:
        return sum(self.predicted.values())


@dataclass(frozen=True)
class Steps:
    """How many time steps of a recurrent layer the counter prices, decided from structure."""

    priced: int
    why: tuple[str, ...] = ()


@dataclass
class Reading:
    """A counter's record, read by its adapter: every item placed and predicted."""

    items: list[Item]
    steps: dict[str, Steps] = field(default_factory=dict)  # recurrent layer -> steps priced
    notes: dict[str, list[str]] = field(default_factory=dict)  # layer -> other evidence-backed remarks

    def at(self, place: str) -> list[Item]:
        return [item for item in self.items if item.place == place]


@dataclass(frozen=True)
class Adapter:
    """One counter on the host: how its record maps onto the model, its rule model, its words. What the
    counter is (framework, unit, recipe) is its catalog entry's, named by `counter`, and said there alone."""

    counter: str  # its name in bench/probe/catalog.py
    tool: str  # how the report names the tool
    read: Callable[[dict, dict], Reading]  # (definition, probe document) -> Reading
    outside: str = ""  # one sentence on why the counter counts work outside the model, if it does
    # for graph counters: what the rule model expects the tool to say of a node (counted, no-rule,
    # shape-unknown), checked against what the tool said
    rule_status: Callable[[dict, dict], str] | None = None
    family: str = ""  # the front page's summary column, shared by counters of one tool (default: `tool`)
    # its items count the reference's components themselves (each item predicts one component): the convention
    # prices each by its component, where a tool's number in its unit is priced by the unit alone
    components: bool = False

    @property
    def column(self) -> str:
        return self.family or self.tool

    @property
    def unit(self) -> Unit:
        """The unit the tool's numbers are, as the counter's catalog entry declares it."""
        return Unit(catalog.COUNTERS[self.counter].unit)


def outside_definition(
    definition: dict, items: list[dict], words: Callable[[dict], str] = lambda _: "a module the definition lacks"
) -> list[Item]:
    """The breakdown's items for modules no layer names: unpredicted, so their whole count is residual.
    One inside a composite layer's module (its own module, its residual add's activation) stays on that layer."""
    named = {module for spec in definition["layers"] for module in spec["torch"]}
    composite = {spec["torch"][0]: spec["name"] for spec in definition["layers"] if spec["kind"] in zoo.COMPOSITE}
    parts = {
        spec["torch"][0]: {t for p in zoo.parts(spec) for t in p["torch"]}
        for spec in definition["layers"]
        if spec["kind"] in zoo.COMPOSITE
    }
    found = []
    for item in items:
        head, _, rest = item["name"].partition(".")
        if (item["name"] in named and item["name"] not in composite) or rest.rsplit(".", 1)[-1] in parts.get(head, ()):
            continue  # torch_modules yields it
        owner = composite.get(item["name"]) or composite.get(head)
        why = words(item) if owner is None else "a module of the composite layer that no rule model knows"
        found.append(Item(item["name"], owner or BUCKET_UNDEFINED, item["raw"], Counter(), why))
    return found


def nodes_by_module(probe: dict) -> dict[str, list[dict]]:
    """The ops a dispatch-level counter recorded, grouped by the module that ran them (attrs.module)."""
    found: dict[str, list[dict]] = {}
    for node in probe.get("nodes", []):
        found.setdefault(node.get("attrs", {}).get("module", ""), []).append(node)
    return found
