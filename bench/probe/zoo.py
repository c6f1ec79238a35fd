"""Each model defined once, as data: the input shape and a list of layers with their options.

The probe builds Keras and PyTorch models from these definitions (build_keras.py,
build_torch.py); the host computes the analytic reference from the same data
(bench/reference/). Plain data only: this module runs under Python 2.7 too. The functions
below only write repeated layers and stages out as data (a network's definition is the data
they return).

Layer keys: `name` (the Keras layer name, also the TensorFlow name scope), `kind`, the kind's
options (KINDS), and `torch`: the PyTorch module names that implement the layer, in order (an
activation is a module of its own in PyTorch). Image tensors are channels-last as Keras has
them; `torch_input` is the NCHW (or NCL) shape the PyTorch build takes instead, when it differs.
Composite kinds hold their own layers (PARTS): a residual block's `body` and `shortcut`, and the
fixed parts of a Transformer encoder layer or a LLaMA-style decoder block; PyTorch builds a
composite as one module named by `torch[0]` whose children are its parts.
"""

import hashlib
import json


def fingerprint(definition):
    """sha256 of the definition as canonical JSON: the same under Python 2.7 and 3."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The layer kinds, each declared once; a registry keyed by kind (each builder's, the weight copy's, the
# formulas', the user files' field checks) must hold exactly these kinds, checked when it is imported
# (`registry`). A kind's declaration:
#   fields: each option of the kind and what it takes (the field types below); `name`, `kind` and `torch`
#     are every layer's;
#   required: the fields a layer must give; the others are optional, the builders' defaults when left out;
#   source: where its multiply-accumulates come from (LayerCost.sources), None where it has none of its own
#     (a composite's are its parts');
#   torch: its PyTorch modules' names, as suffixes of the layer's name, in build order;
#   own_act: whether a non-linear `activation` is a PyTorch module of its own, `<name>_act`, after those;
#   composite: whether it holds layers of its own (`parts`);
#   part_of: the composite kinds it is only a part of (built by them): not a layer a definition lists,
#     so neither a builder's table nor a user's file has it.
# Field types: "count" (a whole number >= 1), "sizes1" / "sizes2" ([a] / [a, b] of those), "sizes" (one or
# more), "pads2" ([a, b], whole numbers >= 0), "padding" ("valid", "same", or one whole number >= 0 per
# spatial axis), "bool", "number" (> 0), "layers" (a list of layer definitions), or a tuple of the values
# it may take.
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "gelu", "silu")  # both builders apply these inside a layer
NONLINEAR = ("relu", "relu6", "sigmoid", "tanh", "gelu", "silu")  # both builders have these as a layer of its own
FORMATS = ("channels_last", "channels_first")


def declare(required, optional=None, source=None, torch=("",), own_act=False, composite=False, part_of=()):
    """One kind's declaration (above): `required` and `optional` map each of its fields to the field's type."""
    fields = dict(required)
    fields.update(optional or {})
    return {
        "fields": fields,
        "required": tuple(sorted(required)),
        "source": source,
        "torch": torch,
        "own_act": own_act,
        "composite": composite,
        "part_of": part_of,
    }


def _conv_kind(sizes):
    optional = {"activation": ACTIVATIONS, "padding": "padding", "use_bias": "bool", "data_format": FORMATS,
                "groups": "count"}
    return declare({"filters": "count", "kernel": sizes, "strides": sizes}, optional, "conv", own_act=True)


_RECURRENT = {"return_sequences": "bool", "use_bias": (True,), "bidirectional": "bool"}  # PyTorch keeps the biases

KINDS = {
    "conv1d": _conv_kind("sizes1"),
    "conv2d": _conv_kind("sizes2"),
    "depthwise_conv2d": declare(
        {"kernel": "sizes2", "strides": "sizes2"},
        {"activation": ACTIVATIONS, "padding": "padding", "use_bias": "bool", "depth_multiplier": "count"},
        "conv",
        own_act=True,
    ),
    "separable_conv2d": declare(
        {"filters": "count", "kernel": "sizes2", "strides": "sizes2"},
        {"activation": ACTIVATIONS, "padding": "padding", "use_bias": "bool"},
        "conv",
        torch=("_depthwise", "_pointwise"),
        own_act=True,
    ),
    "conv2d_transpose": declare(
        {"filters": "count", "kernel": "sizes2", "strides": "sizes2"},
        {"activation": ACTIVATIONS, "use_bias": "bool"},
        "conv",
        own_act=True,
    ),
    "dense": declare({"units": "count"}, {"activation": ACTIVATIONS, "use_bias": "bool"}, "matmul", own_act=True),
    "reshape": declare({"shape": "sizes"}, torch=()),
    "flatten": declare({}, torch=()),
    "activation": declare({"activation": NONLINEAR}),
    "batch_norm": declare({}, {"epsilon": "number"}),
    "layer_norm": declare({}, {"epsilon": "number"}),
    "rms_norm": declare({}, {"epsilon": "number"}),
    "max_pool2d": declare({"pool": "sizes2", "strides": "sizes2"}),
    "avg_pool2d": declare({"pool": "sizes2", "strides": "sizes2"}),
    "global_avg_pool2d": declare({}),
    "zero_pad2d": declare({"padding": "pads2"}),
    "embedding": declare({"vocab": "count", "dim": "count"}),
    # PyTorch's GRU and LSTM run tanh and sigmoid, batch first, and its GRU resets after the product
    "gru": declare(
        {"units": "count"},
        dict(_RECURRENT, reset_after="bool", activation=("tanh",), recurrent_activation=("sigmoid",),
             time_major=(False,)),
        "recurrent",
    ),
    "lstm": declare(
        {"units": "count"}, dict(_RECURRENT, activation=("tanh",), recurrent_activation=("sigmoid",)), "recurrent"
    ),
    "simple_rnn": declare({"units": "count"}, dict(_RECURRENT, activation=("tanh", "relu")), "recurrent"),
    "residual": declare({"body": "layers", "shortcut": "layers"}, {"activation": ("linear",) + NONLINEAR},
                      composite=True),
    "attention": declare(
        {"heads": "count", "kv_heads": "count", "head_dim": "count"},
        {"causal": "bool", "rotary_theta": "number"},
        "attention",
        part_of=("transformer_encoder", "llama_block"),
    ),
    "transformer_encoder": declare(
        {"heads": "count", "ffn": "count"}, {"activation": ACTIVATIONS[1:], "epsilon": "number"},  # its FFN's
        composite=True,
    ),
    "llama_block": declare(
        {"heads": "count", "kv_heads": "count", "ffn": "count"}, {"epsilon": "number", "rotary_theta": "number"},
        composite=True,
    ),
}

COMPOSITE = tuple(sorted(kind for kind in KINDS if KINDS[kind]["composite"]))


def listed():
    """The kinds a definition may list as its layers (and a residual block's): all but parts only."""
    return sorted(kind for kind in KINDS if not KINDS[kind]["part_of"])


# registry name -> (its table keyed by kind, whether it holds the kinds that are only parts too): each
# table that `registry` checked when its module was imported
REGISTRIES = {}


def registry(name, table, parts_too=False):
    """Check that a table keyed by layer kind holds exactly the declared kinds (those a definition lists,
    or all with `parts_too`), and keep it for `check_registries`. Only the keys are read: a kind whose
    builder needs what this framework lacks fails when it is built, not here."""
    REGISTRIES[name] = (table, parts_too)
    _check_registry(name)


def check_registries():
    """Check every table `registry` has kept against today's declarations."""
    for name in sorted(REGISTRIES):
        _check_registry(name)


def _check_registry(name):
    """Raise ValueError, one line naming the kind and the registry, unless it holds exactly its kinds."""
    table, parts_too = REGISTRIES[name]
    kinds = sorted(KINDS) if parts_too else listed()
    for kind in kinds:
        if kind not in table:
            raise ValueError("layer kind %r: no entry in %s (declared in zoo.KINDS)" % (kind, name))
    for kind in sorted(table):
        if kind not in kinds:
            raise ValueError("layer kind %r: in %s but not declared in zoo.KINDS" % (kind, name))


def torch_names(spec):
    """The PyTorch module names of a layer, as its declaration names them."""
    declared = KINDS[spec["kind"]]
    names = [spec["name"] + suffix for suffix in declared["torch"]]
    if declared["own_act"] and spec.get("activation", "linear") != "linear":
        names.append(spec["name"] + "_act")
    return names


class DefinitionError(ValueError):
    """A definition the builders and formulas cannot read: names the model, layer and field."""


def check(model_name, definition):
    """Raise DefinitionError at the first unknown kind, missing or unknown field."""
    for key in ("summary", "input", "layers"):
        if key not in definition:
            raise DefinitionError("model %r: missing field %r" % (model_name, key))
    for spec in definition["layers"]:
        _check_layer(model_name, spec, None)


def _check_layer(model_name, spec, composite):
    where = "model %r, layer %r" % (model_name, spec.get("name", "?"))
    if "kind" not in spec or "name" not in spec:
        raise DefinitionError("%s: missing field %r" % (where, "kind" if "name" in spec else "name"))
    if spec["kind"] not in KINDS:
        raise DefinitionError("%s: unknown kind %r (known: %s)" % (where, spec["kind"], ", ".join(sorted(KINDS))))
    declared = KINDS[spec["kind"]]
    if declared["part_of"] and composite not in declared["part_of"]:
        raise DefinitionError("%s: kind %r is only a part of %s" % (where, spec["kind"], ", ".join(declared["part_of"])))
    for key in declared["required"] + ("torch",):
        if key not in spec:
            raise DefinitionError("%s: missing field %r for kind %r" % (where, key, spec["kind"]))
    for key in spec:
        if key not in declared["fields"] and key not in ("name", "kind", "torch"):
            raise DefinitionError("%s: unknown field %r for kind %r" % (where, key, spec["kind"]))
    for part in parts(spec):
        _check_layer(model_name, part, spec["kind"])


def parts(spec, width=None):
    """A composite layer's own layers, each a layer definition with its local name; [] for a plain one.
    A Transformer or LLaMA block's widths follow from its input's `width` (left None without it)."""
    kind = spec["kind"]
    if kind == "residual":
        return list(spec["body"]) + list(spec["shortcut"])
    if kind not in ("transformer_encoder", "llama_block"):
        return []
    found = _encoder_parts(spec) if kind == "transformer_encoder" else _llama_parts(spec)
    if width is None:
        return found
    head_dim = width // spec["heads"]
    kv_width = spec.get("kv_heads", spec["heads"]) * head_dim
    for part in found:
        if part["kind"] == "dense" and part["units"] is None:
            part["units"] = kv_width if part["name"] in ("k", "v") else width
        if part["kind"] == "attention":
            part["head_dim"] = head_dim
    return found


def _encoder_parts(spec):
    act, eps = spec.get("activation", "gelu"), spec.get("epsilon", 1e-12)
    heads = spec["heads"]
    return [
        _dense_part("query"),
        _dense_part("key"),
        _dense_part("value"),
        {
            "name": "attention",
            "kind": "attention",
            "heads": heads,
            "kv_heads": heads,
            "head_dim": None,
            "torch": ["attention"],
        },
        _dense_part("output"),
        {"name": "norm1", "kind": "layer_norm", "epsilon": eps, "torch": ["norm1"]},
        {"name": "ffn1", "kind": "dense", "units": spec["ffn"], "activation": act, "torch": ["ffn1", "ffn1_act"]},
        _dense_part("ffn2"),
        {"name": "norm2", "kind": "layer_norm", "epsilon": eps, "torch": ["norm2"]},
    ]


def _llama_parts(spec):
    eps = spec.get("epsilon", 1e-5)
    return [
        {"name": "attn_norm", "kind": "rms_norm", "epsilon": eps, "torch": ["attn_norm"]},
        _dense_part("q", False),
        _dense_part("k", False),
        _dense_part("v", False),
        {
            "name": "attention",
            "kind": "attention",
            "heads": spec["heads"],
            "kv_heads": spec["kv_heads"],
            "head_dim": None,
            "causal": True,
            "rotary_theta": spec.get("rotary_theta", 10000.0),
            "torch": ["attention"],
        },
        _dense_part("o", False),
        {"name": "ffn_norm", "kind": "rms_norm", "epsilon": eps, "torch": ["ffn_norm"]},
        {
            "name": "gate",
            "kind": "dense",
            "units": spec["ffn"],
            "activation": "silu",
            "use_bias": False,
            "torch": ["gate", "gate_act"],
        },
        {"name": "up", "kind": "dense", "units": spec["ffn"], "use_bias": False, "torch": ["up"]},
        _dense_part("down", False),
    ]


def _dense_part(name, use_bias=True):
    """A projection whose width the composite decides (units None: the block's width)."""
    return {"name": name, "kind": "dense", "units": None, "use_bias": use_bias, "torch": [name]}


# Definitions are written with these: each returns one layer's data.


def conv(name, filters, kernel, strides=1, padding="valid", activation="linear", use_bias=True):
    spec = {
        "name": name,
        "kind": "conv2d",
        "filters": filters,
        "kernel": [kernel, kernel],
        "strides": [strides, strides],
        "padding": padding,
        "activation": activation,
        "use_bias": use_bias,
    }
    return _with_torch(spec)


def _with_torch(spec):
    """The PyTorch module names: the layer, and its activation as a module of its own (not a recurrent
    layer's: nn.GRU, nn.LSTM and nn.RNN apply theirs inside)."""
    separate = spec["kind"] not in ("gru", "lstm", "simple_rnn") and spec.get("activation", "linear") != "linear"
    spec["torch"] = [spec["name"]] + ([spec["name"] + "_act"] if separate else [])
    return spec


def layer(name, kind, **options):
    spec = dict(options, name=name, kind=kind)
    return _with_torch(spec)


def rnn(name, kind, units):
    """A recurrent layer returning its sequence, with every option written out (Keras's defaults of TF 2)."""
    spec = {"name": name, "kind": kind, "units": units, "return_sequences": True, "activation": "tanh",
            "torch": [name]}
    if kind != "simple_rnn":
        spec["recurrent_activation"] = "sigmoid"
    if kind == "gru":
        spec["reset_after"] = True
    return spec


def bn(name, epsilon=1e-5):
    return layer(name, "batch_norm", epsilon=epsilon)


def act(name, activation):
    return {"name": name, "kind": "activation", "activation": activation, "torch": [name]}


def conv_bn(name, filters, kernel, strides=1, padding="valid", activation="relu", groups=None):
    """Conv (no bias) -> BatchNorm -> activation, as torchvision's vision networks chain them."""
    if groups == "depthwise":
        first = layer(
            name,
            "depthwise_conv2d",
            kernel=[kernel, kernel],
            strides=[strides, strides],
            padding=padding,
            use_bias=False,
        )
    else:
        first = conv(name, filters, kernel, strides, padding, use_bias=False)
    chain = [first, bn(name + "_bn")]
    return chain + ([act(name + "_" + activation, activation)] if activation != "linear" else [])


def residual(name, body, shortcut, activation="linear"):
    return {
        "name": name,
        "kind": "residual",
        "body": body,
        "shortcut": shortcut,
        "activation": activation,
        "torch": [name],
    }


def bottleneck(name, filters, strides, project):
    """torchvision's Bottleneck (ResNet v1.5): the stride on the 3x3 conv, expansion 4."""
    pad = [1, 1] if strides > 1 else "same"
    body = (
        conv_bn("conv1", filters, 1)
        + conv_bn("conv2", filters, 3, strides, pad)
        + conv_bn("conv3", 4 * filters, 1, activation="linear")
    )
    shortcut = conv_bn("down", 4 * filters, 1, strides, activation="linear") if project else []
    return residual(name, body, shortcut, "relu")


def resnet50(size=224):
    layers = conv_bn("stem", 64, 7, 2, [3, 3]) + [
        layer("stem_pool_pad", "zero_pad2d", padding=[1, 1]),  # after a ReLU, zero padding is max pooling's -inf
        layer("stem_pool", "max_pool2d", pool=[3, 3], strides=[2, 2]),
    ]
    for stage, (filters, blocks, strides) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
        for block in range(blocks):
            layers.append(
                bottleneck("layer%d_%d" % (stage + 1, block), filters, strides if block == 0 else 1, block == 0)
            )
    return _image_model("ResNet-50 v1.5 (torchvision's: stride on the 3x3 conv), %dx%d, inference BatchNorm",
                        size, layers + _classifier())


def _classifier():
    """torchvision's head of a convolutional network: global average pooling, then 1000 classes."""
    return [layer("avgpool", "global_avg_pool2d"), layer("fc", "dense", units=1000)]


def _image_model(summary, size, layers):
    """A definition on one size x size RGB image (channels-last; NCHW for PyTorch); `summary` takes the size twice."""
    return {
        "summary": summary % (size, size),
        "verbatim": False,
        "input": [1, size, size, 3],
        "torch_input": [1, 3, size, size],
        "layers": layers,
    }


def vgg16(size=224):
    layers = []
    for stage, (filters, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]):
        for i in range(convs):
            layers.append(conv("conv%d_%d" % (stage + 1, i + 1), filters, 3, padding="same", activation="relu"))
        layers.append(layer("pool%d" % (stage + 1), "max_pool2d", pool=[2, 2], strides=[2, 2]))
    layers += [
        layer("flatten", "flatten"),
        layer("fc1", "dense", units=4096, activation="relu"),
        layer("fc2", "dense", units=4096, activation="relu"),
        layer("fc3", "dense", units=1000),
    ]
    return _image_model("VGG-16 (configuration D), %dx%d, no dropout (inference)", size, layers)


