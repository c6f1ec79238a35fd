"""calflops.calculate_flops: its per-module FLOPs read onto the model, and its rule model.

calflops (0.3.2) patches torch.nn.functional and a few tensor functions while the model runs; each
patched call adds its (FLOPs, MACs) to the module whose forward made it (__flops__, __macs__), and
nn.RNN/GRU/LSTM get a forward hook of their own (_rnn_forward_hook) that adds FLOPs only.
calculate_flops returns (flops, macs, params) in that order: the first sums __flops__, where
F.linear and F.conv* add 2 FLOPs per multiply-accumulate, so its labels are not swapped in 0.3.2
(the probe records its FLOPs; the MACs figure is kept in the record's notes). Its rules, from
calflops/pytorch_ops.py:
- F.conv2d (_conv_flops_compute): 2 x MACs, plus one FLOP per output for the bias;
- F.linear (_linear_flops_compute): 2 x input.numel() x out_features, the bias not counted;
- F.relu and the other patched activations: input.numel() FLOPs;
- nn.GRU (_rnn_forward_hook, _rnn_flops): per cell evaluation (input.shape[0] x input.shape[1] of
  them), 2 x rows x cols - rows for each weight matrix (a dot product of n terms as n multiplies
  and n - 1 adds), the two bias vectors, and 7U element-wise (U for r * (...), 3U gate sums, 3U for
  h' = (1 - z) * n + z * h); no activations. _VF.gru itself is never seen: only the hook prices it;
- torch.sigmoid (nn.Sigmoid) and torch.tanh are not patched: 0.
The rule model re-states each from the definition, the layer's input shape and the module's
recorded options, never from the counted number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from math import prod

from bench.counters.base import Adapter, Item, Reading, Steps, Unit, outside_definition, torch_modules
from bench.reference.formulas import LayerCost

__all__ = ["ADAPTER"]

GATES = {"gru": 3, "lstm": 4, "simple_rnn": 1}
# _rnn_flops's element-wise FLOPs per cell evaluation, in hidden units
RNN_ELEMENTWISE = {"gru": 1 + 3 + 3, "lstm": 4 + 3 + 3, "simple_rnn": 1}
ACTIVATIONS = {"relu", "prelu", "elu", "leaky_relu", "relu6", "silu", "gelu"}  # patched: input.numel()

Rule = Callable[[dict, tuple, LayerCost, dict], tuple[Counter[str], str]]


def _conv(spec: dict, in_shape: tuple, cost: LayerCost, config: dict) -> tuple[Counter[str], str]:
    """2 x kernel taps x in_channels x out_channels x batch x output positions, plus a FLOP per output for the bias."""
    channels_first = spec.get("data_format", "channels_last") == "channels_first"
    channels = in_shape[1] if channels_first else in_shape[-1]
    outputs = prod(cost.out_shape)
    predicted = Counter({"mac": 2 * outputs * channels * prod(spec["kernel"])})
    words = "_conv_flops_compute: 2 FLOPs per multiply-accumulate"
    if config.get("bias"):
        predicted["bias"] = outputs
        words += ", 1 per output for the bias"
    return predicted, words


def _linear(spec: dict, in_shape: tuple, cost: LayerCost, config: dict) -> tuple[Counter[str], str]:
    """2 x input.numel() x out_features; the bias is not counted."""
    predicted = Counter({"mac": 2 * prod(in_shape) * spec["units"]})
    if config.get("bias"):
        predicted["bias"] = 0
    return predicted, "_linear_flops_compute: 2 x input.numel() x out_features, the bias not counted"


def _activation(spec: dict, in_shape: tuple, cost: LayerCost, config: dict) -> tuple[Counter[str], str]:
    """A patched activation: input.numel() FLOPs, on the layer's output."""
    return Counter({f"act:{spec['activation']}": prod(cost.out_shape)}), "patched activation: input.numel() FLOPs"


def _rnn(spec: dict, in_shape: tuple, cost: LayerCost, config: dict) -> tuple[Counter[str], str]:
    """_rnn_forward_hook: _rnn_flops per cell evaluation, times input.shape[0] x input.shape[1]."""
    evaluations, features, units = in_shape[0] * in_shape[1], in_shape[-1], spec["units"]
    gates = GATES[spec["kind"]] * units
    per_cell = Counter(
        {
            "mac": 2 * gates * features - gates + 2 * gates * units - gates,
            "elementwise": RNN_ELEMENTWISE[spec["kind"]] * units,
        }
    )
    if config.get("bias"):
        per_cell["bias"] = 2 * gates
    predicted = Counter({k: v * evaluations for k, v in per_cell.items()})
    for component in cost.step:
        predicted.setdefault(component, 0)
    words = (
        "_rnn_forward_hook: per cell evaluation 2 x rows x cols - rows for each weight matrix,"
        f" both bias vectors, {RNN_ELEMENTWISE[spec['kind']]}U element-wise, no activations;"
        f" times input.shape[0] x input.shape[1] = {evaluations}"
    )
    return predicted, words


