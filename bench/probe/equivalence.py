"""Proof that a model's Keras and PyTorch builds are one function: per-layer parameter counts,
then the outputs on a fixed input once the Keras definition build's weights are copied into the
others. Needs TensorFlow 2 (it runs the Keras models eagerly) and torch in one image.

BatchNorm's statistics are drawn at random in the Keras build first (fresh ones are the identity),
so that the copied running statistics are checked too.
"""
from __future__ import absolute_import, division, print_function

import random

import numpy as np

import zoo

SEED = 0  # every random weight and input of the check
TOLERANCE = 1e-5  # absolute, for every model: the deep networks (ResNet-50, BERT) stay below 4e-6
# PyTorch's LSTM and RNN keep two biases (b_ih and b_hh) where Keras keeps one: the copy puts Keras's
# bias in b_ih and zeros in b_hh, and the parameter comparison leaves b_hh out.
TORCH_EXTRA_PARAMS = {"lstm": 4, "simple_rnn": 1}


def _gate_order(matrix, units):
    """Keras stacks GRU gates as (z, r, h) on the last axis; PyTorch as (r, z, n) on the first."""
    z, r, h = matrix[..., :units], matrix[..., units:2 * units], matrix[..., 2 * units:]
    return np.concatenate([r, z, h], axis=-1)


def _set(torch, parameter, array):
    parameter.copy_(torch.from_numpy(np.ascontiguousarray(array, dtype="float32")))


def _copy_conv(torch, modules, weights, spec):
    kernel = weights[0]
    _set(torch, modules[0].weight, kernel.transpose(tuple(range(kernel.ndim - 1, -1, -1))[:2] + tuple(range(kernel.ndim - 2))))
    if len(weights) > 1:
        _set(torch, modules[0].bias, weights[1])


def _depthwise_kernel(kernel):
    """(kh, kw, C, multiplier) -> PyTorch's grouped (C x multiplier, 1, kh, kw)."""
    kh, kw, channels, multiplier = kernel.shape
    return kernel.reshape(kh, kw, channels * multiplier).transpose(2, 0, 1)[:, None]


def _copy_depthwise(torch, modules, weights, spec):
    _set(torch, modules[0].weight, _depthwise_kernel(weights[0]))
    if len(weights) > 1:
        _set(torch, modules[0].bias, weights[1])


def _copy_separable(torch, modules, weights, spec):
    _set(torch, modules[0].weight, _depthwise_kernel(weights[0]))
    _copy_conv(torch, modules[1:], weights[1:], spec)


def _copy_transpose(torch, modules, weights, spec):
    """Keras's (kh, kw, out, in) kernel -> PyTorch's (in, out, kh, kw)."""
    _set(torch, modules[0].weight, weights[0].transpose(3, 2, 0, 1))
    if len(weights) > 1:
        _set(torch, modules[0].bias, weights[1])


def _copy_dense(torch, modules, weights, spec):
    _set(torch, modules[0].weight, weights[0].T)
    if len(weights) > 1:
        _set(torch, modules[0].bias, weights[1])


def _both_ways(copy):
    """A bidirectional layer: Keras's forward weights, then its backward ones (PyTorch's `_reverse`)."""
    def both(torch, modules, weights, spec, suffix=""):
        if not spec.get("bidirectional"):
            return copy(torch, modules, weights, spec)
        half = len(weights) // 2
        copy(torch, modules, weights[:half], spec)
        copy(torch, modules, weights[half:], spec, "_reverse")
    return both


def _copy_gru(torch, modules, weights, spec, suffix=""):
    kernel, recurrent, bias = weights
    units, module = spec["units"], modules[0]
    _set(torch, getattr(module, "weight_ih_l0" + suffix), _gate_order(kernel, units).T)
    _set(torch, getattr(module, "weight_hh_l0" + suffix), _gate_order(recurrent, units).T)
    _set(torch, getattr(module, "bias_ih_l0" + suffix), _gate_order(bias[0], units))
    _set(torch, getattr(module, "bias_hh_l0" + suffix), _gate_order(bias[1], units))


def _copy_one_bias(torch, modules, weights, spec, suffix=""):
    """LSTM (gates i, f, c, o in both) and SimpleRNN: Keras's one bias in b_ih, zeros in b_hh."""
    kernel, recurrent, bias = weights
    module = modules[0]
    _set(torch, getattr(module, "weight_ih_l0" + suffix), kernel.T)
    _set(torch, getattr(module, "weight_hh_l0" + suffix), recurrent.T)
    _set(torch, getattr(module, "bias_ih_l0" + suffix), bias)
    _set(torch, getattr(module, "bias_hh_l0" + suffix), np.zeros_like(bias))


def _copy_batch_norm(torch, modules, weights, spec):
    gamma, beta, mean, variance = weights
    module = modules[0]
    _set(torch, module.weight, gamma)
    _set(torch, module.bias, beta)
    _set(torch, module.running_mean, mean)
    _set(torch, module.running_var, variance)


def _copy_norm(torch, modules, weights, spec):
    _set(torch, modules[0].weight, weights[0])
    if len(weights) > 1:
        _set(torch, modules[0].bias, weights[1])


