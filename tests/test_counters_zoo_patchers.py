"""ptflops (both backends), calflops and DeepSpeed on the zoo's layer kinds: their rule models on pieces
of real records (the breakdowns the torch-latest and torch-1.10.1 containers gave), each hand count
worked out here from the tools' source, each property beside a tampered twin that must break it."""

import pytest

from bench.counters import calflops, deepspeed
from bench.explain.reconcile import reconcile
from bench.probe import zoo
from bench.publish.words import clause
from bench.reference.convention import PRESETS

DEFAULT = PRESETS["default"]


def record(job: str, model: str, items: list[tuple], config: dict, version: str = "0.7.5") -> dict:
    """A probe record of the zoo model's (module, raw, rule) items, as the counter's container gave them."""
    definition = zoo.MODELS[model]
    rows = [{"name": name, "type": "?", "raw": raw, "rule": rule} for name, raw, rule in items]
    probe = {
        "counter": job,
        "raw_total": sum(row["raw"] for row in rows),
        "breakdown": {"by": "module", "items": rows},
        "nodes": [],
        "layers": [{"name": n, "class": "?", "params": 0, "config": c} for n, c in config.items()],
        "definition": definition,
        "definition_sha256": zoo.fingerprint(definition),
        "provenance": {"counter_tool": {"name": job.split("@")[0], "version": version}},
    }
    return {"cell": "torch-latest", "model": model, "job": job, "probe": probe}


def tampered(made: dict, index: int, amount: int) -> dict:
    """The same record with one item (and so the total) off by `amount`."""
    probe = made["probe"]
    rows = [dict(row) for row in probe["breakdown"]["items"]]
    rows[index]["raw"] += amount
    return {
        **made,
        "probe": {**probe, "breakdown": {"by": "module", "items": rows}, "raw_total": probe["raw_total"] + amount},
    }


def residuals(made: dict, adapter: object = None) -> dict:
    result = reconcile(made, DEFAULT, adapter)
    return {r.place: r.flops for r in result.residuals}


# --- calflops and DeepSpeed

SEPARABLE = {"sepconv_depthwise": {"bias": False}, "sepconv_pointwise": {"bias": True}, "sepconv_act": {}}
# 16 channels, 32 x 32, 3 x 3 'same', 32 filters: depthwise 2 x 9 x 16 x 1024; pointwise 2 x 16 x 32 x 1024 + 32 x 1024
CF_SEPARABLE = [
    ("sepconv_depthwise", 2 * 9 * 16 * 1024, "conv2d"),
    ("sepconv_pointwise", 2 * 16 * 32 * 1024 + 32 * 1024, "conv2d"),
    ("sepconv_act", 32 * 1024, "relu"),
]
# ConvTranspose2d 16 -> 8 channels, 3 x 3, stride 2 on 16 x 16: 2 x 256 x 16 x 8 x 9 MAC FLOPs over the input
# positions; the bias over 8 x 7 x 7 positions for calflops ((16 - 3) // 2 + 1: the forward conv's size) and
# over 8 x 33 x 33 for DeepSpeed (the transposed conv's own output)
DECONV_MACS = 2 * 256 * 16 * 8 * 9
ENCODER_CONFIG = {
    f"encoder.{n}": {} if n in ("attention", "ffn1_act") else {"bias": True}
    for n in ("query", "key", "value", "attention", "output", "norm1", "ffn1", "ffn1_act", "ffn2", "norm2")
}
# T 32, width 64, 4 heads of 16, FFN 256: F.linear 2 x numel x out; two torch.matmul of 2 x 4 x 32 x 32 x 16;
# F.layer_norm 5 x numel; F.gelu numel
CF_ENCODER = [
    ("encoder.query", 2 * 2048 * 64, "linear"),
    ("encoder.key", 2 * 2048 * 64, "linear"),
    ("encoder.value", 2 * 2048 * 64, "linear"),
    ("encoder.attention", 2 * 2 * 4 * 32 * 32 * 16, "matmul"),
    ("encoder.output", 2 * 2048 * 64, "linear"),
    ("encoder.norm1", 5 * 2048, "layer_norm"),
    ("encoder.ffn1", 2 * 2048 * 256, "linear"),
    ("encoder.ffn1_act", 32 * 256, "gelu"),
    ("encoder.ffn2", 2 * 32 * 256 * 64, "linear"),
    ("encoder.norm2", 5 * 2048, "layer_norm"),
]
# bidirectional GRU, 16 features, 32 units, 20 steps: per cell 2 x 96 x 16 - 96 + 2 x 96 x 32 - 96, 7 x 32, 2 x 96;
# times 1 x 20 cells, times 2 directions
CF_BIGRU = 2 * 20 * (2 * 96 * 16 - 96 + 2 * 96 * 32 - 96 + 7 * 32 + 2 * 96)


