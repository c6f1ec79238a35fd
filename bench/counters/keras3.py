"""The host side of Keras 3 + JAX's XLA cost analysis, and its rule model.

jax gives XLA's HloCostAnalysis as one number for the compiled module, so the rule model prices the
compiled module's recorded HLO instructions with XLA's rules (HloCostAnalysis) and the reconciliation
compares the sum with that total:
- dot: 2 FLOPs per multiply-accumulate, output elements x contracted elements;
- convolution: 2 x batch x input features per group x output features x the (output position, kernel
  tap) pairs per spatial dimension that land on a real input element: taps on padding or on the holes
  of lhs dilation (a transposed conv) are not priced (GetConvolutionFlops);
- element-wise ops (add, multiply, maximum, negate, divide, compare, select...): 1 FLOP per output element;
  transcendental ones (exponential, tanh, logistic, rsqrt, sqrt, power, erf) go to `transcendentals`;
- data movement (copy, transpose, broadcast, bitcast, slices, tuples, constants): 0;
- fusion and call: what their computations hold; while: its body and condition priced ONCE, whatever
  the trip count, the loop counter's increment and compare included;
- reduce and reduce-window: their reducer's FLOPs once per application;
- the total: HloCostAnalysis keeps its properties as float32, summed per computation, so a total above
  2^24 is rounded (measured with jax 0.10.2: a GRU whose total is 227,120,448 + 2 reports 227,120,448).
Instructions are placed on layers by their metadata op_name (`.../functional/<layer>/...`), or by the
instruction that calls their computation. Keras's zero-initialised biases are constants in the jitted
function and XLA simplifies their adds away, so no bias add is left to price.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from dataclasses import dataclass
from math import prod

from bench.counters.base import Adapter, Item, Reading, Steps
from bench.counters.rules import recurrent_activations
from bench.reference.formulas import analyse

BUCKET_OUTSIDE = "outside the model"
BUCKET_ROUNDING = "float32 rounding of the total"
ELEMENTWISE = {
    "abs",
    "add",
    "and",
    "ceil",
    "clamp",
    "compare",
    "convert",
    "divide",
    "floor",
    "maximum",
    "minimum",
    "multiply",
    "negate",
    "not",
    "or",
    "remainder",
    "round-nearest-even",
    "select",
    "sign",
    "subtract",
    "xor",
}
# HloCostAnalysis::HandleElementwiseOp puts these in `transcendentals`, not `flops`
TRANSCENDENTAL = {
    "atan2",
    "cbrt",
    "cosine",
    "erf",
    "exp",
    "exponential",
    "exponential-minus-one",
    "log",
    "log-plus-one",
    "logistic",
    "power",
    "rsqrt",
    "sine",
    "sqrt",
    "tan",
    "tanh",
}
# callers whose computation XLA prices once per application, scaled by how many applications there are
REDUCERS = ("reduce", "reduce-window")
CALLERS = ("calls", "body", "condition", "to_apply")


@dataclass(frozen=True)
class Priced:
    flops: int
    macs: int
    rule: str


def dims(shape: str) -> list[int]:
    """The dimensions of an HLO array shape like f32[1,96]."""
    found = re.match(r"^\w+\[([\d,]*)\]", shape)
    return [int(d) for d in found.group(1).split(",") if d] if found else []


def window(text: str) -> list[dict[str, int]]:
    """Per spatial dimension of an HLO window like {size=3x3 stride=2x2 pad=1_1x1_1 lhs_dilate=2x2}."""
    fields = dict(re.findall(r"(\w+)=([\w_]+)", text))
    size = [int(d) for d in fields.get("size", "").split("x") if d]
    found = [{"size": n, "stride": 1, "low": 0, "high": 0, "lhs_dilate": 1, "rhs_dilate": 1} for n in size]
    for key in ("stride", "lhs_dilate", "rhs_dilate"):
        for dim, value in zip(found, fields.get(key, "").split("x") if key in fields else [], strict=False):
            dim[key] = int(value)
    for dim, pad in zip(found, fields.get("pad", "").split("x") if "pad" in fields else [], strict=False):
        low, high = pad.split("_")
        dim["low"], dim["high"] = int(low), int(high)
    return found


def valid_positions(dim: dict[str, int], kernel: int, output: int, given: int) -> int:
    """(output position, kernel tap) pairs that land on a real input element: not padding, not a hole
    of lhs dilation (HloCostAnalysis::GetConvolutionFlops)."""
    count = 0
    for tap in range(kernel):
        for position in range(output):
            index = position * dim["stride"] - dim["low"] + tap * dim["rhs_dilate"]
            if index % dim["lhs_dilate"] == 0 and 0 <= index // dim["lhs_dilate"] < given:
                count += 1
    return count


def _convolution(node: dict) -> Priced:
    """2 x input features per group x output features x batch x valid (output, tap) pairs per dimension."""
    lhs, kernel, out = dims(node["input_shapes"][0]), dims(node["input_shapes"][1]), dims(node["shape"])
    labels = node["attrs"].get("dim_labels", "b01f_01io->b01f")
    lhs_layout, rest = labels.split("_", 1)
    kernel_layout, out_layout = rest.split("->")
    groups = int(node["attrs"].get("feature_group_count", "1"))
    spatial = [str(d) for d in range(len(lhs_layout) - 2)]
    steps = window(node["attrs"].get("window", "{}"))
    for d in spatial[len(steps) :]:  # no window printed: the kernel's size, stride 1, no padding
        steps.extend(window(f"{{size={kernel[kernel_layout.index(d)]}}}"))
    pairs = prod(
        valid_positions(steps[i], kernel[kernel_layout.index(d)], out[out_layout.index(d)], lhs[lhs_layout.index(d)])
        for i, d in enumerate(spatial)
    )
    features = lhs[lhs_layout.index("f")] // groups
    macs = features * out[out_layout.index("f")] * lhs[lhs_layout.index("b")] * pairs
    return Priced(2 * macs, macs, "convolution: 2 x features x batch x taps that land on input (not padding)")


def price(node: dict, reducer: int = 0) -> Priced:
    """XLA's HloCostAnalysis flops for one instruction (callers price 0: their computations are priced;
    a reduce prices its reducer's `reducer` FLOPs once per application)."""
    op, out = node["op"], dims(node["shape"])
    if op == "dot":
        lhs = dims(node["input_shapes"][0])
        contracted = [int(d) for d in re.findall(r"\d+", node["attrs"].get("lhs_contracting_dims", ""))]
        macs = prod(out) * prod(lhs[d] for d in contracted)
        return Priced(2 * macs, macs, "dot: 2 x output elements x contracted elements")
    if op == "convolution":
        return _convolution(node)
    if op == "reduce":
        applications = prod(dims(node["input_shapes"][0])) - prod(out)
        return Priced(applications * reducer, 0, "reduce: the reducer once per input element beyond each output")
    if op == "reduce-window":
        size = prod(d["size"] for d in window(node["attrs"].get("window", "{}")))
        return Priced((size - 1) * prod(out) * reducer, 0, "reduce-window: the reducer (window - 1) times per output")
    if op in ELEMENTWISE:
        return Priced(prod(out), 0, f"{op}: 1 per output element")
    if op in TRANSCENDENTAL:
        return Priced(0, 0, f"{op}: a transcendental, not in flops")
    return Priced(0, 0, f"{op}: moves data, 0")


