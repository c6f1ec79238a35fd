"""exact-tf: the project's own counter for TensorFlow graphs. It traces one forward pass of the Keras model as
a concrete function and prices every op of that graph by a formula from its shapes, in the analytic reference's
own vocabulary (bench/reference/formulas.py): per Keras layer, per component (`mac`, `bias`, `elementwise`,
`act:<name>`). Returns the probe's common answer, shaped as count_exact.py's (items per layer with their
components, nodes with attrs.components), so the host reads both alike.

Why it has no blind spot: it opens every function the graph calls (PartitionedCall, the RNN's standard_gru)
and every loop, and prices a While body times its trip count, known from the loop's static
maximum_iterations or from the length of the tensor list it iterates over (the Keras RNN's time dimension);
an op type without a formula is a loud failure naming it, never a silent 0, and the ops that compute nothing
(identities, reshapes, constants, variable reads, shapes, tensor lists) are listed by name as costing nothing.
It prices what runs: an op no output of its function depends on is pruned by TensorFlow before the function
runs (Keras's RNN runs its step once on time step 0 only to learn the output's shape), so it costs nothing.

Work on the weights alone (Keras 3's BatchNormalization folding its statistics into a scale and a shift) is the
same every call: folded, as the reference folds it. An activation TensorFlow writes as several ops (tf.nn.gelu's
`Gelu` name scope, silu's x * sigmoid(beta * x)) is one evaluation per value, as the reference counts an
activation. Everything else is priced op by op, as TensorFlow decomposes the layer (LayerNormalization as
moments and batch_normalization, for one): where that differs from the reference's formula the difference
shows, at the layer and component.

The formulas are plain functions of shapes (no TensorFlow), so the host tests them on recorded shapes.
"""
from __future__ import absolute_import, division, print_function

import os

DEFAULT = {"mac": 2}  # FLOPs per component under the reference's default convention (raw_total's unit)
ROOT = "(the model's own forward)"  # ops outside every Keras layer's name scope


def _prod(values):
    total = 1
    for value in values:
        total *= int(value)
    return total


def _paired(first, second):
    """(first[i], second[i]) as far as both go (zip, without Python 3's strict)."""
    return [(first[i], second[i]) for i in range(min(len(first), len(second)))]


def _per_value(component):
    """One `component` per value of the op's output."""
    def price(inputs, out, attrs):
        return {component: _prod(out)}
    return price


def _elementwise(inputs, out, attrs):
    """A binary or unary element-wise op: one per output value; an add of a layer's bias variable is its bias."""
    return {"bias" if attrs.get("bias") else "elementwise": _prod(out)}


def _squared_difference(inputs, out, attrs):
    """(x - y)^2: a subtraction and a square per output value."""
    return {"elementwise": 2 * _prod(out)}


def _matmul(inputs, out, attrs):
    """MatMul (a, b): one multiply-accumulate per output value per value of the shared axis."""
    a = inputs[0]
    shared = a[-2] if attrs.get("transpose_a") or attrs.get("adj_x") else a[-1]
    return {"mac": _prod(out) * shared}


def _conv2d(inputs, out, attrs):
    """Conv2D (x, filter (kh, kw, in / groups, out)): each output value costs kh x kw x its group's input
    channels."""
    return {"mac": _prod(out) * _prod(inputs[1][:3])}


def _depthwise(inputs, out, attrs):
    """DepthwiseConv2dNative (x, filter (kh, kw, in, multiplier)): each output value sees one input channel."""
    return {"mac": _prod(out) * _prod(inputs[1][:2])}


def _conv_transpose(inputs, out, attrs):
    """Conv2DBackpropInput (output sizes, filter (kh, kw, out, in), x): every input value meets kh x kw x out
    taps of the filter."""
    kernel = inputs[1]
    return {"mac": _prod(inputs[2]) * kernel[0] * kernel[1] * kernel[2]}


def _reduce(inputs, out, attrs):
    """Mean / Sum: one op per input value (n - 1 adds and, for a mean, one division per result)."""
    return {"elementwise": _prod(inputs[0])}


