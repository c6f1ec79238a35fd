"""A counter's own breakdown mapped onto the model's layers and the reference's components.

The TensorFlow profiler reports per graph node: nodes go to the layer whose name scope holds
them, then to a component by op type; nodes outside the model's work (input generator, variable
initializers, scalar loop and shape arithmetic) go to named buckets. thop reports per module:
each module's count is split into components by a model of the thop rule that produced it
(`THOP_RULES`), and that model must reproduce thop's number exactly or the difference is left
unexplained. Nothing here looks at the reference: reconcile.py compares the two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.reference.formulas import analyse

__all__ = ["Instance", "LayerView", "Attribution", "attribute", "RECURRENT"]

RECURRENT = {"gru", "lstm", "simple_rnn"}
MAC_OPS = {"Conv2D", "Conv1D", "MatMul", "BatchMatMul", "BatchMatMulV2", "DepthwiseConv2dNative"}
ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax", "Elu": "elu"}
ELEMENTWISE_OPS = {"Add", "AddV2", "Sub", "Mul", "Minimum", "Maximum", "RealDiv", "Neg", "Square"}

BUCKET_INITIALIZERS = "variable initializers"
BUCKET_INPUT = "input generator"
BUCKET_SCALARS = "scalar loop and shape arithmetic"
BUCKET_OTHER = "other graph ops outside any layer"


@dataclass
class Instance:
    """One copy of a layer's work as the counter saw it; a recurrent layer may show several."""

    where: str  # "layer", "loop body", "outside the loop", "all steps"
    flops: Counter[str] = field(default_factory=Counter)  # component -> FLOPs the counter gave it
    evidence: dict[str, list[dict]] = field(default_factory=dict)  # component -> nodes or modules

    def add(self, component: str, flops: int, item: dict) -> None:
        self.flops[component] += flops
        self.evidence.setdefault(component, []).append(item)

    def counts_macs(self) -> bool:
        return self.flops["mac"] > 0