@pytest.mark.parametrize("adapter", [calflops.ADAPTER, deepspeed.ADAPTER])
def test_the_patchers_price_a_separable_conv_as_its_two_convs(adapter: object) -> None:
    made = record("calflops", "separable-conv2d", CF_SEPARABLE, SEPARABLE)
    assert reconcile(made, DEFAULT, adapter).residual == 0
    assert residuals(tampered(made, 1, 32 * 1024), adapter) == {"sepconv": 32 * 1024}
    no_bias = record("calflops", "separable-conv2d", CF_SEPARABLE, {**SEPARABLE, "sepconv_pointwise": {}})
    assert residuals(no_bias, adapter) == {"sepconv": 32 * 1024}  # the recorded options decide the bias


def test_calflops_prices_a_transposed_convs_bias_on_the_forward_convs_output_size() -> None:
    made = record(
        "calflops",
        "conv2d-transpose",
        [("deconv", DECONV_MACS + 8 * 7 * 7, "conv_transpose2d")],
        {"deconv": {"bias": True}},
    )
    assert reconcile(made, DEFAULT).residual == 0
    twin = record(
        "deepspeed",
        "conv2d-transpose",
        [("deconv", DECONV_MACS + 8 * 33 * 33, "conv_transpose2d")],
        {"deconv": {"bias": True}},
    )
    assert reconcile(twin, DEFAULT).residual == 0
    # each tool's count under the other's rule is residual by the bias difference
    assert residuals(made, deepspeed.ADAPTER) == {"deconv": 8 * 7 * 7 - 8 * 33 * 33}
    assert residuals(twin, calflops.ADAPTER) == {"deconv": 8 * 33 * 33 - 8 * 7 * 7}


def test_calflops_prices_an_encoders_matmuls_and_norms_and_not_its_softmax() -> None:
    made = record("calflops", "transformer-encoder", CF_ENCODER, ENCODER_CONFIG)
    result = reconcile(made, DEFAULT)
    assert result.residual == 0
    softmax = [a for a in result.adjustments if a.cause == "activation" and "softmax" in clause(a)]
    assert softmax and softmax[0].flops == -4 * 32 * 32  # the reference's softmax, which calflops never sees
    assert residuals(tampered(made, 3, 4 * 32 * 32)) == {"encoder": 4 * 32 * 32}  # a softmax counted after all
    assert residuals(tampered(made, 5, -2048)) == {"encoder": -2048}  # a LayerNorm of 4 ops a value