def _window(attrs):
    ksize = attrs.get("ksize") or [1]
    return _prod(ksize)


def _max_pool(inputs, out, attrs):
    """MaxPool: k - 1 comparisons per output value, k the window's taps."""
    return {"elementwise": _prod(out) * (_window(attrs) - 1)}


def _avg_pool(inputs, out, attrs):
    """AvgPool: k - 1 adds and a division per output value."""
    return {"elementwise": _prod(out) * _window(attrs)}


def _fused_batch_norm(inputs, out, attrs):
    """FusedBatchNorm(V3) (x, scale, offset, mean, variance). At inference (is_training false) an affine map per
    channel, scale and shift folded from the running statistics: 2 element-wise per value (the reference's
    batch_norm). Computing the statistics (is_training, n values per channel): the mean (n), x - mean (n), its
    square (n), the variance (n), epsilon added to it (1), the division by the deviation (n), the scale (n) and
    the offset (n): 7n + 1 element-wise and one rsqrt per channel."""
    values = _prod(inputs[0])
    if not attrs.get("is_training"):
        return {"elementwise": 2 * values}
    channels = inputs[1][0]
    return {"elementwise": 7 * values + channels, "act:rsqrt": channels}


def _einsum(inputs, out, attrs):
    """Einsum of two operands: one multiply-accumulate per point of the joint index space."""
    equation = attrs.get("equation", "").replace(" ", "")
    terms = equation.split("->")[0].split(",")
    if len(terms) != 2 or len(inputs) != 2 or "." in equation:
        raise NotImplementedError("exact-tf: no formula for Einsum %r over %d operands" % (equation, len(inputs)))
    sizes = {}
    for letters, shape in _paired(terms, inputs):
        if len(letters) != len(shape):
            raise NotImplementedError("exact-tf: Einsum %r does not name every axis of %r" % (equation, shape))
        for letter, size in _paired(letters, shape):
            sizes[letter] = max(size, sizes.get(letter, 1))
    return {"mac": _prod(sizes.values())}


def _nothing(inputs, out, attrs):
    return {}


# Op types that compute nothing: identities, layout, copies, constants, variable reads, shapes, tensor lists,
# gathers (an embedding's lookup), control flow's plumbing.
ZERO = (
    "Identity", "IdentityN", "Reshape", "Transpose", "Const", "Placeholder", "ReadVariableOp", "VarHandleOp",
    "Shape", "ShapeN", "Size", "Rank", "StridedSlice", "Slice", "Split", "SplitV", "Unpack", "Pack", "ConcatV2",
    "Concat", "ExpandDims", "Squeeze", "Fill", "ZerosLike", "OnesLike", "Cast", "GatherV2", "ResourceGather",
    "Gather", "Tile", "BroadcastTo", "Pad", "PadV2", "MirrorPad", "NoOp", "StopGradient", "PreventGradient",
    "Range", "TensorListReserve", "TensorListFromTensor", "TensorListGetItem", "TensorListSetItem",
    "TensorListStack", "TensorListLength", "TensorListElementShape", "TensorArrayV3", "TensorArrayReadV3",
    "TensorArrayWriteV3", "TensorArrayGatherV3", "TensorArrayScatterV3", "TensorArraySizeV3", "EnsureShape",
    "CheckNumerics", "Snapshot", "BroadcastArgs", "BroadcastGradientArgs", "OptionalFromValue", "OptionalNone",
    "DeviceIndex", "ReverseV2", "ReverseSequence",
)