@dataclass
class LayerView:
    name: str
    instances: dict[str, Instance] = field(default_factory=dict)
    steps_counted: int | None = None  # recurrent layers: how many time steps the counter priced
    steps_why: list[str] = field(default_factory=list)  # why that many, with the evidence
    notes: list[str] = field(default_factory=list)  # other evidence-backed remarks

    def instance(self, where: str) -> Instance:
        return self.instances.setdefault(where, Instance(where))

    def flops(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for instance in self.instances.values():
            total.update(instance.flops)
        return total


@dataclass
class Attribution:
    counter: str
    layers: dict[str, LayerView]
    outside: dict[str, tuple[int, list[str]]]  # bucket -> (FLOPs, counted nodes)
    unexplained: list[tuple[str, int, str]]  # (node or module, FLOPs, why it has no place)


def attribute(definition: dict, probe: dict) -> Attribution:
    if probe["breakdown"]["by"] == "module":
        return _thop(definition, probe)
    return _tensorflow(definition, probe)


# --- TensorFlow profiler: per node -------------------------------------------------------------


def _layer_of(segments: list[str], layer_names: set[str]) -> str | None:
    return next((s for s in segments[:-1] if s in layer_names), None)


def _hard_sigmoid_nodes(nodes: dict[str, dict]) -> set[str]:
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


def _component(node: dict, spec: dict, hard_sigmoid: set[str]) -> str | None:
    op = node["op"]
    if node["name"] in hard_sigmoid:
        return f"act:{spec.get('recurrent_activation', 'sigmoid')}"
    if op in MAC_OPS:
        return "mac"
    if op == "BiasAdd":
        return "bias"
    if op in ACTIVATION_OPS:
        return f"act:{ACTIVATION_OPS[op]}"
    if op in ELEMENTWISE_OPS:
        return "elementwise"
    return None


def _tensorflow(definition: dict, probe: dict) -> Attribution:
    specs = {spec["name"]: spec for spec in definition["layers"]}
    nodes = {node["name"]: node for node in probe["nodes"]}
    hard_sigmoid = _hard_sigmoid_nodes(nodes)
    views = {name: LayerView(name) for name in specs}
    outside: dict[str, tuple[int, list[str]]] = {}
    unexplained: list[tuple[str, int, str]] = []

    def bucket(name: str, node: dict) -> None:
        flops, names = outside.get(name, (0, []))
        outside[name] = (flops + node["raw"], names + [node["name"]])

    layer_names = set(specs)
    for node in probe["nodes"]:
        segments = node["name"].split("/")
        layer = _layer_of(segments, layer_names)
        if "Initializer" in segments:
            if node["raw"]:
                bucket(BUCKET_INITIALIZERS, node)
            continue
        if node["shape"] == "()":
            if node["raw"]:
                bucket(BUCKET_SCALARS, node)
            continue
        if layer is None:
            if node["raw"]:
                bucket(BUCKET_INPUT if segments[0].startswith("random_normal") else BUCKET_OTHER, node)
            continue
        spec = specs[layer]
        recurrent = spec["kind"] in RECURRENT
        where = "layer"
        if recurrent:
            where = "loop body" if any(s.startswith("while") for s in segments[:-1]) else "outside the loop"
        component = _component(node, spec, hard_sigmoid)
        if component is None:
            if node["raw"]:
                unexplained.append((node["name"], node["raw"], f"op {node['op']} has no component"))
            continue
        views[layer].instance(where).add(component, node["raw"], node)

    for name, spec in specs.items():
        if spec["kind"] in RECURRENT:
            _explain_steps(views[name], [n for n in probe["nodes"] if _layer_of(n["name"].split("/"), {name})])
    built = {row["name"]: row for row in probe["layers"]}
    for name, spec in specs.items():
        _explain_hard_sigmoid(views[name], spec, built.get(name, {}))
    return Attribution(probe["counter"], views, outside, unexplained)


def _explain_steps(view: LayerView, nodes: list[dict]) -> None:
    """How many time steps the profiler priced, and why, from the layer's nodes."""
    counted = [i for i in view.instances.values() if i.counts_macs()]
    view.steps_counted = len(counted)
    body = view.instances.get("loop body")
    if body and body.counts_macs():
        view.steps_why.append(
            f"a static graph holds the loop body once, so its step is priced once ({_names(body.evidence['mac'])})"
        )
    elif body:
        unknown = [n for items in body.evidence.values() for n in items if n["rule"] == "shape-unknown"]
        view.steps_why.append(
            f"the loop body's ops have shapes the graph does not know, so the profiler prices them 0"
            f" ({len(unknown)} ops, e.g. {_names(unknown[:2])})"
        )
    loops = [n for n in nodes if n["op"] in ("While", "StatelessWhile")]
    if loops and not body:
        view.steps_why.append(
            f"the loop is a {loops[0]['op']} op ({loops[0]['name']}) whose body is a function the profiler"
            " does not open"
        )
    outside = view.instances.get("outside the loop")
    if outside and outside.counts_macs():
        view.steps_why.append(
            "one more copy of the step sits outside the loop: Keras's backend.rnn runs the step on time"
            f" step 0 to learn the output's shape and discards the result ({_names(outside.evidence['mac'])})"
        )


def _explain_hard_sigmoid(view: LayerView, spec: dict, built: dict) -> None:
    wanted = spec.get("recurrent_activation")
    actual = built.get("config", {}).get("recurrent_activation")
    if wanted and actual and actual != wanted:
        view.notes.append(
            f"built with recurrent_activation={actual} (this Keras's default) where the definition and"
            f" PyTorch use {wanted}"
        )


def _names(items: list[dict], limit: int = 3) -> str:
    names = [item["name"] for item in items]
    more = f", ... {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# --- thop: per module ----------------------------------------------------------------------------


def _thop_version(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.replace("-", ".").split(".")[:3] if p.isdigit())


def _conv_rule(spec: dict, in_shape: tuple, module: dict, version: tuple) -> Counter[str]:
    """count_convNd: a MAC per kernel tap per output; before thop 0.1 also one per output for the bias."""
    cost = analyse({"input": list(in_shape), "layers": [dict(spec, activation="linear")]})[0]
    macs = Counter({"mac": cost.once["mac"]})
    if module["config"].get("bias"):
        macs["bias"] = cost.once["bias"] if version < (0, 1) else 0
    return macs


def _linear_rule(spec: dict, in_shape: tuple, module: dict, version: tuple) -> Counter[str]:
    """count_linear: in_features x output values; no bias."""
    cost = analyse({"input": list(in_shape), "layers": [dict(spec, activation="linear")]})[0]
    macs = Counter({"mac": cost.once["mac"]})
    if module["config"].get("bias"):
        macs["bias"] = 0
    return macs


def _gru_rule(spec: dict, in_shape: tuple, module: dict, version: tuple) -> Counter[str]:
    """count_gru, per cell evaluation: 3 x ((D+U)U + U) for the gates and their sums, 6U biases,
    U for r * (...), 3U for h' = (1 - z) * n + z * h, no activations; times steps x batch as thop
    reads them (an nn.GRU without batch_first takes the first axis for time)."""
    if module["config"].get("batch_first"):
        batch, steps, features = in_shape
    else:
        steps, batch, features = in_shape
    units = spec["units"]
    per_cell = Counter({"mac": 3 * (features + units) * units, "elementwise": 3 * units + units + 3 * units})
    if module["config"].get("bias"):
        per_cell["bias"] = 6 * units
    macs = Counter({k: v * steps * batch for k, v in per_cell.items()})
    for key in ("recurrent_activation", "activation"):
        macs[f"act:{spec[key]}"] = 0
    return macs


def _zero_rule(spec: dict, in_shape: tuple, module: dict, version: tuple) -> Counter[str]:
    """zero_ops, or no rule at all: the module counts 0 (an activation module, here)."""
    activation = spec.get("activation", "linear")
    return Counter() if activation == "linear" else Counter({f"act:{activation}": 0})


THOP_RULES = {
    "count_convNd": _conv_rule,
    "count_linear": _linear_rule,
    "count_gru": _gru_rule,
    "zero_ops": _zero_rule,
    "": _zero_rule,
}


def _thop(definition: dict, probe: dict) -> Attribution:
    items = {item["name"]: item for item in probe["breakdown"]["items"]}
    built = {row["name"]: row for row in probe["layers"]}
    version = _thop_version(probe["provenance"]["counter_tool"]["version"])
    factor = probe["flops_per_unit"]
    views: dict[str, LayerView] = {}
    unexplained: list[tuple[str, int, str]] = []
    shape = tuple(definition["input"])
    for spec, cost in zip(definition["layers"], analyse(definition), strict=True):
        view = views[spec["name"]] = LayerView(spec["name"])
        instance = view.instance("all steps" if spec["kind"] in RECURRENT else "layer")
        for module in spec["torch"]:
            item = items.get(module)
            if item is None:
                unexplained.append((module, 0, "the model has this module but thop's breakdown does not"))
                continue
            rule = THOP_RULES.get(item["rule"])
            if rule is None:
                unexplained.append((module, item["raw"] * factor, f"no model of thop's rule {item['rule']}"))
                continue
            macs = rule(spec, shape, built.get(module, {"config": {}}), version)
            for component, count in macs.items():
                instance.add(component, count * factor, {"name": module, "rule": item["rule"] or "none", "raw": count})
            if sum(macs.values()) != item["raw"]:
                unexplained.append(
                    (module, (item["raw"] - sum(macs.values())) * factor, f"{item['rule']} gave {item['raw']:,}")
                )
        if spec["kind"] in RECURRENT:
            _explain_thop_steps(view, spec, shape, built.get(spec["torch"][0], {"config": {}}), cost.steps)
        shape = cost.out_shape
    return Attribution(probe["counter"], views, {}, unexplained)


def _explain_thop_steps(view: LayerView, spec: dict, in_shape: tuple, module: dict, steps: int) -> None:
    if module["config"].get("batch_first"):
        batch, seen = in_shape[0], in_shape[1]
    else:
        batch, seen = in_shape[1], in_shape[0]
    reference_batch = in_shape[0]
    view.steps_counted = seen * batch // reference_batch
    if seen != steps:
        view.notes.append(
            f"nn.GRU without batch_first reads the (1, {steps}, ...) input as {batch} sequences of {seen} step:"
            f" the cell still runs {seen * batch} times, so thop's count matches {steps} steps of one sequence,"
            " though the outputs differ (see the equivalence check)"
        )
