"""DeepSpeed's flops profiler: its rule model and reconciliation on hand-made records, each property
next to a record that must break it. The counts are the ones measured in the torch-latest cell
(torch 2.13.0+cpu, deepspeed 0.19.8), each also worked out by hand below from the modules' sizes,
independently of the rule model."""

from collections.abc import Callable

import pytest

from bench.counters import ADAPTERS, Unit, calflops, deepspeed
from bench.explain.reconcile import reconcile
from bench.probe import catalog, zoo
from bench.publish.words import residual_items
from bench.reference.convention import PRESETS
from tests import samples
from tests import test_counters_torchinfo_calflops as calflops_tests
from tests.samples import by_cause
from tests.test_counters_torchinfo_calflops import calflops_seed

SEED, SEED_CONV = zoo.MODELS["seed"], zoo.MODELS["seed-conv"]
U, D, ROWS = 96, 4064, 97  # GRU units, its input features, the frames (97 one-step sequences in the blog's GRU)
OUTPUTS = 32 * 97 * 127  # the conv's outputs: 32 filters on 97 x 127 positions
CONV_MACS = OUTPUTS * 1 * 4 * 4
W_IH, W_HH, B = 3 * U * D, 3 * U * U, 3 * U  # the GRU's weight_ih_l0, weight_hh_l0, and each bias vector

# _conv_flops_compute: 2 x MACs + a FLOP per output for the bias; _relu_flops_compute: numel;
# _rnn_forward_hook: (2 x rows x cols - rows per weight matrix + 7U + both biases) x 1 x 97;
# _linear_flops_compute: 2 x input.numel() x out_features
DS_CONV = 2 * CONV_MACS + OUTPUTS
DS_RELU = OUTPUTS
DS_GRU = (2 * W_IH - B + 2 * W_HH - B + U + 3 * U + 3 * U + 2 * B) * 1 * ROWS
DS_FC = 2 * (ROWS * U) * 256


def record(definition: dict, items: dict, config: dict | None = None) -> dict:
    """items: module -> (raw, rule, macs); config: module -> recorded options."""
    return calflops_tests.record("deepspeed", "0.19.8", definition, items, config)


def seed(**override: tuple) -> dict:
    items = {
        "conv2d": (DS_CONV, "conv2d", CONV_MACS),
        "relu": (DS_RELU, "relu", 0),
        "gru": (DS_GRU, "_rnn_forward_hook", 0),
        "fc": (DS_FC, "linear", ROWS * U * 256),
        "sigmoid": (0, "", 0),
    }
    return record(SEED, {**items, **override})


def seed_conv(config: dict | None = None, **override: tuple) -> dict:
    items = {"conv2d": (DS_CONV, "conv2d", CONV_MACS), "relu": (DS_RELU, "relu", 0)}
    return record(SEED_CONV, {**items, **override}, config)


def test_the_rule_model_predicts_the_containers_numbers() -> None:
    samples.check_the_rule_model_predicts(seed, 250663520)
    samples.check_the_rule_model_predicts(seed_conv, 13403072)
    assert ADAPTERS["deepspeed"] is deepspeed.ADAPTER


@pytest.mark.parametrize(
    ("measured", "words"),
    [(calflops_seed, "MACs figure leaves the layer out"), (seed, "DeepSpeed's MACs figure leaves the layer out")],
)
def test_seed_reconciles_with_every_cause_named(measured: Callable[[], dict], words: str) -> None:
    """calflops and DeepSpeed (derived from it) price the seed alike, each in its own words."""
    for name in ("default", "macs"):
        result = reconcile(measured(), PRESETS[name])
        assert result.residual == 0 and result.residuals == []
        assert result.total == 250663520  # FLOPs, whatever the convention
        assert result.priced_steps == {"gru": 97}
    result = reconcile(measured(), PRESETS["default"])
    assert by_cause(result) == {
        ("activation", "gru"): -3 * U * ROWS,
        ("elementwise", "gru"): -U * ROWS,  # 7U of the reference's 8U
        ("mac", "gru"): -6 * U * ROWS,  # 2 x rows x cols - rows per weight matrix
        ("activation", "output"): -ROWS * 256,  # torch.sigmoid is not patched
        ("bias", "output"): -ROWS * 256,  # F.linear's bias not counted
    }
    notes = " ".join(result.notes["gru"])
    assert "55,872 below 2 FLOPs each" in notes and words in notes


