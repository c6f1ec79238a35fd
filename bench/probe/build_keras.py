"""Keras models from zoo definitions, and what the built layers turned out to be.

Works with tf.keras (TF 1.12's Keras 2.2-era API to tf-keras 2.21) and with Keras 3 (`Keras(keras)`).
A composite layer (residual block, Transformer encoder layer, LLaMA block) is a nested functional
model named after it, so TensorFlow's name scopes keep its ops under its name; attention and
RMSNorm, which Keras lacks (or lacks in some versions), are small layers of their own here.
"""
from __future__ import absolute_import, division, print_function

import zoo

KERAS_ACTIVATIONS = {"silu": "swish"}  # swish is x * sigmoid(x); tf.keras before 2.7 knows no "silu"


class Keras(object):
    """The Keras API in use: its layers, Model, Input and tensor ops."""

    def __init__(self, keras=None):
        if keras is None:
            from tensorflow.keras import activations, layers
            from tensorflow.keras.models import Model
            self.layers, self.Model, self.ops = layers, Model, _TensorFlowOps()
        else:
            activations, self.layers, self.Model, self.ops = keras.activations, keras.layers, keras.Model, keras.ops
        self.activations = activations
        self.classes = _custom_layers(self)


class _TensorFlowOps(object):
    """The few ops the custom layers need, named as keras.ops names them, for tf.keras."""

    def __init__(self):
        import tensorflow as tf
        import tensorflow.keras.backend as K
        self.tf, self.K = tf, K

    def matmul(self, a, b):
        return self.tf.matmul(a, b)

    def transpose(self, x, axes):
        return self.tf.transpose(x, axes)

    def reshape(self, x, shape):
        return self.tf.reshape(x, shape)

    def softmax(self, x, axis=-1):
        return self.K.softmax(x, axis=axis)

    def rsqrt(self, x):
        return self.tf.math.rsqrt(x)

    def mean(self, x, axis, keepdims):
        return self.tf.reduce_mean(x, axis=axis, keepdims=keepdims)

    def square(self, x):
        return self.tf.square(x)

    def concatenate(self, xs, axis):
        return self.tf.concat(xs, axis)

    def repeat(self, x, repeats, axis):
        return self.K.repeat_elements(x, repeats, axis)

    def convert_to_tensor(self, array):
        return self.tf.constant(array)


