"""fvcore.nn.FlopCountAnalysis: its per-module record read onto the model, and its rule model.

fvcore traces the model with torch.jit and prices each traced op by the handle its table maps the
op's kind to, in multiply-accumulates (it calls them flops). Its handles (fvcore/nn/jit_handles.py,
_DEFAULT_SUPPORTED_OPS) count multiplications only: no bias adds (conv_flop_jit, linear_flop_jit,
addmm_flop_jit, matmul_flop_jit for attention's Q K^T and A V); batchnorm_flop_jit in eval mode is one
per input value, two with the affine weight; layer_norm's norm_flop_counter is 5 per value with the
weight ("5 is just a rough estimate"); adaptive_avg_pool2d one per input value. aten::relu is among its
ignored ops. An op without a handle is "unsupported" and priced 0, and the record lists it: the traced
nn.GRU, nn.LSTM and nn.RNN are one aten::gru / aten::lstm / aten::rnn_tanh each, so none of their
steps is priced; aten::embedding, max_pool2d, avg_pool2d, silu, softmax and the RMSNorm pieces (pow,
mean, rsqrt, mul) are unsupported too. The rule model re-states the handles from the definition, the
layer's input shape and the module's recorded options, never from the counted number.

Per version: the handles these layers reach are the same in 0.1.5.post20211023 (torch-1.10.1's, 2021)
and 0.1.5.post20221221 (torch-latest's) but for conv_flop_count: the later one reads aten::_convolution's
`transposed` flag and prices a transposed convolution on its input positions (the reference's MACs);
the earlier one prices every convolution as batch x output positions x out_shape[1] x w_shape[1] x
kernel taps, and a transposed weight is (in, out, kh, kw), so its w_shape[1] is the filters again.
`model_for` picks the rules by the record's fvcore version.
"""

from __future__ import annotations

from collections import Counter
from math import prod

from bench.counters.base import Adapter, Reading, Steps
from bench.counters.rules import Module, Rule, RuleModel, read_modules
from bench.reference.formulas import measure

__all__ = ["ADAPTER", "ADAPTERS", "RULES"]

# what torch.jit records for a recurrent layer's call: one op for the whole layer, none with an fvcore handle
RECURRENT_OPS = {"gru": "aten::gru", "lstm": "aten::lstm", "simple_rnn": "aten::rnn_tanh"}


def _unsupported(item: dict) -> str:
    ops = item.get("unsupported") or {}
    return ", ".join(f"{op} x{count}" for op, count in sorted(ops.items()))


def _once(spec: dict, in_shape: tuple) -> Counter[str]:
    """The layer's reference components without its activation (a module of its own in PyTorch)."""
    return measure(dict(spec, activation="linear"), in_shape).once


def _bias(config: dict) -> Counter[str]:
    return Counter({"bias": 0}) if config.get("bias") else Counter()


def _conv(module: Module, item: dict) -> tuple[Counter[str], str]:
    """conv_flop_jit on a (grouped) convolution: batch x weight size x output positions, which is
    output values x input channels per group x kernel taps: the reference's MACs; the bias ignored."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    predicted = Counter({"mac": _once(spec, in_shape)["mac"]}) + _bias(config)
    return predicted, "conv (conv_flop_jit): batch x weight size x output positions; the bias is ignored"


def _depthwise_of(spec: dict) -> dict:
    return dict(spec, kind="depthwise_conv2d", activation="linear", use_bias=False)


def _separable_depthwise(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A SeparableConv2D's first module is its depthwise convolution (groups = channels)."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    predicted = Counter({"mac": _once(_depthwise_of(spec), in_shape)["mac"]}) + _bias(config)
    return predicted, "conv (conv_flop_jit) on the depthwise part: output values x kernel taps; no bias"


def _transposed_new(module: Module, item: dict) -> tuple[Counter[str], str]:
    """fvcore 0.1.5.post20221221 reads aten::_convolution's `transposed` flag and prices a transposed
    convolution on its input positions: batch x weight size x input positions, the reference's MACs."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    predicted = Counter({"mac": _once(spec, in_shape)["mac"]}) + _bias(config)
    return predicted, "conv (conv_flop_jit, transposed): batch x weight size x input positions; the bias is ignored"


