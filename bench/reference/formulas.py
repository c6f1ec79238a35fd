"""Per-layer closed-form operation counts, one small function per layer kind, looked up by name.

Each formula takes a layer's definition (bench/probe/zoo.py) and its input shape (batch first,
or time first for a time-major recurrent layer) and returns what one forward pass costs, split
into named components that a convention prices (convention.py):

- `mac`: multiply-accumulates of the layer's matrix products and convolutions;
- `bias`: one add per bias value applied;
- `elementwise`: the other adds, subtractions and products (recurrent gate work);
- `act:<name>`: one evaluation of an activation function per value (`act:sigmoid`, ...).

Recurrent layers split their cost into `step` (one time step, all batch rows) and `steps` (how
many time steps one pass runs), because counters disagree most about how many steps they see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from math import prod

from bench.probe import zoo

__all__ = ["LayerCost", "FORMULAS", "formula", "measure", "analyse", "block_parts"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    out_shape: Shape
    params: int
    once: Counter[str] = field(default_factory=Counter)  # outside any recurrence
    step: Counter[str] = field(default_factory=Counter)  # one recurrent time step
    steps: int = 0
    # where the layer's multiply-accumulates come from (conv, matmul, attention, recurrent): the same
    # MACs as `mac`, split so that a convention can later price "MACs of conv and matmul only"
    sources: Counter[str] = field(default_factory=Counter)
    in_shape: Shape = ()
    parts: tuple[LayerCost, ...] = ()  # a composite layer's own layers, each with its local name and input

    def total(self) -> Counter[str]:
        """Component counts for one forward pass."""
        whole = Counter(self.once)
        for component, count in self.step.items():
            whole[component] += count * self.steps
        return whole


# kind -> its formula, one per kind of zoo.KINDS (checked when this module is imported)
FORMULAS: dict[str, Callable[[dict, Shape], LayerCost]] = {}


def formula(kind: str) -> Callable:
    def register(function: Callable[[dict, Shape], LayerCost]) -> Callable[[dict, Shape], LayerCost]:
        if kind in FORMULAS:
            raise ValueError(f"a formula for {kind!r} is already registered")
        FORMULAS[kind] = function
        return function

    return register


def _activation(spec: dict, values: int, key: str = "activation") -> Counter[str]:
    name = spec.get(key) or "linear"
    return Counter() if name == "linear" else Counter({f"act:{name}": values})


def _layout(spec: dict, in_shape: Shape, spatial: int) -> tuple[int, int, Shape, bool]:
    """(batch, channels, spatial dims, channels_first) of an image-like input."""
    channels_first = spec.get("data_format", "channels_last") == "channels_first"
    batch, *rest = in_shape
    channels, dims = (rest[0], tuple(rest[1:])) if channels_first else (rest[-1], tuple(rest[:-1]))
    if len(dims) != spatial:
        raise ValueError(f"{spec['name']}: expected {spatial} spatial dimensions, got input {in_shape}")
    return batch, channels, dims, channels_first


def _out_dims(spec: dict, dims: Shape, kernel: list, strides: list) -> Shape:
    """Output size per axis: 'valid', 'same' (stride 1 only: symmetric for an odd kernel) or explicit
    symmetric zero padding per axis ([1, 1])."""
    padding = spec.get("padding", "valid")
    if padding == "same":
        if any(s != 1 for s in strides) or any(k % 2 == 0 for k in kernel):
            raise ValueError(
                f"{spec['name']}: padding 'same' needs stride 1 and an odd kernel (Keras and PyTorch pad"
                " alike only then); give the zero padding per axis instead"
            )
        return dims
    pads = [0] * len(dims) if padding == "valid" else list(padding)
    if len(pads) != len(dims):
        raise ValueError(f"{spec['name']}: padding {padding!r} does not fit {len(dims)} spatial dimensions")
    out = tuple((d + 2 * p - k) // s + 1 for d, p, k, s in zip(dims, pads, kernel, strides, strict=True))
    if any(o < 1 for o in out):
        raise ValueError(f"{spec['name']}: kernel {kernel} does not fit the input {dims}")
    return out


def _image(batch: int, channels: int, dims: Shape, channels_first: bool) -> Shape:
    return (batch, channels, *dims) if channels_first else (batch, *dims, channels)


def _conv(spec: dict, in_shape: Shape, spatial: int) -> LayerCost:
    """Convolution: one MAC per kernel tap (over the group's input channels) per output value."""
    batch, channels, dims, channels_first = _layout(spec, in_shape, spatial)
    groups = spec.get("groups", 1)
    if channels % groups or spec["filters"] % groups:
        raise ValueError(f"{spec['name']}: {channels} channels and {spec['filters']} filters in {groups} groups")
    out_dims = _out_dims(spec, dims, spec["kernel"], spec["strides"])
    filters = spec["filters"]
    outputs = batch * filters * prod(out_dims)
    taps = channels // groups * prod(spec["kernel"])
    use_bias = spec.get("use_bias", True)
    once = Counter({"mac": outputs * taps}) + _activation(spec, outputs)
    if use_bias:
        once["bias"] = outputs
    out_shape = _image(batch, filters, out_dims, channels_first)
    return LayerCost(spec["name"], spec["kind"], out_shape, filters * taps + (filters if use_bias else 0), once)


@formula("conv1d")
def conv1d(spec: dict, in_shape: Shape) -> LayerCost:
    """Conv1D: MACs = outputs x in_channels x kernel; one bias add and activation per output."""
    return _conv(spec, in_shape, 1)


@formula("conv2d")
def conv2d(spec: dict, in_shape: Shape) -> LayerCost:
    """Conv2D: MACs = outputs x in_channels / groups x kh x kw; one bias add and activation per output."""
    return _conv(spec, in_shape, 2)


@formula("depthwise_conv2d")
def depthwise_conv2d(spec: dict, in_shape: Shape) -> LayerCost:
    """DepthwiseConv2D: each of C x multiplier outputs channels sees one input channel: kh x kw MACs per output."""
    batch, channels, _, channels_first = _layout(spec, in_shape, 2)
    filters = channels * spec.get("depth_multiplier", 1)
    return _conv(dict(spec, filters=filters, groups=channels), in_shape, 2)


@formula("separable_conv2d")
def separable_conv2d(spec: dict, in_shape: Shape) -> LayerCost:
    """SeparableConv2D: a depthwise kh x kw conv without bias, then a 1x1 conv with the bias and activation."""
    depthwise = depthwise_conv2d(dict(spec, activation="linear", use_bias=False), in_shape)
    pointwise = _conv(dict(spec, kernel=[1, 1], strides=[1, 1], padding="valid"), depthwise.out_shape, 2)
    once = depthwise.once + pointwise.once
    return LayerCost(spec["name"], spec["kind"], pointwise.out_shape, depthwise.params + pointwise.params, once)


@formula("conv2d_transpose")
def conv2d_transpose(spec: dict, in_shape: Shape) -> LayerCost:
    """Conv2DTranspose ('valid'): every input value meets every kernel tap of every filter:
    MACs = input positions x in_channels x filters x kh x kw; output (d - 1) x stride + kernel per axis."""
    batch, channels, dims, channels_first = _layout(spec, in_shape, 2)
    filters, kernel = spec["filters"], spec["kernel"]
    out_dims = tuple((d - 1) * s + k for d, k, s in zip(dims, kernel, spec["strides"], strict=True))
    outputs = batch * filters * prod(out_dims)
    use_bias = spec.get("use_bias", True)
    once = Counter({"mac": batch * prod(dims) * channels * filters * prod(kernel)}) + _activation(spec, outputs)
    if use_bias:
        once["bias"] = outputs
    params = channels * filters * prod(kernel) + (filters if use_bias else 0)
    return LayerCost(spec["name"], spec["kind"], _image(batch, filters, out_dims, channels_first), params, once)


@formula("dense")
def dense(spec: dict, in_shape: Shape) -> LayerCost:
    """Dense on the last axis: MACs = rows x in x units; one bias add and activation per output."""
    rows, features, units = prod(in_shape[:-1]), in_shape[-1], spec["units"]
    outputs = rows * units
    use_bias = spec.get("use_bias", True)
    once = Counter({"mac": rows * features * units}) + _activation(spec, outputs)
    if use_bias:
        once["bias"] = outputs
    return LayerCost(
        spec["name"], "dense", (*in_shape[:-1], units), features * units + (units if use_bias else 0), once
    )


@formula("reshape")
def reshape(spec: dict, in_shape: Shape) -> LayerCost:
    """A reshape moves no numbers: zero operations."""
    target = tuple(spec["shape"])
    if prod(target) != prod(in_shape[1:]):
        raise ValueError(f"{spec['name']}: cannot reshape {in_shape[1:]} to {target}")
    return LayerCost(spec["name"], "reshape", (in_shape[0], *target), 0)


@formula("flatten")
def flatten(spec: dict, in_shape: Shape) -> LayerCost:
    """Flatten (in channels-last order, as Keras does): zero operations."""
    return LayerCost(spec["name"], "flatten", (in_shape[0], prod(in_shape[1:])), 0)


@formula("zero_pad2d")
def zero_pad2d(spec: dict, in_shape: Shape) -> LayerCost:
    """Zero padding moves numbers, computes none."""
    batch, channels, dims, channels_first = _layout(spec, in_shape, 2)
    out = tuple(d + 2 * p for d, p in zip(dims, spec["padding"], strict=True))
    return LayerCost(spec["name"], "zero_pad2d", _image(batch, channels, out, channels_first), 0)


@formula("activation")
def activation(spec: dict, in_shape: Shape) -> LayerCost:
    """A standalone activation: one evaluation per value."""
    return LayerCost(spec["name"], "activation", in_shape, 0, _activation(spec, prod(in_shape)))


@formula("batch_norm")
def batch_norm(spec: dict, in_shape: Shape) -> LayerCost:
    """BatchNorm at inference is an affine map per channel, scale and shift folded from the running
    statistics: 2 element-wise ops per value. Parameters: gamma, beta and the two running statistics
    (Keras counts all four)."""
    channels = in_shape[-1] if spec.get("data_format", "channels_last") == "channels_last" else in_shape[1]
    return LayerCost(spec["name"], "batch_norm", in_shape, 4 * channels, Counter({"elementwise": 2 * prod(in_shape)}))


@formula("layer_norm")
def layer_norm(spec: dict, in_shape: Shape) -> LayerCost:
    """LayerNorm over the last axis, n values per row: the mean (n adds), x - mean (n), its square (n),
    the variance (n adds), epsilon added to it (1), the division by the deviation (n), gamma (n) and beta (n):
    7n + 1 element-wise, and one reciprocal square root per row."""
    rows, n = prod(in_shape[:-1]), in_shape[-1]
    return LayerCost(
        spec["name"], "layer_norm", in_shape, 2 * n, Counter({"elementwise": (7 * n + 1) * rows, "act:rsqrt": rows})
    )


@formula("rms_norm")
def rms_norm(spec: dict, in_shape: Shape) -> LayerCost:
    """RMSNorm over the last axis: squares (n), their mean (n adds), epsilon added to it (1 per row), the
    division by the root mean square (n) and the weight (n): 4n + 1 element-wise and one reciprocal square
    root per row."""
    rows, n = prod(in_shape[:-1]), in_shape[-1]
    return LayerCost(
        spec["name"], "rms_norm", in_shape, n, Counter({"elementwise": (4 * n + 1) * rows, "act:rsqrt": rows})
    )


def _pool(spec: dict, in_shape: Shape, per_output: int) -> LayerCost:
    batch, channels, dims, channels_first = _layout(spec, in_shape, 2)
    out_dims = _out_dims(spec, dims, spec["pool"], spec["strides"])
    out_shape = _image(batch, channels, out_dims, channels_first)
    return LayerCost(spec["name"], spec["kind"], out_shape, 0, Counter({"elementwise": prod(out_shape) * per_output}))


@formula("max_pool2d")
def max_pool2d(spec: dict, in_shape: Shape) -> LayerCost:
    """MaxPooling2D ('valid'): k - 1 comparisons per output, k values in the window."""
    return _pool(spec, in_shape, prod(spec["pool"]) - 1)


@formula("avg_pool2d")
def avg_pool2d(spec: dict, in_shape: Shape) -> LayerCost:
    """AveragePooling2D ('valid'): k - 1 adds and one division per output, k values in the window."""
    return _pool(spec, in_shape, prod(spec["pool"]))


@formula("global_avg_pool2d")
def global_avg_pool2d(spec: dict, in_shape: Shape) -> LayerCost:
    """GlobalAveragePooling2D: per channel, H x W - 1 adds and one division: one op per input value."""
    batch, channels, _, _ = _layout(spec, in_shape, 2)
    return LayerCost(spec["name"], "global_avg_pool2d", (batch, channels), 0, Counter({"elementwise": prod(in_shape)}))


@formula("embedding")
def embedding(spec: dict, in_shape: Shape) -> LayerCost:
    """Embedding: a table lookup per token, no arithmetic."""
    return LayerCost(spec["name"], "embedding", (*in_shape, spec["dim"]), spec["vocab"] * spec["dim"])


@formula("attention")
def attention(spec: dict, in_shape: Shape) -> LayerCost:
    """Scaled dot-product attention over (batch, T, heads x head_dim) queries and (batch, T, kv_heads x
    head_dim) keys and values (grouped-query: each key/value head serves heads / kv_heads query heads,
    repeated, no arithmetic). Per head: Q K^T and A V are T x T x head_dim MACs each; the scale, and the
    causal mask when causal, are one element-wise op per score; softmax one evaluation per score. With
    rotary embeddings, q and k each take x cos + rotate_half(x) sin: 3 ops per value, and a negation
    of half the values in rotate_half. `in_shape` is the queries' shape."""
    batch, steps, width = in_shape
    heads, kv_heads, head_dim = spec["heads"], spec["kv_heads"], spec["head_dim"]
    if heads * head_dim != width or heads % kv_heads:
        raise ValueError(f"{spec['name']}: {heads} heads of {head_dim} (and {kv_heads} KV heads) do not fit {width}")
    scores = batch * heads * steps * steps
    once = Counter({"mac": 2 * scores * head_dim, "elementwise": scores * (2 if spec.get("causal") else 1)})
    once["act:softmax"] = scores
    if spec.get("rotary_theta"):
        rotated = batch * steps * (heads + kv_heads) * head_dim
        once["elementwise"] += 3 * rotated + rotated // 2
    return LayerCost(spec["name"], "attention", in_shape, 0, once)


def _recurrent(spec: dict, in_shape: Shape, gates: int, step: Counter[str], biases: int) -> LayerCost:
    time_major = spec.get("time_major", False)
    steps, batch, features = in_shape if time_major else (in_shape[1], in_shape[0], in_shape[2])
    units = spec["units"]
    per_step = Counter({"mac": batch * gates * units * (features + units)})
    if spec.get("use_bias", True):
        per_step["bias"] = batch * biases
    per_step.update({k: v * batch for k, v in step.items()})
    params = gates * units * (features + units) + (biases if spec.get("use_bias", True) else 0)
    if spec.get("bidirectional"):  # forwards and backwards, outputs concatenated (no arithmetic)
        per_step = Counter({k: 2 * v for k, v in per_step.items()})
        params, units = 2 * params, 2 * units
    if spec.get("return_sequences", False):
        out_shape = (steps, batch, units) if time_major else (batch, steps, units)
    else:
        out_shape = (batch, units)
    return LayerCost(spec["name"], spec["kind"], out_shape, params, step=per_step, steps=steps)


@formula("gru")
def gru(spec: dict, in_shape: Shape) -> LayerCost:
    """GRU step per batch row, U units: x@W and h@U are 3U(D+U) MACs; 3U biases, or 6U with
    reset_after (an input and a recurrent bias); 8U element-wise: the z, r and candidate sums of
    the input and recurrent parts (3U), r times the recurrent candidate (U), and
    h = (1 - z) * hh + z * h_prev (4U); 2U recurrent activations (z, r) and U activations (hh)."""
    units = spec["units"]
    spec = {"activation": "tanh", "recurrent_activation": "sigmoid", **spec}
    work = Counter({"elementwise": 8 * units})
    work.update(_activation(spec, 2 * units, "recurrent_activation"))
    work.update(_activation(spec, units))
    return _recurrent(spec, in_shape, 3, work, (6 if spec.get("reset_after", True) else 3) * units)


@formula("lstm")
def lstm(spec: dict, in_shape: Shape) -> LayerCost:
    """LSTM step per batch row: 4U(D+U) MACs, 4U biases; 8U element-wise: the four gate sums (4U),
    c = f * c + i * g (3U), h = o * tanh(c) (U); 3U recurrent activations (i, f, o) and 2U
    activations (g, tanh(c))."""
    units = spec["units"]
    spec = {"activation": "tanh", "recurrent_activation": "sigmoid", **spec}
    work = Counter({"elementwise": 8 * units})
    work.update(_activation(spec, 3 * units, "recurrent_activation"))
    work.update(_activation(spec, 2 * units))
    return _recurrent(spec, in_shape, 4, work, 4 * units)


@formula("simple_rnn")
def simple_rnn(spec: dict, in_shape: Shape) -> LayerCost:
    """SimpleRNN step per batch row: U(D+U) MACs, U biases, U sums of the two parts, U activations."""
    units = spec["units"]
    spec = {"activation": "tanh", **spec}
    work = Counter({"elementwise": units}) + _activation(spec, units)
    return _recurrent(spec, in_shape, 1, work, units)


def _sequence(specs: list[dict], in_shape: Shape) -> list[LayerCost]:
    costs, shape = [], in_shape
    for spec in specs:
        costs.append(measure(spec, shape))
        shape = costs[-1].out_shape
    return costs


def _composite(spec: dict, in_shape: Shape, out_shape: Shape, parts: list[LayerCost], extra: Counter) -> LayerCost:
    once = Counter(extra)
    for part in parts:
        once.update(part.total())
    return LayerCost(spec["name"], spec["kind"], out_shape, sum(p.params for p in parts), once, parts=tuple(parts))


@formula("residual")
def residual(spec: dict, in_shape: Shape) -> LayerCost:
    """A residual block: its body and shortcut (identity when empty), their sum (one add per output
    value) and the activation after it."""
    body = _sequence(spec["body"], in_shape)
    shortcut = _sequence(spec["shortcut"], in_shape)
    out = body[-1].out_shape if body else in_shape
    joined = shortcut[-1].out_shape if shortcut else in_shape
    if out != joined:
        raise ValueError(f"{spec['name']}: the body gives {out}, the shortcut {joined}")
    extra = Counter({"elementwise": prod(out)}) + _activation(spec, prod(out))
    return _composite(spec, in_shape, out, body + shortcut, extra)


def block_parts(spec: dict, in_shape: Shape) -> list[tuple[dict, Shape]]:
    """A Transformer or LLaMA block's parts, widths filled in, each with the input it reads."""
    hidden = (*in_shape[:-1], spec["ffn"])
    return [(part, hidden if part["name"] in ("ffn2", "down") else in_shape) for part in zoo.parts(spec, in_shape[-1])]


@formula("transformer_encoder")
def transformer_encoder(spec: dict, in_shape: Shape) -> LayerCost:
    """A post-norm Transformer encoder layer: q, k, v and output projections, attention, a residual add
    and LayerNorm, the FFN (two dense layers, the activation between), a residual add and LayerNorm."""
    parts = [measure(part, shape) for part, shape in block_parts(spec, in_shape)]
    return _composite(spec, in_shape, in_shape, parts, Counter({"elementwise": 2 * prod(in_shape)}))


@formula("llama_block")
def llama_block(spec: dict, in_shape: Shape) -> LayerCost:
    """A LLaMA decoder block: x + o(attention(rope(q), rope(k), v)) of RMSNorm(x), then
    x + down(silu(gate) * up) of RMSNorm(x): two residual adds and SwiGLU's product, one op per value each."""
    parts = [measure(part, shape) for part, shape in block_parts(spec, in_shape)]
    adds = 2 * prod(in_shape) + prod(in_shape[:-1]) * spec["ffn"]
    return _composite(spec, in_shape, in_shape, parts, Counter({"elementwise": adds}))


def measure(spec: dict, in_shape: Shape) -> LayerCost:
    """One layer's cost, with its input shape and the sources of its MACs."""
    if spec["kind"] not in FORMULAS:
        raise KeyError(f"no formula for layer kind {spec['kind']!r} (known: {', '.join(sorted(FORMULAS))})")
    cost = FORMULAS[spec["kind"]](spec, tuple(in_shape))
    if cost.parts:
        sources: Counter[str] = Counter()
        for part in cost.parts:
            sources.update(part.sources)
    else:
        macs, source = cost.total()["mac"], zoo.KINDS[spec["kind"]]["source"]
        if macs and source is None:
            raise ValueError(f"layer kind {spec['kind']!r}: multiply-accumulates but no source in zoo.KINDS")
        sources = Counter({source: macs}) if macs else Counter()
    return replace(cost, in_shape=tuple(in_shape), sources=sources)


def analyse(definition: dict) -> list[LayerCost]:
    """Every layer's cost, in order, with shapes carried from the model's input."""
    return _sequence(definition["layers"], tuple(definition["input"]))


zoo.registry("bench/reference/formulas.py FORMULAS", FORMULAS, parts_too=True)