# op type -> (formula, its words); each returns the op's components from its input shapes, output shape, attrs
FORMULAS = {
    "MatMul": (_matmul, "M x K x N multiply-accumulates"),
    "BatchMatMul": (_matmul, "B x M x K x N multiply-accumulates"),
    "BatchMatMulV2": (_matmul, "B x M x K x N multiply-accumulates"),
    "BatchMatMulV3": (_matmul, "B x M x K x N multiply-accumulates"),
    "Einsum": (_einsum, "one multiply-accumulate per point of the joint index space"),
    "Conv2D": (_conv2d, "output values x kh x kw x in/groups multiply-accumulates"),
    "DepthwiseConv2dNative": (_depthwise, "output values x kh x kw multiply-accumulates"),
    "Conv2DBackpropInput": (_conv_transpose, "input values x kh x kw x out multiply-accumulates"),
    "BiasAdd": (_elementwise, "one add per output value (of a layer's bias variable: its bias; Keras 3 writes"
                              " other broadcast adds as BiasAdd too)"),
    "FusedBatchNorm": (_fused_batch_norm, "inference: 2 element-wise per value; statistics: 7n + 1 element-wise"
                                          " and one rsqrt per channel"),
    "FusedBatchNormV3": (_fused_batch_norm, "inference: 2 element-wise per value; statistics: 7n + 1 element-wise"
                                            " and one rsqrt per channel"),
    "SquaredDifference": (_squared_difference, "a subtraction and a square per output value"),
    "Mean": (_reduce, "one op per input value"),
    "Sum": (_reduce, "one op per input value"),
    "MaxPool": (_max_pool, "k - 1 comparisons per output"),
    "AvgPool": (_avg_pool, "k - 1 adds and a division per output"),
    "Relu": (_per_value("act:relu"), "one relu per value"),
    "Relu6": (_per_value("act:relu6"), "one relu6 per value"),
    "Sigmoid": (_per_value("act:sigmoid"), "one sigmoid per value"),
    "Tanh": (_per_value("act:tanh"), "one tanh per value"),
    "Elu": (_per_value("act:elu"), "one elu per value"),
    "Softmax": (_per_value("act:softmax"), "one softmax evaluation per value"),
    "Rsqrt": (_per_value("act:rsqrt"), "one rsqrt per value"),
}
for _op in ("Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "Maximum", "Minimum", "Neg", "Square",
            "Pow", "Sqrt", "Abs", "Exp", "Log", "Reciprocal", "Erf", "Erfc", "Floor", "SelectV2", "Select",
            "ClipByValue", "Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual"):
    FORMULAS[_op] = (_elementwise, "one per output value (an add of a layer's bias variable: its bias)")
FORMULAS.update(dict((op, (_nothing, "computes nothing")) for op in ZERO))

# name scopes of activations TensorFlow writes as several ops -> the reference's activation: one per value
ACTIVATION_SCOPES = {"gelu": "gelu", "swish": "silu", "silu": "silu"}


def price(op, inputs, out, attrs=None):
    """The components of one op from its input shapes, output shape and attributes: a missing formula is an
    error that names the op."""
    if op not in FORMULAS:
        raise NotImplementedError("exact-tf: no formula for %s (inputs %r, output %r)" % (op, inputs, out))
    return FORMULAS[op][0](inputs, out, attrs or {})


def flops(components):
    """FLOPs of components under the reference's default convention (a MAC 2, everything else 1)."""
    return sum(count * DEFAULT.get(component, 1) for component, count in components.items())


def times(components, count):
    return dict((k, v * count) for k, v in components.items() if v)


def trip_count(maximum_iterations, list_lengths):
    """A loop's iterations from what the graph knows statically: its maximum_iterations (None or negative where
    open) and the lengths of the tensor lists it iterates over (one element per iteration: it cannot run past
    them); the smallest known bound. None where nothing bounds it."""
    bounds = [int(n) for n in list_lengths if n is not None]
    if maximum_iterations is not None and int(maximum_iterations) >= 0:
        bounds.append(int(maximum_iterations))
    return min(bounds) if bounds else None


