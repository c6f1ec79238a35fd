"""TensorFlow counters: tf.profiler's float_operation over a graph. Each returns the probe's
common answer (see probe.py)."""
from __future__ import absolute_import, division, print_function

SHAPE = (1, 1, 100, 256)


def _op_types(proto):
    """cmd='op' answers a chain of op-type nodes whose totals are cumulative: take each one's own."""
    items, pending = [], list(proto.children)
    while pending:
        node = pending.pop(0)
        pending.extend(node.children)
        if node.float_ops:
            items.append({"name": node.name, "raw": int(node.float_ops)})
    return items


def _nodes(tf, graph):
    """Every op in the graph with the profiler's count and whether TF has a FLOPs rule for it."""
    from tensorflow.python.framework import ops

    profiler = tf.profiler
    options = profiler.ProfileOptionBuilder(profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    scope = profiler.profile(graph=graph, run_meta=tf.RunMetadata(), cmd="scope", options=options)
    counted, pending = {}, [scope]
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.float_ops:
            counted[node.name] = int(node.float_ops)
    nodes, unsupported = [], []
    for op in graph.get_operations():
        try:
            rule = "counted" if ops.get_stats_for_node_def(graph, op.node_def, "flops").value is not None else "no-rule"
        except ValueError:  # the op's FLOPs rule needs shapes this graph does not know
            rule = "shape-unknown"
            unsupported.append("%s (%s): shapes not fully known, counted as 0" % (op.name, op.type))
        nodes.append({"name": op.name, "op": op.type, "raw": counted.get(op.name, 0), "rule": rule})
    return nodes, unsupported


def _answer(tf, proto, graph):
    import tensorflow

    nodes, unsupported = _nodes(tf, graph)
    uncounted = sorted(set(n["op"] for n in nodes if n["rule"] == "no-rule"))
    return {
        "raw_total": int(proto.total_float_ops),
        "breakdown": {"by": "op_type", "items": _op_types(proto)},
        "nodes": nodes,
        "unsupported": unsupported,
        "notes": ["op types in the graph without a FLOPs rule in this TensorFlow: " + ", ".join(uncounted)],
        "framework": {"name": "tensorflow", "version": tensorflow.__version__},
        "tool": {"name": "tf.profiler", "version": tensorflow.__version__},
    }


def seed_recipe(model_name):
    """The blog's code: the whole Keras session graph, input generator and initializers included."""
    import blog_keras

    proto, graph = blog_keras.seed_recipe(model_name)
    return _answer(blog_keras.tf, proto, graph)


def frozen(model_name):
    """TF2-native: trace the model as a concrete function, freeze its variables, profile that graph."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    import blog_keras

    if blog_keras.TF1:
        raise RuntimeError("tf-profiler-frozen needs TensorFlow 2 (concrete functions)")
    model = blog_keras.BUILDERS[model_name](SHAPE)
    function = tf.function(lambda x: model(x))
    concrete = function.get_concrete_function(tf.TensorSpec(SHAPE, tf.float32))
    graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    v1 = tf.compat.v1
    proto = v1.profiler.profile(graph=graph, run_meta=v1.RunMetadata(), cmd="op",
                                options=v1.profiler.ProfileOptionBuilder.float_operation())
    return _answer(v1, proto, graph)


COUNTERS = {"tf-profiler-seed": seed_recipe, "tf-profiler-frozen": frozen}
