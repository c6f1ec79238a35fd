"""torchprofile.profile_macs: its record read onto the model, and its rule model.

torchprofile traces the model with torch.jit and prices each traced node by the handler its
HANDLER_MAP gives the node's operator. The handlers that matter here (torchprofile 0.1.0):
`_convolution` for aten::_convolution, output values x input channels x kernel taps, read from
the output and weight shapes alone, so the bias is not counted; `_matmul` for aten::linear,
rows x in x out, the bias again not read; `_mul` for aten::mul, one MAC per output value.
aten::relu, aten::sigmoid, aten::tanh and the shape plumbing are in its zero-cost list. There
is a handler for aten::lstm and none for aten::gru: the trace holds nn.GRU as one aten::gru
node, which torchprofile skips with a warning, so the GRU is 0 and none of its steps is priced.

torchprofile 0.0.4 (2021) has no HANDLER_MAP but a tuple of (operators, handler) pairs, with
handlers named without the underscore: `convolution` prices aten::_convolution as 0.1.0 does;
`matmul` prices aten::linear too, reading the weight (out, in) as if it were the right operand
(in, out), which gives the same product rows x in x out; `mul` prices aten::mul. It has no
handler for aten::lstm, and aten::reshape, aten::expand, aten::permute and others are missing
from its zero-cost list, so they are skipped with the same warning (still 0). `tables` gives the
handler and zero-cost tables per version; a record whose tool version cannot be read gets 0.1.0's.

The rule model takes the operator each module's nodes ran from the probe's per-node record
(structure: which op, not how much it was priced) and the numbers from the definition, the
layer's input shape and the module's recorded options. A layer kind without a rule of its own
(norms, pooling, attention, transposed or depthwise convolution, LSTM), a module after the layer's
first that runs a priced op (a separable convolution's pointwise part) and a composite block's own
forward (its SwiGLU product) are priced node by node: each node by its handler, re-stated from the
node's recorded input and output shapes (`node_price`): _norm one per output value when the affine
weight is there (LayerNorm, BatchNorm), _avg_pool_or_mean and _mul one per output value (RMSNorm's
mean and products, attention's scale and rotary products), _matmul the product's MACs, _convolution
output values x weight channels x taps (a transposed weight's in channels: not the reference's
MACs), _lstm every cell evaluation (0.1.0 only). Nodes the trace puts in the model's own forward,
outside every submodule, are priced from their recorded shapes too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from math import prod

from bench.counters.base import BUCKET_UNDEFINED, Adapter, Item, Reading, Steps, nodes_by_module, outside_definition
from bench.counters.rules import recorded_shape, recurrent_activations, torch_modules, version
from bench.reference.formulas import FORMULAS, analyse, measure

__all__ = ["ADAPTER", "ADAPTERS", "HANDLERS", "HANDLERS_0_0", "ZERO_COST", "ZERO_COST_0_0", "Tables", "tables"]

ROOT = "(the model's own forward)"  # the probe's item for nodes outside every submodule
BUCKET_SIZES = "size arithmetic in the model's forward"
BUCKET_OWN = "the model's own forward"

# operators both releases price with their average-pool-or-mean handler
AVG_POOL_OPS = (
    "aten::adaptive_avg_pool1d",
    "aten::adaptive_avg_pool2d",
    "aten::adaptive_avg_pool3d",
    "aten::avg_pool1d",
    "aten::avg_pool2d",
    "aten::avg_pool3d",
    "aten::mean",
)

# operator -> torchprofile 0.1.0's handler for it: its whole HANDLER_MAP less the zero-cost entries
HANDLERS = {
    "aten::scaled_dot_product_attention": "_scaled_dot_product_attention",
    "aten::lstm": "_lstm",
    "aten::einsum": "_einsum",
    "aten::grid_sampler": "_grid_sampler",
    "aten::addmm": "_addmm",
    "aten::addmv": "_addmv",
    "aten::bmm": "_bmm",
    "aten::baddbmm": "_baddbmm",
    "aten::linear": "_matmul",
    "aten::matmul": "_matmul",
    "aten::mul": "_mul",
    "aten::mul_": "_mul",
    "aten::_convolution": "_convolution",
    **dict.fromkeys(("aten::batch_norm", "aten::instance_norm", "aten::layer_norm", "aten::group_norm"), "_norm"),
    **dict.fromkeys(
        AVG_POOL_OPS,
        "_avg_pool_or_mean",
    ),
    "aten::leaky_relu": "_leaky_relu",
    "aten::upsample_bilinear2d": "_upsample_bilinear2d",
}
# operators torchprofile 0.1.0 knows and prices at 0 (its _ZERO_COST_OPS, the prim:: ones left out)
ZERO_COST = {
    f"aten::{op}"
    for op in """
