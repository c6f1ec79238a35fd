"""torchinfo.summary: its per-layer mult-adds read onto the model, and its rule model.

torchinfo (1.8.0, LayerInfo.calculate_macs) does not look at the ops a layer runs: it prices each
leaf layer from its parameters and the shape of its output, and "Total mult-adds" is the sum over
leaf layers. A parameter named exactly `weight` or `bias` costs its size times the output positions
(batch x spatial dims) in a class whose name holds "Conv", else its size times output_size[0]; any
other name holding "weight" or "bias" (an RNN's weight_ih_l0, bias_hh_l0, ...) costs its size times
output_size[0] x output_size[1]; a layer without parameters costs nothing. So biases are counted as
mult-adds, activations and a GRU's gate arithmetic are not, and a Linear applied to a (1, 97, 96)
tensor is priced for output_size[0] = 1 row, not 97. The rule model re-states each branch from the
definition, the layer's input shape and the module's recorded options, never from the counted number.

Per version: calculate_macs has these three branches unchanged from 1.5.4 (torch-1.10.1's, 2021)
through 1.6.0, 1.7.0 and 1.8.0 (the sources compared); 1.7 only adds that a pruned parameter
(`weight_orig` beside a `weight_mask`) counts the ones of its mask, under the name `weight`; no zoo
model is pruned. So one rule model
serves both cells, and their records reconcile to residual 0 with it.
"""

from __future__ import annotations

from collections import Counter
from math import prod

from bench.counters.base import Adapter, Item, Reading, Steps, outside_definition
from bench.counters.rules import Module, Rule, reference_batch, torch_modules
from bench.reference.formulas import LayerCost

__all__ = ["ADAPTER", "ADAPTERS", "RULES"]

GATES = {"gru": 3, "lstm": 4, "simple_rnn": 1}

NORMS = frozenset({"batch_norm", "layer_norm", "rms_norm"})


def _conv(module: Module, item: dict) -> tuple[Counter[str], str]:
    """weight and bias sizes times batch x output spatial positions (the channel axis left out). A conv's
    weight is filters x channels / groups x taps; a transposed conv's is channels x filters x taps, priced at
    every output position though it runs at every input position; a separable conv is two Conv2d, the
    depthwise one (channels x taps) then the pointwise one (filters x channels)."""
    spec, in_shape, cost, config, index = module.spec, module.in_shape, module.cost, module.config, module.index
    channels_first = spec.get("data_format", "channels_last") == "channels_first"
    channels = in_shape[1] if channels_first else in_shape[-1]
    out = cost.out_shape
    positions = out[0] * prod(out[2:] if channels_first else out[1:-1])
    kind, taps = spec["kind"], prod(spec["kernel"])
    filters = channels * spec.get("depth_multiplier", 1) if kind == "depthwise_conv2d" else spec["filters"]
    weight = {"depthwise_conv2d": filters * taps, "separable_conv2d": (channels * taps, filters * channels)[index]}
    macs = weight.get(kind, filters * channels * taps) * positions
    predicted = Counter({"mac": macs})
    if kind == "conv2d_transpose":  # what the layer runs: each input position's taps, per output channel
        reference = cost.once["mac"]
        predicted = Counter({"mac": reference, "other": macs - reference})
    words = "calculate_macs, Conv: weight size x batch x output positions"
    if config.get("bias"):
        predicted["bias"] = (channels if kind == "separable_conv2d" and index == 0 else filters) * positions
        words += ", and the bias's size x the same positions"
    return predicted, words


def _first_axis(module: Module, item: dict) -> tuple[Counter[str], str]:
    """weight and bias sizes times output_size[0]: the first axis alone, whatever the rank."""
    spec, in_shape, cost, config = module.spec, module.in_shape, module.cost, module.config
    rows, kind = cost.out_shape[0], spec["kind"]
    words = f"calculate_macs: weight and bias sizes x output_size[0] = {rows}"
    if kind == "embedding":  # a lookup table's size, priced as if each entry were multiplied
        return Counter({"other": rows * spec["vocab"] * spec["dim"]}), words
    if kind in NORMS:  # a scale (and a shift) per channel of the last axis (channels-last definitions)
        predicted = Counter({component: 0 for component in cost.once})
        predicted["elementwise"] = rows * in_shape[-1] * (2 if config.get("bias") else 1)
        return predicted, words
    features, units = in_shape[-1], spec["units"]
    predicted = Counter({"mac": rows * features * units})
    if config.get("bias"):
        predicted["bias"] = rows * units
    return predicted, words