def inverted_residual(name, channels, out, strides, expand):
    """MobileNetV2's block: 1x1 expand (unless t = 1), 3x3 depthwise, 1x1 project; a skip when shapes allow."""
    hidden = channels * expand
    pad = [1, 1] if strides > 1 else "same"
    body = conv_bn("expand", hidden, 1, activation="relu6") if expand != 1 else []
    body += conv_bn("depthwise", hidden, 3, strides, pad, "relu6", groups="depthwise")
    body += conv_bn("project", out, 1, activation="linear")
    if strides == 1 and channels == out:
        return [residual(name, body, [])]
    return [dict(spec, name=name + "_" + spec["name"], torch=[name + "_" + t for t in spec["torch"]]) for spec in body]


def mobilenet_v2(size=224):
    layers = conv_bn("stem", 32, 3, 2, [1, 1], "relu6")
    channels, block = 32, 0
    for expand, out, repeats, strides in [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]:
        for i in range(repeats):
            layers += inverted_residual("block%d" % block, channels, out, strides if i == 0 else 1, expand)
            channels, block = out, block + 1
    layers += conv_bn("head", 1280, 1, activation="relu6")
    return _image_model("MobileNetV2 (width 1.0, torchvision's), %dx%d, no dropout (inference)", size,
                        layers + _classifier())