def swish(ops):
    """The ops of x * sigmoid(x) (TensorFlow's silu / swish, written with beta as x * sigmoid(beta * x)): op
    name -> the name of the product that is the activation's value. `ops` are (name, type, input op names,
    whether the op is a scalar constant) of one graph."""
    by_name = dict((op[0], op) for op in ops)
    found = {}
    for name, op_type, inputs, _ in ops:
        if op_type != "Mul" or len(inputs) != 2:
            continue
        for sigmoid, x in (inputs, inputs[::-1]):
            if by_name.get(sigmoid, (0, ""))[1] != "Sigmoid":
                continue
            argument = by_name[sigmoid][2][0]
            scaled = by_name.get(argument)
            beta = scaled and scaled[1] == "Mul" and x in scaled[2] and any(
                by_name.get(i, (0, 0, 0, False))[3] for i in scaled[2] if i != x)
            if argument == x or beta:
                found.update({name: name, sigmoid: name})
                if beta:
                    found[argument] = name
                break
    return found


def activation_scope(segments):
    """(index, reference activation) of the innermost scope that is a multi-op activation, or None."""
    for index in range(len(segments) - 2, -1, -1):
        name = segments[index].lower().rstrip("_0123456789")
        if name in ACTIVATION_SCOPES:
            return index, ACTIVATION_SCOPES[name]
    return None


def layer_norm(values, width):
    """A Keras LayerNormalization over its last axis (`values` in all, `width` per row), priced whole as the
    reference's layer_norm: 7n + 1 element-wise and one rsqrt per row. TensorFlow writes it as moments and a
    batch_normalization whose algebra (x * inv + (beta - mean * inv), the scale made per value) costs 2n more per
    row than the layer's own arithmetic, as count_exact.py prices aten.native_layer_norm whole and
    count_exact_jax.py Keras 3's decomposition; the ops' own count stays on the node (attrs.ops)."""
    rows = values // width
    return {"elementwise": 7 * values + rows, "act:rsqrt": rows}


# Keras layer class -> (its formula, priced whole, its words)
NORMS = {"LayerNormalization": (layer_norm, "the layer priced whole: 7n + 1 element-wise and one rsqrt per row")}
LOOPS = ("While", "StatelessWhile")
CALLS = ("PartitionedCall", "StatefulPartitionedCall")
# single-input views a variable passes through on its way to an add: (op type, index of the input it views)
VIEWS = {"Identity": 0, "ReadVariableOp": 0, "Unpack": 0, "Split": 1, "SplitV": 0, "Squeeze": 0, "Reshape": 0,
         "ExpandDims": 0, "StridedSlice": 0, "Cast": 0, "Transpose": 0}


class _Scope(object):
    """One graph being walked: the Keras layer it runs in (None at the top: by name scope), how many times it
    runs, the outer tensor that feeds each of its inputs, and the path its op names hang under."""

    def __init__(self, graph, place, count, feeds, path, outer):
        self.graph, self.place, self.count, self.feeds, self.path, self.outer = graph, place, count, feeds, path, outer
        self.swish = {}  # its ops that write x * sigmoid(x) (`swish`)


def _shape(tensor):
    dims = tensor.shape.as_list() if tensor.shape.dims is not None else None
    if dims is None or any(d is None for d in dims):
        return None
    return tuple(int(d) for d in dims)


def _floating(tensor):
    return tensor.dtype.is_floating


def _inputs(op):
    """An op's inputs; a placeholder has none (while_v2's condition placeholders in TensorFlow 2.5 cannot say)."""
    return [] if op.type == "Placeholder" else list(op.inputs)


def _live(graph):
    """The ops the graph's outputs (and control outputs) depend on: the ones TensorFlow runs."""
    pending = [t.op for t in graph.outputs if t is not None] + list(getattr(graph, "control_outputs", []))
    seen = set()
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        pending.extend(t.op for t in _inputs(op))
        pending.extend([] if op.type == "Placeholder" else op.control_inputs)
    return seen


def _function(graph, op, attr):
    name = op.get_attr(attr).name
    return graph._get_function(name).graph