abs adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d add add_ alpha_dropout arange cat chunk clamp
clone constant_pad_nd contiguous copy_ cos detach div div_ dropout dropout_ embedding eq expand feature_dropout fft_fft
flatten floor floor_divide gather ge gelu gt hardtanh hardtanh_ imag index int le log2 log_softmax lt max max_pool1d
max_pool1d_with_indices max_pool2d max_pool2d_with_indices max_pool3d max_pool3d_with_indices max_unpool1d max_unpool2d
max_unpool3d ne neg permute pow real reciprocal reflection_pad1d reflection_pad2d reflection_pad3d relu relu_
replication_pad1d replication_pad2d replication_pad3d reshape rsub rsqrt scalarimplicit select sigmoid sign silu sin
size slice softmax softshrink split split_with_sizes sqrt squeeze stack sub sum t tanh threshold to transpose unflatten
unfold unsqueeze upsample_nearest2d view zeros
""".split()
}
# torchprofile 0.0.4's handlers tuple, operator by operator: 0.1.0's handlers for the operators it had already,
# named without the underscore (0.1.0 added the attention, LSTM, einsum, grid-sampler and baddbmm handlers)
NEW_IN_0_1 = ("aten::scaled_dot_product_attention", "aten::lstm", "aten::einsum", "aten::grid_sampler", "aten::baddbmm")
HANDLERS_0_0 = {op: handler.lstrip("_") for op, handler in HANDLERS.items() if op not in NEW_IN_0_1}
# operators torchprofile 0.0.4 knows and prices at 0 (the entries of its handlers tuple with None, prim:: left out)
ZERO_COST_0_0 = {
    f"aten::{op}"
    for op in """
adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d add add_ alpha_dropout cat chunk clamp clone constant_pad_nd
contiguous detach div div_ dropout dropout_ embedding eq feature_dropout flatten floor floor_divide gt hardtanh_ index
int log_softmax lt max_pool1d max_pool1d_with_indices max_pool2d max_pool2d_with_indices max_pool3d
max_pool3d_with_indices max_unpool1d max_unpool2d max_unpool3d ne reflection_pad1d reflection_pad2d reflection_pad3d
relu relu_ replication_pad1d replication_pad2d replication_pad3d rsub select sigmoid size slice softmax softshrink
squeeze stack sub sum t tanh threshold to transpose upsample_nearest2d view zeros
""".split()
}


@dataclass(frozen=True)
class Tables:
    """One torchprofile version's handlers (operator -> handler name) and zero-cost operators."""

    release: str  # which torchprofile the tables are from, for the rule words
    handlers: dict[str, str]
    zero_cost: frozenset[str]

    def skipped(self, ops: list[str]) -> list[str]:
        return [op for op in ops if op not in self.handlers and op not in self.zero_cost]


NEW = Tables("torchprofile 0.1.0", HANDLERS, frozenset(ZERO_COST))
OLD = Tables("torchprofile 0.0.4", HANDLERS_0_0, frozenset(ZERO_COST_0_0))


def tables(tool: tuple[int, ...]) -> Tables:
    """The tables of the torchprofile a record names: 0.0.x has 0.0.4's, 0.1 on (or no readable version) 0.1.0's."""
    return OLD if tool and tool < (0, 1) else NEW


MAIN_OPS = {
    "conv1d": {"aten::_convolution"},
    "conv2d": {"aten::_convolution"},
    "dense": {"aten::linear", "aten::matmul", "aten::addmm"},
}

