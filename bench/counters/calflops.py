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

from bench.counters.base import Adapter, Item, Reading, Steps, outside_definition
from bench.counters.rules import Module, Rule, conv_macs, image_layout, reference_batch, torch_modules
from bench.probe import zoo
from bench.reference.formulas import analyse

__all__ = ["ADAPTER", "ADAPTERS"]

GATES = {"gru": 3, "lstm": 4, "simple_rnn": 1}
# _rnn_flops's element-wise FLOPs per cell evaluation, in hidden units
RNN_ELEMENTWISE = {"gru": 1 + 3 + 3, "lstm": 4 + 3 + 3, "simple_rnn": 1}
ACTIVATIONS = {"relu", "prelu", "elu", "leaky_relu", "relu6", "silu", "gelu"}  # patched: input.numel()


def _conv(module: Module, item: dict) -> tuple[Counter[str], str]:
    """2 x kernel taps x in_channels x out_channels / groups x batch x output positions, plus a FLOP per
    output for the bias."""
    spec, in_shape, cost, config = module.spec, module.in_shape, module.cost, module.config
    groups = image_layout(spec, in_shape)[1] if spec["kind"] == "depthwise_conv2d" else spec.get("groups", 1)
    macs, outputs = conv_macs(spec, in_shape, cost.out_shape, spec["kernel"], groups)
    predicted = Counter({"mac": 2 * macs})
    words = "_conv_flops_compute: 2 FLOPs per multiply-accumulate"
    if groups > 1:
        words += f" (taps x in_channels x out_channels // groups, groups {groups})"
    if config.get("bias"):
        predicted["bias"] = outputs
        words += ", 1 per output for the bias"
    return predicted, words


def _separable_depthwise(module: Module, item: dict) -> tuple[Counter[str], str]:
    """The depthwise half of a separable conv: F.conv2d with groups = in_channels (taps x channels per
    output position), no bias."""
    spec, in_shape, cost = module.spec, module.in_shape, module.cost
    batch, channels, _ = image_layout(spec, in_shape)
    dims = image_layout(spec, cost.out_shape)[2]
    predicted = Counter({"mac": 2 * prod(spec["kernel"]) * channels * batch * prod(dims)})
    return predicted, "_conv_flops_compute on the depthwise conv: 2 FLOPs per multiply-accumulate"


def _separable_pointwise(module: Module, item: dict) -> tuple[Counter[str], str]:
    """The pointwise half: a 1x1 F.conv2d over the depthwise output, with the layer's bias."""
    spec, in_shape, cost, config = module.spec, module.in_shape, module.cost, module.config
    batch, channels, _ = image_layout(spec, in_shape)
    _, filters, dims = image_layout(spec, cost.out_shape)
    outputs = batch * filters * prod(dims)
    predicted = Counter({"mac": 2 * outputs * channels})
    words = "_conv_flops_compute on the 1x1 pointwise conv: 2 FLOPs per multiply-accumulate"
    if config.get("bias"):
        predicted["bias"] = outputs
        words += ", 1 per output for the bias"
    return predicted, words


def transposed(true_output: bool) -> Rule:
    """_conv_trans_flops_compute: 2 x taps x in_channels x out_channels per INPUT position; the bias priced
    per output position, where calflops 0.3.2 computes the output size with the forward conv's formula,
    (d - k) // s + 1 (so far fewer positions), and DeepSpeed with the transposed one, (d - 1) x s + k."""

    def rule(module: Module, item: dict) -> tuple[Counter[str], str]:
        spec, cost, config = module.spec, module.cost, module.config
        batch, channels, dims = image_layout(spec, module.in_shape)
        _, filters, out_dims = image_layout(spec, cost.out_shape)
        predicted = Counter({"mac": 2 * batch * prod(dims) * channels * filters * prod(spec["kernel"])})
        words = "_conv_trans_flops_compute: 2 FLOPs per multiply-accumulate over the input positions"
        if config.get("bias"):
            if true_output:
                positions = prod(out_dims)
                words += ", 1 per output for the bias"
            else:
                positions = prod(
                    (d - k) // s + 1 for d, k, s in zip(dims, spec["kernel"], spec["strides"], strict=True)
                )
                words += (
                    ", the bias over (d - k) // stride + 1 positions per axis (the forward conv's output size,"
                    f" {positions:,} positions, not the transposed conv's {prod(out_dims):,})"
                )
            predicted["bias"] = batch * filters * positions
        return predicted, words

    return rule