class _Walk(object):
    """Every op of the traced forward pass, placed on its Keras layer and priced times the iterations it runs."""

    def __init__(self, tf, layer_names, variables, norms=None):
        self.tf, self.layer_names, self.variables = tf, layer_names, variables
        self.norms = norms or {}  # name -> class of every (nested) layer priced whole (NORMS)
        self.norm_parts = {}  # (layer, scope, class, iterations) -> [values, width, the ops' own components]
        self.nodes, self.items, self.order, self.pruned, self.loops = [], {}, [], [], []
        self.activations = {}  # (layer, scope, activation, iterations) -> values of a multi-op activation
        self.dependent = set()  # tensors (path + name) whose value depends on the model's input

    def named(self, segment, names):
        """The name among `names` a scope segment is (Keras 3 traces `conv` as `conv_1`), or None."""
        if segment in names:
            return segment
        base, _, number = segment.rpartition("_")
        return base if number.isdigit() and base in names else None

    def norm_scope(self, segments):
        """(index, class) of the innermost scope that is a layer priced whole (NORMS), or None."""
        for index in range(len(segments) - 2, -1, -1):
            name = self.named(segments[index], self.norms)
            if name:
                return index, self.norms[name]
        return None

    def layer(self, segments):
        """The top-level Keras layer whose name scope holds the op (Keras 3 traces `conv` as `conv_1`)."""
        for segment in segments[:-1]:
            name = self.named(segment, self.layer_names)
            if name:
                return name
        return None

    def source(self, tensor, scope):
        """(the tensor's origin through views and function inputs, the scope it is in)."""
        while True:
            op = tensor.op
            if op.type == "Placeholder" and tensor.name in scope.feeds and scope.outer is not None:
                tensor, scope = scope.feeds[tensor.name], scope.outer
            elif op.type in VIEWS and len(op.inputs) > VIEWS[op.type]:
                tensor = op.inputs[VIEWS[op.type]]
            else:
                return tensor, scope

    def variable(self, tensor, scope):
        """The name of the model variable a tensor reads, or None."""
        found, _ = self.source(tensor, scope)
        return self.variables.get(found.name) if found.op.type == "Placeholder" else None

    def static(self, tensor, scope):
        tensor, scope = self.source(tensor, scope)
        return self.tf.get_static_value(tensor)

    def add(self, place, name, op_type, components, count, rule, shape, input_shapes, extra=None):
        components = times(components, count)
        attrs = {"module": place, "components": components, "formula": rule}
        if count != 1:
            attrs["iterations"] = count
        attrs.update(extra or {})
        self.nodes.append({"name": name, "op": op_type, "raw": flops(components), "rule": "counted",
                           "shape": str(shape), "inputs": [], "input_shapes": input_shapes, "attrs": attrs})
        if place not in self.items:
            self.items[place] = {}
            self.order.append(place)
        for component, value in components.items():
            self.items[place][component] = self.items[place].get(component, 0) + value

    def depends(self, tensor, scope):
        return scope.path + tensor.name in self.dependent

    def walk(self, scope):
        live = _live(scope.graph)
        scope.swish = swish([(op.name, op.type, [t.op.name for t in _inputs(op)], op.type == "Const" and
                              _shape(op.outputs[0]) == ()) for op in scope.graph.get_operations()])
        for op in scope.graph.get_operations():
            full = scope.path + op.name
            if op.name not in live:
                self.pruned.append(full)
                continue
            segments = full.split("/")
            place = scope.place or self.layer(segments) or ROOT
            if any(self.depends(t, scope) for t in _inputs(op)):
                self.dependent.update(scope.path + t.name for t in op.outputs)
            if op.type in LOOPS:
                self.loop(op, scope, place, full)
            elif op.type in CALLS:
                self.call(op, scope, place, full)
            else:
                self.op(op, scope, place, full)

    def call(self, op, scope, place, full):
        inner = _function(scope.graph, op, "f")
        feeds = dict((t.name, o) for t, o in _paired(inner.inputs, op.inputs))
        self.dependent.update(full + "/" + t.name for t, o in _paired(inner.inputs, op.inputs)
                              if self.depends(o, scope))
        self.add(place, full, op.type, {}, 1, "calls %s: its ops priced below" % op.get_attr("f").name, "", [])
        self.walk(_Scope(inner, place, scope.count, feeds, full + "/", scope))

    def loop(self, op, scope, place, full):
        body, cond = _function(scope.graph, op, "body"), _function(scope.graph, op, "cond")
        lengths = []
        for tensor in op.inputs:
            found, _ = self.source(tensor, scope)
            if found.op.type == "TensorListFromTensor":
                lengths.append((_shape(found.op.inputs[0]) or (None,))[0])
        maximum = self.static(op.inputs[1], scope) if len(op.inputs) > 1 else None
        trips = trip_count(maximum, lengths)
        if trips is None:
            raise NotImplementedError("exact-tf: the trip count of loop %s is unknown (no static"
                                      " maximum_iterations, no tensor list of known length)" % full)
        self.loops.append("%s: %d iterations (maximum_iterations %s, tensor lists of length %s)"
                          % (full, trips, maximum, ", ".join(str(n) for n in lengths) or "none"))
        self.add(place, full, op.type, {}, 1, "a loop of %d iterations: its body priced %d times, its condition"
                 " %d times" % (trips, trips, trips + 1), "", [], {"trips": trips})
        for graph, count, tag in ((body, trips, "body"), (cond, trips + 1, "cond")):
            feeds = dict((t.name, o) for t, o in _paired(graph.inputs, op.inputs))
            if any(self.depends(t, scope) for t in op.inputs):  # loop-carried: any input may reach any variable
                self.dependent.update("%s/%s/%s" % (full, tag, t.name) for t in graph.inputs)
            self.walk(_Scope(graph, place, scope.count * count, feeds, "%s/%s/" % (full, tag), scope))

    def op(self, op, scope, place, full):
        inputs = [_shape(t) for t in _inputs(op)]
        out = _shape(op.outputs[0]) if op.outputs else ()
        if not [t for t in list(op.outputs) + _inputs(op) if _floating(t)]:
            components, rule = {}, "no floating-point value in or out: index, shape or handle arithmetic"
        else:
            if op.type in FORMULAS and op.type not in ZERO and (out is None or None in inputs):
                raise NotImplementedError("exact-tf: %s (%s) has shapes the graph does not know: inputs %r, output"
                                          " %r" % (full, op.type, inputs, out))
            components, rule = price(op.type, inputs, out, self.attrs(op, scope)), FORMULAS[op.type][1]
            if components and not any(self.depends(t, scope) for t in _inputs(op)):
                components, rule = {}, "depends on the weights and constants alone: folded (the same every call)"
        if components and op.name in scope.swish:
            value = scope.swish[op.name]
            if value == op.name:
                components, rule = {"act:silu": _prod(out)}, "x * sigmoid(x): one silu per value"
            else:
                components, rule = {}, "part of the silu at %s%s, priced there" % (scope.path, value)
        segments = full.split("/")
        norm = self.norm_scope(segments) if components else None
        if norm:  # priced once the walk is done, from the widest value it touches
            index, kind = norm
            key = (place, "/".join(segments[:index + 1]), kind, scope.count)
            part = self.norm_parts.setdefault(key, [0, 1, {}])
            if _prod(out) > part[0]:
                part[0], part[1] = _prod(out), out[-1]
            for component, count in components.items():
                part[2][component] = part[2].get(component, 0) + count
            components, rule = {}, "part of the %s %s, priced as one" % (kind, key[1])
        activation = activation_scope(segments) if components else None
        if activation:  # priced once the walk is done, by the scope's widest op (each touches every value once)
            index, name = activation
            key = (place, "/".join(segments[:index + 1]), name, scope.count)
            self.activations[key] = max(self.activations.get(key, 0), max(components.values()))
            components, rule = {}, "part of the activation %s, priced as one" % key[1]
        self.add(place, full, op.type, components, scope.count, rule, out, [str(s) for s in inputs])

    def finish(self):
        """One node per layer priced whole and per activation written as several ops: one evaluation per value."""
        for (place, name, kind, count), (values, width, ops) in sorted(self.norm_parts.items()):
            formula, words = NORMS[kind]
            self.add(place, name, kind, formula(values, width), count, words, "", [], {"ops": ops})
        for (place, name, activation, count), values in sorted(self.activations.items()):
            self.add(place, name, "activation scope", {"act:" + activation: values}, count,
                     "one %s per value, whatever ops write it" % activation, "", [])

    def attrs(self, op, scope):
        found = {}
        for name in ("transpose_a", "adj_x", "ksize", "is_training", "equation"):
            try:
                value = op.get_attr(name)
            except ValueError:
                continue
            found[name] = value.decode("ascii") if isinstance(value, bytes) else value
        if op.type in ("Add", "AddV2", "BiasAdd"):
            names = [self.variable(t, scope) for t in op.inputs]
            found["bias"] = any(n and n.split("/")[-1].split(":")[0] == "bias" for n in names)
        return found