# layer kind -> how its Keras weights go into its PyTorch modules (spec["torch"], in order), for every
# declared kind (checked on import); None: no weights of its own (a composite's: its parts')
WEIGHT_COPIES = {
    "conv1d": _copy_conv, "conv2d": _copy_conv, "depthwise_conv2d": _copy_depthwise,
    "separable_conv2d": _copy_separable, "conv2d_transpose": _copy_transpose, "dense": _copy_dense,
    "gru": _both_ways(_copy_gru), "lstm": _both_ways(_copy_one_bias), "simple_rnn": _both_ways(_copy_one_bias),
    "batch_norm": _copy_batch_norm, "layer_norm": _copy_norm, "rms_norm": _copy_norm, "embedding": _copy_norm,
    "reshape": None, "flatten": None, "activation": None, "max_pool2d": None, "avg_pool2d": None,
    "global_avg_pool2d": None, "zero_pad2d": None, "attention": None,
    "residual": None, "transformer_encoder": None, "llama_block": None,
}
zoo.registry("bench/probe/equivalence.py WEIGHT_COPIES", WEIGHT_COPIES, parts_too=True)


def _lookup(named, name):
    """A module by its name, or by its name's last parts inside a composite layer's module."""
    if name in named:
        return named[name]
    found = [module for path, module in named.items() if path.endswith("." + name)]
    if len(found) != 1:
        raise ValueError("module %r: %d matches in the PyTorch build" % (name, len(found)))
    return found[0]


def _copy_layers(torch, keras_model, named, specs):
    for spec in specs:
        if spec["kind"] in zoo.COMPOSITE:
            inner = keras_model.get_layer(spec["name"])
            _copy_layers(torch, inner, dict(_lookup(named, spec["torch"][0]).named_modules()), zoo.parts(spec))
            continue
        weights = keras_model.get_layer(spec["name"]).get_weights()
        if not weights:
            continue
        if WEIGHT_COPIES[spec["kind"]] is None:
            raise ValueError("no weight copy for layer kind %r" % spec["kind"])
        WEIGHT_COPIES[spec["kind"]](torch, [_lookup(named, m) for m in spec["torch"]], weights, spec)


def _copy_into_torch(keras_model, torch_model, definition):
    import torch

    with torch.no_grad():
        _copy_layers(torch, keras_model, dict(torch_model.named_modules()), definition["layers"])


def _random_statistics(model, draw):
    """Random BatchNorm gamma, beta, mean and (positive) variance, in this model and the models it nests."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            _random_statistics(layer, draw)
        elif type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([draw.uniform(0.5, 1.5, gamma.shape), draw.normal(0, 0.1, beta.shape),
                               draw.normal(0, 0.1, mean.shape), draw.uniform(0.5, 1.5, variance.shape)])


def _params_per_layer(rows, definition, framework):
    """Parameter counts per definition layer, from a build's described layers or modules (a PyTorch
    composite layer: its module's leaves), less PyTorch's second recurrent bias."""
    by_name = dict((row["name"], row["params"]) for row in rows)
    if framework == "keras":
        return dict((s["name"], by_name.get(s["name"], 0)) for s in definition["layers"])
    counts = {}
    for spec in definition["layers"]:
        total = sum(p for n, p in by_name.items() for m in spec["torch"] if n == m or n.startswith(m + "."))
        extra = TORCH_EXTRA_PARAMS.get(spec["kind"], 0) * spec.get("units", 0)
        counts[spec["name"]] = total - extra * (2 if spec.get("bidirectional") else 1)
    return counts


def _inputs(definition, draw):
    """The Keras input and the PyTorch one (channels moved first where the PyTorch build takes NCHW)."""
    shape = tuple(definition["input"])
    if definition.get("input_dtype", "float32") == "int64":
        ids = draw.randint(0, definition["layers"][0]["vocab"], shape)
        return ids.astype("float32"), ids.astype("int64")
    x = draw.standard_normal(shape).astype("float32")
    if "torch_input" in definition:
        return x, np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x, x


def check(model_name):
    import tensorflow as tf
    import torch

    import build_keras
    import build_torch
    import installed

    definition = zoo.MODELS[model_name]
    shape = tuple(definition["input"])
    draw = np.random.RandomState(SEED)
    torch.manual_seed(SEED)
    tf.random.set_seed(SEED)
    random.seed(SEED)  # tf-keras draws the seeds of unseeded initializers from Python's random
    np.random.seed(SEED)
    x, x_torch = _inputs(definition, draw)
    channels_first = "torch_input" in definition

    reference = build_keras.from_definition(definition, shape)
    _random_statistics(reference, draw)
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
                out = model(torch.from_numpy(x_torch)).numpy()
            outputs[name] = np.moveaxis(out, 1, -1) if channels_first and out.ndim > 2 else out
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
        "input": "numpy RandomState(%d), %s %s" % (SEED, list(shape), definition.get("input_dtype", "float32")),
        "builds": dict((n, {"params_per_layer": params[n], "layers": layers[n]}) for n in builds),
        "comparisons": comparisons,
        "framework": {"name": "tensorflow+torch", "version": "%s+%s" % (tf.__version__, torch.__version__)},
        "tool": {"name": "numpy", "version": installed.dist_version("numpy")},
    }


CHECKS = {"equivalence": check}