def _reducers(nodes: list[dict]) -> dict[str, int]:
    """Each reducer computation (a reduce's to_apply) -> the FLOPs of one application."""
    targets = {n["attrs"].get("to_apply", "").lstrip("%") for n in nodes if n["op"] in REDUCERS}
    found = dict.fromkeys(targets, 0)
    for node in nodes:
        if node["attrs"]["computation"] in found:
            found[node["attrs"]["computation"]] += price(node).flops
    return found


def _callers(nodes: list[dict]) -> dict[str, tuple[dict, str]]:
    """computation -> (the instruction that calls it, how: calls/body/condition/to_apply)."""
    found = {}
    for node in nodes:
        for key in CALLERS:
            target = node["attrs"].get(key, "").lstrip("%")
            if target:
                found[target] = (node, key)
    return found


def _context(node: dict, callers: dict[str, tuple[dict, str]]) -> tuple[str, dict | None]:
    """(op_name, the enclosing while) of an instruction."""
    op_name, loop, computation = node["attrs"].get("op_name", ""), None, node["attrs"]["computation"]
    seen = set()
    while computation in callers and computation not in seen:
        seen.add(computation)
        caller, _how = callers[computation]
        op_name = op_name or caller["attrs"].get("op_name", "")
        if caller["op"] == "while" and loop is None:
            loop = caller
        computation = caller["attrs"]["computation"]
    return op_name, loop