def test_seed_conv_reconciles_to_the_reference_exactly() -> None:
    result = reconcile(seed_conv(), PRESETS["default"])
    assert result.residual == 0 and result.residuals == [] and result.adjustments == []
    assert result.total == 13403072


def test_counts_that_depart_from_its_rules_are_residual_at_their_layer() -> None:
    eight = reconcile(seed(gru=(DS_GRU + U * ROWS, "_rnn_forward_hook", 0)), PRESETS["default"])
    assert eight.residual == U * ROWS and [r.place for r in eight.residuals] == ["gru"]
    patched = reconcile(seed(sigmoid=(ROWS * 256, "", 0)), PRESETS["default"])
    assert patched.residual == ROWS * 256 and residual_items(patched.residuals[0])[0].startswith(
        "sigmoid: counted 24,832"
    )
    fc_bias = reconcile(seed(fc=(DS_FC + ROWS * 256, "linear", ROWS * U * 256)), PRESETS["default"])
    assert fc_bias.residual == ROWS * 256 and [r.place for r in fc_bias.residuals] == ["output"]
    gap = seed()
    gap["probe"]["raw_total"] += 3
    assert [(r.place, r.flops) for r in reconcile(gap, PRESETS["default"]).residuals] == [("total", 3)]


def test_rules_are_chosen_by_the_recorded_call_and_options() -> None:
    no_bias = {"conv2d": {"bias": False}, "relu": {}}
    wrong = reconcile(seed_conv(no_bias), PRESETS["default"])
    assert wrong.residual == OUTPUTS and residual_items(wrong.residuals[0])[0].startswith("conv2d:")
    gelu = reconcile(seed_conv(relu=(DS_RELU, "gelu", 0)), PRESETS["default"])
    assert gelu.residual == DS_RELU and "no rule model for DeepSpeed's 'gelu'" in residual_items(gelu.residuals[0])[0]
    lone = record(SEED_CONV, {"conv2d": (DS_CONV, "conv2d", CONV_MACS)})["probe"]
    words = {i.name: i.rule for i in deepspeed.read(SEED_CONV, lone).items}
    assert words["relu"] == "not among DeepSpeed's modules"
    assert {i.name: i.rule for i in deepspeed.read(SEED_CONV, seed_conv()["probe"]).items}["relu"].startswith(
        "patched activation"
    )


def test_the_rules_are_calflops_own_in_deepspeeds_words() -> None:
    reading = deepspeed.read(SEED, seed()["probe"])
    twin = calflops.read(SEED, seed()["probe"])
    assert [(i.name, i.predicted) for i in reading.items] == [(i.name, i.predicted) for i in twin.items]
    words = {i.name: i.rule for i in reading.items}
    assert words["sigmoid"] == "its forward calls no function DeepSpeed's flops profiler patches: 0"
    assert "calflops" in {i.name: i.rule for i in twin.items}["sigmoid"]  # the twin: calflops' own words


@pytest.mark.parametrize("made", [calflops_seed, seed])
def test_the_macs_note_rests_on_the_recorded_macs(made: Callable[..., dict]) -> None:
    """calflops and DeepSpeed alike: the note says the MACs figure leaves the GRU out only where it does."""
    counted = reconcile(made(gru=(DS_GRU, "_rnn_forward_hook", 9)), PRESETS["default"])
    assert not [n for n in counted.notes["gru"] if "MACs figure" in n]
    assert [n for n in reconcile(made(), PRESETS["default"]).notes["gru"] if "MACs figure" in n]


@pytest.mark.parametrize("made", [calflops_seed, seed])
def test_the_unit_the_catalog_declares_decides_the_flops_a_count_stands_for(
    made: Callable[..., dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    default, job = PRESETS["default"], made()["job"]
    assert ADAPTERS[job].unit is Unit.FLOP and reconcile(made(), default).total == 250663520
    monkeypatch.setattr(catalog.COUNTERS[job], "unit", "MAC")  # declared MACs: each counts 2 FLOPs
    assert ADAPTERS[job].unit is Unit.MAC and reconcile(made(), default).total == 2 * 250663520
