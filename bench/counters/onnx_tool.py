"""onnx-tool over an ONNX export of the model: its per-node record read onto the layers, and its rule model.

onnx-tool (1.0.1) prices each ONNX node by the profiler class its registry gives the op type, from the
node's inferred shapes; model_profile hides its NoMacsOps (Reshape, Squeeze, Concat, Gather, ...), which
are not profiled at all. It calls every figure MACs; the rule model re-states its node.py per op type:
- Conv: output values x kernel volume (channels per group x taps); + 1 per output value when the node
  has a bias input;
- Gemm: output values x the contracted size (from B, transB honoured), + 1 per output value for C;
  MatMul: output values x B's second-to-last dimension;
- element-wise ops with several inputs (Add, Sub, Mul, Div, Max, Min, ...): output values x
  (inputs - 1) x the op's price; one-input ops (Relu, Sigmoid, Tanh, ...): output values x the op's
  ratio x its price. Prices are its instruction estimates: 1 per add, multiply or compare, 4 per divide,
  32 per exp or sigmoid, 38 per tanh (x2: its ratio for Tanh is 2);
- GRU: (W + R volumes) x batch x seq products, B's volume x batch x seq bias adds, and per output value
  3 gate adds, 2 sigmoids (32 each), 1 tanh (38) and 5 blend ops; LSTM likewise with 4 gate adds,
  3 sigmoids, 2 tanh and 4 blend ops. Its activations attribute is not read;
- shape plumbing (Transpose, Expand, Identity, Dropout, ...): 0; an op type it has no profiler for is
  0 with its warning ("node X is not registed for profiling"), kept as data.
Every price is predicted from the recorded op type, shapes, attributes and which inputs are weights,
never from the counted number. Nodes are placed on layers by the scope in their names (torch: the
module path; tf2onnx: the Keras layer's name scope); a node without one (tf2onnx's fused GRU__n) goes,
if it is a recurrent op, to the next recurrent layer of its kind, else to the layer of the node whose
output it reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from math import prod

from bench.counters.base import Adapter, Item, Reading, Steps
from bench.counters.rules import recorded_shape
from bench.reference.formulas import LayerCost, analyse

__all__ = ["ADAPTERS", "ADAPTER_KERAS", "ADAPTER_TORCH", "Priced", "price"]

BUCKET = "nodes outside the layers"
ADD = MUL = CMP = 1  # onnx-tool's ADD_MACS, MUL_MACS, CMP_MACS
DIV = 4  # DIV_MACS
EXP = 32  # EXP_MACS (its sigmoid too)
TANH = EXP + 2 * ADD + DIV  # TANH_MACS
SQRT = 24
BATCH_NORM = ADD + SQRT + DIV + ADD + MUL  # BatchNormalizationNode: per output value

# op -> (price per value, ratio or None for max(1, inputs - 1)): NpMathBase and PWNode profilers
PER_VALUE: dict[str, tuple[int, int | None]] = {
    "Add": (ADD, None),
    "Sub": (ADD, None),
    "Mul": (MUL, None),
    "Div": (DIV, None),
    "Max": (ADD, None),
    "Min": (CMP, None),
    "Neg": (CMP, None),
    "Abs": (CMP, None),
    "Mod": (ADD, None),
    "Relu": (CMP, None),
    "LeakyRelu": (MUL + CMP, None),
    "PRelu": (CMP + MUL, 1),
    "Clip": (2 * CMP, 1),
    "Sigmoid": (EXP, 1),
    "Exp": (EXP, 1),
    "Softmax": (EXP + DIV, 1),
    "Tanh": (TANH, 2),
    "Elu": (CMP + EXP + ADD + MUL, 1),
    "Silu": (EXP + MUL, None),
    "Gelu": (EXP + 2 * MUL, None),
    "Softplus": (EXP + ADD + 43, 1),
    "Sqrt": (SQRT, None),
    "Reciprocal": (DIV, None),
    "Pow": (EXP, None),  # POW_MACS = EXP_MACS
    # LessNode and its kin, EqualNode, GreaterNode: 1 compare per output value
    **dict.fromkeys(
        ("Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal", "Not", "And", "Or", "Xor", "Round"), (CMP, 1)
    ),
}
# ONNX op -> the Keras name of the activation it computes
ACTIVATIONS = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Softmax": "softmax",
    "Elu": "elu",
    "Softplus": "softplus",
    "LeakyRelu": "leaky_relu",
    "Exp": "exponential",
    "Gelu": "gelu",
    "Silu": "silu",
}
# Node.profile's 0: no profile of their own (Erf and Dropout via FusedBase)
ZERO = {"Transpose", "Expand", "Identity", "Dropout", "Flatten", "Tile", "Pad", "Slice", "Cast", "Shape", "Erf"}
ZERO |= {"Where"}
RECURRENT = {"GRU": "gru", "LSTM": "lstm", "RNN": "simple_rnn"}
# recurrent op -> (gates, gate adds, sigmoids, tanh evaluations, blend ops) per output value
CELLS = {"GRU": (3, 3, 2, 1, 5), "LSTM": (4, 4, 3, 2, 4)}

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Priced:
    """What onnx-tool's profiler gives one node, split into parts: mac, bias, elementwise, act:<op>."""

    parts: Counter[str]
    rule: str

    @property
    def macs(self) -> int:
        return self.parts["mac"]


