"""The user's models inside the container: definitions the zoo lacks, and Python files that build a
model themselves (models/<name>.py: torch_model() and/or keras_model(), each returning the model and
its example input). The host sends both into FOLDER beside the probe (bench/models.py).

Plain Python 2.7 and 3: this module runs in every cell.
"""
from __future__ import absolute_import, division, print_function

import json
import os

FOLDER = "/probe/user"
_BUILT = {}  # (file, function) -> (model, example input): once per forked job


def register(path, zoo_models, known):
    """Add the definitions in `path` (JSON: name -> definition) to the zoo and the probe's catalog."""
    with open(path) as handle:
        extra = json.load(handle)
    for name, definition in extra.items():
        zoo_models[name] = definition
        known[name] = definition["summary"]


def _module(file_name):
    path = os.path.join(FOLDER, file_name)
    name = "user_" + os.path.splitext(file_name)[0]
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except ImportError:  # Python 2.7
        import imp

        return imp.load_source(name, path)


def fresh(definition, function):
    """(model, example input) from the user's `function` (torch_model or keras_model), built now (a
    TensorFlow graph recipe builds the model inside its own graph)."""
    module = _module(definition["python"])
    if not hasattr(module, function):
        raise RuntimeError("%s defines no %s()" % (definition["python"], function))
    model, example = getattr(module, function)()
    return model, example


def built(definition, function):
    """fresh(), once per forked job: the model and the input a counter is given come from one call."""
    key = (definition["python"], function)
    if key not in _BUILT:
        _BUILT[key] = fresh(definition, function)
    return _BUILT[key]