def _transposed_old(module: Module, item: dict) -> tuple[Counter[str], str]:
    """fvcore 0.1.5.post20211023 has no transposed branch: batch x output positions x out_shape[1] x
    w_shape[1] x kernel taps. A ConvTranspose2d's weight is (in, out, kh, kw), so w_shape[1] is the
    filters again, not the input channels: filters x filters x taps per output position."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    cost = measure(dict(spec, activation="linear"), in_shape)
    channels_last = spec.get("data_format", "channels_last") == "channels_last"
    out_dims = cost.out_shape[1:-1] if channels_last else cost.out_shape[2:]
    filters = spec["filters"]
    macs = in_shape[0] * prod(out_dims) * filters * filters * prod(spec["kernel"])
    predicted = Counter({"mac": macs}) + _bias(config)
    return predicted, (
        "conv (conv_flop_jit) before fvcore's transposed branch: batch x output positions x out channels x"
        " w_shape[1], which for a transposed weight (in, out, kh, kw) is the filters again, x kernel taps"
    )


def _separable_pointwise(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A module after a layer's first one that runs a convolution: a SeparableConv2D's 1x1 pointwise
    part, priced on the depthwise part's output; any other layer has no second convolution."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    if spec["kind"] != "separable_conv2d":
        return Counter(), f"no rule model for a convolution in a {spec['kind']} layer's second module"
    depthwise = measure(_depthwise_of(spec), in_shape)
    pointwise = dict(spec, kind="conv2d", kernel=[1, 1], strides=[1, 1], padding="valid", activation="linear")
    predicted = Counter({"mac": _once(pointwise, depthwise.out_shape)["mac"]}) + _bias(config)
    return predicted, "conv (conv_flop_jit) on the 1x1 pointwise part: output values x input channels; no bias"


def _linear(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, in_shape, config = module.spec, module.in_shape, module.config
    predicted = Counter({"mac": prod(in_shape) * spec["units"]}) + _bias(config)
    return predicted, f"{item['rule']} ({item['rule']}_flop_jit): input size x out features; the bias is ignored"


def _attention(module: Module, item: dict) -> tuple[Counter[str], str]:
    """The attention module's two matrix products (Q K^T, A V) traced as aten::matmul (or bmm):
    matmul_flop_jit prices each at the first operand's size x the second's last axis, the
    reference's MACs; the scale, mask, softmax and rotary ops are unsupported ops, 0."""
    spec, in_shape = module.spec, module.in_shape
    zero = {k: 0 for k in _once(spec, in_shape) if k != "mac"}
    predicted = Counter({"mac": _once(spec, in_shape)["mac"], **zero})
    seen = _unsupported(item)
    return predicted, f"{item['rule']} ({item['rule']}_flop_jit) on Q K^T and A V; unsupported, 0: {seen or 'none'}"


def _batch_norm(module: Module, item: dict) -> tuple[Counter[str], str]:
    """batchnorm_flop_jit in eval mode: one per input value, two with the affine weight and bias."""
    in_shape, config = module.in_shape, module.config
    per = 2 if config.get("bias", True) else 1
    return Counter({"elementwise": per * prod(in_shape)}), (
        f"batch_norm (batchnorm_flop_jit, not training): {per} per input value"
        f" ({'with' if per == 2 else 'without'} the affine weight)"
    )


def _layer_norm(module: Module, item: dict) -> tuple[Counter[str], str]:
    """norm_flop_counter(2): 5 per input value with the affine weight ("5 is just a rough estimate"), 4 without."""
    in_shape, config = module.in_shape, module.config
    per = 5 if config.get("bias", True) else 4
    predicted = Counter({"elementwise": per * prod(in_shape), "act:rsqrt": 0})
    return predicted, f"layer_norm (norm_flop_counter): {per} per input value, fvcore's 'rough estimate'"


