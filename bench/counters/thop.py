"""thop.profile: its per-module record read onto the model, and its rule model.

thop reports multiply-accumulates per module, each from the rule (a hook function) that its table
maps the module's class to; ultralytics-thop (2.x) also prices the products a module without a rule
of its own runs functionally (torch.matmul, ...: its `functional_hooks`), which the probe records on
that module's item as `functions`. The rule model re-states each rule per thop version from the
definition, the layer's input shape and the module's recorded options, never from the counted
number, and splits the prediction into the reference's components; what a rule prices that the
reference does not (a transposed conv priced as a conv over its output) is "other".

Sources compared: thop 0.0.31 (torch-1.10.1), 0.1.1 (torch-latest), ultralytics-thop 2.2.3.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from math import prod

from bench.counters.base import Adapter, Item, Reading, Steps, outside_definition
from bench.counters.rules import Module, Rule, time_major, torch_modules
from bench.reference.formulas import analyse

__all__ = ["ADAPTER", "ADAPTERS", "RULES", "FUNCTIONS"]


def _linear_cost(spec: dict, in_shape: tuple) -> Counter[str]:
    return analyse({"input": list(in_shape), "layers": [dict(spec, activation="linear")]})[0].once


def _zeros(module: Module) -> Counter[str]:
    """Every component the module's layer costs, priced 0: what a rule that prices nothing predicts."""
    if module.index:
        activation = module.spec.get("activation", "linear")
        return Counter() if activation == "linear" else Counter({f"act:{activation}": 0})
    return Counter({component: 0 for component in (*module.cost.once, *module.cost.step)})


def _channels(spec: dict, shape: tuple) -> int:
    return shape[1] if spec.get("data_format", "channels_last") == "channels_first" else shape[-1]


def _positions(spec: dict, shape: tuple) -> int:
    """Batch x spatial positions of an image-like shape (the channel axis left out)."""
    first = spec.get("data_format", "channels_last") == "channels_first"
    return shape[0] * prod(shape[2:] if first else shape[1:-1])


def _bias(macs: Counter[str], outputs: int, config: dict, thop: tuple) -> str:
    if not config.get("bias"):
        return ""
    if thop < (0, 1):
        macs["bias"] = outputs
        return ", and one per output for the bias (thop < 0.1)"
    macs["bias"] = 0
    return ", none for the bias (thop >= 0.1)"


def _conv(module: Module, item: dict) -> tuple[Counter[str], str]:
    """count_convNd: output elements x in_channels / groups x kernel taps (+ 1 for a bias before 0.1)."""
    thop = module.tool
    spec, config = module.spec, module.config
    if spec["kind"] == "separable_conv2d":
        return _separable(module, item)
    if spec["kind"] == "conv2d_transpose":
        return _transpose_as_conv(module, item)
    out = module.cost.out_shape
    macs = Counter({"mac": _linear_cost(spec, module.in_shape)["mac"]})
    words = "count_convNd: a MAC per kernel tap per output" + _bias(macs, prod(out), config, thop)
    return macs, words


