"""PyTorch models from zoo definitions, and what the built modules turned out to be.

Image tensors are NCHW (NCL for Conv1D) in PyTorch; the definition's shapes are Keras's
channels-last ones, and `torch_input` gives the shape the PyTorch build takes. Every step keeps
PyTorch's layout; Flatten flattens in Keras's channels-last order so that both builds compute
the same function.
"""
from __future__ import absolute_import, division, print_function

import math

import torch
import torch.nn as nn

import zoo

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu6": nn.ReLU6, "gelu": nn.GELU,
               "silu": nn.SiLU}


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError("no PyTorch module for activation %r" % name)
    return ACTIVATIONS[name]()


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (nn.RMSNorm is not in torch 1.10)."""

    def __init__(self, features, eps):
        super(RMSNorm, self).__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(features))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    """Scaled dot-product attention of projected (batch, T, heads x head_dim) inputs: rotary embedding
    (LLaMA's rotate_half form), key/value heads repeated for grouped-query attention, a causal mask."""

    def __init__(self, spec, steps):
        super(Attention, self).__init__()
        self.heads, self.kv_heads, self.head_dim = spec["heads"], spec["kv_heads"], spec["head_dim"]
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.causal, self.rotary = bool(spec.get("causal")), bool(spec.get("rotary_theta"))
        if self.rotary:
            half = self.head_dim // 2
            inv = 1.0 / (spec["rotary_theta"] ** (torch.arange(0, half, dtype=torch.float32) * 2.0 / self.head_dim))
            angles = torch.arange(steps, dtype=torch.float32)[:, None] * inv[None, :]
            angles = torch.cat([angles, angles], dim=-1)
            self.register_buffer("cos", angles.cos(), persistent=False)
            self.register_buffer("sin", angles.sin(), persistent=False)
        if self.causal:
            mask = torch.triu(torch.full((steps, steps), float("-inf")), diagonal=1)
            self.register_buffer("mask", mask, persistent=False)

    def _heads(self, x, heads):
        batch, steps = x.shape[0], x.shape[1]
        return x.reshape(batch, steps, heads, self.head_dim).transpose(1, 2)

    def _rotate(self, x):
        half = self.head_dim // 2
        return x * self.cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * self.sin

    def forward(self, q, k, v):
        batch, steps = q.shape[0], q.shape[1]
        q, k, v = self._heads(q, self.heads), self._heads(k, self.kv_heads), self._heads(v, self.kv_heads)
        if self.rotary:
            q, k = self._rotate(q), self._rotate(k)
        if self.kv_heads != self.heads:
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        if self.causal:
            scores = scores + self.mask
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        return out.transpose(1, 2).reshape(batch, steps, self.heads * self.head_dim)


class Sequence(nn.Module):
    """Layers as named modules, applied in order: a definition, or a residual block's body or shortcut.

    `shape` is the input's shape without the batch, in PyTorch's layout. `time_major` feeds
    recurrent layers as (time, batch, features), as an nn.GRU without batch_first does: the blog's
    PyTorch model is the seed definition built that way.
    """

    def __init__(self, specs, shape, time_major=False):
        super(Sequence, self).__init__()
        self._plan = []  # module names, or callables for steps that are not modules
        self._time_major = time_major
        self.shape = tuple(shape)
        for spec in specs:
            if spec["kind"] not in BUILDERS:
                raise ValueError("layer %r: no PyTorch builder for kind %r" % (spec["name"], spec["kind"]))
            self.shape = tuple(BUILDERS[spec["kind"]](self, spec, self.shape))

    def forward(self, x):
        for step in self._plan:
            x = getattr(self, step)(x) if isinstance(step, str) else step(x)
        return x

    def add(self, name, module):
        self.add_module(name, module)
        self._plan.append(name)

    def activation(self, spec, index=1):
        if spec.get("activation", "linear") != "linear":
            self.add(spec["torch"][index], _activation(spec["activation"]))


def _padding(spec, kernel):
    padding = spec.get("padding", "valid")
    if padding == "same":
        return tuple(k // 2 for k in kernel)
    return tuple(padding) if padding != "valid" else tuple(0 for _ in kernel)


def _out(dims, kernel, strides, pads):
    return tuple((dims[i] + 2 * pads[i] - kernel[i]) // strides[i] + 1 for i in range(len(dims)))


def _conv(seq, spec, shape, groups=None, filters=None):
    channels, dims = shape[0], shape[1:]
    kernel, strides = tuple(spec["kernel"]), tuple(spec["strides"])
    pads = _padding(spec, kernel)
    filters = filters or spec["filters"]
    conv = nn.Conv1d if len(kernel) == 1 else nn.Conv2d
    seq.add(spec["torch"][0], conv(channels, filters, kernel, stride=strides, padding=pads,
                                   groups=groups or spec.get("groups", 1), bias=spec.get("use_bias", True)))
    seq.activation(spec)
    return (filters,) + _out(dims, kernel, strides, pads)


def _depthwise(seq, spec, shape):
    return _conv(seq, spec, shape, groups=shape[0], filters=shape[0] * spec.get("depth_multiplier", 1))


def _separable(seq, spec, shape):
    depthwise, pointwise = spec["torch"][:2]
    kernel, strides = tuple(spec["kernel"]), tuple(spec["strides"])
    pads = _padding(spec, kernel)
    seq.add(depthwise, nn.Conv2d(shape[0], shape[0], kernel, stride=strides, padding=pads, groups=shape[0],
                                 bias=False))
    seq.add(pointwise, nn.Conv2d(shape[0], spec["filters"], 1, bias=spec.get("use_bias", True)))
    seq.activation(spec, 2)
    return (spec["filters"],) + _out(shape[1:], kernel, strides, pads)


def _transpose(seq, spec, shape):
    kernel, strides = tuple(spec["kernel"]), tuple(spec["strides"])
    seq.add(spec["torch"][0], nn.ConvTranspose2d(shape[0], spec["filters"], kernel, stride=strides,
                                                 bias=spec.get("use_bias", True)))
    seq.activation(spec)
    return (spec["filters"],) + tuple((shape[1 + i] - 1) * strides[i] + kernel[i] for i in range(len(kernel)))


def _reshape(seq, spec, shape):
    target = tuple(spec["shape"])
    seq._plan.append(lambda x: torch.reshape(x, (x.size(0),) + target))
    return target


def _flatten(seq, spec, shape):
    """Keras flattens channels-last: move the channels last first (no arithmetic)."""
    if len(shape) > 1:
        seq._plan.append(lambda x: x.permute((0,) + tuple(range(2, x.dim())) + (1,)).reshape(x.size(0), -1))
    total = 1
    for d in shape:
        total *= d
    return (total,)


def _zero_pad(seq, spec, shape):
    pad_h, pad_w = spec["padding"]
    seq.add(spec["torch"][0], nn.ZeroPad2d((pad_w, pad_w, pad_h, pad_h)))
    return (shape[0], shape[1] + 2 * pad_h, shape[2] + 2 * pad_w)


def _recurrent(module_class):
    def build(seq, spec, shape):
        (name,) = spec["torch"]
        steps, features = shape
        options = {}
        if module_class is nn.RNN:
            options["nonlinearity"] = spec.get("activation", "tanh")
        seq.add_module(name, module_class(input_size=features, hidden_size=spec["units"],
                                          batch_first=not seq._time_major,
                                          bidirectional=bool(spec.get("bidirectional")), **options))
        seq._plan.append(_sequence_output(seq, name, spec.get("return_sequences", False), seq._time_major))
        units = spec["units"] * (2 if spec.get("bidirectional") else 1)
        return (steps, units) if spec.get("return_sequences", False) else (units,)
    return build


def _sequence_output(seq, name, sequences, time_major):
    def run(x):
        out = getattr(seq, name)(x)[0]
        if sequences:
            return out
        if getattr(seq, name).bidirectional:
            raise ValueError("layer %r: a bidirectional layer's last output is not built" % name)
        return out[-1] if time_major else out[:, -1]
    return run


def _dense(seq, spec, shape):
    seq.add(spec["torch"][0], nn.Linear(shape[-1], spec["units"], bias=spec.get("use_bias", True)))
    seq.activation(spec)
    return shape[:-1] + (spec["units"],)


def _standalone_activation(seq, spec, shape):
    seq.add(spec["torch"][0], _activation(spec["activation"]))
    return shape


def _batch_norm(seq, spec, shape):
    norm = nn.BatchNorm1d if len(shape) < 3 else nn.BatchNorm2d
    seq.add(spec["torch"][0], norm(shape[0], eps=spec.get("epsilon", 1e-3)))
    return shape


def _layer_norm(seq, spec, shape):
    seq.add(spec["torch"][0], nn.LayerNorm(shape[-1], eps=spec.get("epsilon", 1e-3)))
    return shape


def _rms_norm(seq, spec, shape):
    seq.add(spec["torch"][0], RMSNorm(shape[-1], spec.get("epsilon", 1e-5)))
    return shape


def _pool(module_class):
    def build(seq, spec, shape):
        seq.add(spec["torch"][0], module_class(tuple(spec["pool"]), stride=tuple(spec["strides"])))
        return (shape[0],) + _out(shape[1:], spec["pool"], spec["strides"], (0, 0))
    return build


def _global_avg_pool(seq, spec, shape):
    seq.add(spec["torch"][0], nn.AdaptiveAvgPool2d(1))
    seq._plan.append(lambda x: torch.flatten(x, 1))
    return (shape[0],)


def _embedding(seq, spec, shape):
    seq.add(spec["torch"][0], nn.Embedding(spec["vocab"], spec["dim"]))
    return shape + (spec["dim"],)


class Residual(nn.Module):
    """body(x) + shortcut(x) (x itself when the shortcut is empty), then the activation."""

    def __init__(self, spec, shape):
        super(Residual, self).__init__()
        self.body = Sequence(spec["body"], shape)
        self.shortcut = Sequence(spec["shortcut"], shape)
        self.act = _activation(spec["activation"]) if spec.get("activation", "linear") != "linear" else None
        self.shape = self.body.shape

    def forward(self, x):
        out = self.body(x) + self.shortcut(x)
        return self.act(out) if self.act is not None else out


class Block(nn.Module):
    """A Transformer encoder layer (post-norm) or a LLaMA decoder block (pre-norm, SwiGLU), from its parts."""

    def __init__(self, spec, shape):
        super(Block, self).__init__()
        self.kind = spec["kind"]
        width = shape[-1]
        for part in zoo.parts(spec, width):
            features = spec["ffn"] if part["name"] in ("ffn2", "down") else width
            if part["kind"] == "attention":
                self.add_module(part["torch"][0], Attention(part, shape[0]))
            elif part["kind"] == "dense":
                self.add_module(part["torch"][0], nn.Linear(features, part["units"], bias=part.get("use_bias", True)))
                if part.get("activation", "linear") != "linear":
                    self.add_module(part["torch"][1], _activation(part["activation"]))
            elif part["kind"] == "layer_norm":
                self.add_module(part["torch"][0], nn.LayerNorm(width, eps=part["epsilon"]))
            else:
                self.add_module(part["torch"][0], RMSNorm(width, part["epsilon"]))

    def forward(self, x):
        if self.kind == "transformer_encoder":
            x = self.norm1(x + self.output(self.attention(self.query(x), self.key(x), self.value(x))))
            return self.norm2(x + self.ffn2(self.ffn1_act(self.ffn1(x))))
        h = self.attn_norm(x)
        x = x + self.o(self.attention(self.q(h), self.k(h), self.v(h)))
        h = self.ffn_norm(x)
        return x + self.down(self.gate_act(self.gate(h)) * self.up(h))


def _composite(module_class):
    def build(seq, spec, shape):
        module = module_class(spec, shape)
        seq.add(spec["torch"][0], module)
        return getattr(module, "shape", shape)
    return build


# layer kind -> its PyTorch builder: every kind a definition may list (zoo.listed()), checked on import
BUILDERS = {
    "conv1d": _conv, "conv2d": _conv, "depthwise_conv2d": _depthwise, "separable_conv2d": _separable,
    "conv2d_transpose": _transpose, "reshape": _reshape, "flatten": _flatten, "zero_pad2d": _zero_pad,
    "gru": _recurrent(nn.GRU), "lstm": _recurrent(nn.LSTM), "simple_rnn": _recurrent(nn.RNN),
    "dense": _dense, "activation": _standalone_activation,
    "batch_norm": _batch_norm, "layer_norm": _layer_norm, "rms_norm": _rms_norm,
    "max_pool2d": _pool(nn.MaxPool2d), "avg_pool2d": _pool(nn.AvgPool2d), "global_avg_pool2d": _global_avg_pool,
    "embedding": _embedding, "residual": _composite(Residual), "transformer_encoder": _composite(Block),
    "llama_block": _composite(Block),
}
zoo.registry("bench/probe/build_torch.py BUILDERS", BUILDERS)


def input_shape(definition):
    return definition.get("torch_input", definition["input"])


def Defined(definition, time_major=False):
    """The definition's layers as one module (a Sequence), taking `input_shape(definition)`."""
    return Sequence(definition["layers"], input_shape(definition)[1:], time_major)


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


def on_meta(model_name):
    """The definition's module and an input on PyTorch's meta device: shapes and dtypes, no storage, so
    a model too big to hold (a LLaMA-7B) is built in no memory. Counters that only read shapes (a
    TorchDispatchMode like FlopCounterMode) count it; nothing can be computed from it."""
    definition = zoo.MODELS[model_name]
    with torch.device("meta"):
        model = Defined(definition)
    dtype = torch.int64 if definition.get("input_dtype") == "int64" else torch.float32
    return model, torch.empty(tuple(input_shape(definition)), dtype=dtype, device="meta")


def example_input(definition, seed=0):
    """A fixed input for the definition: token ids for a model that starts with an embedding."""
    generator = torch.Generator().manual_seed(seed)
    shape = input_shape(definition)
    if definition.get("input_dtype", "float32") == "int64":
        vocab = definition["layers"][0]["vocab"]
        return torch.randint(0, vocab, tuple(shape), generator=generator)
    return torch.randn(*shape, generator=generator)


def seed_input(model_name):
    definition = zoo.MODELS[model_name]
    if definition.get("python"):
        import usercode
        return usercode.built(definition, "torch_model")[1]
    return example_input(definition)


STATISTICS = ("running_mean", "running_var")  # buffers Keras counts as (non-trainable) weights


def describe(model):
    """Each leaf module as built: its class, parameter count (with BatchNorm's running statistics, as
    Keras counts them) and the options that change its FLOPs."""
    rows = []
    for name, module in model.named_modules():
        if not name or list(module.children()):
            continue
        config = {}
        if isinstance(getattr(module, "batch_first", None), bool):
            config["batch_first"] = module.batch_first
        if hasattr(module, "bias"):
            config["bias"] = module.bias is not None and module.bias is not False
        params = sum(p.numel() for p in module.parameters())
        params += sum(b.numel() for n, b in module.named_buffers() if n in STATISTICS)
        rows.append({
            "name": name,
            "class": type(module).__name__,
            "params": int(params),
            "config": config,
        })
    return rows
