"""ptflops.get_model_complexity_info, both backends: their per-module records read onto the model,
and their rule models.

Both report MACs, and both count a bias add as one "MAC". The pytorch backend sums per-module hook
results (`__flops__`) and the handlers of the functions it patches (F.relu, ...), which run inside
modules it also hooks; the aten backend prices a few aten ops (convolution, addmm, mm, ...) under a
dispatch mode and places them on the model's top-level children. Each rule is re-stated here from
ptflops 0.7.5's source, from the definition, the layer's input shape and the module's recorded
options, never from the counted number.

The pytorch backend's rules per ptflops version, from the sources of 0.6.7, 0.6.8, 0.6.9, 0.7,
0.7.1, 0.7.2.2, 0.7.3, 0.7.4 and 0.7.5: the conv, ReLU and RNN hooks are the same throughout; the
Linear hook adds its bias once for the whole input (np.prod(input.shape) x out + out) before 0.7.2,
and once per row from 0.7.2 on ((in x out + out) x rows); the patched functions (F.relu, ...) and
so the second count of a ReLU come with 0.7.1. A record whose tool version cannot be read gets the
rules of 0.7.5, the newest modelled.

Both are read by the per-module reader (rules.read_modules), as fvcore is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from math import prod

from bench.counters.base import (
    Adapter,
    Item,
    Reading,
    Steps,
)
from bench.counters.rules import (
    Module,
    Rule,
    RuleModel,
    conv_macs,
    image_layout,
    read_modules,
    recurrent_activations,
    reference_batch,
    time_major,
    version,
)
from bench.probe import zoo
from bench.reference.formulas import analyse

__all__ = [
    "ADAPTERS",
    "ATEN",
    "PYTORCH",
    "conv_geometry",
    "pytorch_rules",
]


def conv_geometry(spec: dict, in_shape: tuple) -> tuple[int, int, int, tuple[int, ...]]:
    """(batch, in channels, filters, output spatial dims) of a torch Conv: NC... input, 'valid' padding."""
    batch, channels, *dims = in_shape
    out = tuple((d - k) // s + 1 for d, k, s in zip(dims, spec["kernel"], spec["strides"], strict=True))
    return batch, channels, spec["filters"], out


def _activation_values(spec: dict, in_shape: tuple) -> int:
    """How many values the layer's activation module sees: the layer's output."""
    return prod(analyse({"input": list(in_shape), "layers": [spec]})[0].out_shape)


def _act(spec: dict, amount: int) -> Counter[str]:
    name = spec.get("activation", "linear")
    return Counter() if name == "linear" else Counter({f"act:{name}": amount})


# --- the pytorch backend: module hooks (ptflops/pytorch_ops.py) and patched functions


def _out_shape(spec: dict, in_shape: tuple) -> tuple:
    return analyse({"input": list(in_shape), "layers": [spec]})[0].out_shape


def _groups(spec: dict, in_shape: tuple) -> int:
    return image_layout(spec, in_shape)[1] if spec["kind"] == "depthwise_conv2d" else spec.get("groups", 1)


def _hook_conv(module: Module, item: dict) -> tuple[Counter[str], str]:
    """conv_flops_counter_hook: taps x in_channels x (out_channels // groups) per output position, plus
    batch x prod(output.shape[1:]) for the bias."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    macs, outputs = conv_macs(spec, in_shape, _out_shape(spec, in_shape), spec["kernel"], _groups(spec, in_shape))
    predicted = Counter({"mac": macs})
    if config.get("bias"):
        predicted["bias"] = outputs
    return (
        predicted,
        "conv_flops_counter_hook: kernel taps x in x out channels / groups per output position, one per bias value",
    )


def _hook_depthwise(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A separable conv's first nn.Conv2d, the depthwise one (groups = channels, no bias)."""
    spec, in_shape = module.spec, module.in_shape
    batch, channels, _ = image_layout(spec, in_shape)
    dims = image_layout(spec, _out_shape(spec, in_shape))[2]
    predicted = Counter({"mac": batch * prod(dims) * channels * prod(spec["kernel"])})
    return predicted, "conv_flops_counter_hook on the depthwise conv: kernel taps x channels per output position"


def _hook_pointwise(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A separable conv's second nn.Conv2d, the 1x1 pointwise one with the layer's bias (the only conv
    hook a layer's later module gets)."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    if spec["kind"] != "separable_conv2d":
        return Counter(), f"conv_flops_counter_hook on a later module of a {spec['kind']} layer: no rule"
    batch, channels, _ = image_layout(spec, in_shape)
    _, filters, dims = image_layout(spec, _out_shape(spec, in_shape))
    outputs = batch * prod(dims) * filters
    predicted = Counter({"mac": outputs * channels})
    if config.get("bias"):
        predicted["bias"] = outputs
    return predicted, "conv_flops_counter_hook on the 1x1 pointwise conv: in x out channels per output position"


def _hook_transpose(module: Module, item: dict) -> tuple[Counter[str], str]:
    """ptflops 0.7.5 hooks nn.ConvTranspose2d with conv_flops_counter_hook(transpose=True): taps x in x out
    channels per INPUT position, and the bias per output value."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    batch, channels, dims = image_layout(spec, in_shape)
    out = _out_shape(spec, in_shape)
    predicted = Counter({"mac": batch * prod(dims) * channels * spec["filters"] * prod(spec["kernel"])})
    if config.get("bias"):
        predicted["bias"] = prod(out)
    return predicted, "conv_flops_counter_hook(transpose=True): kernel taps x in x out channels per input position"


def _hook_transpose_as_conv(module: Module, item: dict) -> tuple[Counter[str], str]:
    """ptflops < 0.7.5 hooks nn.ConvTranspose2d with the plain conv hook: taps x in x out channels per OUTPUT
    position of the transposed conv (its larger output), and the bias per output value."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    batch, channels, _ = image_layout(spec, in_shape)
    _, filters, dims = image_layout(spec, _out_shape(spec, in_shape))
    outputs = batch * filters * prod(dims)
    predicted = Counter({"mac": outputs * channels * prod(spec["kernel"])})
    if config.get("bias"):
        predicted["bias"] = outputs
    words = "conv_flops_counter_hook (ptflops < 0.7.5, no transpose flag): kernel taps x in x out per OUTPUT position"
    return predicted, words


def _hook_bn(module: Module, item: dict) -> tuple[Counter[str], str]:
    """bn_flops_counter_hook: input.numel(), doubled when the module has `affine` set (nn.LayerNorm's flag is
    elementwise_affine, so a LayerNorm is priced input.numel() once); no rsqrt."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    affine = spec["kind"] == "batch_norm" and config.get("affine", True)
    predicted = Counter({"elementwise": (2 if affine else 1) * prod(in_shape)})
    if spec["kind"] == "layer_norm":
        predicted["act:rsqrt"] = 0
        return predicted, "bn_flops_counter_hook: input.numel() (nn.LayerNorm has no `affine`, so not doubled)"
    return predicted, "bn_flops_counter_hook: input.numel() x 2 (affine)"


def _hook_pool(module: Module, item: dict) -> tuple[Counter[str], str]:
    in_shape = module.in_shape
    return Counter({"elementwise": prod(in_shape)}), f"{item['rule'] or 'pool'}: input.numel(), whatever the window"


def _attention_matmul(module: Module, item: dict) -> tuple[Counter[str], str]:
    """The attention's two torch.matmul calls (Q K^T, A V), each prod(input.shape) x other.shape[-1]; the
    scale, mask and rotary products are Tensor operators, not the torch.mul ptflops patches, and
    torch.softmax is not F.softmax: 0."""
    spec, in_shape = module.spec, module.in_shape
    batch, steps, _ = in_shape
    macs = 2 * batch * spec["heads"] * steps * steps * spec["head_dim"]
    words = f"{item['rule']}: Q K^T and A V, prod(input.shape) x other.shape[-1] each; softmax and scale not patched"
    return Counter({"mac": macs, "elementwise": 0, "act:softmax": 0}), words


# layer kinds whose module ptflops hooks with nothing (`rule` ""): why its forward adds nothing
NO_HOOK = {
    "attention": "the zoo's attention module has no ptflops hook (its matmuls come from the patched functions)",
    "rms_norm": "RMSNorm has no ptflops hook, and its pow, mean, rsqrt and * are none of the patched functions",
    "embedding": "nn.Embedding has no ptflops hook",
    "zero_pad2d": "nn.ZeroPad2d has no ptflops hook",
    "layer_norm": "nn.LayerNorm has no hook before ptflops 0.7",
}


def _no_module_hook(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, in_shape = module.spec, module.in_shape
    cost = analyse({"input": list(in_shape), "layers": [spec]})[0]
    zero = Counter({component: 0 for component in cost.total() if spec["kind"] != "attention" or component != "mac"})
    return zero, NO_HOOK[spec["kind"]] + ": 0"


def _hook_linear(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, in_shape, config = module.spec, module.in_shape, module.config
    rows = prod(in_shape[:-1])
    predicted = Counter({"mac": rows * in_shape[-1] * spec["units"]})
    if config.get("bias"):
        predicted["bias"] = rows * spec["units"]
    return predicted, "linear_flops_counter_hook: in x out per row, one per bias value per row"


def _hook_linear_once(module: Module, item: dict) -> tuple[Counter[str], str]:
    """ptflops < 0.7.2: np.prod(input.shape) x out features, plus out features once for the bias."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    predicted = Counter({"mac": prod(in_shape) * spec["units"]})
    if config.get("bias"):
        predicted["bias"] = spec["units"]
    words = "linear_flops_counter_hook (ptflops < 0.7.2): in x out per row, the bias's out features once for all rows"
    return predicted, words


GATES = {"gru": 3, "lstm": 4, "simple_rnn": 1}
# rnn_flops' element-wise work per cell, in hidden units: GRU r * (.), 3 sums, 3 for the output;
# LSTM 4 sums, 3 for c, 3 for h; RNN the sum of both parts
RNN_ELEMENTWISE = {"gru": 1 + 3 + 3, "lstm": 4 + 3 + 3, "simple_rnn": 1}


def _hook_rnn(module: Module, item: dict) -> tuple[Counter[str], str]:
    """rnn_flops: |W_ih| + |W_hh| = G U (D + U) per cell, the element-wise work of RNN_ELEMENTWISE, both bias
    vectors (2 G U); times input.shape[0] x input.shape[1], times 2 when bidirectional."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    first, second, features = in_shape
    units, gates = spec["units"], GATES[spec["kind"]] * spec["units"]
    cells = first * second * (2 if spec.get("bidirectional") else 1)  # shape[0] ("batch") x shape[1] ("seq_length")
    elementwise = RNN_ELEMENTWISE[spec["kind"]] * units
    predicted = Counter({"mac": cells * gates * (features + units), "elementwise": cells * elementwise})
    if config.get("bias"):
        predicted["bias"] = cells * 2 * gates
    predicted.update(_zero_gru_activations(spec))
    words = (
        f"rnn_flops_counter_hook: gate MACs, both bias vectors and {RNN_ELEMENTWISE[spec['kind']]}U element-wise"
        " per cell, no activations" + (", both directions" if spec.get("bidirectional") else "")
    )
    return predicted, words


def _zero_gru_activations(spec: dict) -> Counter[str]:
    """The recurrent layer's activations, priced 0."""
    return Counter({f"act:{name}": 0 for name in set(recurrent_activations(spec)) if name not in ("", "linear")})


def _hook_relu(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, in_shape = module.spec, module.in_shape
    return _act(spec, _activation_values(spec, in_shape)), "relu_flops_counter_hook: one per output value"


def _functional_numel(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, in_shape = module.spec, module.in_shape
    if spec["kind"] in POOLS:
        words = f"{item['rule']}: input.numel(), on top of the module's own hook (ptflops patches the function)"
        return Counter({"elementwise": prod(in_shape)}), words
    if item["rule"].split(":")[0] != f"F.{spec.get('activation')}":
        return Counter(), f"{item['rule']} on a {spec.get('activation')} activation: no rule"
    words = f"{item['rule']}: one per input value, on top of the module's own hook (ptflops patches the function)"
    return _act(spec, _activation_values(spec, in_shape)), words


def _no_functional(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec = module.spec
    return _act(spec, 0), f"{item['rule']}: ptflops < 0.7.1 patches no function, so none is priced: 0"


def _no_hook(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec = module.spec
    return _act(spec, 0), "no ptflops hook for the module's class: 0"


def _pytorch_steps(spec: dict, in_shape: tuple, config: dict) -> Steps:
    first, second, _ = in_shape
    why = (
        f"rnn_flops_counter_hook prices one cell per input.shape[0] x input.shape[1] = {first} x {second}"
        " (it reads axis 0 as batch and axis 1 as sequence, whatever batch_first says)",
    )
    return Steps(first * second // reference_batch(spec, in_shape), why)


# the function each pooling module calls, as the probe names it: F.max_pool2d is torch's boolean_dispatch
# wrapper (return_indices picks the implementation), whose __qualname__ is "boolean_dispatch.<locals>.fn"
POOLS = {
    "max_pool2d": "F.boolean_dispatch.<locals>.fn",
    "avg_pool2d": "F.avg_pool2d",
    "global_avg_pool2d": "F.adaptive_avg_pool2d",
}
NUMEL = "_numel_functional_flops_hook"
# the patched functions priced by input.numel() that the zoo's modules call (ptflops >= 0.7.1)
FUNCTIONALS: tuple[tuple[str, str], ...] = (
    *(("activation", f"F.{name}: {NUMEL}") for name in ("relu", "gelu", "silu", "elu", "relu6")),
    *((kind, f"{function}: {NUMEL}") for kind, function in POOLS.items()),
)
FUNCTIONAL = ("activation", f"F.relu: {NUMEL}")  # the ReLU's second count
MATMUL = ("attention", "torch._VariableFunctionsClass.matmul: _matmul_tensor_flops_hook")

# the newest modelled (0.7.5); pytorch_rules gives each version's
PYTORCH_RULES: dict[tuple[str, str], Rule] = {
    **{(kind, "conv_flops_counter_hook"): _hook_conv for kind in ("conv1d", "conv2d", "depthwise_conv2d")},
    ("separable_conv2d", "conv_flops_counter_hook"): _hook_depthwise,
    ("activation", "conv_flops_counter_hook"): _hook_pointwise,
    ("conv2d_transpose", "conv_flops_counter_hook"): _hook_transpose,
    ("dense", "linear_flops_counter_hook"): _hook_linear,
    **{(kind, "rnn_flops_counter_hook"): _hook_rnn for kind in GATES},
    ("batch_norm", "bn_flops_counter_hook"): _hook_bn,
    ("layer_norm", "bn_flops_counter_hook"): _hook_bn,
    **{(kind, "pool_flops_counter_hook"): _hook_pool for kind in POOLS},
    ("activation", "relu_flops_counter_hook"): _hook_relu,
    **{key: _functional_numel for key in FUNCTIONALS},
    MATMUL: _attention_matmul,
    **{(kind, ""): _no_module_hook for kind in NO_HOOK},
    ("activation", ""): _no_hook,
}

# --- the aten backend: ptflops/aten_ops.py under a TorchDispatchMode


def _aten(rule: Rule, words: str) -> Rule:
    """An aten rule that prices as a pytorch-backend hook does, in conv_flop's words."""

    def aten_rule(module: Module, item: dict) -> tuple[Counter[str], str]:
        predicted, _ = rule(module, item)
        return predicted, words

    return aten_rule


CONV_FLOP = "aten.convolution (conv_flop): batch x prod(weight.shape) x output positions"
_aten_conv = _aten(_hook_conv, CONV_FLOP + ", plus outputs when biased")
_aten_depthwise = _aten(_hook_depthwise, CONV_FLOP + " of the depthwise conv (weight C x 1 x kh x kw)")
_aten_transpose = _aten(
    _hook_transpose,
    "aten.convolution (conv_flop, transposed): batch x prod(weight.shape) x INPUT positions, plus outputs",
)


def _aten_pointwise(module: Module, item: dict) -> tuple[Counter[str], str]:
    predicted, words = _hook_pointwise(module, item)
    return predicted, words if not predicted else CONV_FLOP + " of the 1x1 pointwise conv, plus outputs when biased"


def _aten_addmm(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, in_shape = module.spec, module.in_shape
    rows = prod(in_shape[:-1])
    predicted = Counter({"mac": rows * in_shape[-1] * spec["units"], "bias": rows * spec["units"]})
    return predicted, "aten.addmm (addmm_flop): rows x in x out, plus rows x out for the bias operand"


def _aten_mm(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec, in_shape = module.spec, module.in_shape
    rows = prod(in_shape[:-1])
    return Counter({"mac": rows * in_shape[-1] * spec["units"]}), f"{item['rule']} (matmul_flop): rows x in x out"


def _aten_bmm(module: Module, item: dict) -> tuple[Counter[str], str]:
    """torch.matmul of 4-D tensors reaches the dispatch mode as aten.bmm (aten.matmul under inference_mode):
    Q K^T and A V, n x c x t x d each; the scale, mask, softmax and rotary ops are zero-ops."""
    spec, in_shape = module.spec, module.in_shape
    batch, steps, _ = in_shape
    macs = 2 * batch * spec["heads"] * steps * steps * spec["head_dim"]
    words = f"{item['rule']} for Q K^T and A V, batch x heads x T x T x head_dim each; scale, mask, softmax zero-ops"
    return Counter({"mac": macs, "elementwise": 0, "act:softmax": 0}), words


def _aten_rnn(module: Module, item: dict) -> tuple[Counter[str], str]:
    """torch's CPU RNN, GRU and LSTM: x @ W_ih + b_ih for every row of the sequence and h @ W_hh + b_hh at each
    step, each an aten.addmm, for each direction; the gate sums, products and activations are zero-ops."""
    spec, in_shape, config = module.spec, module.in_shape, module.config
    steps, batch, features = time_major(in_shape, config)
    gates = GATES[spec["kind"]] * spec["units"]
    rows = steps * batch * (2 if spec.get("bidirectional") else 1)
    predicted = Counter({"mac": rows * gates * (features + spec["units"]), "bias": rows * 2 * gates, "elementwise": 0})
    predicted.update(_zero_gru_activations(spec))
    words = "aten.addmm (addmm_flop) for x @ W_ih + b_ih and h @ W_hh + b_hh; gate arithmetic and activations zero-ops"
    if spec.get("bidirectional"):
        words += "; both directions"
    return predicted, words


# (a part's kind, the aten op) -> its rule, for the ops of a composite block (priced on the block's module)
BLOCK_OPS: dict[tuple[str, str], Rule] = {
    **{(kind, "aten.convolution"): _aten_conv for kind in ("conv1d", "conv2d", "depthwise_conv2d")},
    ("dense", "aten.addmm"): _aten_addmm,
    ("dense", "aten.mm"): _aten_mm,
    ("attention", "aten.bmm"): _aten_bmm,
    ("attention", "aten.matmul"): _aten_bmm,  # under torch.inference_mode torch.matmul is not decomposed to bmm
}


def _aten_block(module: Module, item: dict) -> tuple[Counter[str], str]:
    """ptflops' aten backend places ops on the model's top-level children only: a composite block's op is
    summed over its parts. aten.addmm prices the biased projections, aten.mm the unbiased ones."""
    spec, in_shape = module.spec, module.in_shape
    cost = analyse({"input": list(in_shape), "layers": [spec]})[0]
    specs = {part["name"]: part for part in zoo.parts(spec, in_shape[-1])}
    predicted: Counter[str] = Counter()
    priced = []
    for part in cost.parts:
        part_spec = specs[part.name]
        rule = BLOCK_OPS.get((part_spec["kind"], item["rule"]))
        biased = part_spec.get("use_bias", True)
        if rule is None or (part_spec["kind"] == "dense" and biased != (item["rule"] == "aten.addmm")):
            continue
        priced_as = Module(part_spec, part, part.in_shape, 0, module.name, {"bias": biased}, module.owner, module.tool)
        found, _ = rule(priced_as, item)
        predicted.update(found)
        priced.append(part.name)
    return predicted, f"{item['rule']} over the block's parts ({', '.join(priced) or 'none'}), on the block's module"


def _aten_zero(module: Module, item: dict) -> tuple[Counter[str], str]:
    spec = module.spec
    return _act(spec, 0), "no aten op ptflops prices (aten.relu, aten.sigmoid, ... are zero-ops): 0"


def _aten_unpriced(module: Module, item: dict) -> tuple[Counter[str], str]:
    """A layer's module in which ptflops priced no aten op: every op it dispatched is one ptflops' table lacks.
    Under torch.inference_mode nn.Conv2d, nn.Linear and nn.GRU reach the dispatch mode whole (aten.conv2d,
    aten.linear, aten.gru: autograd does not decompose them first), and ptflops treats those as zero-ops."""
    spec, in_shape = module.spec, module.in_shape
    cost = analyse({"input": list(in_shape), "layers": [spec]})[0]
    predicted = Counter({component: 0 for component in cost.total()})
    words = "no aten op ptflops prices ran in the module (its zero-op warnings name the ops it saw): 0"
    return predicted, words


def _aten_steps(spec: dict, in_shape: tuple, config: dict) -> Steps:
    seen, batch, _ = time_major(in_shape, config)
    why = (f"ptflops prices the aten.addmm of each of the {seen} step(s) torch runs, over {batch} row(s) each",)
    return Steps(seen * batch // reference_batch(spec, in_shape), why)


ATEN_RULES: dict[tuple[str, str], Rule] = {
    **{(kind, "aten.convolution"): _aten_conv for kind in ("conv1d", "conv2d", "depthwise_conv2d")},
    ("separable_conv2d", "aten.convolution"): _aten_depthwise,
    ("activation", "aten.convolution"): _aten_pointwise,
    ("conv2d_transpose", "aten.convolution"): _aten_transpose,
    ("dense", "aten.addmm"): _aten_addmm,
    ("dense", "aten.mm"): _aten_mm,
    ("dense", "aten.matmul"): _aten_mm,
    **{(kind, "aten.addmm"): _aten_rnn for kind in GATES},
    ("residual", "aten.convolution"): _aten_block,
    **{
        (kind, op): _aten_block
        for kind in ("transformer_encoder", "llama_block")
        for op in ("aten.addmm", "aten.mm", "aten.bmm", "aten.matmul")
    },
    ("activation", ""): _aten_zero,
    **{(kind, ""): _aten_unpriced for kind in zoo.KINDS if kind != "activation"},
}

PYTORCH_MODEL = RuleModel("ptflops (pytorch backend)", PYTORCH_RULES, _pytorch_steps)
ATEN_MODEL = RuleModel("ptflops (aten backend)", ATEN_RULES, _aten_steps, frozenset({""}))


def pytorch_rules(tool: tuple[int, ...]) -> dict[tuple[str, str], Rule]:
    """The pytorch backend's rules as ptflops `tool` has them; () (no readable version) is the newest."""
    rules = dict(PYTORCH_RULES)
    if tool and tool < (0, 7, 5):
        rules[("conv2d_transpose", "conv_flops_counter_hook")] = _hook_transpose_as_conv
    if tool and tool < (0, 7, 2):
        rules[("dense", "linear_flops_counter_hook")] = _hook_linear_once
    if tool and tool < (0, 7, 1):
        rules.update({key: _no_functional for key in (*FUNCTIONALS, MATMUL)})
    return rules


def composite_items(definition: dict, probe: dict, reading: Reading, model: RuleModel) -> Reading:
    """A composite block's own items: its activation module (`<block>.act`, on a residual sum), priced by the
    model's activation rules with the block as the layer, and what the aten backend places on the block's
    module itself (by the block's kind). The residual sum is Tensor.__add__, which no ptflops engine prices."""
    tool = version(probe["provenance"]["counter_tool"]["version"])
    composite = [spec for spec in definition["layers"] if spec["kind"] in zoo.COMPOSITE]
    blocks = {spec["torch"][0] + ".act": spec for spec in composite} | {spec["torch"][0]: spec for spec in composite}
    costs = {cost.name: cost for cost in analyse(definition)}
    rules = {item["name"]: [] for item in probe["breakdown"]["items"]}
    for item in probe["breakdown"]["items"]:
        rules[item["name"]].append(item)
    items = []
    for item in reading.items:
        spec = blocks.get(item.name)
        recorded = rules.get(item.name, [])
        found = recorded.pop(0) if spec is not None and recorded else None
        role = "activation" if item.name.endswith(".act") else spec["kind"] if spec else ""
        rule = model.rules.get((role, found.get("rule", ""))) if found else None
        if rule is None or found["raw"] != item.counted:
            items.append(item)
            continue
        on = Module(spec, costs[spec["name"]], costs[spec["name"]].in_shape, int(role == "activation"), item.name, {})
        predicted, words = rule(replace(on, tool=tool), found)
        words += " (on the block's sum)" if role == "activation" else ""
        items.append(Item(item.name, item.place, item.counted, predicted, words, predicted["mac"]))
    reading.items = items
    return reading


def read_pytorch(definition: dict, probe: dict) -> Reading:
    tool = version(probe["provenance"]["counter_tool"]["version"])
    model = RuleModel(PYTORCH_MODEL.tool, pytorch_rules(tool), _pytorch_steps)
    return composite_items(definition, probe, read_modules(definition, probe, model), model)


def read_aten(definition: dict, probe: dict) -> Reading:
    reading = composite_items(definition, probe, read_modules(definition, probe, ATEN_MODEL), ATEN_MODEL)
    blocks = {spec["name"]: spec["torch"][0] for spec in definition["layers"] if spec["kind"] in zoo.COMPOSITE}
    words = "ptflops' aten backend places ops on the model's top-level children only: this part's are on {}"
    reading.items = [
        replace(item, rule=words.format(blocks[item.place]))
        if item.place in blocks and item.name != blocks[item.place] and not item.counted and not item.predicted
        else item
        for item in reading.items
    ]
    return reading


PYTORCH = Adapter("ptflops-pytorch", "ptflops (pytorch backend)", read_pytorch, family="ptflops")
ATEN = Adapter("ptflops-aten", "ptflops (aten backend)", read_aten, family="ptflops")
ADAPTERS = (PYTORCH, ATEN)