def _custom_layers(k):
    import numpy as np

    ops = k.ops

    class RMSNorm(k.layers.Layer):
        """x / sqrt(mean(x^2) + eps) * weight over the last axis."""

        def __init__(self, epsilon, **kwargs):
            super(RMSNorm, self).__init__(**kwargs)
            self.epsilon = epsilon

        def build(self, input_shape):
            self.weight = self.add_weight(name="weight", shape=(int(input_shape[-1]),), initializer="ones")
            super(RMSNorm, self).build(input_shape)

        def get_config(self):
            config = super(RMSNorm, self).get_config()
            config["epsilon"] = self.epsilon
            return config

        def call(self, x):
            return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon) * self.weight

    class Attention(k.layers.Layer):
        """Scaled dot-product attention of projected [q, k, v] (batch, T, heads x head_dim): rotary
        embedding (rotate_half form), key/value heads repeated for grouped-query attention, a causal mask."""

        def __init__(self, spec, steps, **kwargs):
            super(Attention, self).__init__(**kwargs)
            self.spec = spec
            self.heads, self.kv_heads, self.head_dim = spec["heads"], spec["kv_heads"], spec["head_dim"]
            self.steps, self.scale = steps, 1.0 / np.sqrt(self.head_dim)
            self.causal, self.theta = bool(spec.get("causal")), spec.get("rotary_theta")
            if self.theta:
                half = self.head_dim // 2
                inv = 1.0 / (self.theta ** (np.arange(0, half, dtype="float32") * 2.0 / self.head_dim))
                angles = np.arange(steps, dtype="float32")[:, None] * inv[None, :].astype("float32")
                angles = np.concatenate([angles, angles], axis=-1)
                self.cos, self.sin = np.cos(angles).astype("float32"), np.sin(angles).astype("float32")
            if self.causal:
                self.mask = np.triu(np.full((steps, steps), -np.inf, dtype="float32"), 1)

        def get_config(self):
            config = super(Attention, self).get_config()
            config.update({"spec": self.spec, "steps": self.steps})
            return config

        def _heads(self, x, heads):
            return ops.transpose(ops.reshape(x, (-1, self.steps, heads, self.head_dim)), (0, 2, 1, 3))

        def _rotate(self, x):
            half = self.head_dim // 2
            rotated = ops.concatenate([-x[..., half:], x[..., :half]], axis=-1)
            return x * ops.convert_to_tensor(self.cos) + rotated * ops.convert_to_tensor(self.sin)

        def call(self, inputs):
            q, key, value = inputs
            q, key, value = (self._heads(q, self.heads), self._heads(key, self.kv_heads),
                             self._heads(value, self.kv_heads))
            if self.theta:
                q, key = self._rotate(q), self._rotate(key)
            if self.kv_heads != self.heads:
                key = ops.repeat(key, self.heads // self.kv_heads, axis=1)
                value = ops.repeat(value, self.heads // self.kv_heads, axis=1)
            scores = ops.matmul(q, ops.transpose(key, (0, 1, 3, 2))) * self.scale
            if self.causal:
                scores = scores + ops.convert_to_tensor(self.mask)
            out = ops.transpose(ops.matmul(ops.softmax(scores, axis=-1), value), (0, 2, 1, 3))
            return ops.reshape(out, (-1, self.steps, self.heads * self.head_dim))

        def compute_output_shape(self, input_shape):
            return input_shape[0]

    return {"RMSNorm": RMSNorm, "Attention": Attention}


def _shape(x):
    shape = x.shape.as_list() if hasattr(x.shape, "as_list") else x.shape
    return tuple(None if d is None else int(d) for d in shape)


def _activation_name(k, spec):
    name = spec.get("activation", "linear")
    name = KERAS_ACTIVATIONS.get(name, name)
    if not hasattr(k.activations, name):
        raise RuntimeError("this Keras has no %r activation (for the definition's %r)" % (name, spec["activation"]))
    return name


def _padded(k, spec, make):
    """Explicit symmetric zero padding (as PyTorch pads) before a 'valid' convolution."""
    padding = spec.get("padding", "valid")
    if padding in ("valid", "same"):
        return make(padding)
    pad = k.layers.ZeroPadding2D(tuple((p, p) for p in padding), name=spec["name"] + "_pad")
    layer = make("valid")
    return lambda x: layer(pad(x))


def _conv(k, spec):
    conv = k.layers.Conv1D if len(spec["kernel"]) == 1 else k.layers.Conv2D
    options = {}
    if spec.get("groups", 1) != 1:
        options["groups"] = spec["groups"]
    return _padded(k, spec, lambda padding: conv(
        spec["filters"], kernel_size=tuple(spec["kernel"]), strides=tuple(spec["strides"]), padding=padding,
        activation=_activation_name(k, spec), use_bias=spec.get("use_bias", True),
        data_format=spec.get("data_format", "channels_last"), name=spec["name"], **options))


def _depthwise(k, spec):
    return _padded(k, spec, lambda padding: k.layers.DepthwiseConv2D(
        tuple(spec["kernel"]), strides=tuple(spec["strides"]), padding=padding,
        depth_multiplier=spec.get("depth_multiplier", 1), activation=_activation_name(k, spec),
        use_bias=spec.get("use_bias", True), name=spec["name"]))


def _separable(k, spec):
    return _padded(k, spec, lambda padding: k.layers.SeparableConv2D(
        spec["filters"], tuple(spec["kernel"]), strides=tuple(spec["strides"]), padding=padding,
        activation=_activation_name(k, spec), use_bias=spec.get("use_bias", True), name=spec["name"]))


def _transpose(k, spec):
    return k.layers.Conv2DTranspose(spec["filters"], tuple(spec["kernel"]), strides=tuple(spec["strides"]),
                                    padding="valid", activation=_activation_name(k, spec),
                                    use_bias=spec.get("use_bias", True), name=spec["name"])


def _reshape(k, spec):
    return k.layers.Reshape(tuple(spec["shape"]), name=spec["name"])


def _both_ways(k, spec, layer):
    """Bidirectional(layer), outputs concatenated, named after the definition's layer."""
    if not spec.get("bidirectional"):
        return layer(spec["name"])
    return k.layers.Bidirectional(layer(spec["name"] + "_cell"), merge_mode="concat", name=spec["name"])


def _gru(k, spec):
    return _both_ways(k, spec, lambda name: k.layers.GRU(units=spec["units"], reset_after=spec.get("reset_after", True),
                        return_sequences=spec.get("return_sequences", False),
                        activation=spec.get("activation", "tanh"),
                        recurrent_activation=spec.get("recurrent_activation", "sigmoid"), name=name))


def _lstm(k, spec):
    return _both_ways(k, spec, lambda name: k.layers.LSTM(units=spec["units"], return_sequences=spec.get("return_sequences", False),
                         activation=spec.get("activation", "tanh"),
                         recurrent_activation=spec.get("recurrent_activation", "sigmoid"), name=name))


def _simple_rnn(k, spec):
    return _both_ways(k, spec, lambda name: k.layers.SimpleRNN(
        units=spec["units"], return_sequences=spec.get("return_sequences", False),
        activation=spec.get("activation", "tanh"), name=name))


def _dense(k, spec):
    return k.layers.Dense(spec["units"], activation=_activation_name(k, spec), use_bias=spec.get("use_bias", True),
                          name=spec["name"])


def _activation(k, spec):
    if spec["activation"] == "relu6":
        return k.layers.ReLU(max_value=6.0, name=spec["name"])
    return k.layers.Activation(_activation_name(k, spec), name=spec["name"])


def _batch_norm(k, spec):
    return k.layers.BatchNormalization(epsilon=spec.get("epsilon", 1e-3), name=spec["name"])


def _layer_norm(k, spec):
    if not hasattr(k.layers, "LayerNormalization"):
        raise RuntimeError("this Keras has no layers.LayerNormalization (tf.keras added it in TensorFlow 1.14)")
    return k.layers.LayerNormalization(epsilon=spec.get("epsilon", 1e-3), name=spec["name"])


def _rms_norm(k, spec):
    return k.classes["RMSNorm"](spec.get("epsilon", 1e-5), name=spec["name"])


def _max_pool(k, spec):
    return k.layers.MaxPooling2D(tuple(spec["pool"]), strides=tuple(spec["strides"]), name=spec["name"])


def _avg_pool(k, spec):
    return k.layers.AveragePooling2D(tuple(spec["pool"]), strides=tuple(spec["strides"]), name=spec["name"])


def _global_avg_pool(k, spec):
    return k.layers.GlobalAveragePooling2D(name=spec["name"])


def _zero_pad(k, spec):
    return k.layers.ZeroPadding2D(tuple((p, p) for p in spec["padding"]), name=spec["name"])


def _flatten(k, spec):
    return k.layers.Flatten(name=spec["name"])


def _embedding(k, spec):
    return k.layers.Embedding(spec["vocab"], spec["dim"], name=spec["name"])


def _nested(k, spec, wire):
    """A composite layer as a functional model of its own, named after the layer."""
    def build(x):
        inner = k.layers.Input(batch_shape=_shape(x), name=spec["name"] + "_input")
        return k.Model(inputs=inner, outputs=wire(inner, _shape(x)), name=spec["name"])(x)
    return build


def _chain(k, specs, x):
    for spec in specs:
        x = BUILDERS[spec["kind"]](k, spec)(x)
    return x


def _residual(k, spec):
    def wire(x, shape):
        out = k.layers.Add(name="add")([_chain(k, spec["body"], x), _chain(k, spec["shortcut"], x)])
        if spec.get("activation", "linear") != "linear":
            out = _activation(k, {"name": spec["activation"], "activation": spec["activation"]})(out)
        return out
    return _nested(k, spec, wire)


def _block(k, spec):
    def wire(x, shape):
        parts = {}
        for part in zoo.parts(spec, shape[-1]):
            if part["kind"] == "attention":
                parts[part["name"]] = k.classes["Attention"](part, shape[1], name=part["name"])
            else:
                parts[part["name"]] = BUILDERS[part["kind"]](k, part)
        p, add = parts, k.layers.Add
        if spec["kind"] == "transformer_encoder":
            h = p["norm1"](add(name="add1")([x, p["output"](p["attention"]([p["query"](x), p["key"](x), p["value"](x)]))]))
            return p["norm2"](add(name="add2")([h, p["ffn2"](p["ffn1"](h))]))
        h = p["attn_norm"](x)
        x = add(name="add1")([x, p["o"](p["attention"]([p["q"](h), p["k"](h), p["v"](h)]))])
        h = p["ffn_norm"](x)
        return add(name="add2")([x, p["down"](k.layers.Multiply(name="swiglu")([p["gate"](h), p["up"](h)]))])
    return _nested(k, spec, wire)


# layer kind -> its Keras builder: every kind a definition may list (zoo.listed()), checked on import
BUILDERS = {
    "conv1d": _conv, "conv2d": _conv, "depthwise_conv2d": _depthwise, "separable_conv2d": _separable,
    "conv2d_transpose": _transpose, "reshape": _reshape, "flatten": _flatten, "zero_pad2d": _zero_pad,
    "gru": _gru, "lstm": _lstm, "simple_rnn": _simple_rnn, "dense": _dense,
    "activation": _activation, "batch_norm": _batch_norm, "layer_norm": _layer_norm, "rms_norm": _rms_norm,
    "max_pool2d": _max_pool, "avg_pool2d": _avg_pool, "global_avg_pool2d": _global_avg_pool,
    "embedding": _embedding, "residual": _residual, "transformer_encoder": _block, "llama_block": _block,
}
zoo.registry("bench/probe/build_keras.py BUILDERS", BUILDERS)


def from_definition(definition, batch_shape, keras=None):
    """The definition's Keras model; `keras` is Keras 3's module, or None for tf.keras."""
    k = Keras(keras)
    inputs = x = k.layers.Input(batch_shape=tuple(batch_shape), name="main_inputs")
    for spec in definition["layers"]:
        if spec["kind"] not in BUILDERS:
            raise ValueError("layer %r: no Keras builder for kind %r" % (spec["name"], spec["kind"]))
        x = BUILDERS[spec["kind"]](k, spec)(x)
    if keras is not None:
        return k.Model(inputs=inputs, outputs=x)
    return k.Model(inputs=[inputs], outputs=[x])


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
               "implementation", "padding", "strides", "depth_multiplier", "epsilon")


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
            "config": dict((k, _plain(config[k])) for k in CONFIG_KEYS if k in config),
        })
    return rows


def _plain(value):
    """A config value as JSON has it (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value
