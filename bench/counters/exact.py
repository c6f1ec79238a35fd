"""exact, the project's own counter: its record read onto the model's layers, by component.

The probe (bench/probe/count_exact.py) prices every aten op the forward pass dispatches in the reference's
own vocabulary, per module and component. Its rule model is the identity on components: for each layer it
predicts every component exactly as the analytic reference counts it (bench/reference/formulas.py), with
every recurrent step priced. So reconciling it gives the reference with no adjustment at all, and any
departure of a formula, an op left unpriced or a loop priced otherwise is a residual at the layer and
component it touches, with the ops that gave the count as its evidence.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from bench.counters.base import BUCKET_UNDEFINED, Adapter, Item, Reading, Steps, nodes_by_module
from bench.probe import zoo
from bench.reference.formulas import analyse

__all__ = ["ADAPTER", "ADAPTERS", "keras_named", "layer_of"]

STEPS = ("every cell evaluation priced: the recurrent layer's op, from its input and weights",)
# kinds whose PyTorch module holds two bias vectors (b_ih, b_hh) where the definition's layer holds one, as
# Keras's does: the build adds both every step (bench/probe/equivalence.py copies Keras's bias into b_ih and
# zeros into b_hh), so a count of the PyTorch build has twice the definition's bias adds on these layers
TORCH_TWO_BIASES = frozenset({"lstm", "simple_rnn"})


def layer_of(definition: dict) -> dict[str, str]:
    """Module name -> the layer it belongs to; a composite layer owns every module under its own."""
    owners = {}
    for spec in definition["layers"]:
        for name in spec["torch"]:
            owners[name] = spec["name"]
    return owners


def keras_named(definition: dict) -> dict:
    """The definition with each layer's module named as its Keras layer is (the TF and JAX counters place work
    by the Keras layer's name scope, and the definition's layer name is the Keras layer's name)."""
    return {**definition, "layers": [{**spec, "torch": [spec["name"]]} for spec in definition["layers"]]}


def _owner(module: str, owners: dict[str, str], composite: dict[str, str]) -> str:
    if module in owners:
        return owners[module]
    head = module.partition(".")[0]
    return composite.get(head, BUCKET_UNDEFINED)


def _ops(nodes: list[dict], component: str) -> str:
    """The ops that gave a component, each with how many times it ran."""
    ran = Counter(n["op"] for n in nodes if n.get("attrs", {}).get("components", {}).get(component))
    return ", ".join(f"{op} x{count}" if count > 1 else op for op, count in sorted(ran.items())) or "no op"


def read(definition: dict, probe: dict, two_biases: frozenset[str] = frozenset()) -> Reading:
    """The identity rule model: each layer's components as the reference counts them, but the bias adds of a
    kind in `two_biases`, which the build doubles."""
    owners = layer_of(definition)
    composite = {spec["torch"][0]: spec["name"] for spec in definition["layers"] if spec["kind"] in zoo.COMPOSITE}
    counted: dict[str, Counter[str]] = {}
    nodes: dict[str, list[dict]] = {}
    for item in probe["breakdown"]["items"]:
        place = _owner(item["name"], owners, composite)
        counted.setdefault(place, Counter()).update(item.get("components", {}))
    for module, found in nodes_by_module(probe).items():
        nodes.setdefault(_owner(module, owners, composite), []).extend(found)
    reading = Reading([])
    kinds = {spec["name"]: spec["kind"] for spec in definition["layers"]}
    for cost in analyse(definition):
        reference, have = cost.total(), counted.pop(cost.name, Counter())
        for component in sorted(set(reference) | set(have)):
            if reference[component] or have[component]:
                rule = _ops(nodes.get(cost.name, []), component)
                doubled = component == "bias" and kinds.get(cost.name) in two_biases
                predicted = Counter({component: reference[component] * (2 if doubled else 1)})
                rule = f"{rule} (b_ih and b_hh: the build's two bias vectors)" if doubled else rule
                reading.items.append(Item(f"{cost.name}:{component}", cost.name, have[component], predicted, rule))
        if cost.steps:
            reading.steps[cost.name] = Steps(cost.steps, STEPS)
    for place, have in counted.items():  # work on no layer of the definition: all residual
        for component, count in sorted(have.items()):
            if count:
                rule = _ops(nodes.get(place, []), component)
                reading.items.append(Item(f"{place}:{component}", place, count, Counter({component: 0}), rule))
    return reading


ADAPTER = Adapter(
    "exact",
    "exact",
    partial(read, two_biases=TORCH_TWO_BIASES),
    outside="exact prices every op dispatched in the forward pass, whichever module runs it",
    components=True,
)
ADAPTERS = (ADAPTER,)