SIZES = {
    "conv1d": "output values x input channels x kernel taps",
    "conv2d": "output values x input channels x kernel taps",
    "dense": "rows x input features x output features",
}

Shape = tuple[int, ...]


def _cost(spec: dict, in_shape: tuple) -> Counter[str]:
    return analyse({"input": list(in_shape), "layers": [dict(spec, activation="linear")]})[0].once


def _ops(nodes: list[dict]) -> list[str]:
    return list(dict.fromkeys(node["op"] for node in nodes))


def _none(ops: list[str], known: Tables) -> str:
    """Why a module is 0: its operators are zero-cost, or have no handler at all."""
    parts = []
    zero = [op for op in ops if op in known.zero_cost]
    if zero:
        parts.append(f"{', '.join(zero)} in the zero-cost list")
    skipped = known.skipped(ops)
    if skipped:
        parts.append(f"no handler for {', '.join(skipped)} (skipped)")
    return ("; ".join(parts) or "no traced node") + ": 0"


def _main(spec: dict, in_shape: tuple, config: dict, ops: list[str], known: Tables) -> tuple[Counter[str], str, int]:
    """A convolution or linear node: its handler's MACs, the bias input not read."""
    cost = _cost(spec, in_shape)
    ran = [op for op in ops if op in MAIN_OPS[spec["kind"]] and op in known.handlers]
    predicted = Counter({"mac": cost["mac"] if ran else 0})
    if config.get("bias", True) and cost["bias"]:
        predicted["bias"] = 0
    if not ran:
        return predicted, _none(ops, known), 0
    handlers = ", ".join(f"{known.handlers[op]} ({op})" for op in ran)
    return predicted, f"{handlers}: {SIZES[spec['kind']]}, the bias input not read", cost["mac"]


def _gru(spec: dict, in_shape: tuple, config: dict, ops: list[str], known: Tables) -> tuple[Counter[str], str, int]:
    """The trace holds nn.GRU as one aten::gru node; no torchprofile (0.0.4, 0.1.0) has a handler for it."""
    zero = Counter({"mac": 0, "elementwise": 0, **{f"act:{name}": 0 for name in recurrent_activations(spec) if name}})
    if config.get("bias", True):
        zero["bias"] = 0
    priced = [op for op in ops if op in known.handlers]
    if priced:
        return Counter(), f"no rule model for a GRU traced as {', '.join(priced)}", 0
    return zero, _none(ops, known), 0


def _activation(
    spec: dict, in_shape: tuple, config: dict, ops: list[str], known: Tables
) -> tuple[Counter[str], str, int]:
    priced = [op for op in ops if op in known.handlers]
    if priced:
        return Counter(), f"no rule model for an activation module traced as {', '.join(priced)}", 0
    activation = spec.get("activation", "linear")
    return (Counter() if activation == "linear" else Counter({f"act:{activation}": 0})), _none(ops, known), 0


RULES: dict[str, Callable[[dict, tuple, dict, list[str], Tables], tuple[Counter[str], str, int]]] = {
    "conv1d": _main,
    "conv2d": _main,
    "dense": _main,
    "gru": _gru,
}


# handlers whose count is a matrix product's or convolution's multiply-accumulates; the others
# (_mul, _norm, _avg_pool_or_mean, _leaky_relu, _upsample_bilinear2d) price one per output value or so
MAC_HANDLERS = {"addmm", "addmv", "bmm", "baddbmm", "matmul", "convolution", "lstm", "scaled_dot_product_attention"}


def _matmul(a: Shape, b: Shape, out: Shape) -> int:
    """torchprofile's matmul handler, case by case on the operands' ranks (aten::linear's weight (out, in)
    read as the right operand (m, p): the product is the same rows x in x out)."""
    if len(a) == 1 and len(b) == 1:
        return a[0]
    if len(a) == 1:
        return prod(b)
    if len(b) == 1:
        return prod(a)
    if len(a) == 2 and len(b) == 2:
        return a[0] * a[1] * b[1]
    return prod(out[:-2]) * a[-2] * a[-1] * b[-1]


