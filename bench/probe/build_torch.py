"""PyTorch models from zoo definitions, and what the built modules turned out to be."""
from __future__ import absolute_import, division, print_function

import torch
import torch.nn as nn

import zoo

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class Defined(nn.Module):
    """A definition's layers as named modules, applied in order.

    `time_major` feeds recurrent layers as (time, batch, features), as an nn.GRU without
    batch_first does: the blog's PyTorch model is the seed definition built that way.
    """

    def __init__(self, definition, time_major=False):
        super(Defined, self).__init__()
        self._plan = []  # module names, or callables for steps that are not modules
        self._time_major = time_major
        shape = tuple(definition["input"][1:])
        for spec in definition["layers"]:
            shape = getattr(self, "_" + spec["kind"])(spec, shape)

    def forward(self, x):
        for step in self._plan:
            x = getattr(self, step)(x) if isinstance(step, str) else step(x)
        return x

    def _activation(self, name, function):
        self.add_module(name, ACTIVATIONS[function]())
        self._plan.append(name)

    def _conv2d(self, spec, shape):
        channels, height, width = shape
        (kh, kw), (sh, sw) = spec["kernel"], spec["strides"]
        conv, activation = spec["torch"]
        self.add_module(conv, nn.Conv2d(channels, spec["filters"], kernel_size=(kh, kw), stride=(sh, sw)))
        self._plan.append(conv)
        self._activation(activation, spec["activation"])
        return (spec["filters"], (height - kh) // sh + 1, (width - kw) // sw + 1)

    def _reshape(self, spec, shape):
        target = tuple(spec["shape"])
        self._plan.append(lambda x: torch.reshape(x, (x.size(0),) + target))
        return target

    def _gru(self, spec, shape):
        (name,) = spec["torch"]
        steps, features = shape
        self.add_module(name, nn.GRU(input_size=features, hidden_size=spec["units"], batch_first=not self._time_major))
        self._plan.append(lambda x: getattr(self, name)(x)[0])
        return (steps, spec["units"])

    def _dense(self, spec, shape):
        linear, activation = spec["torch"]
        self.add_module(linear, nn.Linear(shape[-1], spec["units"]))
        self._plan.append(linear)
        self._activation(activation, spec["activation"])
        return shape[:-1] + (spec["units"],)


def builder(model_name):
    """What a counter measures: the blog's own module for the seed, else the definition's."""
    definition = zoo.MODELS[model_name]
    if definition.get("python"):
        import usercode
        return lambda: usercode.built(definition, "torch_model")[0]
    if definition["verbatim"]:
        import blog_torch
        return blog_torch.test_model_torch
    return lambda: Defined(definition)


def seed_input(model_name):
    definition = zoo.MODELS[model_name]
    if definition.get("python"):
        import usercode
        return usercode.built(definition, "torch_model")[1]
    return torch.randn(*definition["input"])


def describe(model):
    """Each leaf module as built: its class, parameter count and the options that change its FLOPs."""
    rows = []
    for name, module in model.named_modules():
        if not name or list(module.children()):
            continue
        config = {}
        if isinstance(getattr(module, "batch_first", None), bool):
            config["batch_first"] = module.batch_first
        if hasattr(module, "bias"):
            config["bias"] = module.bias is not None and module.bias is not False
        rows.append({
            "name": name,
            "class": type(module).__name__,
            "params": int(sum(p.numel() for p in module.parameters())),
            "config": config,
        })
    return rows