def bert_encoder(layers=12, dim=768, heads=12, seq=128, ffn=3072):
    """BERT-base's encoder stack (post-norm layers, GELU): the input is the embeddings' output."""
    return {
        "summary": "BERT-base-sized encoder: %d layers, d=%d, %d heads, FFN %d, sequence %d, no embeddings"
        % (layers, dim, heads, ffn, seq),
        "verbatim": False,
        "input": [1, seq, dim],
        "layers": [
            {
                "name": "encoder%d" % i,
                "kind": "transformer_encoder",
                "heads": heads,
                "ffn": ffn,
                "activation": "gelu",
                "epsilon": 1e-12,
                "torch": ["encoder%d" % i],
            }
            for i in range(layers)
        ],
    }


def llama(dim, layers, heads, kv_heads, ffn, seq, vocab=None, epsilon=1e-5, rotary_theta=10000.0, name="LLaMA"):
    """A LLaMA-style decoder: pre-norm blocks (RMSNorm, rotary attention with grouped-query heads, SwiGLU),
    a final RMSNorm; with `vocab`, token ids in and the embedding and LM head around them."""
    blocks = [
        {
            "name": "block%d" % i,
            "kind": "llama_block",
            "heads": heads,
            "kv_heads": kv_heads,
            "ffn": ffn,
            "epsilon": epsilon,
            "rotary_theta": rotary_theta,
            "torch": ["block%d" % i],
        }
        for i in range(layers)
    ]
    head = [layer("norm", "rms_norm", epsilon=epsilon)]
    if vocab:
        blocks = [layer("embed", "embedding", vocab=vocab, dim=dim)] + blocks
        head.append(layer("lm_head", "dense", units=vocab, use_bias=False))
    return {
        "summary": "%s-style decoder: %d layers, d=%d, %d heads (%d KV), SwiGLU %d, sequence %d%s"
        % (name, layers, dim, heads, kv_heads, ffn, seq, ", vocabulary %d" % vocab if vocab else ""),
        "verbatim": False,
        "input": [1, seq] if vocab else [1, seq, dim],
        "input_dtype": "int64" if vocab else "float32",
        "layers": blocks + head,
    }