def _ins(node: dict) -> list[Shape]:
    return [recorded_shape(s, signed=True) or () for s in node["input_shapes"]]


# op -> onnx-tool's words for its products: output values x the weight's volume past its first dimension
CONVOLUTIONS = {
    "Conv": "ConvNode: output values x kernel volume (channels per group x taps)",
    "ConvTranspose": "ConvTransposeNode: output values x weight volume past its input channels",
}


def _conv(node: dict, out: int) -> Priced:
    """ConvNode and ConvTransposeNode alike: the weight's first dimension is the one not multiplied (the
    output channels of a Conv, the input channels of a ConvTranspose)."""
    weight = _ins(node)[1]
    parts = Counter({"mac": out * prod(weight[1:])})
    words = CONVOLUTIONS[node["op"]]
    if len(node["inputs"]) == 3:
        parts["bias"] = out * ADD
        words += ", + 1 per output value for its bias input"
    return Priced(parts, words)


def _gemm(node: dict, out: int) -> Priced:
    weight = _ins(node)[1]
    if node["op"] == "Gemm":
        inner = weight[-1] if node["attrs"].get("transB", 0) else weight[-2]
        words = "GemmNode: output values x contracted size"
    else:
        inner = weight[-2] if len(weight) > 1 else 1
        words = "MatMulNode: output values x B's rows"
    parts = Counter({"mac": out * inner})
    if len(node["inputs"]) == 3:
        parts["bias"] = out * ADD
        words += ", + 1 per output value for C"
    return Priced(parts, words)


def _recurrent(node: dict, out: int) -> Priced:
    x, w, r, b = (_ins(node) + [(), (), (), ()])[:4]
    seq, batch = x[0], x[1]
    gates, adds, sigmoids, tanhs, blend = CELLS[node["op"]]
    hidden = w[1] // gates
    values = batch * seq * hidden
    parts = Counter(
        {
            "mac": (prod(w) + prod(r)) * batch * seq,
            "bias": prod(b) * ADD * batch * seq,
            "elementwise": values * (adds + blend),
            "act:sigmoid": values * sigmoids * EXP,
            "act:tanh": values * tanhs * TANH,
        }
    )
    words = (
        f"{node['op']}Node: (W + R) x batch x seq products, B x batch x seq adds; per output value {adds} gate"
        f" adds + {blend} blend ops, {sigmoids} sigmoid(s) at {EXP}, {tanhs} tanh at {TANH}"
    )
    return Priced(parts, words)


def _normalising(node: dict, out: int) -> Priced | None:
    """Pools and normalisations, all element-wise work in the reference."""
    op, given = node["op"], _ins(node)[0] if node["input_shapes"] else ()
    if op in ("AveragePool", "MaxPool"):
        taps = prod(node["attrs"].get("kernel_shape", [3, 3]))  # PoolBase's default kernel is 3 x 3
        return Priced(Counter({"elementwise": out * taps * CMP}), f"{op}Node: output values x kernel taps")
    if op == "GlobalAveragePool":
        parts = Counter({"elementwise": prod(given) * ADD + out * DIV})
        return Priced(parts, "GlobalAveragePoolNode: 1 per input value + 4 per output value")
    if op == "BatchNormalization":
        return Priced(Counter({"elementwise": out * BATCH_NORM}), f"BatchNormalizationNode: {BATCH_NORM} per output")
    if op == "ReduceMean":
        return Priced(Counter({"elementwise": prod(given) * ADD}), "ReduceMeanNode: 1 per input value")
    if op == "LayerNormalization":
        axis = node["attrs"].get("axis", -1)
        rows = prod(given) // given[axis] if given else 0
        parts = Counter({"elementwise": prod(given) * (3 * MUL + 4 * ADD) + rows * (ADD + SQRT + DIV)})
        return Priced(parts, "LayerNormalizationNode: 7 per input value + 29 per normalised row")
    return None


