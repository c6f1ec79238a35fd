"""TensorFlow counters: tf.profiler's float_operation over a graph. Each returns the probe's
common answer (answer.py)."""
from __future__ import absolute_import, division, print_function

import answer
import build_keras


def _op_types(proto):
    """cmd='op' answers a chain of op-type nodes whose totals are cumulative: take each one's own."""
    items, pending = [], list(proto.children)
    while pending:
        node = pending.pop(0)
        pending.extend(node.children)
        if node.float_ops:
            items.append({"name": node.name, "raw": int(node.float_ops)})
    return items


def _rule(graph, op):
    """Whether TF has a FLOPs rule for the op, and could apply it to this graph's shapes."""
    from tensorflow.python.framework import ops

    try:
        return "counted" if ops.get_stats_for_node_def(graph, op.node_def, "flops").value is not None else "no-rule"
    except ValueError:
        return "shape-unknown"


def _attrs(op):
    """The attributes TensorFlow's FLOPs rules read (MatMul's transposes, a conv's data format)."""
    found = {}
    for name in ("transpose_a", "transpose_b", "data_format", "ksize"):
        try:
            value = op.get_attr(name)
        except ValueError:
            continue
        found[name] = value.decode("ascii") if isinstance(value, bytes) else value
    return found


def _nodes(tf, graph):
    """Every op in the graph: the profiler's count, its rule, output and input shapes, inputs and the
    attributes its FLOPs rule reads (the evidence a rule model predicts the count from)."""
    profiler = tf.profiler
    options = profiler.ProfileOptionBuilder(profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    scope = profiler.profile(graph=graph, run_meta=tf.RunMetadata(), cmd="scope", options=options)
    counted, pending = {}, [scope]
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.float_ops:
            counted[node.name] = int(node.float_ops)
    nodes = []
    for op in graph.get_operations():
        nodes.append({
            "name": op.name,
            "op": op.type,
            "raw": counted.get(op.name, 0),
            "rule": _rule(graph, op),
            "shape": str(op.outputs[0].shape) if op.outputs else "",
            "inputs": [t.op.name for t in op.inputs],
            "input_shapes": [str(t.shape) for t in op.inputs],
            "attrs": _attrs(op),
        })
    return nodes


def _answer(tf, proto, graph, model):
    import tensorflow

    nodes = _nodes(tf, graph)
    unsupported = ["%s (%s): shapes not fully known, counted as 0" % (n["name"], n["op"])
                   for n in nodes if n["rule"] == "shape-unknown"]
    uncounted = sorted(set(n["op"] for n in nodes if n["rule"] == "no-rule"))
    notes = ["op types in the graph without a FLOPs rule in this TensorFlow: " + ", ".join(uncounted)]
    return answer.make(int(proto.total_float_ops), _op_types(proto), build_keras.describe(model),
                       ("tensorflow", tensorflow.__version__), ("tf.profiler", tensorflow.__version__),
                       unsupported, notes, nodes)


def seed_recipe(model_name):
    """The blog's code: the whole Keras session graph, input generator and initializers included."""
    import blog_keras

    shape = build_keras.input_shape(model_name)
    proto, graph, model = blog_keras.seed_recipe(build_keras.builder(model_name), shape)
    return _answer(blog_keras.tf, proto, graph, model)


def frozen(model_name):
    """TF2-native: trace the model as a concrete function, freeze its variables, profile that graph."""
    import tensorflow as tf

    if tf.__version__.startswith("1."):
        raise RuntimeError("tf-profiler-frozen needs TensorFlow 2 (concrete functions)")
    shape = build_keras.input_shape(model_name)
    return profile_frozen(build_keras.builder(model_name)(shape), shape)


def profile_frozen(model, shape):
    """tf.profiler over a concrete function of `model` (tf.keras or Keras 3 on TensorFlow), variables frozen."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda x: model(x))
    concrete = function.get_concrete_function(tf.TensorSpec(shape, tf.float32))
    graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    v1 = tf.compat.v1
    proto = v1.profiler.profile(graph=graph, run_meta=v1.RunMetadata(), cmd="op",
                                options=v1.profiler.ProfileOptionBuilder.float_operation())
    return _answer(v1, proto, graph, model)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "tf-profiler-seed": {
        "framework": "tensorflow",
        "unit": "FLOP",
        "recipe": "the blog's recipe verbatim: x = K.random_normal(...), the model built on the Keras"
            " session graph, tf.profiler float_operation over that whole graph (cmd='op')",
        "function": "seed_recipe",
        "breakdown": "op_type",
        "nodes_add_up": True,
    },
    "tf-profiler-frozen": {
        "framework": "tensorflow",
        "unit": "FLOP",
        "recipe": "TF2-native: a concrete function of the model, variables frozen to constants,"
            " tf.profiler float_operation over that graph alone",
        "function": "frozen",
        "breakdown": "op_type",
        "nodes_add_up": True,
    },
}
