"""exact: the project's own counter. A TorchDispatchMode prices every aten op a forward pass dispatches by a
formula from its arguments' shapes, in the analytic reference's own vocabulary (bench/reference/formulas.py):
per module, per component (`mac`, `bias`, `elementwise`, `act:<name>`). Returns the probe's common answer.

Why it has no blind spot: an op without a formula here is a loud failure naming the op, never a silent 0, and
the ops that compute nothing (views, copies, creation, lookups) are listed by name as costing nothing. Why it
gives one number whatever the switches: a composite op (aten.linear, aten.conv2d, aten.layer_norm) reaches the
mode whole under inference_mode and as its parts (addmm, convolution, native_layer_norm) elsewhere; each form
has a formula and the two agree. A recurrent layer runs as one fused op (aten.lstm, oneDNN's
aten.mkldnn_rnn_layer) or as aten's per-step loop of matrix products and gate arithmetic, by backend and grad
mode: module hooks say which layer an op runs in, and the ops inside an nn.RNN/GRU/LSTM are priced once, as the
layer's recurrent op, from its input and weights (RECURRENT). The formulas read shapes alone, so CPU, meta and
fake tensors give the same number.

The formulas are plain functions of shapes (no torch), so the host tests them on recorded shapes.

Beyond the zoo (WIDER, MOVES), the choices the reference's vocabulary leaves open: a comparison is an
element-wise op, as the reference's max pooling counts its k - 1 comparisons (eq/lt/..., clamp, maximum, max and
min, logical and bitwise ops, one per output value; sort n x ceil(log2 n) per row, topk n x max(1, ceil(log2 k)));
a selection that computes no value costs nothing (where, masked_fill: their mask is priced by the op that made
it), as do permutations (roll, flip, pixel and channel shuffles) and nearest upsampling (a lookup); linear
interpolation is taps products and taps - 1 adds per output value (bilinear 7); a reduction is one op per input
value (amax, argmax, any, prod, cumsum), a variance 4 (std: and a sqrt per result), a p-norm 2 (and the root per
result); a transcendental function is an act:<name> (exp, log, sqrt, erf), as the reference's rsqrt is; a norm
that computes its statistics (group, instance, a batch norm without running statistics) is the reference's
layer_norm per row of statistics: 7n + 1 element-wise and one rsqrt.
"""
from __future__ import absolute_import, division, print_function

# FLOPs per component under the reference's default convention: what raw_total and each item's raw are in
# (the host prices the components by any convention)
DEFAULT = {"mac": 2}
ROOT = "(the model's own forward)"  # ops outside every submodule


class T(object):
    """A tensor argument, as the formulas see it: its shape, and whether it is a layer's bias parameter."""

    def __init__(self, shape, bias=False):
        self.shape = tuple(int(d) for d in shape)
        self.bias = bias

    @property
    def numel(self):
        return _prod(self.shape)

    def __repr__(self):
        return "T%s" % (self.shape,)


def _prod(values):
    total = 1
    for value in values:
        total *= int(value)
    return total


def _tensor(value):
    return value if isinstance(value, T) else None


def _per_value(component):
    """One `component` per value of the op's output (element-wise ops, activations)."""
    def price(args, out):
        return {component: out.numel}
    return price


def _sum(args, out):
    """add / sub (a, b): one op per output value; a layer's bias parameter added (as torch 1.10's nn.Linear adds
    it after a matmul of 3-d input) is the layer's bias."""
    biased = [a for a in args[:2] if isinstance(a, T) and a.bias]
    return {"bias" if biased else "elementwise": out.numel}


def _matrix(args, out):
    """mm / bmm (a, b): one multiply-accumulate per output value per value of the shared axis."""
    return {"mac": out.numel * args[0].shape[-1]}


def _added(args, out):
    """addmm / baddbmm (input, a, b): the products, and the added input once per output value."""
    return {"mac": out.numel * args[1].shape[-1], "bias": out.numel}


def _linear(args, out):
    """aten.linear (x, weight, bias): x's rows x in x out, and the bias once per output value."""
    cost = {"mac": out.numel * args[1].shape[-1]}
    if len(args) > 2 and _tensor(args[2]):
        cost["bias"] = out.numel
    return cost


def _matmul(args, out):
    """aten.matmul whole (under inference_mode): broadcast products, one per output value per shared value."""
    return {"mac": out.numel * args[0].shape[-1]}


def _convolution(args, out, transposed=False):
    """A convolution (input, weight, bias, ...): an ordinary one costs each output value its group's input
    channels x kernel taps (weight (out, in / groups, *kernel)); a transposed one costs every input position the
    whole weight ((in, out / groups, *kernel)); the bias once per output value."""
    x, weight = args[0], args[1]
    if transposed:
        cost = {"mac": x.shape[0] * _prod(x.shape[2:]) * weight.numel}
    else:
        cost = {"mac": out.numel * _prod(weight.shape[1:])}
    if len(args) > 2 and _tensor(args[2]):
        cost["bias"] = out.numel
    return cost


def _aten_convolution(args, out):
    """aten.convolution / _convolution (input, weight, bias, stride, padding, dilation, transposed, ...)."""
    return _convolution(args, out, bool(args[6]) if len(args) > 6 else False)


def _conv_transpose(args, out):
    return _convolution(args, out, True)


def _native_convolution(args, out):
    """A backend's own convolution (input, weight, bias, padding, stride, ...): oneDNN's mkldnn_convolution, as
    torch 1.10 dispatches it under grad."""
    return _convolution(args[:3], out)