def price(node: dict) -> Priced:
    """onnx-tool 1.0.1's MACs for one recorded node, from its op type, shapes and attributes."""
    op, attrs = node["op"], node["attrs"]
    out_shape = recorded_shape(node["shape"], signed=True)
    out = prod(out_shape) if out_shape is not None else 0
    if str(attrs.get("profiler", "")).startswith("hidden"):
        return Priced(Counter(), f"{op}: hidden by model_profile (NoMacsOps), not profiled: 0")
    if node["rule"] == "no-rule":
        return Priced(Counter(), f"{op}: not registered for profiling in onnx-tool: 0")
    if op in CONVOLUTIONS:
        return _conv(node, out)
    if op in ("Gemm", "MatMul"):
        return _gemm(node, out)
    if op in CELLS:
        return _recurrent(node, out)
    normalising = _normalising(node, out)
    if normalising is not None:
        return normalising
    if op in PER_VALUE:
        each, ratio = PER_VALUE[op]
        times = ratio if ratio is not None else max(1, len(node["inputs"]) - 1)
        part = f"act:{ACTIVATIONS[op]}" if op in ACTIVATIONS else "elementwise"
        return Priced(Counter({part: out * times * each}), f"{op}: output values x {times} x {each}")
    if op in ZERO:
        return Priced(Counter(), f"{op}: moves data, 0")
    return Priced(Counter(), f"no rule model for the ONNX op {op}")


def _components(priced: Priced, node: dict, spec: dict | None) -> Counter[str]:
    """The parts as the reference's components: a weight added in a conv or dense layer is its bias; a
    recurrent op's sigmoid and tanh are the layer's recurrent activation and activation."""
    parts = Counter(priced.parts)
    if spec is None:
        return Counter({"outside": sum(parts.values())}) if parts else Counter()
    if node["op"] in CELLS:
        renamed = Counter({k: v for k, v in parts.items() if not k.startswith("act:")})
        renamed[f"act:{spec.get('recurrent_activation', 'sigmoid')}"] += parts["act:sigmoid"]
        renamed[f"act:{spec.get('activation', 'tanh')}"] += parts["act:tanh"]
        return renamed
    if node["op"] in ("Add", "Sub") and node["attrs"].get("weights") and spec["kind"] in ("conv1d", "conv2d", "dense"):
        return Counter({"bias": parts["elementwise"]})
    return parts


Placer = Callable[[str, dict], str | None]


def torch_place(scope: str, definition: dict) -> str | None:
    """A torch.onnx node's scope is its module path (`/fc/MatMul` -> `fc`)."""
    modules = {name: spec["name"] for spec in definition["layers"] for name in spec["torch"]}
    return modules.get(scope.replace("/", "."))


def keras_place(scope: str, definition: dict) -> str | None:
    """A tf2onnx node's scope holds the Keras layer's name scope (`model/conv/Conv2D` -> `conv`)."""
    names = {spec["name"] for spec in definition["layers"]}
    for part in scope.split("/")[1:]:
        base, _, number = part.rpartition("_")
        if part in names or (number.isdigit() and base in names):  # Keras 3 makes scopes unique: `embed_1`
            return part if part in names else base
    return None