def f32(value: float) -> float:
    """The nearest float32: what HloCostAnalysis holds."""
    return struct.unpack("f", struct.pack("f", value))[0]


def float32_total(nodes: list[dict], reducers: dict[str, int]) -> int:
    """The module's flops as HloCostAnalysis sums them: in float32, instruction by instruction in each
    computation, a called computation's sum added as one value by the instruction that calls it."""
    by_computation: dict[str, list[dict]] = {}
    for node in nodes:
        by_computation.setdefault(node["attrs"]["computation"], []).append(node)

    def cost(computation: str, seen: frozenset = frozenset()) -> float:
        total = 0.0
        for node in by_computation.get(computation, []) if computation not in seen else []:
            called = [node["attrs"].get(k, "").lstrip("%") for k in ("calls", "body", "condition")]
            if node["op"] == "call":
                called.append(node["attrs"].get("to_apply", "").lstrip("%"))
            value = 0.0
            for target in filter(None, called):
                value = f32(value + cost(target, seen | {computation}))
            if not any(called):
                value = f32(price(node, reducers.get(node["attrs"].get("to_apply", "").lstrip("%"), 0)).flops)
            total = f32(total + value)
        return total

    called = set(_callers(nodes))
    total = 0.0
    for computation in by_computation:
        if computation not in called:  # the entry (and, in a partial record, any computation whose caller is missing)
            total = f32(total + cost(computation))
    return int(total)


def _fed_by(
    node: dict, by_name: dict[str, dict], callers: dict, layers: set[str], readers: dict[str, list[str]]
) -> str | None:
    """For an instruction XLA left without metadata (a layout-changed dot, a wrapped reduce-window): the
    layer of the nearest instruction it reads, through a fused computation's parameters to the caller's
    operands (XLA names them param_<operand index>.<n>)."""
    queue, seen = list(node["inputs"]), {node["name"]}
    while queue and len(seen) < 64:
        name = queue.pop(0)
        given = by_name.get(name)
        if given is None or name in seen:
            continue
        seen.add(name)
        layer = _layer(_context(given, callers)[0], layers)
        if layer:
            return layer
        index = re.match(r"param_(\d+)\.", name)
        caller = callers.get(given["attrs"]["computation"], (None, ""))[0]
        if given["op"] == "parameter" and index and caller is not None:
            queue.extend(caller["inputs"][int(index.group(1)) : int(index.group(1)) + 1])
        else:
            queue.extend(given["inputs"])
    return _read_by(node, by_name, callers, layers, readers)


def _readers(nodes: list[dict]) -> dict[str, list[str]]:
    """Instruction name -> the instructions that read it (built once per record: a graph has thousands)."""
    readers: dict[str, list[str]] = {}
    for other in nodes:
        for given in other["inputs"]:
            readers.setdefault(given, []).append(other["name"])
    return readers


def _read_by(
    node: dict, by_name: dict[str, dict], callers: dict, layers: set[str], readers: dict[str, list[str]]
) -> str | None:
    """Failing that (it reads the model's input): the layer of the nearest instruction that reads it, or
    that reads the fusion holding it."""
    start = callers.get(node["attrs"]["computation"], (node, ""))[0]
    queue, seen = list(readers.get(start["name"], [])), {start["name"]}
    while queue and len(seen) < 64:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        layer = _layer(_context(by_name[name], callers)[0], layers)
        if layer:
            return layer
        queue.extend(readers.get(name, []))
    return None


def _layer(op_name: str, layers: set[str]) -> str | None:
    segments = op_name.split("/")
    if "functional" in segments:
        after = segments[segments.index("functional") + 1 :]
        return after[0] if after and after[0] in layers else None
    return None


def _activation_ops(nodes: list[dict]) -> set[str]:
    """Keras's sigmoid on JAX as XLA holds it: 1 / (1 + exp(-x)) = negate, (exp), add, divide."""
    by_name = {n["name"]: n for n in nodes}
    found = set()
    for node in nodes:
        if node["op"] != "divide":
            continue
        for add in (by_name.get(i) for i in node["inputs"]):
            if add and add["op"] == "add":
                for exp in (by_name.get(i) for i in add["inputs"]):
                    if exp and exp["op"] in ("exponential", "exp"):
                        negs = [by_name.get(i) for i in exp["inputs"]]
                        found.update({node["name"], add["name"]})
                        found.update(n["name"] for n in negs if n and n["op"] == "negate")
    return found


