"""The zoo's definitions and the formulas of its new kinds, against counts worked out by hand."""

from collections import Counter

import pytest

from bench.counters.base import outside_definition
from bench.counters.rules import torch_modules
from bench.probe import zoo
from bench.reference.formulas import FORMULAS, analyse, measure


def one(kind: str, in_shape: tuple, **spec: object):
    return measure(dict(spec, name="x", kind=kind), in_shape)


def total(model: str) -> Counter:
    whole: Counter = Counter()
    for cost in analyse(zoo.MODELS[model]):
        whole.update(cost.total())
    return whole


def test_depthwise_and_separable_conv_by_hand() -> None:
    # 8x8x4 input, 3x3 'same': 64 positions x 4 channels, 9 taps each.
    depthwise = one("depthwise_conv2d", (1, 8, 8, 4), kernel=[3, 3], strides=[1, 1], padding="same", use_bias=False)
    assert depthwise.out_shape == (1, 8, 8, 4) and depthwise.once == {"mac": 64 * 4 * 9}
    assert depthwise.params == 36
    # then a 1x1 conv to 6 filters with the bias: 64 x 6 outputs of 4 taps.
    separable = one("separable_conv2d", (1, 8, 8, 4), filters=6, kernel=[3, 3], strides=[1, 1], padding="same")
    assert separable.once == {"mac": 2304 + 64 * 6 * 4, "bias": 384}
    assert separable.params == 36 + 24 + 6
    assert separable.sources == {"conv": 3840}


def test_explicit_padding_and_stride_two() -> None:
    # torchvision's stem: 224 + 2 x 3 - 7 = 223, // 2 + 1 = 112.
    stem = one("conv2d", (1, 224, 224, 3), filters=64, kernel=[7, 7], strides=[2, 2], padding=[3, 3], use_bias=False)
    assert stem.out_shape == (1, 112, 112, 64)
    assert stem.once == {"mac": 112 * 112 * 64 * 3 * 49}


def test_conv2d_transpose_by_hand() -> None:
    # 4x4x2 input, 3x3 kernel, stride 2: (4 - 1) x 2 + 3 = 9; each of 16 x 2 inputs meets 9 taps x 5 filters.
    cost = one("conv2d_transpose", (1, 4, 4, 2), filters=5, kernel=[3, 3], strides=[2, 2])
    assert cost.out_shape == (1, 9, 9, 5)
    assert cost.once == {"mac": 16 * 2 * 5 * 9, "bias": 81 * 5}
    assert cost.params == 2 * 5 * 9 + 5


def test_norms_and_pools_by_hand() -> None:
    assert one("batch_norm", (1, 4, 4, 3)).once == {"elementwise": 96}
    assert one("batch_norm", (1, 4, 4, 3)).params == 12
    assert one("layer_norm", (2, 5, 8)).once == {"elementwise": (7 * 8 + 1) * 10, "act:rsqrt": 10}  # + eps per row
    assert one("rms_norm", (2, 5, 8)).once == {"elementwise": (4 * 8 + 1) * 10, "act:rsqrt": 10}  # + eps per row
    pool = one("max_pool2d", (1, 6, 6, 2), pool=[2, 2], strides=[2, 2])
    assert pool.out_shape == (1, 3, 3, 2) and pool.once == {"elementwise": 18 * 3}
    assert one("avg_pool2d", (1, 6, 6, 2), pool=[3, 3], strides=[3, 3]).once == {"elementwise": 8 * 9}
    assert one("global_avg_pool2d", (1, 6, 6, 2)).once == {"elementwise": 72}
    assert one("global_avg_pool2d", (1, 6, 6, 2)).out_shape == (1, 2)
    assert one("embedding", (1, 7), vocab=10, dim=4).out_shape == (1, 7, 4)