def _place(definition: dict, nodes: list[dict], placer: Placer) -> dict[str, str | None]:
    """node -> layer: by scope; unscoped recurrent ops in order onto recurrent layers of their kind;
    the rest after the node whose output they read."""
    placed: dict[str, str | None] = {}
    queues = {kind: [s["name"] for s in definition["layers"] if s["kind"] == kind] for kind in RECURRENT.values()}
    for node in nodes:
        layer = placer(node["attrs"].get("module", ""), definition)
        if layer and node["op"] in RECURRENT and layer in queues[RECURRENT[node["op"]]]:
            queues[RECURRENT[node["op"]]].remove(layer)
        placed[node["name"]] = layer
    producers = {out: n["name"] for n in nodes for out in n["attrs"].get("outputs", [])}
    for node in nodes:
        if placed[node["name"]] or node["op"] == "Constant":
            continue
        if node["op"] in RECURRENT and queues[RECURRENT[node["op"]]]:
            placed[node["name"]] = queues[RECURRENT[node["op"]]].pop(0)
            continue
        weights = set(node["attrs"].get("weights", []))
        feeding = [producers.get(i, i) for i in node["inputs"] if i and i not in weights]
        placed[node["name"]] = next((placed.get(f) for f in feeding if placed.get(f)), None)
    return placed


def read(definition: dict, probe: dict, placer: Placer) -> Reading:
    nodes = probe["nodes"]
    specs = {spec["name"]: spec for spec in definition["layers"]}
    costs = {cost.name: cost for cost in analyse(definition)}
    placed = _place(definition, nodes, placer)
    rows = []
    for node in nodes:
        layer = placed[node["name"]]
        spec = specs.get(layer) if layer else None
        priced = price(node)
        predicted = _components(priced, node, spec)
        if node["rule"] == "no-rule" and spec is not None:
            predicted = Counter(dict.fromkeys(costs[spec["name"]].total(), 0))
        rows.append((node, layer, priced, predicted))
    reading = Reading([])
    for layer in specs:
        _no_bias_add(costs[layer], [row for row in rows if row[1] == layer], reading)
    for node, layer, priced, predicted in rows:
        where = "the recurrent op" if node["op"] in CELLS else ""
        reading.items.append(
            Item(node["name"], layer or BUCKET, node["raw"], predicted, priced.rule, priced.macs, where)
        )
    for cost in costs.values():
        if cost.steps:
            reading.steps[cost.name] = _steps(cost, [n for n in nodes if placed[n["name"]] == cost.name])
    said = list(probe.get("unsupported", []))
    for layer in specs:
        missing = [n["op"] for n in nodes if placed[n["name"]] == layer and n["rule"] == "no-rule"]
        if missing:
            reading.notes.setdefault(layer, []).append(
                f"onnx-tool has no profiler for {', '.join(missing)}: {'; '.join(said)}"
            )
    return reading


def _no_bias_add(cost: LayerCost, rows: list[tuple], reading: Reading) -> None:
    """A layer with a bias whose export holds no bias add: its product node predicts 0 bias adds, said so."""
    if not cost.total()["bias"] or any(row[3]["bias"] for row in rows):
        return
    main = next((row for row in rows if row[2].macs), None)
    if main is None:
        return
    main[3]["bias"] = 0
    reading.notes.setdefault(cost.name, []).append(
        f"the export holds no bias add for {cost.name}: its {main[0]['op']} node ({main[0]['name']}) has"
        f" {len(main[0]['inputs'])} inputs and no Add reads a weight, so onnx-tool prices no bias"
    )


def _steps(cost: LayerCost, nodes: list[dict]) -> Steps:
    """Steps priced: the recurrent op's products over one step's, from the recorded shapes."""
    cells = [n for n in nodes if n["op"] in CELLS]
    macs = sum(price(n).macs for n in nodes)
    priced = macs // cost.step["mac"] if cost.step["mac"] else 0
    if not cells:
        kinds = ", ".join(sorted({n["op"] for n in nodes})) or "no node"
        return Steps(priced, (f"the export holds {cost.name} as {kinds}, no recurrent op: {priced} steps' worth",))
    x = recorded_shape(cells[0]["input_shapes"][0], signed=True) or ()
    why = (
        f"the export holds {cost.name} as one ONNX {cells[0]['op']} op ({cells[0]['name']}) whose input X is"
        f" {x} (seq_length, batch_size, input_size); onnx-tool prices it over seq_length x batch_size rows:"
        f" {priced} steps' worth of products"
    )
    return Steps(priced, (why,))


ADAPTER_TORCH = Adapter("onnx-tool-torch", "onnx-tool", partial(read, placer=torch_place))
ADAPTER_KERAS = Adapter("onnx-tool-keras", "onnx-tool", partial(read, placer=keras_place))
ADAPTERS = (ADAPTER_TORCH, ADAPTER_KERAS)
