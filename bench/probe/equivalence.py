"""Proof that a model's Keras and PyTorch builds are one function: per-layer parameter counts,
then the outputs on a fixed input once the Keras definition build's weights are copied into the
others. Needs TensorFlow 2 (it runs the Keras models eagerly) and torch in one image.
"""
from __future__ import absolute_import, division, print_function

import random

import numpy as np

import zoo

TOLERANCE = 1e-5


def _gate_order(matrix, units):
    """Keras stacks GRU gates as (z, r, h) on the last axis; PyTorch as (r, z, n) on the first."""
    z, r, h = matrix[..., :units], matrix[..., units:2 * units], matrix[..., 2 * units:]
    return np.concatenate([r, z, h], axis=-1)


def _copy_conv2d(torch, module, weights, spec):
    module.weight.copy_(torch.from_numpy(weights[0].transpose(3, 2, 0, 1).copy()))
    module.bias.copy_(torch.from_numpy(weights[1]))


def _copy_dense(torch, module, weights, spec):
    module.weight.copy_(torch.from_numpy(weights[0].T.copy()))
    module.bias.copy_(torch.from_numpy(weights[1]))


def _copy_gru(torch, module, weights, spec):
    kernel, recurrent, bias = weights
    units = spec["units"]
    module.weight_ih_l0.copy_(torch.from_numpy(_gate_order(kernel, units).T.copy()))
    module.weight_hh_l0.copy_(torch.from_numpy(_gate_order(recurrent, units).T.copy()))
    module.bias_ih_l0.copy_(torch.from_numpy(_gate_order(bias[0], units).copy()))
    module.bias_hh_l0.copy_(torch.from_numpy(_gate_order(bias[1], units).copy()))


# layer kind -> how its Keras weights go into its first PyTorch module
WEIGHT_COPIES = {"conv2d": _copy_conv2d, "dense": _copy_dense, "gru": _copy_gru}


def _copy_into_torch(keras_model, torch_model, definition):
    import torch

    modules = dict(torch_model.named_modules())
    with torch.no_grad():
        for spec in definition["layers"]:
            if not spec["torch"]:
                continue
            if spec["kind"] not in WEIGHT_COPIES:
                raise ValueError("no weight copy for layer kind %r" % spec["kind"])
            weights = keras_model.get_layer(spec["name"]).get_weights()
            WEIGHT_COPIES[spec["kind"]](torch, modules[spec["torch"][0]], weights, spec)


def _params_per_layer(rows, definition, framework):
    """Parameter counts per definition layer, from a build's described layers or modules."""
    by_name = dict((row["name"], row["params"]) for row in rows)
    if framework == "keras":
        return dict((s["name"], by_name.get(s["name"], 0)) for s in definition["layers"])
    return dict((s["name"], sum(by_name.get(m, 0) for m in s["torch"])) for s in definition["layers"])


def check(model_name):
    import tensorflow as tf
    import torch

    import build_keras
    import build_torch
    import installed

    definition = zoo.MODELS[model_name]
    shape = tuple(definition["input"])
    x = np.random.RandomState(0).standard_normal(shape).astype("float32")
    torch.manual_seed(0)
    tf.random.set_seed(0)
    random.seed(0)  # tf-keras draws the seeds of unseeded initializers from Python's random
    np.random.seed(0)

    reference = build_keras.from_definition(definition, shape)
    builds = {"keras from definition": ("keras", reference), "torch from definition": ("torch", build_torch.Defined(definition))}
    # (a, b, whether they must be the same function)
    pairs = [("keras from definition", "torch from definition", True)]
    if definition["verbatim"]:
        import blog_keras
        import blog_torch

        blog = blog_keras.test_model_tf(shape)
        blog.set_weights(reference.get_weights())
        builds["keras, blog's code"] = ("keras", blog)
        builds["torch, blog's code"] = ("torch", blog_torch.test_model_torch())
        builds["torch from definition, time-major"] = ("torch", build_torch.Defined(definition, time_major=True))
        pairs += [
            ("keras from definition", "keras, blog's code", True),
            ("torch, blog's code", "torch from definition, time-major", True),
            ("keras, blog's code", "torch, blog's code", False),
        ]

    outputs, params, layers = {}, {}, {}
    for name, (framework, model) in sorted(builds.items()):
        if framework == "torch":
            _copy_into_torch(reference, model, definition)
            model.eval()
            with torch.no_grad():
                outputs[name] = model(torch.from_numpy(x)).numpy()
            layers[name] = build_torch.describe(model)
        else:
            outputs[name] = np.asarray(model(tf.constant(x)))
            layers[name] = build_keras.describe(model)
        params[name] = _params_per_layer(layers[name], definition, framework)

    comparisons = []
    for a, b, same in pairs:
        diff = float(np.max(np.abs(outputs[a] - outputs[b])))
        comparisons.append({
            "a": a, "b": b, "same_function_expected": same,
            "params_equal": params[a] == params[b],
            "max_abs_diff": diff,
            "outputs_agree": diff <= TOLERANCE,
            "holds": params[a] == params[b] and (diff <= TOLERANCE) == same,
        })
    return {
        "tolerance": TOLERANCE,
        "input": "numpy RandomState(0).standard_normal(%s), float32" % (list(shape),),
        "builds": dict((n, {"params_per_layer": params[n], "layers": layers[n]}) for n in builds),
        "comparisons": comparisons,
        "framework": {"name": "tensorflow+torch", "version": "%s+%s" % (tf.__version__, torch.__version__)},
        "tool": {"name": "numpy", "version": installed.dist_version("numpy")},
    }


CHECKS = {"equivalence": check}
