"""Keras 3 on TensorFlow: tf.profiler over a frozen concrete function of the model. Returns the probe's common
answer (answer.py).

Keras 3 has no FLOPs tool of its own; on its TensorFlow backend (KERAS_BACKEND=tensorflow) a user profiles
the TF2 way, as tf-profiler-frozen does for tf.keras: tf.function(lambda x: model(x)), its concrete function
with the variables frozen to constants, tf.profiler float_operation over that graph alone. The model is the
zoo definition built with keras.layers (count_keras3.build), for `seed` too: the blog's builder needs tf.keras.
"""
from __future__ import absolute_import, division, print_function

import count_keras3
import count_tf
import zoo


def frozen(model_name):
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("keras3-tf-frozen needs KERAS_BACKEND=tensorflow, not %s" % keras.backend.backend())
    said = count_tf.profile_frozen(count_keras3.build(model_name), tuple(zoo.MODELS[model_name]["input"]))
    said["notes"] = ["built from the zoo definition with keras.layers (Keras %s on its TensorFlow backend),"
                     " for the seed too: the blog's builder needs tf.keras" % keras.__version__] + said["notes"]
    return said


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "keras3-tf-frozen": {
        "framework": "tensorflow",
        "unit": "FLOP",
        "recipe": "Keras 3 on its TensorFlow backend: a concrete function of the model, variables frozen to"
            " constants, tf.profiler float_operation over that graph alone",
        "function": "frozen",
        "breakdown": "op_type",
        "nodes_add_up": True,
    },
}
