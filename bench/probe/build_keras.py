"""Keras models from zoo definitions, and what the built layers turned out to be."""
from __future__ import absolute_import, division, print_function

import zoo


def _conv2d(layers, spec):
    return layers.Conv2D(spec["filters"], kernel_size=tuple(spec["kernel"]), strides=tuple(spec["strides"]),
                         activation=spec["activation"], data_format=spec["data_format"], name=spec["name"])


def _reshape(layers, spec):
    return layers.Reshape(tuple(spec["shape"]), name=spec["name"])


def _gru(layers, spec):
    return layers.GRU(units=spec["units"], reset_after=spec["reset_after"],
                      return_sequences=spec["return_sequences"], activation=spec["activation"],
                      recurrent_activation=spec["recurrent_activation"], name=spec["name"])


def _dense(layers, spec):
    return layers.Dense(spec["units"], activation=spec["activation"], name=spec["name"])


LAYERS = {"conv2d": _conv2d, "reshape": _reshape, "gru": _gru, "dense": _dense}


def from_definition(definition, batch_shape):
    from tensorflow.keras import layers
    from tensorflow.keras.models import Model

    inputs = x = layers.Input(batch_shape=batch_shape, name="main_inputs")
    for spec in definition["layers"]:
        x = LAYERS[spec["kind"]](layers, spec)(x)
    return Model(inputs=[inputs], outputs=[x])


def builder(model_name):
    """What a counter measures: the blog's own builder for the seed, else the definition's."""
    definition = zoo.MODELS[model_name]
    if definition.get("python"):
        import usercode
        return lambda *_shape: usercode.fresh(definition, "keras_model")[0]
    if definition["verbatim"]:
        import blog_keras
        return blog_keras.test_model_tf
    return lambda batch_shape: from_definition(definition, batch_shape)


def input_shape(model_name):
    """The definition's input shape, or the shape of the user's example input (a Python model)."""
    definition = zoo.MODELS[model_name]
    if definition.get("python"):
        import usercode
        return tuple(int(d) for d in usercode.built(definition, "keras_model")[1].shape)
    return tuple(definition["input"])


CONFIG_KEYS = ("activation", "recurrent_activation", "reset_after", "time_major", "use_bias", "data_format",
               "implementation")


def describe(model):
    """Each layer as built: its class, parameter count and the options that change its FLOPs."""
    rows = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        config = layer.get_config()
        rows.append({
            "name": layer.name,
            "class": type(layer).__name__,
            "params": int(layer.count_params()),
            "config": dict((k, config[k]) for k in CONFIG_KEYS if k in config),
        })
    return rows
