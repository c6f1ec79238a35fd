"""torch.utils.flop_counter.FlopCounterMode: its record read onto the model, and its rule model.

FlopCounterMode is a dispatch mode: it prices each aten op a forward pass dispatches by the
formula its flop_registry holds for the op's overload packet, and every other op at 0 without a
word. The formulas that matter here (torch 2.1 to 2.13): mm and addmm 2 x M x K x N, bmm and
baddbmm 2 x B x M x K x N (addmm's and baddbmm's added input ignored), convolution 2 x output
values x input channels x kernel taps ("computation for bias are ignored"). Nothing prices
pointwise ops: relu, sigmoid, tanh and the recurrent gates' adds and products are 0.

The rule model takes the op each module dispatched from the probe's per-op record (structure:
which op, not how much it was priced) and the numbers from the definition, the layer's input
shape and the module's recorded options. A recurrent layer's steps priced are the
multiply-accumulates of the matrix products it dispatched, from their recorded shapes, over one
step's: nn.GRU's CPU kernel runs one addmm over every row of the input and one per step over
the hidden state, so each cell evaluation is priced (both directions' of a bidirectional one).
A layer kind without a rule of its own (depthwise or transposed convolution, attention, LSTM,
simple RNN, norms, pooling, embedding), and a module after the layer's first that dispatches a
priced op (a separable convolution's pointwise part), is priced op by op from the ops' recorded
shapes (`node_macs`): attention's matmuls reach the mode as aten.bmm, a transposed convolution's
aten.convolution is priced on its input positions x the whole weight (conv_flop_count's transposed
branch), and norms, pooling, softmax and the rotary products have no formula.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from math import prod

from bench.counters.base import Adapter, Item, Reading, Steps, nodes_by_module, outside_definition
from bench.counters.rules import Module, recorded_shape, recurrent_activations, time_major, torch_modules
from bench.reference.formulas import FORMULAS as FORMULAS_OF_KINDS
from bench.reference.formulas import analyse, measure

__all__ = ["ADAPTER", "ADAPTERS", "FORMULAS", "node_macs"]

ROOT = "(the model's own forward)"  # the probe's item for ops outside every submodule
OUTSIDE = "(outside the model)"  # the probe's item for ops under 'Global' alone
BUCKET_OWN = "the model's own forward"
BUCKET_OUTSIDE = "outside the model"

MATRIX = {"aten.mm": "mm_flop", "aten.addmm": "addmm_flop", "aten.bmm": "bmm_flop", "aten.baddbmm": "baddbmm_flop"}
CONVOLUTION = {
    op: "conv_flop"
    for op in (
        "aten.convolution",
        "aten._convolution",
        "aten.cudnn_convolution",
        "aten._slow_conv2d_forward",
        "aten.convolution_overrideable",
    )
}
# Composite ops (CompositeImplicitAutograd) reach a dispatch mode whole where autograd does not decompose them
# first (under torch.inference_mode); FlopCounterMode has no formula for them and prices the ops it decomposes
# them into (func.decompose): nn.Linear's addmm, nn.GRU's per-step matrix products, a conv's convolution.
DECOMPOSED = " after FlopCounterMode decomposes it"
RECURRENT = ("aten.gru", "aten.lstm", "aten.rnn_tanh", "aten.rnn_relu")  # each: the whole layer, every step
ONEDNN_WORDS = (
    "with torch.backends.mkldnn on, FlopCounterMode's decomposition runs at::lstm's oneDNN path,"
    " aten.mkldnn_rnn_layer, which no formula prices (with mkldnn off it runs addmm and mm)"
)
ONEDNN_RECURRENT = ("aten.lstm",)  # at::lstm takes oneDNN's fused kernel where mkldnn is on (GRU and RNN do not)
TRANSPOSED = ("aten.conv_transpose1d", "aten.conv_transpose2d")
MATRIX |= {"aten.linear": "addmm_flop" + DECOMPOSED, "aten.matmul": "bmm_flop or mm_flop" + DECOMPOSED}
MATRIX |= {op: "mm_flop and addmm_flop" + DECOMPOSED for op in RECURRENT}
CONVOLUTION |= {op: "conv_flop" + DECOMPOSED for op in ("aten.conv1d", "aten.conv2d", *TRANSPOSED)}
FORMULAS = {**MATRIX, **CONVOLUTION}  # op packet -> the flop_registry formula that prices it
MAIN_OPS = {"conv1d": CONVOLUTION, "conv2d": CONVOLUTION, "dense": MATRIX, "gru": MATRIX}


def node_macs(node: dict, transposed: bool = False, onednn: bool = False) -> int:
    """Multiply-accumulates FlopCounterMode's formula sees in one recorded op (its FLOPs / 2). The
    record does not keep aten.convolution's `transposed` argument: the caller says it from the layer's kind.
    `onednn`: torch.backends.mkldnn was on (the record's switches), so an aten.lstm that reached the mode
    whole decomposes into at::lstm's CPU path, one aten.mkldnn_rnn_layer per layer and direction: no formula."""
    op, given = node["op"], [recorded_shape(s) for s in node.get("input_shapes", [])]
    if op in ONEDNN_RECURRENT and onednn:
        return 0
    if op == "aten.linear":  # input (..., in) times weight (out, in)
        x, weight = given[:2]
        return 0 if x is None or weight is None else prod(x) * weight[0]
    if op in RECURRENT:
        return _recurrent_macs(node)
    if op == "aten.matmul":  # broadcast batch: every output value is one row-by-column product
        out = recorded_shape(node["shape"])
        return 0 if out is None or given[0] is None else prod(out) * given[0][-1]
    if op in MATRIX:
        a, b = given[-2:] if op in ("aten.addmm", "aten.baddbmm") else given[:2]
        if a is None or b is None:
            return 0
        return prod(a[:-1]) * a[-1] * b[-1]
    if op in CONVOLUTION:
        out, weight = recorded_shape(node["shape"]), given[1] if len(given) > 1 else None
        if out is None or weight is None:
            return 0
        if (transposed or op in TRANSPOSED) and given[0] is not None:  # input positions x the whole weight
            return given[0][0] * prod(given[0][2:]) * prod(weight)
        return prod(out) * prod(weight[1:])
    return 0


def _recurrent_macs(node: dict) -> int:
    """aten.gru / lstm / rnn_tanh (input, hx, params, ...): every cell evaluation's products with each
    direction's w_ih (gates x H, F) and w_hh (gates x H, H): input rows x the sum of the 2-D weights' sizes
    (one layer per module, as the zoo builds them)."""
    shapes = node.get("input_shapes", [])
    x = recorded_shape(shapes[0]) if shapes else None
    listed = shapes[2].strip("[]").replace("), (", ")|(").split("|") if len(shapes) > 2 else []
    params = [recorded_shape(p) for p in listed]
    weights = [w for w in params if w is not None and len(w) == 2]
    return 0 if x is None else prod(x[:-1]) * sum(prod(w) for w in weights)


def _cost(spec: dict, in_shape: tuple) -> Counter[str]:
    return analyse({"input": list(in_shape), "layers": [dict(spec, activation="linear")]})[0].once


def _ops(nodes: list[dict]) -> list[str]:
    """The ops a module dispatched, in order; the pointwise ones alone where it ran any (views and
    copies without a formula say nothing about the work the counter left out)."""
    pointwise = [node["op"] for node in nodes if node.get("attrs", {}).get("pointwise")]
    priced = [node["op"] for node in nodes if node["op"] in FORMULAS]
    return list(dict.fromkeys(priced + pointwise if pointwise else [node["op"] for node in nodes]))


def _priced(ops: list[str], table: dict[str, str]) -> str:
    found = [f"{table[op]} ({op})" for op in ops if op in table]
    return ", ".join(found)


def _conv_or_dense(spec: dict, in_shape: tuple, config: dict, ops: list[str]) -> tuple[Counter[str], str, int]:
    cost = _cost(spec, in_shape)
    formula = _priced(ops, MAIN_OPS[spec["kind"]])
    bias = Counter({"bias": 0}) if config.get("bias", True) and cost["bias"] else Counter()
    predicted = Counter({"mac": 2 * cost["mac"] if formula else 0})
    predicted.update(bias)
    if not formula:
        return predicted, _none(ops), 0
    words = f"{formula}: 2 FLOPs per multiply-accumulate, the bias not counted"
    return predicted, words, cost["mac"]


def _gru(spec: dict, in_shape: tuple, config: dict, ops: list[str]) -> tuple[Counter[str], str, int]:
    """Every cell evaluation's gate matrix products at 2 FLOPs per MAC; biases, gate adds and
    products, sigmoid and tanh are pointwise ops no formula prices."""
    steps, batch, features = time_major(in_shape, config)
    units = spec["units"]
    zero = Counter({"mac": 0, "elementwise": 0, **{f"act:{name}": 0 for name in recurrent_activations(spec) if name}})
    if config.get("bias", True):
        zero["bias"] = 0
    formula = _priced(ops, MATRIX)
    if not formula:
        return zero, _none(ops), 0
    directions = 2 if spec.get("bidirectional") else 1
    macs = directions * steps * batch * 3 * units * (features + units)
    predicted = Counter(zero)
    predicted["mac"] = 2 * macs
    pointwise = [op for op in ops if op not in FORMULAS]
    words = (
        f"{formula}: 2 FLOPs per multiply-accumulate of the gate matrix products, the bias not counted;"
        f" no formula for the pointwise ops {', '.join(pointwise) or '(none recorded)'}"
    )
    return predicted, words, macs


def _by_nodes(spec: dict, in_shape: tuple, nodes: list[dict], onednn: bool) -> tuple[Counter[str], str, int]:
    """A module priced op by op, each by its flop_registry formula from its recorded shapes (a
    depthwise or transposed convolution, attention's bmm, a simple RNN's per-step addmm): 2 FLOPs per
    multiply-accumulate; the pointwise ops (norms, pooling, softmax, the rotary products) have no formula."""
    transposed = spec["kind"] == "conv2d_transpose"
    macs = sum(node_macs(node, transposed, onednn) for node in nodes)
    predicted: Counter[str] = Counter()
    if spec["kind"] in FORMULAS_OF_KINDS:  # the layer's components, each said, even where nothing prices them
        predicted.update({k: 0 for k in measure(dict(spec, activation="linear"), in_shape).total()})
    predicted["mac"] += 2 * macs
    ops = _ops(nodes)
    formula = _priced(ops, FORMULAS)
    if onednn and any(op in ONEDNN_RECURRENT for op in ops):
        return predicted, f"{', '.join(ONEDNN_RECURRENT)} reached the mode whole; {ONEDNN_WORDS}: 0", 0
    if not formula:
        return predicted, _none(ops), 0
    unpriced = [op for op in ops if op not in FORMULAS]
    rest = f"; no formula for {', '.join(unpriced)}" if unpriced else ""
    how = " (transposed: input positions x the whole weight)" if transposed else ""
    return predicted, f"{formula}{how}: 2 FLOPs per multiply-accumulate from the recorded shapes{rest}", macs


def _activation(spec: dict, in_shape: tuple, config: dict, ops: list[str]) -> tuple[Counter[str], str, int]:
    activation = spec.get("activation", "linear")
    if _priced(ops, FORMULAS):
        return Counter(), f"no rule model for an activation module that runs {_priced(ops, FORMULAS)}", 0
    return (Counter() if activation == "linear" else Counter({f"act:{activation}": 0})), _none(ops), 0


def _none(ops: list[str]) -> str:
    return f"no formula for {', '.join(ops)}: 0" if ops else "no op dispatched: 0"


RULES: dict[str, Callable[[dict, tuple, dict, list[str]], tuple[Counter[str], str, int]]] = {
    "conv1d": _conv_or_dense,
    "conv2d": _conv_or_dense,
    "dense": _conv_or_dense,
    "gru": _gru,
}


def read(definition: dict, probe: dict) -> Reading:
    counted = {item["name"]: item for item in probe["breakdown"]["items"]}
    nodes = nodes_by_module(probe)
    reading = Reading([])
    onednn = probe["provenance"].get("switches", {}).get("mkldnn_enabled", True)
    for module in torch_modules(definition, probe):
        spec, item = module.spec, counted.get(module.name)
        raw = item["raw"] if item else 0
        main = module.index == 0 and spec["kind"] != "activation"
        own = nodes.get(module.name, [])
        rule = RULES.get(spec["kind"]) if main else _activation
        if rule is None or (not main and _priced(_ops(own), FORMULAS)):
            predicted, words, macs = _by_nodes(spec if main else {"kind": ""}, module.in_shape, own, onednn)
        else:
            predicted, words, macs = rule(spec, module.in_shape, module.config, _ops(own))
        reading.items.append(Item(module.name, module.layer, raw, predicted, words, macs))
        if module.index == 0 and module.cost.steps:
            own = nodes.get(module.name, [])
            reading.steps[module.layer] = _steps(spec, module.in_shape, module, own, reading, onednn)
    for name in (ROOT, OUTSIDE):
        if name in counted:
            own = nodes.get(name, [])
            macs = sum(node_macs(n) for n in own)
            words = _priced(_ops(own), FORMULAS) or _none(_ops(own))
            bucket = BUCKET_OWN if name == ROOT else BUCKET_OUTSIDE
            reading.items.append(Item(name, bucket, counted[name]["raw"], Counter({"outside": 2 * macs}), words, macs))
    rest = [item for name, item in counted.items() if name not in (ROOT, OUTSIDE)]
    reading.items += outside_definition(definition, rest)
    return reading


def _steps(spec: dict, in_shape: tuple, module: Module, nodes: list[dict], reading: Reading, onednn: bool) -> Steps:
    """Steps priced = MACs of the matrix products the layer dispatched (recorded shapes) / one step's."""
    products = [n for n in nodes if n["op"] in MATRIX]
    config, cost = module.config, module.cost
    macs = sum(node_macs(n, onednn=onednn) for n in products)
    step_macs = cost.step["mac"]
    priced = macs // step_macs if step_macs else 0
    seen, batch, _ = time_major(in_shape, config)
    if products and seen != cost.steps:
        reading.notes.setdefault(spec["name"], []).append(
            f"nn.GRU without batch_first reads the {in_shape} input as {batch} sequences of {seen} step:"
            f" the cell still runs {seen * batch} times, so the count matches {cost.steps} steps"
            " of one sequence, though the outputs differ (see the equivalence check)"
        )
    if onednn and any(n["op"] in ONEDNN_RECURRENT for n in products):
        return Steps(0, (f"the layer reached FlopCounterMode whole as {', '.join(ONEDNN_RECURRENT)}; {ONEDNN_WORDS}",))
    if not products:
        ran = ", ".join(_ops(nodes)) or "no op"
        return Steps(0, (f"the layer dispatched {ran}: no op FlopCounterMode has a formula for, so no step is priced",))
    if any(n["op"] in RECURRENT for n in products):
        return Steps(
            priced,
            (
                "the recurrent layer reached FlopCounterMode whole (no formula: autograd did not decompose it under"
                f" inference_mode); FlopCounterMode decomposes it and prices its per-step products: {macs:,}"
                f" multiply-accumulates from its input and weights' shapes, {priced} steps of {step_macs:,}",
            ),
        )
    shapes = "; ".join(f"{n['op']} {' x '.join(n['input_shapes'][-2:])}" for n in products[:3])
    more = f"; ... {len(products) - 3} more" if len(products) > 3 else ""
    return Steps(
        priced,
        (
            f"the recurrent layer's CPU kernel dispatches its gate matrix products as {len(products)} ops"
            f" that FlopCounterMode prices ({shapes}{more}): {macs:,} multiply-accumulates,"
            f" {priced} steps of {step_macs:,}",
        ),
    )


ADAPTER = Adapter(
    "torch-flop-counter",
    "FlopCounterMode",
    read,
    outside="FlopCounterMode counts every op dispatched inside its context, whichever module runs it",
)
ADAPTERS = (ADAPTER,)