def _unpatched(spec: dict, in_shape: tuple, cost: LayerCost, config: dict) -> tuple[Counter[str], str]:
    activation = spec.get("activation", "linear")
    predicted = Counter() if activation == "linear" else Counter({f"act:{activation}": 0})
    return predicted, "its forward calls no function calflops patches: 0"


def _rule(name: str, position: int, spec: dict) -> Rule | None:
    """calflops' rule for the module (its patched call or hook), where the rule model knows it for the layer."""
    kind = spec["kind"]
    if name == "" and position > 0:
        return _unpatched
    if position == 0 and kind in ("conv1d", "conv2d") and name == kind:
        return _conv
    if position == 0 and kind == "dense" and name == "linear":
        return _linear
    if position == 0 and kind in GATES and name == "_rnn_forward_hook":
        return _rnn
    if position > 0 and name in ACTIVATIONS and name == spec.get("activation"):
        return _activation
    return None


def reader(owner: str, patcher: str) -> Callable[[dict, dict], Reading]:
    """`read` for a profiler that patches torch.nn.functional as calflops does: calflops itself, and
    DeepSpeed's flops profiler it was derived from. `owner` names it in the possessive ("calflops'"),
    `patcher` as what patches ("calflops")."""

    def read(definition: dict, probe: dict) -> Reading:
        counted = {item["name"]: item for item in probe["breakdown"]["items"]}
        reading = Reading([])
        for module in torch_modules(definition, probe):
            spec, cost, item = module.spec, module.cost, counted.get(module.name)
            rule = _rule(item.get("rule", ""), module.index, spec) if item else None
            if item is None:
                reading.items.append(Item(module.name, module.layer, 0, Counter(), f"not among {owner} modules"))
            elif rule is None:
                words = f"no rule model for {owner} {item.get('rule', '')!r} on a {spec['kind']} layer"
                reading.items.append(Item(module.name, module.layer, item["raw"], Counter(), words))
            else:
                predicted, words = rule(spec, module.in_shape, cost, module.config)
                if rule is _unpatched:
                    words = f"its forward calls no function {patcher} patches: 0"
                macs = cost.total()["mac"] if module.index == 0 else 0  # the multiply-accumulates its rule prices
                reading.items.append(Item(module.name, module.layer, item["raw"], predicted, words, macs))
                if rule is _rnn:
                    _dot_product_note(spec, predicted["mac"], macs, reading)
                _macs_note(owner, spec, module.name, item, reading)
            if module.index == 0 and cost.steps:
                reading.steps[module.layer] = _steps(spec, module.in_shape)
        reading.items += outside_definition(definition, list(counted.values()))
        return reading

    return read


def _dot_product_note(spec: dict, priced: int, macs: int, reading: Reading) -> None:
    """Say what the rule model's MAC price for the layer is, where rounding would hide it."""
    if macs and priced != 2 * macs:
        reading.notes.setdefault(spec["name"], []).append(
            f"_rnn_flops prices each weight-matrix product as 2 x rows x cols - rows FLOPs (n multiplies and n - 1"
            f" adds per dot product): {priced:,} FLOPs for {macs:,} multiply-accumulates, {2 * macs - priced:,} below"
            " 2 FLOPs each"
        )


def _macs_note(owner: str, spec: dict, module: str, item: dict, reading: Reading) -> None:
    """The profiler's MACs figure is another sum: say where it leaves out a module its FLOPs price."""
    if item.get("rule") == "_rnn_forward_hook" and item["raw"] and not item.get("macs"):
        reading.notes.setdefault(spec["name"], []).append(
            f"_rnn_forward_hook adds {item['raw']:,} FLOPs to {module} and no MACs, so {owner} MACs figure"
            " leaves the layer out"
        )


def _steps(spec: dict, in_shape: tuple) -> Steps:
    """input.shape[0] x input.shape[1] is sequences x steps, in either order: every cell evaluation."""
    evaluations = in_shape[0] * in_shape[1]
    batch = in_shape[1] if spec.get("time_major", False) else in_shape[0]
    why = f"_rnn_forward_hook multiplies by input.shape[0] x input.shape[1] = {evaluations} cell evaluations"
    return Steps(evaluations // batch, (why,))


read = reader("calflops'", "calflops")
ADAPTER = Adapter("calflops", Unit.FLOP, read)