def _global_pool(module: Module, item: dict) -> tuple[Counter[str], str]:
    """elementwise_flop_counter(1, 0) on aten::adaptive_avg_pool2d: one per input value."""
    in_shape = module.in_shape
    words = "adaptive_avg_pool2d (elementwise_flop_counter(1, 0)): one per input value"
    return Counter({"elementwise": prod(in_shape)}), words


def _unpriced(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A module whose every traced op has no fvcore handle (its unsupported list) or is ignored."""
    spec, in_shape = module.spec, module.in_shape
    predicted = Counter({k: 0 for k in _once(spec, in_shape)})
    seen = _unsupported(item)
    if seen:
        return predicted, f"no fvcore handle for the module's ops ({seen} unsupported): 0"
    return predicted, "the module's ops are all among fvcore's ignored ops: 0"


def _recurrent(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec = module.spec
    seen = _unsupported(item) or "nothing"
    op = RECURRENT_OPS[spec["kind"]]
    return Counter(), f"fvcore has no handle for {op}: the layer is one unsupported op, 0 (it reported {seen})"


def _activation(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec = module.spec
    name = spec.get("activation", "linear")
    predicted = Counter() if name == "linear" else Counter({f"act:{name}": 0})
    seen = _unsupported(item)
    if seen:
        return predicted, f"no fvcore handle for the activation's op ({seen} unsupported): 0"
    return predicted, "the activation's op is among fvcore's ignored ops (aten::relu): 0"


def _steps(spec: dict, in_shape: tuple, config: dict) -> Steps:
    op = RECURRENT_OPS[spec["kind"]]
    return Steps(0, (f"torch.jit records the whole recurrent layer as one {op}, for which fvcore has no handle",))


CONV_KINDS = ("conv1d", "conv2d", "depthwise_conv2d")
ZERO_KINDS = ("embedding", "rms_norm", "max_pool2d", "avg_pool2d", "reshape", "flatten", "zero_pad2d")
COMMON: dict[tuple[str, str], Rule] = {
    **{(kind, "conv"): _conv for kind in CONV_KINDS},
    ("separable_conv2d", "conv"): _separable_depthwise,
    ("dense", "linear"): _linear,
    ("dense", "addmm"): _linear,
    ("dense", "matmul"): _linear,
    ("attention", "matmul"): _attention,
    ("attention", "bmm"): _attention,
    ("batch_norm", "batch_norm"): _batch_norm,
    ("layer_norm", "layer_norm"): _layer_norm,
    ("global_avg_pool2d", "adaptive_avg_pool2d"): _global_pool,
    **{(kind, ""): _recurrent for kind in RECURRENT_OPS},
    **{(kind, ""): _unpriced for kind in ZERO_KINDS + ("attention",)},
    ("activation", ""): _activation,
    ("activation", "conv"): _separable_pointwise,
}
# fvcore 0.1.5.post20221221 (torch-latest's) against post20211023 (torch-1.10.1's): the transposed branch
RULES: dict[tuple[str, str], Rule] = {**COMMON, ("conv2d_transpose", "conv"): _transposed_new}
RULES_2021: dict[tuple[str, str], Rule] = {**COMMON, ("conv2d_transpose", "conv"): _transposed_old}

MODEL = RuleModel("fvcore", RULES, _steps)
MODEL_2021 = RuleModel("fvcore", RULES_2021, _steps)


def model_for(tool_version: str) -> RuleModel:
    """fvcore's releases are all 0.1.5.postYYYYMMDD: the transposed branch came between 20211023 and 20221221."""
    _, _, post = tool_version.partition(".post")
    return MODEL_2021 if post.isdigit() and int(post) < 20221221 else MODEL


def read(definition: dict, probe: dict) -> Reading:
    return read_modules(definition, probe, model_for(probe["provenance"]["counter_tool"]["version"]))


ADAPTER = Adapter("fvcore", "fvcore", read)
ADAPTERS = (ADAPTER,)
