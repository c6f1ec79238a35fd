"""tf.profiler's float_operation: its record read onto the model, and its rule model.

The profiler prices each graph node by the FLOPs rule TensorFlow registers for the node's op type,
applied to the shapes the graph knows; an op without a rule, or with shapes the graph does not
know, is priced 0. The rule model below re-states those rules per TensorFlow version and applies
them to the shapes, attributes and structure the probe recorded, never to the counted numbers.

Nodes go to the layer whose name scope holds them and to a reference component by op type; nodes
outside the model's work (input generator, variable initializers, scalar loop and shape
arithmetic) go to named buckets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from math import prod

from bench.counters.base import Adapter, Item, Reading, Steps
from bench.counters.rules import recorded_shape, recurrent_activations, version
from bench.reference.formulas import analyse

__all__ = ["ADAPTERS", "ADAPTER_SEED", "ADAPTER_FROZEN", "ADAPTER_KERAS3", "rule_status"]

Shape = tuple[int, ...]

MAC_OPS = {
    "Conv2D",
    "Conv1D",
    "MatMul",
    "BatchMatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
    "DepthwiseConv2dNative",
    "Conv2DBackpropInput",
}
ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax", "Elu": "elu"}
ELEMENTWISE_OPS = {"Add", "AddV2", "Sub", "Mul", "Minimum", "Maximum", "RealDiv", "Neg", "Square"}
LOOP_OPS = {"While", "StatelessWhile"}

BUCKET_INITIALIZERS = "variable initializers"
BUCKET_INPUT = "input generator"
BUCKET_SCALARS = "scalar loop and shape arithmetic"
BUCKET_OTHER = "other graph ops outside any layer"


# --- the rule model: TensorFlow's registered FLOPs rules --------------------------------------


@dataclass(frozen=True)
class Priced:
    flops: int
    macs: int = 0


def _elements(shapes: list[Shape | None], per: int = 1) -> Priced | None:
    first = shapes[0]
    return None if first is None else Priced(prod(first) * per)


def _out(per: int = 1) -> Callable[[dict], Priced | None]:
    """Binary element-wise ops: `per` FLOPs per output value."""
    return lambda node: _elements([recorded_shape(node["shape"])], per)


def _in(per: int = 1, minus: int = 0) -> Callable[[dict], Priced | None]:
    """Unary ops: `per` FLOPs per value of the first input."""

    def rule(node: dict) -> Priced | None:
        priced = _elements([_input(node, 0)], per)
        return priced and Priced(priced.flops - minus)

    return rule


def _input(node: dict, index: int) -> Shape | None:
    shapes = node.get("input_shapes", [])
    return recorded_shape(shapes[index]) if index < len(shapes) else None


def _matmul(node: dict) -> Priced | None:
    """2 x k x outputs, k the inner dimension of the first operand."""
    a, out = _input(node, 0), recorded_shape(node["shape"])
    if a is None or out is None or len(a) != 2:
        return None
    k = a[0] if node.get("attrs", {}).get("transpose_a") else a[1]
    return Priced(2 * k * prod(out), k * prod(out))


def _conv2d(node: dict) -> Priced | None:
    """2 x outputs x kernel height x kernel width x input channels (the filter's first three dims)."""
    kernel, out = _input(node, 1), recorded_shape(node["shape"])
    if kernel is None or out is None:
        return None
    macs = prod(out) * prod(kernel[:3])
    return Priced(2 * macs, macs)


def _batch_matmul(node: dict) -> Priced | None:
    """2 x k x outputs, k the LAST dimension of the first operand whatever its adjoint: TensorFlow's rule
    reads a `transpose_a` attribute, which BatchMatMul ops do not have (theirs is `adj_x`)."""
    a, out = _input(node, 0), recorded_shape(node["shape"])
    if a is None or out is None or len(a) < 2:
        return None
    return Priced(2 * a[-1] * prod(out), a[-1] * prod(out))


def _conv2d_backprop_input(node: dict) -> Priced | None:
    """A transposed conv: 2 x outputs x filter elements / (output channels x stride product), floored
    (flops_registry.py's formula; Python 2's `/` floors, and so does the profiler's integer count)."""
    kernel, out, strides = _input(node, 1), recorded_shape(node["shape"]), node.get("attrs", {}).get("strides")
    if kernel is None or out is None or not strides:
        return None
    macs = prod(out) * prod(kernel) // (out[-1] * strides[1] * strides[2])
    return Priced(2 * macs, macs)


def _backprop_shapes_known(node: dict) -> bool:
    return _input(node, 1) is not None and recorded_shape(node["shape"]) is not None


def _depthwise(node: dict) -> Priced | None:
    """2 x outputs x kernel height x kernel width."""
    kernel, out = _input(node, 1), recorded_shape(node["shape"])
    if kernel is None or out is None:
        return None
    macs = prod(out) * prod(kernel[:2])
    return Priced(2 * macs, macs)


def _reduction(reduce: int, finalize: int) -> Callable[[dict], Priced | None]:
    def rule(node: dict) -> Priced | None:
        given, out = _input(node, 0), recorded_shape(node["shape"])
        if given is None or out is None:
            return None
        return Priced(prod(given) * reduce + prod(out) * (finalize - reduce))

    return rule


def _add_n(node: dict) -> Priced | None:
    given = _input(node, 0)
    return None if given is None else Priced((len(node["inputs"]) - 1) * prod(given))


def _pool(node: dict) -> Priced | None:
    out = recorded_shape(node["shape"])
    return None if out is None else Priced(prod(node.get("attrs", {}).get("ksize", [1])) * prod(out))


@dataclass(frozen=True)
class Rule:
    price: Callable[[dict], Priced | None]
    words: str  # the rule, as the report states it
    since: tuple[int, ...] = (0,)  # first TensorFlow version that registers it
    # whether TensorFlow can price the node (its shapes are known), where that needs less than the price
    known: Callable[[dict], bool] | None = None


PER_OUTPUT, PER_INPUT = "1 FLOP per output value", "1 FLOP per input value"
BINARY = ("Add", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Pow")
COMPARISONS = ("GreaterEqual", "Greater", "LessEqual", "Less", "Equal", "NotEqual")
RULES: dict[str, Rule] = {
    "MatMul": Rule(_matmul, "2 FLOPs per multiply-accumulate"),
    "Conv2D": Rule(_conv2d, "2 FLOPs per multiply-accumulate"),
    "DepthwiseConv2dNative": Rule(_depthwise, "2 FLOPs per multiply-accumulate"),
    # profiler/internal/flops_registry.py registers it in every version measured here (1.12.0 to 2.21.0).
    "Conv2DBackpropInput": Rule(
        _conv2d_backprop_input,
        "2 x outputs x filter elements / (output channels x strides)",
        known=_backprop_shapes_known,
    ),
    # Absent in 1.12.0 and present in 2.5.3 (math_ops.py; flops_registry.py by 2.21.0 with BatchMatMulV3),
    # both measured here; added by TensorFlow pull request 30575 (2019), so in 2.x.
    **{
        op: Rule(_batch_matmul, "2 x last dimension of the first operand x outputs", since=(2, 0))
        for op in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
    },
    "BiasAdd": Rule(_in(), PER_INPUT),
    **{op: Rule(_out(), PER_OUTPUT) for op in BINARY + COMPARISONS},
    "SquaredDifference": Rule(_out(2), "2 FLOPs per output value"),
    "RsqrtGrad": Rule(_out(4), "4 FLOPs per output value"),
    # Absent in 2.5.3 and present in 2.21.0, both measured here; the first version between them that
    # registers it is not pinned down (a cell in between would show the difference as residual).
    "AddV2": Rule(_out(), PER_OUTPUT, since=(2, 6)),
    **{op: Rule(_in(), PER_INPUT) for op in ("Reciprocal", "Square", "Log", "Neg", "AssignSub", "AssignAdd")},
    "Rsqrt": Rule(_in(2), "2 FLOPs per input value"),
    "Softmax": Rule(_in(5), "5 FLOPs per input value"),
    "L2Loss": Rule(_in(3, minus=1), "3 FLOPs per input value, less 1"),
    "Mean": Rule(_reduction(1, 1), "1 FLOP per input value"),
    **{
        op: Rule(_reduction(1, 0), "1 FLOP per input value less 1 per output")
        for op in ("Sum", "ArgMax", "ArgMin", "BiasAddGrad")
    },
    "AddN": Rule(_add_n, "1 FLOP per value for each input after the first"),
    "AvgPool": Rule(_pool, "1 FLOP per window tap per output"),
    "MaxPool": Rule(_pool, "1 FLOP per window tap per output"),
}


def rules_for(tf_version: tuple[int, ...], own: dict[str, Rule] | None = None) -> dict[str, Rule]:
    """The rules TensorFlow has at this version, plus any a library registers with it (`own`)."""
    return {op: rule for op, rule in RULES.items() if tf_version >= rule.since} | (own or {})


def rule_status(node: dict, tf_version: tuple[int, ...], own: dict[str, Rule] | None = None) -> str:
    """What the rule model expects TensorFlow to say of the node: counted, no-rule or shape-unknown."""
    return _status(node, rules_for(tf_version, own))


def _status(node: dict, rules: dict[str, Rule]) -> str:
    rule = rules.get(node["op"])
    if rule is None:
        return "no-rule"
    known = rule.known(node) if rule.known else rule.price(node) is not None
    return "counted" if known else "shape-unknown"


def _predict(node: dict, rules: dict[str, Rule], version_text: str) -> tuple[Priced, str]:
    rule = rules.get(node["op"])
    if rule is None:
        return Priced(0), f"no FLOPs rule for {node['op']} in TensorFlow {version_text}"
    priced = rule.price(node)
    if priced is None:
        return Priced(0), f"{node['op']} with shapes the graph does not know, priced 0"
    return priced, f"{node['op']}: {rule.words}"


# --- mapping nodes onto the model -------------------------------------------------------------


def _layer_of(segments: list[str], layer_names: set[str]) -> str | None:
    """The layer whose name scope holds the node: its name, or its name with the suffix TensorFlow adds to
    make a scope unique in a graph (Keras 3 traces its layers as `conv_1`, `gru_1`, ...)."""
    for segment in segments[:-1]:
        if segment in layer_names:
            return segment
        base, _, number = segment.rpartition("_")
        if number.isdigit() and base in layer_names:
            return base
    return None


def hard_sigmoid_nodes(nodes: dict[str, dict]) -> set[str]:
    """Keras's hard_sigmoid: clip_by_value(0.2 * x + 0.5, 0, 1) = Mul, Add, Minimum, Maximum."""
    found = set()
    for node in nodes.values():
        if node["op"] != "Minimum" or not any(s.startswith("clip_by_value") for s in node["name"].split("/")):
            continue
        found.add(node["name"])
        found.update(n["name"] for n in nodes.values() if n["op"] == "Maximum" and node["name"] in n["inputs"])
        for offset in (nodes[i] for i in node["inputs"] if nodes.get(i, {}).get("op") in ("Add", "AddV2")):
            found.add(offset["name"])
            found.update(i for i in offset["inputs"] if nodes.get(i, {}).get("op") == "Mul")
    return found


def _component(node: dict, spec: dict, hard_sigmoid: set[str]) -> tuple[str, str]:
    """(reference component, cause override) of a node inside a layer."""
    op = node["op"]
    if node["name"] in hard_sigmoid:
        return f"act:{recurrent_activations(spec)[1]}", "activation_as_ops"
    if op in MAC_OPS:
        return "mac", ""
    if op == "BiasAdd":
        return "bias", ""
    if op in ACTIVATION_OPS:
        return f"act:{ACTIVATION_OPS[op]}", ""
    if op in ELEMENTWISE_OPS:
        return "elementwise", ""
    return "other", ""


def _with_strides(node: dict, spec: dict | None) -> dict:
    """The node with the strides its layer's definition gives, where the record lacks the attribute (the
    probe records only the attributes the rules of its time read; Conv2DBackpropInput's rule reads strides)."""
    attrs = node.get("attrs", {})
    if "strides" in attrs or spec is None or "strides" not in spec:
        return node
    return {**node, "attrs": {**attrs, "strides": [1, *spec["strides"], 1]}}


def _place(node: dict, segments: list[str], layer: str | None) -> str:
    if "Initializer" in segments:
        return BUCKET_INITIALIZERS
    if node["shape"] == "()":
        return BUCKET_SCALARS
    if layer is None:
        return BUCKET_INPUT if segments[0].startswith("random_normal") else BUCKET_OTHER
    return layer


def read(definition: dict, probe: dict) -> Reading:
    """Every node the profiler priced, or that does a layer's work, placed and predicted."""
    return read_with(definition, probe, probe["provenance"]["counter_tool"]["version"])


def read_with(definition: dict, probe: dict, tool_version: str, own: dict[str, Rule] | None = None) -> Reading:
    """`read` at a given TensorFlow version, with the rules a library registers with it (`own`)."""
    rules = rules_for(version(tool_version), own)
    specs = {spec["name"]: spec for spec in definition["layers"]}
    nodes = {node["name"]: node for node in probe["nodes"]}
    hard_sigmoid = hard_sigmoid_nodes(nodes)
    costs = analyse(definition)
    recurrent = {cost.name for cost in costs if cost.steps}
    items = []
    for node in probe["nodes"]:
        segments = node["name"].split("/")
        layer = _layer_of(segments, set(specs))
        place = _place(node, segments, layer)
        priced, rule = _predict(_with_strides(node, specs.get(place)), rules, tool_version)
        if place in specs:
            component, cause = _component(node, specs[place], hard_sigmoid)
            if component == "other" and not (priced.flops or node["raw"]):
                continue  # moves data, computes nothing: no evidence either way
        elif priced.flops or node["raw"]:
            component, cause = "outside", ""
        else:
            continue
        where = ""
        if place in recurrent:
            where = "loop body" if any(s.startswith("while") for s in segments[:-1]) else "outside the loop"
        items.append(
            Item(node["name"], place, node["raw"], Counter({component: priced.flops}), rule, priced.macs, where, cause)
        )
    reading = Reading(items)
    for cost in costs:
        if cost.steps:
            layer_nodes = [n for n in probe["nodes"] if _layer_of(n["name"].split("/"), {cost.name})]
            reading.steps[cost.name] = _steps(reading.at(cost.name), layer_nodes, cost.step["mac"], rules)
    built = {row["name"]: row for row in probe["layers"]}
    for name, spec in specs.items():
        wanted = spec.get("recurrent_activation")
        actual = built.get(name, {}).get("config", {}).get("recurrent_activation")
        if wanted and actual and actual != wanted:
            reading.notes.setdefault(name, []).append(
                f"built with recurrent_activation={actual} (this Keras's default) where the definition and"
                f" PyTorch use {wanted}"
            )
    return reading


def _steps(items: list[Item], nodes: list[dict], step_macs: int, rules: dict[str, Rule]) -> Steps:
    """Steps priced = multiply-accumulates the rule model sees priced in the layer / one step's MACs:
    each copy of the step the graph holds with known shapes is one step priced. The examples it names
    come in name order: a graph lists its nodes in an order that differs from run to run."""
    items = sorted(items, key=lambda item: item.name)
    nodes = sorted(nodes, key=lambda node: node["name"])
    body = [i for i in items if i.where == "loop body"]
    outside = [i for i in items if i.where == "outside the loop"]
    body_macs, outside_macs = sum(i.macs for i in body), sum(i.macs for i in outside)
    priced = (body_macs + outside_macs) // step_macs if step_macs else 0
    why = []
    loops = [n for n in nodes if n["op"] in LOOP_OPS]
    unknown = [
        n for n in nodes if "/while/" in n["name"] and n["op"] in MAC_OPS and _status(n, rules) == "shape-unknown"
    ]
    if body_macs and unknown:
        why.append(
            "a static graph holds the loop body once, and only part of its step has shapes the graph knows:"
            f" {_names([i for i in body if i.macs])} priced, {', '.join(n['name'] for n in unknown[:2])} priced 0"
            f" (less than one step: {body_macs:,} of the step's {step_macs:,} multiply-accumulates)"
        )
    elif body_macs:
        why.append(
            "a static graph holds the loop body once, so its step is priced once"
            f" ({_names([i for i in body if i.macs])})"
        )
    elif body:
        unknown = [n for n in nodes if "/while/" in n["name"] and _status(n, rules) == "shape-unknown"]
        why.append(
            "the loop body's ops have shapes the graph does not know, so the profiler prices them 0"
            f" ({len(unknown)} ops, e.g. {', '.join(n['name'] for n in unknown[:2])})"
        )
    elif loops:
        why.append(
            f"the loop is a {loops[0]['op']} op ({loops[0]['name']}) whose body is a function the profiler"
            " does not open"
        )
    copies = outside_macs // step_macs if step_macs else 0
    if copies and (body or loops):
        why.append(
            f"{copies} more copy of the step sits outside the loop: Keras's backend.rnn runs the step on time"
            f" step 0 to learn the output's shape and discards the result ({_names([i for i in outside if i.macs])})"
        )
    elif copies:
        why.append(f"the layer is unrolled: the graph holds {copies} copies of the step outside any loop")
    return Steps(priced, tuple(why))


def _names(items: list[Item], limit: int = 3) -> str:
    names = [item.name for item in items]
    more = f", ... {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _status_in(node: dict, probe: dict) -> str:
    return rule_status(node, version(probe["provenance"]["counter_tool"]["version"]))


ADAPTER_SEED = Adapter(
    "tf-profiler-seed",
    "tf.profiler",
    read,
    outside="the recipe profiles the whole graph it built, not just the model",
    rule_status=_status_in,
)
ADAPTER_FROZEN = Adapter("tf-profiler-frozen", "tf.profiler", read, rule_status=_status_in)
# Keras 3 on TensorFlow, profiled the TF2 way: the same graph counter, read the same way
ADAPTER_KERAS3 = Adapter("keras3-tf-frozen", "tf.profiler", read, rule_status=_status_in)
ADAPTERS = (ADAPTER_SEED, ADAPTER_FROZEN, ADAPTER_KERAS3)