def _keras3():
    """Keras 3 on its TensorFlow backend (the keras3-tf cell), else tf.keras."""
    return os.environ.get("KERAS_BACKEND") == "tensorflow"


def exact_count(model_name):
    """Every op of one traced forward pass, priced by FORMULAS, loops times their trip counts."""
    import tensorflow as tf

    import answer
    import build_keras
    import installed
    import zoo

    definition = zoo.MODELS[model_name]
    shape = build_keras.input_shape(model_name)
    if _keras3():
        import count_keras3
        model = count_keras3.build(model_name)
    else:
        model = build_keras.builder(model_name)(shape)
    dtype = tf.int32 if definition.get("input_dtype") == "int64" else tf.float32
    concrete = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec(shape, dtype))
    graph = concrete.graph
    handles = {}
    for variable in model.weights:
        handle = getattr(variable, "handle", None)
        if handle is not None:
            handles[id(handle)] = getattr(variable, "path", None) or variable.name
    variables = dict((inner.name, handles[id(outer)]) for outer, inner in graph.captures if id(outer) in handles)
    layers = [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]
    norms = dict((layer.name, type(layer).__name__) for layer in model._flatten_layers(include_self=False)
                 if type(layer).__name__ in NORMS)
    walk = _Walk(tf, set(layers), variables, norms)
    walk.dependent.update(t.name for t in graph.inputs[:1])  # the model's input; the rest are captures
    walk.walk(_Scope(graph, None, 1, {}, "", None))
    walk.finish()
    classes = dict((layer.name, type(layer).__name__) for layer in model.layers)
    breakdown = [{"name": place, "type": classes.get(place, ""), "raw": flops(walk.items[place]),
                  "components": dict(sorted((k, v) for k, v in walk.items[place].items() if v))}
                 for place in walk.order if any(walk.items[place].values())]
    total = sum(item["raw"] for item in breakdown)
    notes = [
        "every op of the traced forward pass (tf.function concrete function, functions it calls and loop bodies"
        " opened) priced by its formula (bench/probe/count_exact_tf.py FORMULAS), per Keras layer and component:"
        " 'nodes'; raw is FLOPs under the reference's default convention (a multiply-accumulate 2, everything"
        " else 1)",
        "loops: " + ("; ".join(walk.loops) if walk.loops else "none"),
        "%d ops no output depends on, pruned by TensorFlow before it runs the function, cost nothing%s"
        % (len(walk.pruned), (" (e.g. %s)" % ", ".join(walk.pruned[:3])) if walk.pruned else ""),
    ]
    notes.append("built with %s" % ("Keras %s on its TensorFlow backend" % installed.dist_version("keras")
                                    if _keras3() else "tf.keras"))
    return answer.make(total, breakdown, build_keras.describe(model), ("tensorflow", tf.__version__),
                       ("tensorflow", tf.__version__), (), notes, walk.nodes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "exact-tf": {
        "framework": "tensorflow",
        "unit": "FLOP",
        "recipe": "the project's own graph counter: every op of one traced forward pass (a tf.function concrete"
            " function, called functions and loop bodies opened, a loop body times its trip count) priced by a"
            " formula from its shapes, per Keras layer and reference component (FLOPs under the default"
            " convention)",
        "function": "exact_count",
        "breakdown": "module",
        "nodes_add_up": True,
    },
}