def alone(summary, input_shape, spec, torch_input=None, input_dtype="float32"):
    """One layer as a small model."""
    model = {"summary": summary, "verbatim": False, "input": input_shape, "layers": [spec], "input_dtype": input_dtype}
    if torch_input:
        model["torch_input"] = torch_input
    return model


SEED_CONV = {
    "name": "conv",
    "kind": "conv2d",
    "filters": 32,
    "kernel": [4, 4],
    "strides": [1, 2],
    "activation": "relu",
    "data_format": "channels_first",
    "torch": ["conv2d", "relu"],
}

MODELS = {
    "seed": {
        "summary": "Conv2D(32, 4x4, stride (1,2), relu) -> reshape -> GRU(96) -> Dense(256, sigmoid)"
        " on a (1, 1, 100, 256) input, built exactly as the blog builds it",
        # The blog's own builders (blog_keras.py, blog_torch.py) are what its counters measure;
        # the equivalence check proves that the builds from this definition match them.
        "verbatim": True,
        "input": [1, 1, 100, 256],
        "layers": [
            SEED_CONV,
            # Keras Reshape((T, C*F)) and torch.reshape(out, (B, T, F*C)) of a (B, C, T, F) tensor:
            # a plain reshape in memory order, no transpose.
            {"name": "reshape", "kind": "reshape", "shape": [97, 4064], "torch": []},
            {
                "name": "gru",
                "kind": "gru",
                "units": 96,
                "reset_after": True,
                "return_sequences": True,
                "activation": "tanh",
                "recurrent_activation": "sigmoid",
                "torch": ["gru"],
            },
            {"name": "output", "kind": "dense", "units": 256, "activation": "sigmoid", "torch": ["fc", "sigmoid"]},
        ],
    },
    "seed-conv": {
        "summary": "the seed model's Conv2D(32, 4x4, stride (1,2), relu) alone (the blog's control)",
        "verbatim": False,
        "input": [1, 1, 100, 256],
        "layers": [SEED_CONV],
    },
    "lstm": alone(
        "LSTM(32) over 20 steps of 16 features", [1, 20, 16], rnn("lstm", "lstm", 32)
    ),
    "bigru": alone(
        "Bidirectional(GRU(32)), concatenated, over 20 steps of 16 features",
        [1, 20, 16],
        dict(rnn("bigru", "gru", 32), bidirectional=True),
    ),
    "stacked-gru": {
        "summary": "two GRU(32) layers stacked over 20 steps of 16 features",
        "verbatim": False,
        "input": [1, 20, 16],
        "layers": [
            rnn("gru1", "gru", 32),
            rnn("gru2", "gru", 32),
        ],
    },
    "simplernn": alone(
        "SimpleRNN(32, tanh) over 20 steps of 16 features",
        [1, 20, 16],
        rnn("rnn", "simple_rnn", 32),
    ),
    "conv1d": alone(
        "Conv1D(16, 5, 'same', relu) over 64 steps of 8 channels",
        [1, 64, 8],
        layer("conv", "conv1d", filters=16, kernel=[5], strides=[1], padding="same", activation="relu"),
        torch_input=[1, 8, 64],
    ),
    "separable-conv2d": alone(
        "SeparableConv2D(32, 3x3, 'same', relu) on a 32x32x16 input",
        [1, 32, 32, 16],
        {
            "name": "sepconv",
            "kind": "separable_conv2d",
            "filters": 32,
            "kernel": [3, 3],
            "strides": [1, 1],
            "padding": "same",
            "activation": "relu",
            "torch": ["sepconv_depthwise", "sepconv_pointwise", "sepconv_act"],
        },
        torch_input=[1, 16, 32, 32],
    ),
    "conv2d-transpose": alone(
        "Conv2DTranspose(8, 3x3, stride 2) on a 16x16x16 input",
        [1, 16, 16, 16],
        layer("deconv", "conv2d_transpose", filters=8, kernel=[3, 3], strides=[2, 2]),
        torch_input=[1, 16, 16, 16],
    ),
    "batchnorm": alone(
        "BatchNormalization (inference) on a 16x16x32 input",
        [1, 16, 16, 32],
        bn("bn", 1e-3),
        torch_input=[1, 32, 16, 16],
    ),
    "maxpool": alone(
        "MaxPooling2D(2x2, stride 2) on a 32x32x16 input",
        [1, 32, 32, 16],
        layer("pool", "max_pool2d", pool=[2, 2], strides=[2, 2]),
        torch_input=[1, 16, 32, 32],
    ),
    "avgpool": alone(
        "AveragePooling2D(3x3, stride 2) on a 32x32x16 input",
        [1, 32, 32, 16],
        layer("pool", "avg_pool2d", pool=[3, 3], strides=[2, 2]),
        torch_input=[1, 16, 32, 32],
    ),
    "embedding": alone(
        "Embedding(1000, 64) of 32 token ids",
        [1, 32],
        layer("embed", "embedding", vocab=1000, dim=64),
        input_dtype="int64",
    ),
    "layernorm": alone(
        "LayerNormalization over 64 features of 32 positions", [1, 32, 64], layer("norm", "layer_norm", epsilon=1e-5)
    ),
    "transformer-encoder": {
        "summary": "one Transformer encoder layer (post-norm, 4-head attention, d=64, FFN 256, GELU), sequence 32",
        "verbatim": False,
        "input": [1, 32, 64],
        "layers": [
            {
                "name": "encoder",
                "kind": "transformer_encoder",
                "heads": 4,
                "ffn": 256,
                "activation": "gelu",
                "epsilon": 1e-5,
                "torch": ["encoder"],
            }
        ],
    },
    "resnet50": resnet50(),
    "vgg16": vgg16(),
    "mobilenetv2": mobilenet_v2(),
    "bert-base": bert_encoder(),
    "llama-small": llama(dim=256, layers=2, heads=8, kv_heads=2, ffn=688, seq=64, vocab=1000, name="small LLaMA"),
}

for _name, _definition in MODELS.items():
    check(_name, _definition)