def _batch_norm(module: Module, item: dict) -> tuple[Counter[str], str]:
    in_shape, config = module.in_shape, module.config
    affine = config.get("affine", True)
    predicted = Counter({"elementwise": (2 if affine else 1) * prod(in_shape)})
    return predicted, f"_batch_norm_flops_compute (inference): input.numel() x {2 if affine else 1}"


def _layer_norm(module: Module, item: dict) -> tuple[Counter[str], str]:
    in_shape, config = module.in_shape, module.config
    affine = config.get("elementwise_affine", True)
    predicted = Counter({"elementwise": (5 if affine else 4) * prod(in_shape), "act:rsqrt": 0})
    return predicted, f"_layer_norm_flops_compute: input.numel() x {5 if affine else 4} (its estimate), no rsqrt"


def _pool(module: Module, item: dict) -> tuple[Counter[str], str]:
    in_shape = module.in_shape
    return Counter({"elementwise": prod(in_shape)}), "_pool_flops_compute: input.numel(), whatever the window"


def _attention(module: Module, item: dict) -> tuple[Counter[str], str]:
    """Two torch.matmul calls, Q K^T and A V, each 2 x batch x heads x T x T x head_dim (_matmul_flops_compute:
    2 x prod(input.shape) x other.shape[-1]); the scale, mask and rotary products are Tensor operators and
    torch.softmax is not F.softmax, none patched."""
    spec, in_shape = module.spec, module.in_shape
    batch, steps, _ = in_shape
    macs = batch * spec["heads"] * steps * steps * spec["head_dim"]
    predicted = Counter({"mac": 2 * 2 * macs, "elementwise": 0, "act:softmax": 0})
    words = (
        "_matmul_flops_compute on Q K^T and A V: 2 FLOPs per multiply-accumulate; the scale, mask and rotary"
        " products are Tensor operators and torch.softmax is not F.softmax: none patched, 0"
    )
    return predicted, words


def _embedding(module: Module, item: dict) -> tuple[Counter[str], str]:
    return Counter(), "_embedding_flops_compute: 0"


# layer kinds whose PyTorch forward calls nothing calflops patches (the probe records no call): why, in words
UNPATCHED = {
    "activation": "its class calls no patched function (nn.ReLU6 runs F.hardtanh, nn.Sigmoid torch.sigmoid)",
    "rms_norm": "the RMSNorm forward is tensor arithmetic (pow, mean, torch.rsqrt, *), none of it patched",
    "zero_pad2d": "F.pad is not patched",
    "flatten": "a flatten computes nothing",
    "reshape": "a reshape computes nothing",
}


def _zero(module: Module, item: dict) -> tuple[Counter[str], str]:
    """Every component of the layer's reference, priced 0."""
    spec, cost = module.spec, module.cost
    return Counter({component: 0 for component in cost.total()}), UNPATCHED[spec["kind"]] + ": 0"


def _linear(module: Module, item: dict) -> tuple[Counter[str], str]:
    """2 x input.numel() x out_features; the bias is not counted."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    predicted = Counter({"mac": 2 * prod(in_shape) * spec["units"]})
    if config.get("bias"):
        predicted["bias"] = 0
    return predicted, "_linear_flops_compute: 2 x input.numel() x out_features, the bias not counted"


def _activation(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A patched activation: input.numel() FLOPs, on the layer's output."""
    spec, cost = module.spec, module.cost
    return Counter({f"act:{spec['activation']}": prod(cost.out_shape)}), "patched activation: input.numel() FLOPs"


def _rnn(module: Module, item: dict) -> tuple[Counter[str], str]:
    """_rnn_forward_hook: _rnn_flops per cell evaluation, times input.shape[0] x input.shape[1]."""
    spec, in_shape, cost, config = module.spec, module.in_shape, module.cost, module.config
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
    directions = 2 if spec.get("bidirectional") else 1
    predicted = Counter({k: v * evaluations * directions for k, v in per_cell.items()})
    for component in cost.step:
        predicted.setdefault(component, 0)
    words = (
        "_rnn_forward_hook: per cell evaluation 2 x rows x cols - rows for each weight matrix,"
        f" both bias vectors, {RNN_ELEMENTWISE[spec['kind']]}U element-wise, no activations;"
        f" times input.shape[0] x input.shape[1] = {evaluations}" + (", times 2 directions" if directions == 2 else "")
    )
    return predicted, words