def _first_two_axes(module: Module, item: dict) -> tuple[Counter[str], str]:
    """Each weight_*/bias_* size times output_size[0] x output_size[1]: one pricing per cell evaluation;
    a bidirectional layer has each of them twice (weight_ih_l0_reverse, ...)."""
    spec, in_shape, cost, config = module.spec, module.in_shape, module.cost, module.config
    evaluations, features, units = in_shape[0] * in_shape[1], in_shape[-1], spec["units"]
    gates = GATES[spec["kind"]] * (2 if spec.get("bidirectional") else 1)
    predicted = Counter({"mac": evaluations * gates * units * (features + units)})
    if config.get("bias"):
        predicted["bias"] = evaluations * 2 * gates * units
    for component in cost.step:
        if component not in ("mac", "bias"):
            predicted[component] = 0
    words = (
        f"calculate_macs, RNN: weight_ih, weight_hh, bias_ih, bias_hh sizes x output_size[0] x output_size[1]"
        f" = {evaluations}; gate arithmetic and activations not priced"
    )
    return predicted, words


def _no_parameters(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, cost, index = module.spec, module.cost, module.index
    if index == 0:  # the layer itself (a pool, attention): every component it costs, priced 0
        predicted = Counter({component: 0 for component in (*cost.once, *cost.step)})
        return predicted, "calculate_macs: no parameters, 0"
    activation = spec.get("activation", "linear")
    predicted = Counter() if activation == "linear" else Counter({f"act:{activation}": 0})
    return predicted, "calculate_macs: no parameters, 0"


# torchinfo's branch (as the probe names it) -> its rule model, and the layer kinds it is modelled for
RULES: dict[str, tuple[Rule, frozenset[str] | None]] = {
    "conv": (_conv, frozenset({"conv1d", "conv2d", "depthwise_conv2d", "separable_conv2d", "conv2d_transpose"})),
    "output_size[0]": (_first_axis, frozenset({"dense", "embedding"}) | NORMS),
    "output_size[:2]": (_first_two_axes, frozenset(GATES)),
    "no parameters": (_no_parameters, None),
}


def read(definition: dict, probe: dict) -> Reading:
    counted: dict[str, dict] = {}
    for item in probe["breakdown"]["items"]:  # a module run twice is listed twice: add them up
        if item["name"] in counted:
            counted[item["name"]] = dict(counted[item["name"]], raw=counted[item["name"]]["raw"] + item["raw"])
        else:
            counted[item["name"]] = item
    reading = Reading([])
    for module in torch_modules(definition, probe):
        spec, cost, item = module.spec, module.cost, counted.get(module.name)
        rule, kinds = RULES.get(item.get("rule", ""), (None, None)) if item else (None, None)
        if item is None:
            reading.items.append(Item(module.name, module.layer, 0, Counter(), "not in torchinfo's summary_list"))
        elif rule is None or (kinds is not None and spec["kind"] not in kinds):
            words = f"no rule model for torchinfo's {item.get('rule', '')!r} on a {spec['kind']} layer"
            reading.items.append(Item(module.name, module.layer, item["raw"], Counter(), words))
        else:
            predicted, words = rule(module, item)
            partial = spec["kind"] == "dense" and item["rule"] == "output_size[0]"
            partial = partial and prod(cost.out_shape[:-1]) != cost.out_shape[0]
            cause = "rows" if partial else ""
            reading.items.append(
                Item(module.name, module.layer, item["raw"], predicted, words, predicted["mac"], "", cause)
            )
            if partial:
                _rows_note(spec, cost, reading)
        if module.index == 0 and cost.steps:
            reading.steps[module.layer] = _steps(spec, module.in_shape, module.config, cost, reading)
    reading.items += outside_definition(definition, list(counted.values()))
    return reading


def _rows_note(spec: dict, cost: LayerCost, reading: Reading) -> None:
    rows = prod(cost.out_shape[:-1])
    if rows != cost.out_shape[0]:
        reading.notes.setdefault(spec["name"], []).append(
            f"torchinfo multiplies the layer's parameters by output_size[0] = {cost.out_shape[0]}, the first axis of"
            f" its {cost.out_shape} output: it prices {cost.out_shape[0]} of the {rows} rows the layer computes"
        )


def _steps(spec: dict, in_shape: tuple, config: dict, cost: LayerCost, reading: Reading) -> Steps:
    """output_size[0] x output_size[1] is sequences x steps, in either order: every cell evaluation."""
    evaluations = in_shape[0] * in_shape[1]
    batch = reference_batch(spec, in_shape)
    if not spec.get("time_major", False) and not config.get("batch_first", True):
        reading.notes.setdefault(spec["name"], []).append(
            f"nn.GRU without batch_first reads the {in_shape} input as {in_shape[1]} sequences of {in_shape[0]}"
            f" step; torchinfo's output_size[0] x output_size[1] is {evaluations} either way, so it prices"
            f" {evaluations // batch} steps of one sequence, though the outputs differ (see the equivalence check)"
        )
    why = f"torchinfo multiplies the weights by output_size[0] x output_size[1] = {evaluations} cell evaluations"
    return Steps(evaluations // batch, (why,))


ADAPTER = Adapter("torchinfo", "torchinfo", read)
ADAPTERS = (ADAPTER,)