def _separable(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A separable conv is two nn.Conv2d: the depthwise one (groups = channels) and the 1x1 pointwise one."""
    thop = module.tool
    spec, out = module.spec, module.cost.out_shape
    channels, positions = _channels(spec, module.in_shape), _positions(spec, out)
    if module.index == 0:
        macs = Counter({"mac": positions * channels * prod(spec["kernel"])})
        words = "count_convNd on the depthwise conv: a MAC per kernel tap per output"
        return macs, words + _bias(macs, positions * channels, module.config, thop)
    macs = Counter({"mac": positions * channels * spec["filters"]})
    words = "count_convNd on the pointwise conv: in_channels MACs per output"
    return macs, words + _bias(macs, prod(out), module.config, thop)


def _transpose_as_conv(module: Module, item: dict) -> tuple[Counter[str], str]:
    """thop < 2 prices nn.ConvTranspose2d with count_convNd: per OUTPUT element in_channels x kernel taps,
    where the transposed conv does in_channels x kernel taps per INPUT position and output channel."""
    thop = module.tool
    spec, out = module.spec, module.cost.out_shape
    reference = _linear_cost(spec, module.in_shape)["mac"]
    priced = prod(out) * _channels(spec, module.in_shape) * prod(spec["kernel"])
    macs = Counter({"mac": reference, "other": priced - reference})
    words = "count_convNd on a transposed conv: in_channels x kernel taps per output element, as for a conv"
    return macs, words + _bias(macs, prod(out), module.config, thop)


def _convt(module: Module, item: dict) -> tuple[Counter[str], str]:
    """count_convtNd (ultralytics-thop): input positions x output channels x kernel taps, no bias."""
    macs = Counter({"mac": _linear_cost(module.spec, module.in_shape)["mac"]})
    if module.config.get("bias"):
        macs["bias"] = 0
    return macs, "count_convtNd: a MAC per kernel tap per input position and output channel, none for the bias"


def _linear(module: Module, item: dict) -> tuple[Counter[str], str]:
    macs = Counter({"mac": _linear_cost(module.spec, module.in_shape)["mac"]})
    if module.config.get("bias"):
        macs["bias"] = 0
    return macs, "count_linear: in_features MACs per output, none for the bias"


# per cell evaluation and direction, U units, D features: (MACs, gate sums and products, biases), from
# thop's _count_gru_cell, _count_lstm_cell and _count_rnn_cell
CELLS: dict[str, Callable[[int, int], tuple[int, int, int]]] = {
    # (D+U)U + U for r and z each, (D+U)U + U for n, U for r * (...), 3U for h' = (1 - z) * n + z * h
    "gru": lambda d, u: (3 * (d + u) * u, 3 * u + u + 3 * u, 6 * u),
    # (D+U)U + U per gate, 3U for c' = f * c + i * g (and o * tanh(c')), U more
    "lstm": lambda d, u: (4 * (d + u) * u, 4 * u + 3 * u + u, 8 * u),
    # (D+U)U + U
    "simple_rnn": lambda d, u: ((d + u) * u, u, 2 * u),
}
ACTIVATIONS = {"gru": ("recurrent_activation", "activation"), "lstm": ("recurrent_activation", "activation")}


def _recurrent(module: Module, item: dict) -> tuple[Counter[str], str]:
    """count_gru / count_lstm / count_rnn: the cell's price times steps x batch as thop reads the input, per
    direction; the biases and the gate sums and products as MACs, the activations not at all."""
    spec = module.spec
    steps, batch, features = time_major(module.in_shape, module.config)
    mac, elementwise, bias = CELLS[spec["kind"]](features, spec["units"])
    times = steps * batch * (2 if spec.get("bidirectional") else 1)
    macs = Counter({"mac": mac * times, "elementwise": elementwise * times})
    if module.config.get("bias"):
        macs["bias"] = bias * times
    for key in ACTIVATIONS.get(spec["kind"], ("activation",)):
        macs[f"act:{spec.get(key, 'tanh' if key == 'activation' else 'sigmoid')}"] = 0
    words = "gate MACs, biases and gate sums and products as MACs, activations 0"
    if spec.get("bidirectional"):
        words += ", both directions"
    return macs, words


def _normalization(module: Module, item: dict) -> tuple[Counter[str], str]:
    """count_normalization (thop >= 0.1): 2 per input value, twice that with an affine weight and bias."""
    values = prod(module.in_shape)
    affine = bool(module.config.get("bias"))
    macs = _zeros(module)
    macs["elementwise"] = 2 * values * (2 if affine else 1)
    return macs, "count_normalization: 2 per input value" + (", x 2 for the affine weight and bias" if affine else "")


def _bn(module: Module, item: dict) -> tuple[Counter[str], str]:
    """count_bn (thop < 0.1): 2 per input value in eval mode (subtract, divide, gamma, beta)."""
    macs = _zeros(module)
    macs["elementwise"] = 2 * prod(module.in_shape)
    return macs, "count_bn: 2 per input value"


def _avgpool(module: Module, item: dict) -> tuple[Counter[str], str]:
    """count_avgpool: thop < 2 one per output; ultralytics-thop one add per input in each window and
    one divide per output (windows clipped to the input as torch pads them)."""
    thop = module.tool
    spec, out = module.spec, module.cost.out_shape
    if thop < (1,):
        return Counter({"elementwise": prod(out)}), "count_avgpool: one per output value"
    first = spec.get("data_format", "channels_last") == "channels_first"
    dims, out_dims = (module.in_shape[2:], out[2:]) if first else (module.in_shape[1:-1], out[1:-1])
    padding = spec.get("padding") if isinstance(spec.get("padding"), list) else [0] * len(dims)
    windows = 1
    for size, count, k, s, p in zip(dims, out_dims, spec["pool"], spec["strides"], padding, strict=True):
        windows *= sum(max(min(i * s - p + k, size + p) - max(i * s - p, -p), 0) for i in range(count))
    inputs = out[0] * _channels(spec, out) * windows
    return Counter({"elementwise": inputs + prod(out)}), "count_avgpool: one per input in each window, one per output"


def _adaptive_avgpool(module: Module, item: dict) -> tuple[Counter[str], str]:
    """count_adap_avgpool to a 1 x 1 output: H x W adds and one divide per output value, every version."""
    values, outputs = prod(module.in_shape), prod(module.cost.out_shape)
    return Counter({"elementwise": values + outputs}), "count_adap_avgpool: the window's values + 1 per output"


def _zero(module: Module, item: dict) -> tuple[Counter[str], str]:
    return _zeros(module), "zero_ops: 0"


def _embedding(module: Module, item: dict) -> tuple[Counter[str], str]:
    return _zeros(module), "count_embedding: a gather, 0"


def _none(module: Module, item: dict) -> tuple[Counter[str], str]:
    return _zeros(module), "no thop rule for the module's class: 0"


RULES: dict[str, Rule] = {
    "count_convNd": _conv,
    "count_convtNd": _convt,
    "count_linear": _linear,
    "count_gru": _recurrent,
    "count_lstm": _recurrent,
    "count_rnn": _recurrent,
    "count_normalization": _normalization,
    "count_bn": _bn,
    "count_avgpool": _avgpool,
    "count_adap_avgpool": _adaptive_avgpool,
    "count_embedding": _embedding,
    "zero_ops": _zero,
    "": _none,
}


def _matmul(module: Module, item: dict) -> tuple[Counter[str], str]:
    """_count_matmul on attention's two products: q @ k^T and softmax(...) @ v, each batch x heads x T x T
    x head_dim; the scaling, mask, rotary products and softmax are no product it prices."""
    spec = module.spec
    batch, steps = module.in_shape[0], module.in_shape[1]
    macs = Counter({"mac": 2 * batch * spec["heads"] * steps * steps * spec["head_dim"]})
    return macs, "functional_hooks _count_matmul: output elements x the contracted axis, for both products"


# ultralytics-thop's functional rules (as the probe names them) -> the rule model, by the layer kinds modelled
FUNCTIONS: dict[str, tuple[Rule, frozenset[str]]] = {
    "_count_matmul": (_matmul, frozenset({"attention"})),
}


def _predict(module: Module, item: dict) -> tuple[Counter[str], str] | None:
    """The module's own rule, plus the functional products counted inside it; None where either is unmodelled."""
    rule = RULES.get(item.get("rule", ""))
    if rule is None:
        return None
    predicted, words = rule(module, item)
    for name in sorted(item.get("functions", {})):
        function, kinds = FUNCTIONS.get(name, (None, frozenset()))
        if function is None or module.spec["kind"] not in kinds:
            return None
        more, said = function(module, item)
        predicted.update(more)
        words = f"{words}; {said}"
    return predicted, words


def read(definition: dict, probe: dict) -> Reading:
    counted = {item["name"]: item for item in probe["breakdown"]["items"]}
    reading = Reading([])
    for module in torch_modules(definition, probe):
        item = counted.get(module.name)
        found = _predict(module, item) if item else None
        if item is None:
            reading.items.append(Item(module.name, module.layer, 0, Counter(), "not in thop's breakdown"))
        elif found is None:
            said = "+".join([item.get("rule", "")] + sorted(item.get("functions", {})))
            words = f"no rule model for thop's {said} on a {module.spec['kind']} layer"
            reading.items.append(Item(module.name, module.layer, item["raw"], Counter(), words))
        else:
            predicted, words = found
            reading.items.append(Item(module.name, module.layer, item["raw"], predicted, words, predicted["mac"]))
        if module.index == 0 and module.cost.steps:
            reading.steps[module.layer] = _steps(module, reading)
    reading.items += outside_definition(definition, list(counted.values()))
    return reading


def _steps(module: Module, reading: Reading) -> Steps:
    """thop prices every cell evaluation it sees: time steps x sequences as the module reads the input."""
    spec, in_shape, steps = module.spec, module.in_shape, module.cost.steps
    seen, batch, _ = time_major(in_shape, module.config)
    reference_batch = in_shape[0]
    if seen != steps:
        reading.notes.setdefault(spec["name"], []).append(
            f"nn.GRU without batch_first reads the {in_shape} input as {batch} sequences of {seen} step:"
            f" the cell still runs {seen * batch} times, so thop's count matches {steps} steps of one sequence,"
            " though the outputs differ (see the equivalence check)"
        )
    return Steps(seen * batch // reference_batch, (f"thop prices each of the {seen * batch} cell evaluations",))


ADAPTER = Adapter("thop", "thop", read)
ADAPTERS = (ADAPTER,)