def test_calflops_prices_both_directions_of_a_bidirectional_rnn() -> None:
    made = record(
        "calflops", "bigru", [("bigru", CF_BIGRU, "_rnn_forward_hook")], {"bigru": {"batch_first": True, "bias": True}}
    )
    assert reconcile(made, DEFAULT).residual == 0
    one_way = record(
        "calflops",
        "bigru",
        [("bigru", CF_BIGRU // 2, "_rnn_forward_hook")],
        {"bigru": {"batch_first": True, "bias": True}},
    )
    assert residuals(one_way) == {"bigru": -CF_BIGRU // 2}


def test_calflops_batch_norm_is_two_ops_a_value_and_a_wrong_call_has_no_rule() -> None:
    made = record("calflops", "batchnorm", [("bn", 2 * 8192, "batch_norm")], {"bn": {"bias": True}})
    assert reconcile(made, DEFAULT).residual == 0
    wrong = record("calflops", "batchnorm", [("bn", 5 * 8192, "layer_norm")], {"bn": {"bias": True}})
    assert residuals(wrong) == {"bn": 5 * 8192}


# --- ptflops, pytorch backend

# ptflops 0.7.5 prices a ConvTranspose2d per input position (transpose=True): 256 x 16 x 8 x 9, bias 8 x 33 x 33;
# 0.6.7 hooks it with the plain conv hook, per output position: 8 x 33 x 33 x 16 x 9, the same bias
PT_DECONV_075 = 256 * 16 * 8 * 9 + 8 * 33 * 33
PT_DECONV_067 = 8 * 33 * 33 * 16 * 9 + 8 * 33 * 33


def test_ptflops_prices_a_transposed_conv_by_its_version() -> None:
    new = record(
        "ptflops-pytorch",
        "conv2d-transpose",
        [("deconv", PT_DECONV_075, "conv_flops_counter_hook")],
        {"deconv": {"bias": True}},
    )
    old = record(
        "ptflops-pytorch",
        "conv2d-transpose",
        [("deconv", PT_DECONV_067, "conv_flops_counter_hook")],
        {"deconv": {"bias": True}},
        "0.6.7",
    )
    assert reconcile(new, DEFAULT).residual == 0 and reconcile(old, DEFAULT).residual == 0
    swapped = record(
        "ptflops-pytorch",
        "conv2d-transpose",
        [("deconv", PT_DECONV_075, "conv_flops_counter_hook")],
        {"deconv": {"bias": True}},
        "0.6.7",
    )
    assert residuals(swapped) == {"deconv": 2 * (PT_DECONV_075 - PT_DECONV_067)}  # MACs, 2 FLOPs each


def test_ptflops_prices_max_pooling_twice_through_torchs_dispatch_wrapper() -> None:
    """nn.MaxPool2d's hook gives input.numel(); F.max_pool2d (torch's boolean_dispatch wrapper) is patched too."""
    items = [
        ("pool", 16384, "pool_flops_counter_hook"),
        ("pool", 16384, "F.boolean_dispatch.<locals>.fn: _numel_functional_flops_hook"),
    ]
    assert reconcile(record("ptflops-pytorch", "maxpool", items, {"pool": {}}), DEFAULT).residual == 0
    other = [items[0], ("pool", 16384, "F.avg_pool2d: _numel_functional_flops_hook")]
    assert residuals(record("ptflops-pytorch", "maxpool", other, {"pool": {}})) == {"pool": 2 * 16384}


PT_ENCODER = [
    ("encoder.query", 2048 * 64 + 2048, "linear_flops_counter_hook"),
    ("encoder.key", 2048 * 64 + 2048, "linear_flops_counter_hook"),
    ("encoder.value", 2048 * 64 + 2048, "linear_flops_counter_hook"),
    ("encoder.attention", 0, ""),
    ("encoder.output", 2048 * 64 + 2048, "linear_flops_counter_hook"),
    ("encoder.norm1", 2048, "bn_flops_counter_hook"),
    ("encoder.ffn1", 2048 * 256 + 32 * 256, "linear_flops_counter_hook"),
    ("encoder.ffn1_act", 32 * 256, "relu_flops_counter_hook"),
    ("encoder.ffn2", 32 * 256 * 64 + 2048, "linear_flops_counter_hook"),
    ("encoder.norm2", 2048, "bn_flops_counter_hook"),
    ("encoder.attention", 2 * 4 * 32 * 32 * 16, "torch._VariableFunctionsClass.matmul: _matmul_tensor_flops_hook"),
    ("encoder.ffn1_act", 32 * 256, "F.gelu: _numel_functional_flops_hook"),
]


def test_ptflops_prices_a_layernorm_once_a_value_and_attention_by_its_matmuls() -> None:
    """bn_flops_counter_hook doubles for `affine`, which nn.LayerNorm lacks; the matmuls are patched functions."""
    made = record("ptflops-pytorch", "transformer-encoder", PT_ENCODER, ENCODER_CONFIG)
    assert reconcile(made, DEFAULT).residual == 0
    assert residuals(tampered(made, 5, 2048)) == {"encoder": 2 * 2048}
    assert residuals(tampered(made, 10, 4 * 32 * 32)) == {"encoder": 2 * 4 * 32 * 32}


def test_ptflops_067_hooks_no_layernorm_gelu_or_function() -> None:
    items = [(n, r, rule) for n, r, rule in PT_ENCODER if ":" not in rule]
    old = {
        "encoder.norm1": (0, ""), "encoder.norm2": (0, ""), "encoder.ffn1_act": (0, ""),
        # the Linear hook before 0.7.2: numel x out, plus out once
        "encoder.query": (2048 * 64 + 64, "linear_flops_counter_hook"),
        "encoder.key": (2048 * 64 + 64, "linear_flops_counter_hook"),
        "encoder.value": (2048 * 64 + 64, "linear_flops_counter_hook"),
        "encoder.output": (2048 * 64 + 64, "linear_flops_counter_hook"),
        "encoder.ffn1": (2048 * 256 + 256, "linear_flops_counter_hook"),
        "encoder.ffn2": (32 * 256 * 64 + 64, "linear_flops_counter_hook"),
    }  # fmt: skip
    items = [(n, *old.get(n, (r, rule))) for n, r, rule in items]
    made = record("ptflops-pytorch", "transformer-encoder", items, ENCODER_CONFIG, "0.6.7")
    assert reconcile(made, DEFAULT).residual == 0
    assert residuals(record("ptflops-pytorch", "transformer-encoder", items, ENCODER_CONFIG)) != {}  # 0.7.5's rules


def test_ptflops_prices_an_lstms_ten_elementwise_ops_a_unit() -> None:
    """rnn_flops for nn.LSTM: 4U(D + U), 4U + 3U + 3U element-wise, 8U biases, per cell; 20 cells."""
    lstm = 20 * (4 * 32 * 48 + 10 * 32 + 8 * 32)
    made = record(
        "ptflops-pytorch",
        "lstm",
        [("lstm", lstm, "rnn_flops_counter_hook")],
        {"lstm": {"batch_first": True, "bias": True}},
    )
    assert reconcile(made, DEFAULT).residual == 0
    assert residuals(tampered(made, 0, -20 * 32)) == {"lstm": -2 * 20 * 32}


# --- ptflops, aten backend


def test_ptflops_aten_places_a_blocks_ops_on_the_block() -> None:
    """The aten backend records ops per top-level child: the encoder's addmm (six biased projections) and bmm."""
    addmm = 4 * (2048 * 64 + 2048) + (2048 * 256 + 32 * 256) + (32 * 256 * 64 + 2048)
    items = [("encoder", addmm, "aten.addmm"), ("encoder", 2 * 4 * 32 * 32 * 16, "aten.bmm")]
    made = record("ptflops-aten", "transformer-encoder", items, ENCODER_CONFIG)
    assert reconcile(made, DEFAULT).residual == 0
    assert residuals(tampered(made, 0, -2048)) == {"encoder": -2 * 2048}
    as_mm = record("ptflops-aten", "transformer-encoder", [("encoder", addmm, "aten.mm"), items[1]], ENCODER_CONFIG)
    assert residuals(as_mm) == {"encoder": 2 * addmm}  # no unbiased projection for aten.mm to price


def test_ptflops_aten_prices_each_direction_and_each_recurrent_kind() -> None:
    bigru = 2 * 20 * (96 * 48 + 2 * 96)  # x @ W_ih + b_ih and h @ W_hh + b_hh, 20 rows, both directions
    made = record(
        "ptflops-aten", "bigru", [("bigru", bigru, "aten.addmm")], {"bigru": {"batch_first": True, "bias": True}}
    )
    assert reconcile(made, DEFAULT).residual == 0
    rnn = record(
        "ptflops-aten",
        "simplernn",
        [("rnn", 20 * (32 * 48 + 64), "aten.addmm")],
        {"rnn": {"batch_first": True, "bias": True}},
    )
    assert reconcile(rnn, DEFAULT).residual == 0
    assert residuals(tampered(rnn, 0, 20 * 32)) == {"rnn": 2 * 20 * 32}


def test_ptflops_aten_prices_a_separable_convs_halves() -> None:
    items = [
        ("sepconv_depthwise", 9 * 16 * 1024, "aten.convolution"),
        ("sepconv_pointwise", 16 * 32 * 1024 + 32 * 1024, "aten.convolution"),
        ("sepconv_act", 0, ""),
    ]
    made = record("ptflops-aten", "separable-conv2d", items, SEPARABLE)
    assert reconcile(made, DEFAULT).residual == 0
    assert residuals(tampered(made, 0, 1024)) == {"sepconv": 2 * 1024}