def test_attention_with_grouped_query_heads_and_rotary() -> None:
    # 4 query heads, 2 KV heads of 8 over 5 steps: 4 x 25 scores; QK^T and AV 200 x 8 MACs each.
    cost = one("attention", (1, 5, 32), heads=4, kv_heads=2, head_dim=8, causal=True, rotary_theta=10000.0)
    rotated = 5 * (4 + 2) * 8
    assert cost.once == {"mac": 2 * 100 * 8, "elementwise": 2 * 100 + 3 * rotated + rotated // 2, "act:softmax": 100}
    assert cost.sources == {"attention": 1600}


def test_bert_base_and_llama_blocks_by_hand() -> None:
    # per layer: 4 projections 128 x 768^2, FFN 2 x 128 x 768 x 3072, scores and mix 2 x 12 x 128^2 x 64.
    per_layer = 4 * 128 * 768**2 + 2 * 128 * 768 * 3072 + 2 * 12 * 128**2 * 64
    assert total("bert-base")["mac"] == 12 * per_layer == 11_173_625_856
    block = analyse(zoo.llama(dim=64, layers=1, heads=4, kv_heads=2, ffn=96, seq=8))[0]
    # q, o 64x64; k, v 64x32 (2 KV heads of 16); gate, up 64x96, down 96x64; two RMSNorm weights.
    assert block.params == 2 * 4096 + 2 * 2048 + 3 * 6144 + 2 * 64
    assert block.sources["matmul"] == 8 * (2 * 4096 + 2 * 2048 + 3 * 6144)
    assert block.total()["act:silu"] == 8 * 96


def test_published_parameter_and_mac_counts() -> None:
    """torchvision's parameter counts (BatchNorm's running statistics added, as Keras counts them) and
    multiply-accumulates (its `_ops`: 4.09, 15.47 and 0.30 G)."""
    resnet, vgg, mobilenet = (analyse(zoo.MODELS[m]) for m in ("resnet50", "vgg16", "mobilenetv2"))
    assert sum(c.params for c in resnet) == 25_557_032 + 2 * 26_560
    assert sum(c.params for c in vgg) == 138_357_544
    assert sum(c.params for c in mobilenet) == 3_504_872 + 2 * 17_056
    assert round(total("resnet50")["mac"] / 1e9, 2) == 4.09
    assert round(total("vgg16")["mac"] / 1e9, 2) == 15.47
    assert round(total("mobilenetv2")["mac"] / 1e9, 2) == 0.30


def test_mac_sources_add_up_for_every_model() -> None:
    for name, definition in zoo.MODELS.items():
        for cost in analyse(definition):
            assert sum(cost.sources.values()) == cost.total()["mac"], (name, cost.name)


def test_a_wrong_formula_or_shape_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    right = total("resnet50")["mac"]
    original = FORMULAS["conv2d"]
    # a formula that forgets the zero padding: a block's body and shortcut no longer meet
    monkeypatch.setitem(FORMULAS, "conv2d", lambda spec, shape: original(dict(spec, padding="valid"), shape))
    with pytest.raises(ValueError, match="layer1_0: the body gives \\(1, 53, 53, 256\\), the shortcut \\(1, 55"):
        total("resnet50")
    monkeypatch.setitem(FORMULAS, "conv2d", original)
    assert total("resnet50")["mac"] == right
    with pytest.raises(ValueError, match="padding 'same' needs stride 1"):
        one("conv2d", (1, 8, 8, 3), filters=4, kernel=[3, 3], strides=[2, 2], padding="same")
    with pytest.raises(ValueError, match="do not fit 30"):
        one("attention", (1, 5, 30), heads=4, kv_heads=2, head_dim=8)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"kind": "capsule"}, "layer 'conv1_1': unknown kind 'capsule'"),
        ({"filter": 64}, "layer 'conv1_1': unknown field 'filter' for kind 'conv2d'"),
        ({"filters": None, "torch": None}, None),
    ],
)
def test_definitions_with_unknown_kinds_or_fields_are_refused(change: dict, error: str | None) -> None:
    definition = zoo.vgg16()
    spec = {k: v for k, v in {**definition["layers"][0], **change}.items() if v is not None}
    definition["layers"][0] = spec
    with pytest.raises(zoo.DefinitionError, match=error or "layer 'conv1_1': missing field 'filters'"):
        zoo.check("mine", definition)


def test_a_composite_layers_parts_are_checked_too() -> None:
    definition = zoo.resnet50()
    del definition["layers"][5]["body"][0]["kernel"]
    with pytest.raises(zoo.DefinitionError, match="layer 'conv1': missing field 'kernel'"):
        zoo.check("mine", definition)
    zoo.check("resnet50", zoo.resnet50())


def test_a_composite_layers_modules_are_its_parts_placed_on_it() -> None:
    definition = zoo.MODELS["transformer-encoder"]
    names = ["encoder.query", "encoder.key", "encoder.value", "encoder.attention", "encoder.output", "encoder.norm1"]
    names += ["encoder.ffn1", "encoder.ffn1_act", "encoder.ffn2", "encoder.norm2", "encoder.dropout"]
    probe = {"layers": [{"name": n, "config": {}} for n in names]}
    probe["provenance"] = {"counter_tool": {"name": "thop", "version": "0.1.1"}}
    modules = list(torch_modules(definition, probe))
    assert [m.name for m in modules] == names[:-1]
    assert {m.tool for m in modules} == {(0, 1, 1)}  # the counting tool's version, for its rules
    assert {m.layer for m in modules} == {"encoder"}
    assert modules[6].spec["units"] == 256 and modules[8].in_shape == (1, 32, 256)
    items = [{"name": n, "raw": 1} for n in names]
    outside = outside_definition(definition, items)
    assert [(i.name, i.place) for i in outside] == [("encoder.dropout", "encoder")]