def node_price(node: dict, handler: str) -> int:
    """What torchprofile's handler (named without its underscore) gives one traced node, re-stated
    from the node's recorded input and output shapes (0.0.4's and 0.1.0's handlers agree on these)."""
    given = [recorded_shape(s) for s in node.get("input_shapes", [])]
    out = recorded_shape(node["shape"]) or ()
    first = given[0] if given else None
    if handler in ("mul", "avg_pool_or_mean", "leaky_relu"):
        return prod(out)
    if handler == "upsample_bilinear2d":
        return 4 * prod(out)
    if handler == "norm":
        at = 1 if node["op"] in ("aten::batch_norm", "aten::instance_norm") else 2
        return prod(out) if len(given) > at and given[at] is not None else 0
    if handler == "convolution" and len(given) > 1 and given[1] is not None:
        weight = given[1]
        channels = weight[1] if out[1] == weight[0] else weight[0]
        return prod(out) * channels * prod(weight[2:])
    if handler in ("addmm", "addmv") and len(given) > 2 and given[1] and given[2]:
        return prod(given[1]) * (given[2][-1] if handler == "addmm" else 1)
    if handler in ("bmm", "baddbmm") and len(given) > 1 and given[-2] and given[-1]:
        return prod(given[-2]) * given[-1][-1]
    if handler == "matmul" and len(given) > 1 and first is not None and given[1] is not None:
        return _matmul(first, given[1], out)
    if handler == "lstm" and first is not None:
        return _lstm(first, out)
    if handler == "scaled_dot_product_attention" and len(given) > 2 and all(given[:3]):
        q, k, v = given[:3]
        return prod(q[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])
    return 0


def _lstm(x: Shape, out: Shape) -> int:
    """torchprofile 0.1.0's _lstm: rows x steps x 4 gates x hidden x (input + hidden) for one layer and
    direction. It reads the layers and directions from h_n, which the probe does not record: a stacked or
    bidirectional LSTM would depart from this and show as residual (the zoo's LSTM is neither)."""
    hidden = out[-1]
    return out[0] * out[1] * 4 * hidden * (x[-1] + hidden)


def _node_macs(node: dict, known: Tables) -> int:
    """A node in the model's own forward, priced by its handler from the recorded shapes."""
    handler = known.handlers.get(node["op"], "")
    return node_price(node, handler.lstrip("_")) if handler else 0


def _by_nodes(spec: dict, in_shape: tuple, nodes: list[dict], known: Tables) -> tuple[Counter[str], str, int]:
    """A module priced node by node, each by its handler from the recorded shapes: matrix products and
    convolutions as multiply-accumulates, the per-value handlers as element-wise ops."""
    predicted: Counter[str] = Counter()
    if spec["kind"] in FORMULAS:  # the layer's components, each said, even where nothing prices them
        predicted.update({k: 0 for k in measure(dict(spec, activation="linear"), in_shape).total()})
    said: dict[str, int] = {}
    macs = 0
    for node in nodes:
        handler = known.handlers.get(node["op"], "")
        if not handler:
            continue
        amount = node_price(node, handler.lstrip("_"))
        component = "mac" if handler.lstrip("_") in MAC_HANDLERS else "elementwise"
        predicted[component] += amount
        macs += amount if component == "mac" else 0
        key = f"{handler} ({node['op']})"
        said[key] = said.get(key, 0) + 1
    ops = _ops(nodes)
    if not said:
        return predicted, _none(ops, known), 0
    words = ", ".join(f"{key} x{count}" if count > 1 else key for key, count in said.items())
    skipped = known.skipped(ops)
    if skipped:
        words += f"; no handler for {', '.join(skipped)} (skipped)"
    return predicted, f"{words}: each node priced by its handler from its recorded shapes", macs


