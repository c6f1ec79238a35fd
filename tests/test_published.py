"""Published counts: each figure reproduced by the analytic reference under its source's convention, or
by its stated alternative; a wrong figure, convention or rounding is reported as not reproduced."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from bench.probe import zoo
from bench.publish.published_rows import describe
from bench.reference import convention
from bench.reference.convention import PRESETS, Convention, itemise
from bench.reference.formulas import analyse
from bench.reference.published import CONVENTIONS, PUBLISHED, Figure, Rounding, resnet_v1
from bench.reference.reproduce import count, verdict, verdicts

ENTRIES = {entry.key: entry for entry in PUBLISHED}
DIRECT = {key for key in ENTRIES if not key.startswith("he2015-")}


def test_registry_keys_are_unique_and_cover_the_zoo_models_they_name() -> None:
    assert len(ENTRIES) == len(PUBLISHED)
    assert {entry.model for entry in PUBLISHED} <= set(zoo.MODELS)
    assert [v.entry.key for v in verdicts()] == list(ENTRIES)


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_each_figure_is_reproduced_or_explained(key: str) -> None:
    found = verdict(ENTRIES[key])
    assert found.explained, describe(found)
    assert found.reproduced == (key in DIRECT), describe(found)
    if not found.reproduced:
        assert found.alternative is not None and found.alternative.reproduced


def test_resnet_v1_moves_three_strides_and_saves_what_a_hand_count_says() -> None:
    """v1.5 runs each strided block's first 1x1 conv on the full input (H^2 Cin f MACs); v1 on a quarter."""
    v15 = zoo.MODELS["resnet50"]
    v1 = resnet_v1(v15)
    moved = [a["name"] for a, b in zip(v15["layers"], v1["layers"], strict=True) if a != b]
    assert moved == ["layer2_0", "layer3_0", "layer4_0"]
    saved = sum(3 * h * h * cin * f // 4 for h, cin, f in ((56, 256, 128), (28, 512, 256), (14, 1024, 512)))
    macs = CONVENTIONS["conv+matmul MACs"]
    figure = ENTRIES["he2015-resnet50"].figure
    assert count(v15, macs, figure).value - count(v1, macs, figure).value == saved == 231_211_008
    assert count(v1, macs, figure).value == 3_857_973_248
    assert resnet_v1(zoo.MODELS["vgg16"]) == zoo.MODELS["vgg16"]
    assert resnet_v1(zoo.MODELS["mobilenetv2"]) == zoo.MODELS["mobilenetv2"]


def test_conventions_split_the_zoo_counts_by_source_and_kind() -> None:
    vgg = itemise(analyse(zoo.MODELS["vgg16"]))
    assert vgg["mac:conv@conv2d"] == 15_346_630_656
    assert vgg["mac:matmul@dense"] == 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    figure = ENTRIES["timm-resnet50"].figure
    fvcore = count(zoo.MODELS["resnet50"], CONVENTIONS["fvcore (eval)"], figure).value
    resnet = itemise(analyse(zoo.MODELS["resnet50"]))
    # fvcore in eval: 2 per BatchNorm value (the formula's 2 element-wise ops), 1 per pooled input value
    assert fvcore == 4_089_184_256 + resnet["elementwise@batch_norm"] + 2048 * 7 * 7


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_itemised_counts_price_as_the_totals_do(name: str) -> None:
    costs = analyse(zoo.MODELS[name])
    totals: Counter[str] = Counter()
    for cost in costs:
        totals.update(cost.total())
    items = itemise(costs)
    for preset in PRESETS.values():
        assert preset.flops(items) == pytest.approx(preset.flops(totals))
    assert sum(n for key, n in items.items() if key.startswith("mac:")) == totals["mac"]


@pytest.mark.parametrize(
    ("key", "change"),
    [
        ("torchvision-resnet50", {"convention": CONVENTIONS["fvcore (eval)"]}),  # 4.112, not 4.089
        ("timm-mobilenetv2", {"convention": CONVENTIONS["conv+matmul MACs"]}),  # 0.30, not 0.31
        ("torchvision-vgg16", {"convention": CONVENTIONS["conv MACs"]}),
        ("torchvision-vgg16", {"figure": Figure("15.46 GFLOPS", 15.46e9, 1e6, Rounding.NEAREST)}),
        ("sandler2018-mobilenetv2", {"figure": Figure("300M", 300e6, 1e6, Rounding.NEAREST, 1e6)}),
        ("timm-card-vgg16", {"figure": Figure("GMACs: 15.5", 15.5e9, 1e8, Rounding.DOWN)}),
    ],
)
def test_a_wrong_convention_figure_or_rounding_is_not_reproduced(key: str, change: dict) -> None:
    found = verdict(replace(ENTRIES[key], **change))
    assert not found.reproduced and not found.explained
    assert "not reproduced" in describe(found)


def test_an_alternative_that_does_not_reproduce_leaves_the_figure_unexplained() -> None:
    entry = ENTRIES["he2015-resnet50"]
    wrong = replace(entry, figure=Figure("3.7 x 10^9 FLOPs", 3.7e9, 1e8, Rounding.UNSTATED))
    assert not verdict(wrong).explained
    no_variant = replace(entry, alternative=replace(entry.alternative, variant=None))
    assert not verdict(no_variant).explained
    vgg = ENTRIES["he2015-vgg16"]
    assert not verdict(replace(vgg, alternative=replace(vgg.alternative, convention=None))).explained


def test_a_figure_published_at_another_input_is_refused() -> None:
    entry = replace(ENTRIES["torchvision-resnet50"], input=(1, 160, 160, 3))
    with pytest.raises(ValueError, match="published at input \\(1, 160, 160, 3\\)"):
        verdict(entry)


def test_an_itemised_convention_refuses_totals_and_the_command_line_refuses_it() -> None:
    macs = CONVENTIONS["conv+matmul MACs"]
    assert macs.itemised and not PRESETS["default"].itemised
    with pytest.raises(ValueError, match="not totals"):
        macs.flops(Counter({"mac": 10}))
    assert macs.flops(Counter({"mac:conv@conv2d": 10, "mac:attention@attention": 5, "bias@conv2d": 3})) == 10
    with pytest.raises(ValueError, match="prices by MAC source or layer kind"):
        convention.parse("mac:conv=1")
    with pytest.raises(ValueError, match="prices by MAC source or layer kind"):
        convention.parse("elementwise@batch_norm=0")


def test_weights_fall_back_from_the_most_specific_key() -> None:
    priced = Convention("t", (("mac", 2), ("mac:conv", 1), ("mac:conv@depthwise_conv2d", 0.5), ("act", 1)))
    assert priced.weight("mac:conv@depthwise_conv2d") == 0.5
    assert priced.weight("mac:conv@conv2d") == 1
    assert priced.weight("mac:matmul@dense") == 2
    assert priced.weight("act:relu@activation") == 1
    with pytest.raises(KeyError, match="prices no 'bias@dense'"):
        priced.weight("bias@dense")


def test_itemise_refuses_macs_its_sources_do_not_account_for() -> None:
    cost = analyse(zoo.MODELS["conv1d"])[0]
    with pytest.raises(ValueError, match="sources"):
        itemise([replace(cost, sources=Counter())])


# He et al.'s other figures, counted the same way from the zoo's own layer helpers: evidence for the
# entries' readings (v1 strides, rounding unstated, VGG-19 with its dense layers), not taken from them.


def _resnet_v1(blocks: list[int], bottleneck: bool) -> dict:
    layers = zoo.resnet50()["layers"][:5]  # the stem: 7x7/2 conv, BatchNorm, ReLU, padded 3x3/2 max pool
    channels = 64
    for stage, (filters, repeats) in enumerate(zip((64, 128, 256, 512), blocks, strict=True)):
        for i in range(repeats):
            strides = 2 if stage and not i else 1
            out = 4 * filters if bottleneck else filters
            project = strides > 1 or channels != out
            if bottleneck:
                layers.append(zoo.bottleneck(f"b{stage}_{i}", filters, strides, project))
            else:
                pad = [1, 1] if strides > 1 else "same"
                body = zoo.conv_bn("conv1", filters, 3, strides, pad) + zoo.conv_bn(
                    "conv2", filters, 3, 1, "same", activation="linear"
                )
                short = zoo.conv_bn("down", filters, 1, strides, activation="linear") if project else []
                layers.append(zoo.residual(f"b{stage}_{i}", body, short, "relu"))
            channels = out
    layers += zoo.resnet50()["layers"][-2:]
    return resnet_v1(dict(zoo.resnet50(), layers=layers))


def test_table_1_reads_as_rounded_in_some_columns_and_truncated_in_the_50_layer_one() -> None:
    """He et al.'s Table 1 under the same count (v1, conv+matmul MACs, projection shortcuts)."""
    figure = ENTRIES["he2015-resnet50"].figure
    macs = CONVENTIONS["conv+matmul MACs"]
    readings = {}
    for depth, blocks, bottleneck, printed in (
        (18, [2, 2, 2, 2], False, 1.8e9),
        (34, [3, 4, 6, 3], False, 3.6e9),
        (101, [3, 4, 23, 3], True, 7.6e9),
        (152, [3, 8, 36, 3], True, 11.3e9),
    ):
        found = count(_resnet_v1(blocks, bottleneck), macs, replace(figure, value=printed))
        assert found.reproduced, (depth, found)
        readings[depth] = found.matched(replace(figure, value=printed))
        if bottleneck:  # the counts the entry's reason quotes
            assert f"{found.value:,.0f}" in ENTRIES["he2015-resnet50"].alternative.reason
    assert readings[101] == readings[152] == (Rounding.NEAREST,)  # as the entry's reason says
    assert count(resnet_v1(zoo.MODELS["resnet50"]), macs, figure).matched(figure) == (Rounding.DOWN,)
    assert count(_resnet_v1([3, 4, 6, 3], True), macs, figure).value == 3_857_973_248  # the registry's variant


def test_vgg19_in_the_same_sentence_counts_its_dense_layers() -> None:
    vgg16 = zoo.MODELS["vgg16"]
    convs = []
    for stage, (filters, n) in enumerate([(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]):
        convs += [zoo.conv(f"conv{stage}_{i}", filters, 3, padding="same", activation="relu") for i in range(n)]
        convs.append(zoo.layer(f"pool{stage}", "max_pool2d", pool=[2, 2], strides=[2, 2]))
    vgg19 = dict(vgg16, layers=convs + vgg16["layers"][-4:])
    figure = Figure("19.6 billion FLOPs", 19.6e9, 1e8, Rounding.UNSTATED)
    assert count(vgg19, CONVENTIONS["conv+matmul MACs"], figure).value == 19_632_062_464
    assert count(vgg19, CONVENTIONS["conv+matmul MACs"], figure).reproduced
    assert count(vgg19, CONVENTIONS["conv MACs"], figure).value == 19_508_428_800
    assert not count(vgg19, CONVENTIONS["conv MACs"], figure).reproduced