def _component(node: dict, spec: dict, sigmoid: set[str], in_loop: bool) -> tuple[str, str]:
    op = node["op"]
    if op in ("dot", "convolution"):
        return "mac", ("steps" if spec["kind"] == "gru" and not in_loop else "")
    if node["name"] in sigmoid:
        name = recurrent_activations(spec)[1] if spec["kind"] == "gru" else spec.get("activation")
        return f"act:{name}", "activation_as_ops"
    if op == "maximum" and spec.get("activation") == "relu":
        return "act:relu", ""
    return "elementwise", ""


def read(definition: dict, probe: dict) -> Reading:
    """Each instruction XLA prices, placed on its layer, priced by XLA's rules from its recorded shapes.

    XLA exposes no per-instruction count, so each item carries its prediction as its count; what XLA's
    total holds beyond them shows as the residual of the total."""
    nodes = probe["nodes"]
    specs = {spec["name"]: spec for spec in definition["layers"]}
    callers = _callers(nodes)
    sigmoid = _activation_ops(nodes)
    reducers = _reducers(nodes)
    by_name = {node["name"]: node for node in nodes}
    readers = _readers(nodes)
    items = []
    loops: dict[str, list[dict]] = {}
    for node in nodes:
        if node["op"] in ("fusion", "call", "while"):
            if node["op"] == "while":
                op_name, _ = _context(node, callers)
                loops.setdefault(_layer(op_name, set(specs)) or "", []).append(node)
            continue
        if node["attrs"]["computation"] in reducers:
            continue  # priced by the reduce that applies it
        reducer = reducers.get(node["attrs"].get("to_apply", "").lstrip("%"), 0)
        priced = price(node, reducer)
        op_name, loop = _context(node, callers)
        control = loop is not None and not dims(node["shape"]) and not node["shape"].startswith("f")
        if not priced.flops:
            continue
        layer = _layer(op_name, set(specs)) or _fed_by(node, by_name, callers, set(specs), readers)
        where = "loop body" if loop is not None else ""
        if layer is None:
            component, cause, place = "outside", "", BUCKET_OUTSIDE
        elif control:
            component, cause, place = "elementwise", "other", layer
        else:
            component, cause = _component(node, specs[layer], sigmoid, loop is not None)
            place = layer
            where = where or ("outside the loop" if specs[layer]["kind"] == "gru" else "")
        predicted = Counter({component: priced.flops})
        items.append(Item(node["name"], place, priced.flops, predicted, priced.rule, priced.macs, where, cause))
    rounding = float32_total(nodes, reducers) - sum(item.counted for item in items)
    if rounding:
        items.append(
            Item(
                "float32 total",
                BUCKET_ROUNDING,
                rounding,
                Counter({"outside": rounding}),
                "HloCostAnalysis sums its flops in float32: the exact sum of the instructions, rounded",
            )
        )
    reading = Reading(items)
    for cost in analyse(definition):
        if cost.steps:
            reading.steps[cost.name] = _steps(
                cost.name, loops.get(cost.name, []), reading.at(cost.name), cost.step["mac"]
            )
    return reading


def _steps(layer: str, loops: list[dict], items: list[Item], step_macs: int) -> Steps:
    """Steps priced, from the HLO's structure: a while loop's body is priced once; no loop, unrolled."""
    hoisted = [i.name for i in items if i.macs and i.where == "outside the loop"]
    if loops:
        why = [
            f"{layer} runs as a while loop ({loops[0]['name']}); XLA's cost analysis prices its body once,"
            " whatever the trip count"
        ]
        if hoisted:
            why.append(
                f"the input projection of every step is one dot outside the loop ({', '.join(hoisted)}), priced in full"
            )
        return Steps(1, tuple(why))
    macs = sum(i.macs for i in items)
    priced = macs // step_macs if step_macs else 0
    return Steps(priced, (f"no while loop: the layer's {macs:,} multiply-accumulates hold {priced} steps' worth",))


ADAPTER = Adapter("keras3-jax-xla", "XLA cost analysis", read)
ADAPTERS = (ADAPTER,)
