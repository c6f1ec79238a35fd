"""keras-flops: keras_flops.get_flops(model, batch_size=1). Returns the probe's common answer (answer.py).

keras-flops 0.1.2 (keras_flops/flops_calculation.py) traces the model as a concrete function for a
batch of `batch_size`, freezes its variables with convert_variables_to_constants_v2_as_graph and
returns tf.profiler's float_operation total over that graph (cmd='scope'). Importing it registers
three FLOPs rules of its own with TensorFlow (keras_flops/flops_registory.py: AddV2, Max,
FusedBatchNormV3); where TensorFlow already registers one of them the import raises, and the job
fails with keras-flops' own error.

The number returned is keras_flops.get_flops's, untouched. It gives no breakdown, so the probe
repeats its steps up to the frozen graph and records that graph's nodes with count_tf's helpers
(each node's profiler count, rule, shapes, inputs): the evidence the host's rule model reads. A
difference between keras-flops' number and the nodes' sum shows up as residual on the host.
"""
from __future__ import absolute_import, division, print_function

import build_keras
import count_tf
import installed

BATCH_SIZE = 1
OWN_RULES = ("AddV2", "Max", "FusedBatchNormV3")  # what keras_flops/flops_registory.py registers


def _frozen_graph(tf, model, batch_size):
    """keras_flops.get_flops's own steps (0.1.2), up to the graph it hands the profiler."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2_as_graph

    inputs = [tf.TensorSpec([batch_size] + inp.shape[1:], inp.dtype) for inp in model.inputs]
    real_model = tf.function(model).get_concrete_function(inputs)
    frozen_func, _ = convert_variables_to_constants_v2_as_graph(real_model)
    return frozen_func.graph


def get_flops(model_name):
    import keras_flops  # registers its FLOPs rules; raises where TensorFlow has one of them already
    import tensorflow as tf

    shape = build_keras.input_shape(model_name)
    model = build_keras.builder(model_name)(shape)
    total = keras_flops.get_flops(model, batch_size=BATCH_SIZE)

    graph = _frozen_graph(tf, model, BATCH_SIZE)
    v1 = tf.compat.v1
    proto = v1.profiler.profile(graph=graph, run_meta=v1.RunMetadata(), cmd="op",
                                options=v1.profiler.ProfileOptionBuilder.float_operation())
    said = count_tf._answer(v1, proto, graph, model)
    said["raw_total"] = int(total)
    said["tool"] = {"name": "keras-flops", "version": installed.dist_version("keras-flops")}
    said["notes"].append(
        "FLOPs rules keras-flops registers with TensorFlow on import: " + ", ".join(OWN_RULES))
    recorded = sum(node["raw"] for node in said["nodes"])
    if recorded != said["raw_total"]:
        _keep_gap(said, said["raw_total"] - recorded)
    return said


def _keep_gap(answer, gap):
    """keras-flops' number is kept as it is; what the recorded graph does not hold becomes one item
    and one node of its own, which no rule predicts (the host shows it as residual, named)."""
    name = "keras_flops.get_flops beyond the recorded graph"
    answer["items"].append({"name": name, "raw": gap})
    answer["nodes"].append({"name": name, "op": "(none)", "raw": gap, "rule": "no-rule", "shape": "",
                            "inputs": [], "input_shapes": [], "attrs": {}})
    answer["notes"].append("keras_flops.get_flops returned %d; the recorded nodes of the graph its steps"
                           " build add up to %d" % (answer["raw_total"], answer["raw_total"] - gap))


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "keras-flops": {
        "framework": "tensorflow",
        "unit": "FLOP",
        "recipe": "keras_flops.get_flops(model, batch_size=1): tf.profiler float_operation over the model's frozen"
            " graph",
        "function": "get_flops",
        "breakdown": "op_type",
        "nodes_add_up": True,
        "per_sample": "get_flops(model, batch_size=1) traces the model again at a batch of 1",
    },
}