def _sized(transposed):
    """aten's own convolution kernels that take the kernel size before the bias (input, weight, kernel_size,
    bias, stride, ...): thnn_conv2d_forward, slow_conv_transpose2d (torch 1.10 under grad, or without oneDNN)."""
    def price(args, out):
        return _convolution([args[0], args[1], args[3] if len(args) > 3 else None], out, transposed)
    return price


def _statistics(rows, n):
    """A norm that computes its statistics, n values per row, as the reference's layer_norm prices one: 7n + 1
    element-wise (epsilon added once per row) and one rsqrt per row (gamma and beta priced as it prices them)."""
    return {"elementwise": (7 * n + 1) * rows, "act:rsqrt": rows}


def _batch_norm(args, out):
    """Inference BatchNorm: scale and shift per value (2 element-wise), as the reference folds it. One that
    computes its statistics from the input (training is set: BatchNorm without running statistics, and the
    batch norm InstanceNorm runs as) is a norm per channel over batch and space (_statistics)."""
    training = len(args) > 5 and args[5] is True
    if len(args) > 3 and isinstance(args[3], bool):  # _native_batch_norm_legit.no_stats: (x, w, b, training, ...)
        training = args[3]
    if training:
        channels = args[0].shape[1] if len(args[0].shape) > 1 else 1
        return _statistics(channels, args[0].numel // channels)
    return {"elementwise": 2 * args[0].numel}


def _layer_norm(args, out):
    """LayerNorm over the normalized axes, n values per row: 7n + 1 element-wise (epsilon added to the variance)
    and one rsqrt per row (the reference's layer_norm)."""
    x, normalized = args[0], args[1]
    n = _prod(normalized)
    rows = x.numel // n
    return {"elementwise": (7 * n + 1) * rows, "act:rsqrt": rows}


def _reduce(args, out):
    """mean / sum over axes: one op per input value (n - 1 adds and, for a mean, one division per result)."""
    return {"elementwise": args[0].numel}


def _pool_window(args):
    """A square window when the kernel is given as one size."""
    kernel = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
    return _prod(list(kernel) * 2 if len(kernel) == 1 else kernel)


def _max_pool(args, out):
    """max_pool2d (input, kernel_size, ...): k - 1 comparisons per output value."""
    return {"elementwise": out.numel * (_pool_window(args) - 1)}


def _avg_pool(args, out):
    """avg_pool2d (input, kernel_size, ...): k - 1 adds and a division per output value."""
    return {"elementwise": out.numel * _pool_window(args)}


def _adaptive_avg_pool(args, out):
    """adaptive average pooling: every input value added once (and a division per output): one op per input."""
    return {"elementwise": args[0].numel}


def _hardtanh(args, out):
    """hardtanh(x, 0, 6) is relu6; any other bounds are a clamp, one element-wise op per value."""
    bounds = tuple(float(a) for a in args[1:3]) if len(args) >= 3 else (-1.0, 1.0)
    return {"act:relu6": out.numel} if bounds == (0.0, 6.0) else {"elementwise": out.numel}


def _nothing(args, out):
    return {}


def _add(*costs):
    total = {}
    for cost in costs:
        for component, count in cost.items():
            total[component] = total.get(component, 0) + count
    return total


def _attention_core(batch_heads, queries, keys, head_dim, masked):
    """softmax(Q K^T x scale [+ mask]) V over batch x heads: Q K^T and A V, head_dim multiply-accumulates per
    score each; the scale (and the mask) one element-wise op per score; one softmax evaluation per score (the
    reference's attention)."""
    scores = batch_heads * queries * keys
    return {"mac": 2 * scores * head_dim, "elementwise": scores * (2 if masked else 1), "act:softmax": scores}


def _sdpa(args, out):
    """scaled_dot_product_attention and its CPU kernels (flash, efficient, math) (query, key, value,
    attn_mask, dropout_p, is_causal, ...): queries (..., L, E), keys (..., S, E)."""
    query, key = args[0], args[1]
    masked = (len(args) > 3 and _tensor(args[3]) is not None) or (len(args) > 5 and args[5] is True)
    return _attention_core(_prod(query.shape[:-2]), query.shape[-2], key.shape[-2], query.shape[-1], masked)


def _sdpa_flash_cpu(args, out):
    """_scaled_dot_product_flash_attention_for_cpu (query, key, value, dropout_p, is_causal, attn_mask, ...)."""
    query, key = args[0], args[1]
    masked = (len(args) > 4 and args[4] is True) or (len(args) > 5 and _tensor(args[5]) is not None)
    return _attention_core(_prod(query.shape[:-2]), query.shape[-2], key.shape[-2], query.shape[-1], masked)


def _mha(query, key, embed_dim, heads, has_bias, masked):
    """Multi-head attention with packed q, k, v projections and the output projection (batch first)."""
    batch, queries, keys = query.shape[0], query.shape[1], key.shape[1]
    rows, key_rows = batch * queries, batch * keys
    projections = {"mac": rows * embed_dim * embed_dim + 2 * key_rows * embed_dim * embed_dim}
    projections["mac"] += rows * embed_dim * embed_dim  # the output projection
    if has_bias:
        projections["bias"] = 2 * rows * embed_dim + 2 * key_rows * embed_dim
    core = _attention_core(batch * heads, queries, keys, embed_dim // heads, masked)
    return _add(projections, core)


def _native_mha(args, out):
    """_native_multi_head_attention (query, key, value, embed_dim, num_head, qkv_weight, qkv_bias, proj_weight,
    proj_bias, mask, ...)."""
    masked = len(args) > 9 and _tensor(args[9]) is not None
    return _mha(args[0], args[1], int(args[3]), int(args[4]), _tensor(args[6]) is not None, masked)


def _encoder_layer(args, out):
    """_transformer_encoder_layer_fwd (src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
    use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1,
    ffn_bias_1, ffn_weight_2, ffn_bias_2, mask, ...): nn.TransformerEncoderLayer's fast path whole: attention,
    two residual adds, two LayerNorms, the FFN with its activation (the reference's transformer_encoder)."""
    src, embed_dim, heads, ffn = args[0], int(args[1]), int(args[2]), args[14].shape[0]
    masked = len(args) > 18 and _tensor(args[18]) is not None
    rows, values = _prod(src.shape[:-1]), src.numel
    norms = _layer_norm([src, [embed_dim]], src)
    feed = {"mac": 2 * rows * embed_dim * ffn, "bias": rows * ffn + rows * embed_dim}
    activation = {"act:gelu" if args[7] else "act:relu": rows * ffn}
    return _add(_mha(src, src, embed_dim, heads, True, masked), norms, norms, feed, activation,
                {"elementwise": 2 * values})


def _einsum(args, out):
    """einsum (equation, operands) of two operands: one multiply-accumulate per point of the joint index space
    (every distinct index's size multiplied)."""
    equation, operands = args[0].replace(" ", ""), args[1]
    inputs = equation.split("->")[0].split(",")
    if len(operands) != 2 or "." in equation:
        raise NotImplementedError("exact: no formula for einsum %r over %d operands" % (equation, len(operands)))
    sizes = {}
    for index, letters in enumerate(inputs):
        shape = operands[index].shape
        if len(letters) != len(shape):
            raise NotImplementedError("exact: einsum %r does not name every axis of %r" % (equation, shape))
        for axis, letter in enumerate(letters):
            sizes[letter] = max(shape[axis], sizes.get(letter, 1))
    return {"mac": _prod(sizes.values())}


def _window(rank):
    """Max / average pooling of `rank` spatial axes (input, kernel_size, ...): a kernel given as one size is
    that size on every axis."""
    def size(args):
        kernel = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
        return _prod(list(kernel) * rank if len(kernel) == 1 else kernel)
    return size


def _max_pool_of(rank):
    """max_pool1d / 3d: k - 1 comparisons per output value, as max_pool2d."""
    def price(args, out):
        return {"elementwise": out.numel * (_window(rank)(args) - 1)}
    return price


def _avg_pool_of(rank):
    """avg_pool1d / 3d: k - 1 adds and a division per output value, as avg_pool2d."""
    def price(args, out):
        return {"elementwise": out.numel * _window(rank)(args)}
    return price


def _adaptive_max_pool(args, out):
    """adaptive max pooling: every input value compared once, less one per output (k - 1 per window)."""
    return {"elementwise": args[0].numel - out.numel}


def _group_norm(args, out):
    """group_norm (input, num_groups, weight, bias, eps, ...): statistics per sample and group (_statistics)."""
    rows = args[0].shape[0] * int(args[1])
    return _statistics(rows, args[0].numel // rows)


def _native_group_norm(args, out):
    """native_group_norm (input, weight, bias, N, C, HxW, group, eps)."""
    rows = int(args[3]) * int(args[6])
    return _statistics(rows, args[0].numel // rows)


def _instance_norm(args, out):
    """instance_norm (input, weight, bias, running_mean, running_var, use_input_stats, ...): statistics per
    sample and channel (_statistics); with the running statistics instead, BatchNorm's 2 per value."""
    x = args[0]
    if len(args) > 5 and args[5] is False:
        return {"elementwise": 2 * x.numel}
    rows = x.shape[0] * x.shape[1]
    return _statistics(rows, x.numel // rows)


def _batch_norm_no_update(args, out):
    """_batch_norm_no_update (input, weight, bias, running_mean, running_var, momentum, eps): the input's own
    statistics when it has no running ones."""
    return _batch_norm(args[:5] + [args[3] is None], out)


def _elu(args, out):
    """elu (x, alpha, scale, input_scale): SELU is ELU with its two constants (how F.selu reaches the mode
    outside inference_mode)."""
    scale = float(args[2]) if len(args) > 2 else 1.0
    return {"act:selu" if abs(scale - 1.0507009873554805) < 1e-6 else "act:elu": out.numel}


def _lines(args):
    """The axis an op works along (args[1], default the last) and its rows: (values per row, rows)."""
    x = args[0]
    if not x.shape:
        return 1, 1
    dim = args[1] if len(args) > 1 and isinstance(args[1], int) and not isinstance(args[1], bool) else -1
    n = x.shape[dim]
    return n, x.numel // max(n, 1)


def _ceil_log2(n):
    return max(int(n) - 1, 0).bit_length()


def _sort(args, out):
    """sort / argsort (x, dim, ...): a comparison sort's n x ceil(log2 n) comparisons per row (comparisons are
    element-wise ops in the reference's vocabulary, as max pooling's are)."""
    n, rows = _lines(args)
    return {"elementwise": rows * n * _ceil_log2(n)}


def _topk(args, out):
    """topk (x, k, dim, ...): every value of a row offered to a heap of k: n x max(1, ceil(log2 k))
    comparisons per row."""
    x, k = args[0], int(args[1])
    dim = args[2] if len(args) > 2 and isinstance(args[2], int) else -1
    n = x.shape[dim] if x.shape else 1
    return {"elementwise": (x.numel // max(n, 1)) * n * max(1, _ceil_log2(k))}


def _variance(root):
    """var / std / var_mean / std_mean: the mean (n adds), x - mean (n), the squares (n) and their sum (n),
    as the reference's layer_norm prices its variance: 4 per input value; std adds one sqrt per result."""
    def price(args, out):
        cost = {"elementwise": 4 * args[0].numel}
        if root:
            cost["act:sqrt"] = out.numel
        return cost
    return price


def _vector_norm(args, out):
    """norm / linalg_vector_norm / frobenius_norm (x, p, ...): |x|^p and the sum, 2 per input value, then the
    root per result: a sqrt for p = 2, one element-wise op for another p, none for p = 1 or infinity."""
    p = args[1] if len(args) > 1 and isinstance(args[1], (int, float)) and not isinstance(args[1], bool) else 2
    cost = {"elementwise": 2 * args[0].numel}
    if float(p) == 2.0:
        cost["act:sqrt"] = out.numel
    elif float(p) not in (1.0, float("inf"), float("-inf")):
        cost["elementwise"] += out.numel
    return cost


def _extreme(args, out):
    """max / min: of two tensors, one comparison per output value; along an axis or whole, a reduction (one
    op per input value)."""
    if len(args) > 1 and isinstance(args[1], T):
        return {"elementwise": out.numel}
    return {"elementwise": args[0].numel}


def _interpolate(taps):
    """Linear interpolation: each output value a weighted sum of its `taps` neighbours, taps products and
    taps - 1 adds (the weights are computed once per row and column, not per value)."""
    def price(args, out):
        return {"elementwise": out.numel * (2 * taps - 1)}
    return price


def _glu(args, out):
    """glu (x, dim): one half gated by the sigmoid of the other, one sigmoid and one product per output value."""
    return {"act:sigmoid": out.numel, "elementwise": out.numel}


def _fused_multiply_add(args, out):
    """addcmul / addcdiv (input, t1, t2, value=): input + value x t1 * t2 (or / t2): 3 per output value."""
    return {"elementwise": 3 * out.numel}


_EACH = "one per output value"
_REDUCE = "one op per input value"
WIDER = {
    "aten.conv3d": (_convolution, "output values x in/groups x kernel taps, one bias add per output"),
    "aten.conv_transpose3d": (_conv_transpose, "input positions x the whole weight, one bias add per output"),
    "aten.slow_conv3d": (_sized(False), "as aten.convolution"),
    "aten.slow_conv3d_forward": (_sized(False), "as aten.convolution"),
    "aten.slow_conv_dilated2d": (_sized(False), "as aten.convolution"),
    "aten.slow_conv_dilated3d": (_sized(False), "as aten.convolution"),
    "aten.slow_conv_transpose3d": (_sized(True), "as aten.convolution, transposed"),
    "aten.max_pool1d": (_max_pool_of(1), "k - 1 comparisons per output"),
    "aten.max_pool1d_with_indices": (_max_pool_of(1), "k - 1 comparisons per output"),
    "aten.max_pool3d": (_max_pool_of(3), "k - 1 comparisons per output"),
    "aten.max_pool3d_with_indices": (_max_pool_of(3), "k - 1 comparisons per output"),
    "aten.mkldnn_max_pool3d": (_max_pool_of(3), "k - 1 comparisons per output"),
    "aten.avg_pool1d": (_avg_pool_of(1), "k - 1 adds and a division per output"),
    "aten.avg_pool3d": (_avg_pool_of(3), "k - 1 adds and a division per output"),
    "aten.adaptive_avg_pool1d": (_adaptive_avg_pool, _REDUCE),
    "aten.adaptive_avg_pool3d": (_adaptive_avg_pool, _REDUCE),
    "aten._adaptive_avg_pool3d": (_adaptive_avg_pool, _REDUCE),
    "aten.adaptive_max_pool1d": (_adaptive_max_pool, "one comparison per input value, less one per output"),
    "aten.adaptive_max_pool2d": (_adaptive_max_pool, "one comparison per input value, less one per output"),
    "aten.adaptive_max_pool3d": (_adaptive_max_pool, "one comparison per input value, less one per output"),
    "aten.group_norm": (_group_norm, "7n + 1 element-wise and one rsqrt per sample and group"),
    "aten.native_group_norm": (_native_group_norm, "7n + 1 element-wise and one rsqrt per sample and group"),
    "aten.instance_norm": (_instance_norm, "7n + 1 element-wise and one rsqrt per sample and channel"),
    "aten._batch_norm_with_update": (lambda args, out: _batch_norm(args[:5] + [True], out),
                                     "7n + 1 element-wise and one rsqrt per channel"),
    "aten._batch_norm_no_update": (_batch_norm_no_update, "2 element-wise per value, or its own statistics"),
    "aten.leaky_relu": (_per_value("act:leaky_relu"), "one leaky_relu per value"),
    "aten.elu": (_elu, "one elu (selu: its constants) per value"),
    "aten.selu": (_per_value("act:selu"), "one selu per value"),
    "aten.celu": (_per_value("act:celu"), "one celu per value"),
    "aten.prelu": (_per_value("act:prelu"), "one prelu per value"),
    "aten._prelu_kernel": (_per_value("act:prelu"), "one prelu per value"),
    "aten.hardswish": (_per_value("act:hardswish"), "one hardswish per value"),
    "aten.hardsigmoid": (_per_value("act:hardsigmoid"), "one hardsigmoid per value"),
    "aten.softplus": (_per_value("act:softplus"), "one softplus per value"),
    "aten.mish": (_per_value("act:mish"), "one mish per value"),
    "aten.log_softmax": (_per_value("act:log_softmax"), "one log_softmax evaluation per value"),
    "aten._log_softmax": (_per_value("act:log_softmax"), "one log_softmax evaluation per value"),
    "aten._safe_softmax": (_per_value("act:softmax"), "one softmax evaluation per value"),
    "aten.log_sigmoid": (_per_value("act:log_sigmoid"), "one log_sigmoid per value"),
    "aten.log_sigmoid_forward": (_per_value("act:log_sigmoid"), "one log_sigmoid per value"),
    "aten.glu": (_glu, "one sigmoid and one product per output value"),
    "aten.exp": (_per_value("act:exp"), "one exp per value"),
    "aten.log": (_per_value("act:log"), "one log per value"),
    "aten.sqrt": (_per_value("act:sqrt"), "one sqrt per value"),
    "aten.erf": (_per_value("act:erf"), "one erf per value"),
    "aten.sin": (_per_value("act:sin"), "one sin per value"),
    "aten.cos": (_per_value("act:cos"), "one cos per value"),
    "aten.var": (_variance(False), "4 per input value"),
    "aten.var_mean": (_variance(False), "4 per input value"),
    "aten.std": (_variance(True), "4 per input value, one sqrt per result"),
    "aten.std_mean": (_variance(True), "4 per input value, one sqrt per result"),
    "aten.norm": (_vector_norm, "2 per input value, the root per result"),
    "aten.linalg_vector_norm": (_vector_norm, "2 per input value, the root per result"),
    "aten.frobenius_norm": (_vector_norm, "2 per input value, the root per result"),
    "aten.max": (_extreme, "of two tensors one per output value, else one op per input value"),
    "aten.min": (_extreme, "of two tensors one per output value, else one op per input value"),
    "aten.sort": (_sort, "n x ceil(log2 n) comparisons per row"),
    "aten.argsort": (_sort, "n x ceil(log2 n) comparisons per row"),
    "aten.topk": (_topk, "n x max(1, ceil(log2 k)) comparisons per row"),
    "aten.upsample_linear1d": (_interpolate(2), "3 per output value (2 products, an add)"),
    "aten.upsample_bilinear2d": (_interpolate(4), "7 per output value (4 products, 3 adds)"),
    "aten.upsample_trilinear3d": (_interpolate(8), "15 per output value (8 products, 7 adds)"),
    "aten.upsample_bicubic2d": (_interpolate(16), "31 per output value (16 products, 15 adds)"),
    "aten.addcmul": (_fused_multiply_add, "3 per output value"),
    "aten.addcdiv": (_fused_multiply_add, "3 per output value"),
}
for _op in ("abs", "clamp", "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin", "eq", "ne", "lt",
            "gt", "ge", "le", "isfinite", "isnan", "isinf", "logical_and", "logical_or", "logical_xor",
            "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "__and__", "__or__",
            "__xor__", "__invert__", "__iand__", "__ior__", "__ixor__", "threshold", "square", "reciprocal", "sign", "floor", "ceil", "round", "trunc",
            "remainder", "fmod", "floor_divide", "true_divide"):
    WIDER.setdefault("aten." + _op, (_per_value("elementwise"), _EACH))
for _op in ("amax", "amin", "argmax", "argmin", "any", "all", "prod", "cumsum", "cumprod", "logsumexp", "nansum",
            "count_nonzero"):
    WIDER["aten." + _op] = (_reduce, _REDUCE)

# Ops that move, select or place values without computing any: a selection (where, masked_fill: the mask is
# computed by its own op), a lookup (nearest upsampling), a permutation (roll, flip, the shuffles), creation,
# dropout's eval identity, a scalar read.
MOVES = (
    "aten.where", "aten._s_where", "aten.masked_fill", "aten.masked_select", "aten.masked_scatter", "aten.scatter",
    "aten.index_put", "aten.one_hot", "aten.ones", "aten.new_ones", "aten.new_full", "aten.full_like",
    "aten.scalar_tensor", "aten.linspace", "aten.roll", "aten.flip", "aten.pixel_shuffle", "aten.pixel_unshuffle",
    "aten.channel_shuffle", "aten.native_channel_shuffle", "aten.upsample_nearest1d", "aten.upsample_nearest2d",
    "aten.upsample_nearest3d", "aten._upsample_nearest_exact1d", "aten._upsample_nearest_exact2d",
    "aten._upsample_nearest_exact3d", "aten.alpha_dropout", "aten.feature_alpha_dropout", "aten.item",
    "aten.is_nonzero", "aten.resolve_conj", "aten.resolve_neg", "aten.lift_fresh_copy", "aten.diagonal",
    "aten.unfold", "aten.im2col", "aten.tile", "aten.meshgrid", "aten.broadcast_to", "aten.unsqueeze_copy",
    "aten.view_copy", "aten.permute_copy",
)


# Ops that compute nothing: views, layout, copies, creation, indexing, lookups.
ZERO = (
    "aten.view", "aten._unsafe_view", "aten.reshape", "aten._reshape_alias", "aten.permute", "aten.transpose",
    "aten.t", "aten.expand", "aten.clone", "aten.contiguous", "aten.detach", "aten.alias", "aten.slice",
    "aten.select", "aten.unsqueeze", "aten.squeeze", "aten.flatten", "aten.unflatten", "aten.split",
    "aten.split_with_sizes", "aten.chunk", "aten.unbind", "aten.cat", "aten.stack", "aten.copy_", "aten._to_copy",
    "aten.to", "aten.lift_fresh", "aten.empty", "aten.empty_like", "aten.empty_strided", "aten.new_empty",
    "aten.new_empty_strided", "aten.zeros", "aten.zeros_like", "aten.new_zeros", "aten.ones_like", "aten.full",
    "aten.fill_", "aten.zero_", "aten.embedding", "aten.index_select", "aten.repeat_interleave", "aten.repeat",
    "aten.constant_pad_nd", "aten.pad", "aten.as_strided", "aten.narrow", "aten.dropout", "aten.native_dropout",
    "aten.feature_dropout", "aten.movedim", "aten.swapaxes", "aten.expand_as", "aten.view_as", "aten.reshape_as",
    "aten.is_same_size", "aten._has_compatible_shallow_copy_type", "aten.resize_", "aten.set_",
    "aten._local_scalar_dense", "aten.sym_size", "aten.sym_stride", "aten.sym_numel", "aten.sym_storage_offset",
    "aten.arange", "aten.triu", "aten.tril", "aten.index", "aten.gather", "prim.device", "prim.layout",
    "aten._nnpack_available",
)

# op packet -> (formula, its words); each returns the op's components
FORMULAS = {
    "aten.mm": (_matrix, "M x K x N multiply-accumulates"),
    "aten.bmm": (_matrix, "B x M x K x N multiply-accumulates"),
    "aten.addmm": (_added, "M x K x N multiply-accumulates, one bias add per output"),
    "aten.baddbmm": (_added, "B x M x K x N multiply-accumulates, one add of the input per output"),
    "aten.linear": (_linear, "rows x in x out multiply-accumulates, one bias add per output"),
    "aten.matmul": (_matmul, "output values x the shared axis multiply-accumulates"),
    "aten.convolution": (_aten_convolution, "output values x in/groups x kernel taps (transposed: input"
                                            " positions x the whole weight), one bias add per output"),
    "aten._convolution": (_aten_convolution, "as aten.convolution"),
    "aten.mkldnn_convolution": (_native_convolution, "as aten.convolution"),
    "aten.thnn_conv2d_forward": (_sized(False), "as aten.convolution"),
    "aten.slow_conv_transpose2d": (_sized(True), "as aten.convolution, transposed"),
    "aten.conv1d": (_convolution, "output values x in/groups x kernel taps, one bias add per output"),
    "aten.conv2d": (_convolution, "output values x in/groups x kernel taps, one bias add per output"),
    "aten.conv_transpose1d": (_conv_transpose, "input positions x the whole weight, one bias add per output"),
    "aten.conv_transpose2d": (_conv_transpose, "input positions x the whole weight, one bias add per output"),
    "aten.batch_norm": (_batch_norm, "2 element-wise per value"),
    "aten._batch_norm_impl_index": (_batch_norm, "2 element-wise per value"),
    "aten.native_batch_norm": (_batch_norm, "2 element-wise per value"),
    "aten._native_batch_norm_legit": (_batch_norm, "2 element-wise per value"),
    "aten._native_batch_norm_legit_no_training": (_batch_norm, "2 element-wise per value"),
    "aten.layer_norm": (_layer_norm, "7n + 1 element-wise and one rsqrt per row"),
    "aten.native_layer_norm": (_layer_norm, "7n + 1 element-wise and one rsqrt per row"),
    "aten.max_pool2d": (_max_pool, "k - 1 comparisons per output"),
    "aten.max_pool2d_with_indices": (_max_pool, "k - 1 comparisons per output"),
    "aten.mkldnn_max_pool2d": (_max_pool, "k - 1 comparisons per output"),
    "aten.avg_pool2d": (_avg_pool, "k - 1 adds and a division per output"),
    "aten.adaptive_avg_pool2d": (_adaptive_avg_pool, "one op per input value"),
    "aten._adaptive_avg_pool2d": (_adaptive_avg_pool, "one op per input value"),
    "aten.mean": (_reduce, "one op per input value"),
    "aten.sum": (_reduce, "one op per input value"),
    "aten.add": (_sum, "one per output value (a bias parameter's: bias)"),
    "aten.sub": (_sum, "one per output value (a bias parameter's: bias)"),
    "aten.rsub": (_per_value("elementwise"), "one per output value"),
    "aten.mul": (_per_value("elementwise"), "one per output value"),
    "aten.div": (_per_value("elementwise"), "one per output value"),
    "aten.neg": (_per_value("elementwise"), "one per output value"),
    "aten.pow": (_per_value("elementwise"), "one per output value"),
    "aten.relu": (_per_value("act:relu"), "one relu per value"),
    "aten.relu6": (_per_value("act:relu6"), "one relu6 per value"),
    "aten.hardtanh": (_hardtanh, "relu6 (bounds 0, 6) per value, else one clamp per value"),
    "aten.sigmoid": (_per_value("act:sigmoid"), "one sigmoid per value"),
    "aten.tanh": (_per_value("act:tanh"), "one tanh per value"),
    "aten.gelu": (_per_value("act:gelu"), "one gelu per value"),
    "aten.silu": (_per_value("act:silu"), "one silu per value"),
    "aten.rsqrt": (_per_value("act:rsqrt"), "one rsqrt per value"),
    "aten._softmax": (_per_value("act:softmax"), "one softmax evaluation per value"),
    "aten.einsum": (_einsum, "one multiply-accumulate per point of the joint index space"),
    "aten.scaled_dot_product_attention": (_sdpa, "2 x scores x head_dim multiply-accumulates, the scale (and"
                                                 " mask) per score, one softmax per score"),
    "aten._scaled_dot_product_attention_math": (_sdpa, "as aten.scaled_dot_product_attention"),
    "aten._scaled_dot_product_efficient_attention": (_sdpa, "as aten.scaled_dot_product_attention"),
    "aten._scaled_dot_product_flash_attention_for_cpu": (_sdpa_flash_cpu, "as aten.scaled_dot_product_attention"),
    "aten._native_multi_head_attention": (_native_mha, "q, k, v and output projections, attention as"
                                                       " aten.scaled_dot_product_attention"),
    "aten._transformer_encoder_layer_fwd": (_encoder_layer, "attention, residual adds, LayerNorms and the FFN"
                                                            " of nn.TransformerEncoderLayer, as the reference's"
                                                            " transformer_encoder"),
    "aten.softmax": (_per_value("act:softmax"), "one softmax evaluation per value"),
}
FORMULAS.update(WIDER)
FORMULAS.update(dict((op, (_nothing, "computes nothing")) for op in ZERO + MOVES))


def recurrent(kind, steps, batch, features, units, directions, biases):
    """One recurrent layer, however its kernel runs it (aten.gru / lstm / rnn_tanh / rnn_relu, oneDNN's
    mkldnn_rnn_layer, aten's per-step loop): every cell evaluation (steps x batch x directions) costs its gate
    matrix products with w_ih and w_hh, one add per bias value the layer holds (`biases`: the values of each
    direction's b_ih and b_hh), and the cell's arithmetic as the reference states it (gates, element-wise,
    activations: bench/reference/formulas.py gru, lstm, simple_rnn)."""
    gates, per_unit = RECURRENT[kind]
    cells = steps * batch * directions
    cost = {"mac": cells * gates * units * (features + units), "bias": steps * batch * biases}
    for component, count in per_unit.items():
        cost[component] = cost.get(component, 0) + cells * count * units
    return dict((k, v) for k, v in cost.items() if v)


def _recurrent_op(kind):
    """aten.gru / lstm / rnn_tanh / rnn_relu reaching the mode whole, outside an nn module of its kind (input,
    hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)."""
    def price(args, out):
        x, hx, params = args[0], args[1], args[2]
        if int(args[4]) != 1:
            raise NotImplementedError("exact: no formula for a %d-layer %s" % (int(args[4]), kind))
        units = (hx[0] if isinstance(hx, list) else hx).shape[-1]
        shape = x.shape if len(x.shape) == 3 else (x.shape[0], 1, x.shape[1])
        steps, batch = (shape[1], shape[0]) if args[8] else (shape[0], shape[1])
        directions = 2 if args[7] else 1
        biases = sum(p.numel for p in params if len(p.shape) == 1)
        return recurrent(kind, steps, batch, shape[2], units, directions, biases)
    return price


# nn module class -> (gates, per unit of one cell evaluation: component -> count)
RECURRENT = {
    "GRU": (3, {"elementwise": 8, "act:sigmoid": 2, "act:tanh": 1}),
    "LSTM": (4, {"elementwise": 8, "act:sigmoid": 3, "act:tanh": 2}),
    "RNN_TANH": (1, {"elementwise": 1, "act:tanh": 1}),
    "RNN_RELU": (1, {"elementwise": 1, "act:relu": 1}),
}


for _op, _kind in (("aten.gru", "GRU"), ("aten.lstm", "LSTM"), ("aten.rnn_tanh", "RNN_TANH"),
                  ("aten.rnn_relu", "RNN_RELU")):
    FORMULAS[_op] = (_recurrent_op(_kind), "every cell evaluation: gate products, both biases, the cell's arithmetic")


def price(op, args, out):
    """The components of one op from its arguments (T for a tensor) and its output (T): a missing formula
    is an error that names the op."""
    packet = op[:-1] if op.endswith("_") and op[:-1] in FORMULAS else op  # in-place: relu_, add_, ...
    if packet not in FORMULAS:
        raise NotImplementedError("exact: no formula for %s (args %r)" % (op, args))
    return FORMULAS[packet][0](args, out)


def flops(components):
    """FLOPs of components under the reference's default convention (a MAC 2, everything else 1)."""
    return sum(count * DEFAULT.get(component, 1) for component, count in components.items())


def _recurrent_kind(module):
    name = type(module).__name__
    if name == "RNN":
        return "RNN_RELU" if module.nonlinearity == "relu" else "RNN_TANH"
    return name if name in RECURRENT else None


def _layer_cost(module, x):
    """An nn.RNN/GRU/LSTM's recurrent op, priced from its input and weights (RECURRENT)."""
    kind = _recurrent_kind(module)
    shape = tuple(int(d) for d in x.shape)
    if len(shape) == 2:  # unbatched (steps, features)
        shape = (shape[0], 1, shape[1])
    steps, batch, features = (shape[1], shape[0], shape[2]) if module.batch_first else shape
    if module.num_layers != 1 or getattr(module, "proj_size", 0):
        raise NotImplementedError("exact: no formula for a %d-layer or projected %s" % (module.num_layers, kind))
    directions = 2 if module.bidirectional else 1
    biases = sum(int(p.numel()) for n, p in module.named_parameters() if n.startswith("bias_"))
    return recurrent(kind, steps, batch, features, module.hidden_size, directions, biases)


def is_bias(name):
    """A layer's bias parameter, by its name: bias, bias_ih_l0, nn.MultiheadAttention's in_proj_bias (added by
    an aten.add where the projection runs as a matmul)."""
    last = name.rpartition(".")[2]
    return last.startswith("bias") or last.endswith("_bias")


def op_name(func):
    """An aten op as FORMULAS names it: its overload packet (torch >= 1.12: aten.add), or the builtin torch 1.10
    hands __torch_dispatch__, which carries the bare name (add)."""
    packet = getattr(func, "_overloadpacket", None)
    return str(packet) if packet is not None else "aten." + func.__name__


def dispatching(torch, then):
    """A context manager under which every aten op that reaches the dispatcher's Python key is run and then
    handed to then(func, args, out): a TorchDispatchMode where torch has one (1.12 on), else torch
    1.10's python mode, a Tensor subclass's __torch_dispatch__ that every op is sent to, run with the python
    key disabled so that the op does not come back (torch/utils/_python_dispatch.py enable_python_mode)."""
    from torch.utils import _python_dispatch

    if hasattr(_python_dispatch, "TorchDispatchMode"):
        class Mode(_python_dispatch.TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                then(func, args, out)
                return out

        return Mode()

    class Seen(torch.Tensor):
        @classmethod
        def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
            guard = torch._C._DisableTorchDispatch()
            try:
                out = func(*args, **(kwargs or {}))
            finally:
                del guard
            then(func, args, out)
            return out

    return _Visible(torch, _python_dispatch.enable_python_mode(Seen))


class _Visible(object):
    """torch 1.10's max_pool1d runs its CPU kernel without the dispatcher when no gradient is wanted (under
    no_grad, or on an input that needs none): a silent 0. Inside the mode torch.max_pool1d is routed through
    max_pool1d_with_indices, which gives the same values and is dispatched."""

    def __init__(self, torch, mode):
        self.torch, self.mode, self.kept = torch, mode, None

    def __enter__(self):
        torch = self.torch
        self.kept = torch.max_pool1d

        def max_pool1d(x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
            return torch.max_pool1d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode)[0]

        torch.max_pool1d = max_pool1d
        return self.mode.__enter__()

    def __exit__(self, *exc):
        try:
            return self.mode.__exit__(*exc)
        finally:
            self.torch.max_pool1d = self.kept


def exact_count(model_name):
    """Every aten op of one forward pass in eval mode, priced by FORMULAS at the dispatcher (dispatching)."""
    import torch

    import answer
    import build_torch
    import installed
    import zoo

    abstract = bool(zoo.MODELS[model_name].get("abstract"))
    if abstract:  # too big to hold: shapes alone, on the meta device
        if not hasattr(torch.device("meta"), "__enter__"):
            raise NotImplementedError("exact: torch %s cannot build a model on the meta device (torch.device as a"
                                      " context manager came in torch 2.0)" % torch.__version__)
        model, x = build_torch.on_meta(model_name)
    else:
        model = build_torch.builder(model_name)()
        x = build_torch.seed_input(model_name)
    model.eval()
    names = dict((module, name) for name, module in model.named_modules())
    inside = []  # modules entered, innermost last
    nodes, items, order, seen = [], {}, [], {}

    def place():
        return names[inside[-1]] or ROOT if inside else ROOT

    def add(where, op, components, shape, input_shapes, rule):
        seen[where, op] = seen.get((where, op), 0) + 1
        nodes.append({"name": "%s/%s#%d" % (where, op, seen[where, op]), "op": op, "raw": flops(components),
                      "rule": "counted", "shape": shape, "inputs": [], "input_shapes": input_shapes,
                      "attrs": {"module": where, "components": components, "formula": rule}})
        if where not in items:
            items[where] = {}
            order.append(where)
        for component, count in components.items():
            items[where][component] = items[where].get(component, 0) + count

    def enter(module, inputs):
        inside.append(module)
        if _recurrent_kind(module):
            cost = _layer_cost(module, inputs[0])
            add(place(), "aten." + _recurrent_kind(module).lower(), cost, "",
                [str(tuple(int(d) for d in inputs[0].shape))],
                "the recurrent layer's op, priced once from its input and weights (every op it runs inside"
                " is part of it)")

    def leave(module, inputs, output):
        inside.pop()

    biases = set(id(p) for n, p in model.named_parameters() if is_bias(n))

    def convert(value):
        if isinstance(value, torch.Tensor):  # a bias parameter, or a view of one (MHA's in_proj_bias.chunk(3))
            return T(value.shape, id(value) in biases or id(getattr(value, "_base", None)) in biases)
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return value

    def priced(func, args, out):
        if inside and _recurrent_kind(inside[-1]):
            return  # part of the recurrent layer's op, priced when it was entered
        op = op_name(func)
        first = out[0] if isinstance(out, (list, tuple)) and out else out
        shape = T(first.shape) if isinstance(first, torch.Tensor) else T(())
        given = convert(list(args))
        components = price(op, given, shape)
        add(place(), op, components, str(shape.shape),
            [str(a.shape) for a in given if isinstance(a, T)], FORMULAS[op if op in FORMULAS else op[:-1]][1])

    handles = []
    for module in names:
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    try:
        with dispatching(torch, priced):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    built = dict((row["name"], row["class"]) for row in build_torch.describe(model))
    breakdown = [{"name": where, "type": built.get(where, ""), "raw": flops(items[where]),
                  "components": dict(sorted(items[where].items()))} for where in order]
    total = sum(item["raw"] for item in breakdown)
    notes = [
        "every aten op the forward pass dispatched was priced by its formula (bench/probe/count_exact.py"
        " FORMULAS) at the dispatcher (a TorchDispatchMode; torch 1.10: its python mode), per module and"
        " component: 'nodes'; raw is FLOPs under the reference's default convention (a multiply-accumulate 2,"
        " everything else 1)",
        "an nn.RNN/GRU/LSTM is priced once as its recurrent op, from its input and weights, whichever kernel"
        " runs it",
    ]
    if abstract:
        notes.append("built on PyTorch's meta device (build_torch.on_meta): priced from shapes alone")
    return answer.make(total, breakdown, build_torch.describe(model), ("torch", torch.__version__),
                       ("torch", installed.dist_version("torch")), (), notes, nodes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "exact": {
        "framework": "torch",
        "unit": "FLOP",
        "recipe": "the project's own TorchDispatchMode (torch 1.10: its python mode): every aten op of one"
            " forward pass in eval mode priced by a formula from its shapes, per module and reference component"
            " (FLOPs under the default convention)",
        "function": "exact_count",
        "breakdown": "module",
        "nodes_add_up": True,
        "abstract": "the model and its input built on PyTorch's meta device, priced from shapes alone",
    },
}