def read(definition: dict, probe: dict) -> Reading:
    known = tables(version(probe["provenance"]["counter_tool"]["version"]))
    counted = {item["name"]: item for item in probe["breakdown"]["items"]}
    nodes = nodes_by_module(probe)
    reading = Reading([])
    for module in torch_modules(definition, probe):
        spec, item = module.spec, counted.get(module.name)
        raw = item["raw"] if item else 0
        main = module.index == 0 and spec["kind"] != "activation"
        own = nodes.get(module.name, [])
        ops = _ops(own)
        rule = RULES.get(spec["kind"]) if main else _activation
        if rule is None or (not main and any(op in known.handlers for op in ops)):
            predicted, words, macs = _by_nodes(spec if main else {"kind": ""}, module.in_shape, own, known)
        else:
            predicted, words, macs = rule(spec, module.in_shape, module.config, ops, known)
        words = f"{words} ({known.release}'s tables)"
        reading.items.append(Item(module.name, module.layer, raw, predicted, words, macs))
        if module.index == 0 and module.cost.steps:
            reading.steps[module.layer] = _steps(ops, known, macs, module.cost.step["mac"])
    if ROOT in counted:
        reading.items.append(_own_forward(counted[ROOT], nodes.get(ROOT, []), known))
    rest = [item for name, item in counted.items() if name != ROOT]
    reading.items += [_composite_own(item, nodes, known) for item in outside_definition(definition, rest)]
    return reading


def _composite_own(item: Item, nodes: dict[str, list[dict]], known: Tables) -> Item:
    """A composite layer's own forward (a residual add, SwiGLU's product), priced node by node."""
    if item.place == BUCKET_UNDEFINED:
        return item
    predicted, words, macs = _by_nodes({"kind": ""}, (), nodes.get(item.name, []), known)
    return replace(item, predicted=predicted, rule=f"the block's own forward: {words} ({known.release}'s tables)")


def _own_forward(item: dict, nodes: list[dict], known: Tables) -> Item:
    """What the model's own forward ran outside every module: the blog's size arithmetic, traced."""
    own = [n for n in nodes if n["op"] in known.handlers]
    macs = sum(_node_macs(n, known) for n in own)
    sizes = bool(own) and all(recorded_shape(n["shape"]) == () for n in own)
    words = ", ".join(f"{known.handlers[n['op']]} ({n['op']} -> {n['shape']})" for n in own)
    if sizes:
        words += ": size arithmetic traced as ops on 0-d tensors, one MAC per output value"
    skipped = known.skipped(_ops(nodes))
    if skipped:
        words += f"; no handler for {', '.join(skipped)} (skipped, 0)"
    words = f"{words or 'no node'} ({known.release}'s tables)"
    return Item(ROOT, BUCKET_SIZES if sizes else BUCKET_OWN, item["raw"], Counter({"outside": macs}), words)


def _steps(ops: list[str], known: Tables, macs: int, step_macs: int) -> Steps:
    """Steps priced: the recurrent op's handler prices every cell evaluation (aten::lstm in 0.1.0), or no
    handler for the op the trace holds the layer as, so no step is priced."""
    priced = [op for op in ops if op in known.handlers]
    if priced and step_macs:
        return Steps(
            macs // step_macs,
            (
                f"{known.release}'s {', '.join(known.handlers[op] for op in priced)} prices the traced"
                f" {', '.join(priced)} at {macs:,} multiply-accumulates from its recorded shapes:"
                f" {macs // step_macs} steps of {step_macs:,}",
            ),
        )
    skipped = known.skipped(ops)
    if skipped:
        said = f'No handlers found: "{skipped[0]}". Skipped.'
        return Steps(
            0,
            (
                f"the trace holds the layer as one {', '.join(skipped)} node, for which {known.release} has no"
                f" handler: it skips the node with the warning '{said}', so none of the layer's steps is priced",
            ),
        )
    return Steps(0, (f"the layer's traced nodes ({', '.join(ops) or 'none'}) price none of its steps",))


ADAPTER = Adapter(
    "torchprofile",
    "torchprofile",
    read,
    outside=(
        "the torch.jit trace records the size arithmetic of the model's own forward (the blog multiplies"
        " two sizes for its reshape) as aten::mul on 0-d tensors, and torchprofile prices every aten::mul"
    ),
)
ADAPTERS = (ADAPTER,)