def _unpatched(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec = module.spec
    activation = spec.get("activation", "linear")
    predicted = Counter() if activation == "linear" else Counter({f"act:{activation}": 0})
    return predicted, "its forward calls no function calflops patches: 0"


# (layer kind, the patched call the probe recorded) -> rule, for a layer's first module
FIRST: dict[tuple[str, str], Rule] = {
    ("conv1d", "conv1d"): _conv,
    ("conv2d", "conv2d"): _conv,
    ("depthwise_conv2d", "conv2d"): _conv,
    ("separable_conv2d", "conv2d"): _separable_depthwise,
    ("dense", "linear"): _linear,
    ("batch_norm", "batch_norm"): _batch_norm,
    ("layer_norm", "layer_norm"): _layer_norm,
    ("max_pool2d", "max_pool2d"): _pool,
    ("avg_pool2d", "avg_pool2d"): _pool,
    ("global_avg_pool2d", "adaptive_avg_pool2d"): _pool,
    ("attention", "matmul"): _attention,
    ("embedding", "embedding"): _embedding,
    **{(kind, ""): _zero for kind in UNPATCHED},
    **{(kind, "_rnn_forward_hook"): _rnn for kind in GATES},
}


def _rule(name: str, position: int, spec: dict, transpose: Rule) -> Rule | None:
    """calflops' rule for the module (its patched call or hook), where the rule model knows it for the layer."""
    kind = spec["kind"]
    activation = kind == "activation" or position > 0
    if activation and name in ACTIVATIONS and name == spec.get("activation"):
        return _activation
    if kind == "separable_conv2d" and position == 1 and name == "conv2d":
        return _separable_pointwise
    if position > 0:
        return _unpatched if name == "" else None
    if kind == "conv2d_transpose" and name == "conv_transpose2d":
        return transpose
    return FIRST.get((kind, name))


def reader(owner: str, patcher: str, transpose: Rule) -> Callable[[dict, dict], Reading]:
    """`read` for a profiler that patches torch.nn.functional as calflops does: calflops itself, and
    DeepSpeed's flops profiler it was derived from. `owner` names it in the possessive ("calflops'"),
    `patcher` as what patches ("calflops"); `transpose` is its rule for F.conv_transpose2d, where the two differ."""

    def read(definition: dict, probe: dict) -> Reading:
        counted = {item["name"]: item for item in probe["breakdown"]["items"]}
        reading = Reading([])
        for module in torch_modules(definition, probe):
            spec, cost, item = module.spec, module.cost, counted.get(module.name)
            rule = _rule(item.get("rule", ""), module.index, spec, transpose) if item else None
            if item is None:
                reading.items.append(Item(module.name, module.layer, 0, Counter(), f"not among {owner} modules"))
            elif rule is None:
                words = f"no rule model for {owner} {item.get('rule', '')!r} on a {spec['kind']} layer"
                reading.items.append(Item(module.name, module.layer, item["raw"], Counter(), words))
            else:
                predicted, words = rule(module, item)
                if rule is _unpatched:
                    words = f"its forward calls no function {patcher} patches: 0"
                macs = cost.total()["mac"] if module.index == 0 else 0  # the multiply-accumulates its rule prices
                reading.items.append(Item(module.name, module.layer, item["raw"], predicted, words, macs))
                if rule is _rnn:
                    _dot_product_note(spec, predicted["mac"], macs, reading)
                _macs_note(owner, spec, module.name, item, reading)
            if module.index == 0 and cost.steps:
                reading.steps[module.layer] = _steps(spec, module.in_shape)
        reading.items += [
            _composite(definition, item, counted) for item in outside_definition(definition, list(counted.values()))
        ]
        return reading

    return read


def _composite(definition: dict, item: Item, counted: dict[str, dict]) -> Item:
    """A composite layer's own activation module (a residual block's `act`, run on the sum): its patched
    activation's input.numel(). The sum itself is Tensor.__add__, which neither profiler patches."""
    spec = next((s for s in definition["layers"] if s["name"] == item.place and s["kind"] in zoo.COMPOSITE), None)
    rule = counted.get(item.name, {}).get("rule", "")
    if (
        spec is None
        or item.name != spec["torch"][0] + ".act"
        or rule != spec.get("activation")
        or rule not in ACTIVATIONS
    ):
        return item
    cost = next(c for c in analyse(definition) if c.name == spec["name"])
    predicted, words = _activation(Module(spec, cost, cost.in_shape, 1, item.name, {}), {})
    return Item(item.name, item.place, item.counted, predicted, words + " on the block's sum")


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
    batch = reference_batch(spec, in_shape)
    why = f"_rnn_forward_hook multiplies by input.shape[0] x input.shape[1] = {evaluations} cell evaluations"
    return Steps(evaluations // batch, (why,))


read = reader("calflops'", "calflops", transposed(False))
ADAPTER = Adapter("calflops", "calflops", read, family="calflops, DeepSpeed")
ADAPTERS = (ADAPTER,)
