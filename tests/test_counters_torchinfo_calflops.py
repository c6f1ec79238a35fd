"""torchinfo and calflops: their rule models and reconciliation on hand-made records, each property
next to a record that must break it. The counts are the ones measured in the torch-latest cell
(torch 2.13.0, torchinfo 1.8.0, calflops 0.3.2), each also worked out by hand below from the
modules' parameter counts, independently of the rule models."""

from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from bench.counters import ADAPTERS, Unit
from bench.explain.reconcile import reconcile
from bench.probe import catalog, count_torchinfo, zoo
from bench.publish.words import residual_items
from bench.reference.convention import PRESETS
from tests import samples
from tests.samples import by_cause

SEED, SEED_CONV = zoo.MODELS["seed"], zoo.MODELS["seed-conv"]
U, D, ROWS = 96, 4064, 97  # GRU units, its input features, the frames (97 one-step sequences in the blog's GRU)
OUTPUTS = 32 * 97 * 127  # the conv's outputs: 32 filters on 97 x 127 positions
CONV_MACS = OUTPUTS * 1 * 4 * 4
W_IH, W_HH, B = 3 * U * D, 3 * U * U, 3 * U  # the GRU's weight_ih_l0, weight_hh_l0, and each bias vector

# torchinfo: each parameter's size x the output positions (conv), x output_size[0] (Linear: 1 of
# the (1, 97, 256) output's axes), x output_size[0] x output_size[1] (GRU: 1 x 97)
TI_CONV = 32 * 16 * (97 * 127) + 32 * (97 * 127)
TI_GRU = (W_IH + W_HH + 2 * B) * 1 * ROWS
TI_FC = (U * 256 + 256) * 1
# calflops: F.conv2d 2 x MACs + bias, F.relu numel, _rnn_flops per evaluation x 1 x 97, F.linear 2 x numel x out
CF_CONV = 2 * CONV_MACS + OUTPUTS
CF_RELU = OUTPUTS
CF_GRU = (2 * W_IH - B + 2 * W_HH - B + U + 3 * U + 3 * U + 2 * B) * 1 * ROWS
CF_FC = 2 * (ROWS * U) * 256

TOY_GRU = {
    "input": [2, 3, 8],
    "layers": [
        {"name": "gru", "kind": "gru", "units": 4, "reset_after": True, "activation": "tanh",
         "recurrent_activation": "sigmoid", "torch": ["gru"]},
    ],
}  # fmt: skip


def record(job: str, version: str, definition: dict, items: dict, config: dict | None = None, total: int = -1) -> dict:
    """items: module -> (raw, rule) or (raw, rule, macs); config: module -> recorded options."""
    rows = [samples.item(k, v[0], v[1], **({"macs": v[2]} if len(v) > 2 else {})) for k, v in items.items()]
    config = {k: (config or {}).get(k, {"bias": True, "batch_first": False}) for k in items}
    return samples.module_record(job, definition, rows, config, version, total=None if total < 0 else total)


def torchinfo_seed(**override: tuple) -> dict:
    items = {
        "conv2d": (TI_CONV, "conv"),
        "relu": (0, "no parameters"),
        "gru": (TI_GRU, "output_size[:2]"),
        "fc": (TI_FC, "output_size[0]"),
        "sigmoid": (0, "no parameters"),
    }
    return record("torchinfo", "1.8.0", SEED, {**items, **override})


def calflops_seed(**override: tuple) -> dict:
    items = {
        "conv2d": (CF_CONV, "conv2d", CONV_MACS),
        "relu": (CF_RELU, "relu", 0),
        "gru": (CF_GRU, "_rnn_forward_hook", 0),
        "fc": (CF_FC, "linear", ROWS * U * 256),
        "sigmoid": (0, "", 0),
    }
    return record("calflops", "0.3.2", SEED, {**items, **override})


# --- torchinfo -------------------------------------------------------------------------------


@pytest.mark.parametrize(("made", "measured"), [(torchinfo_seed, 122996000), (calflops_seed, 250663520)])
def test_the_rule_models_predict_the_containers_numbers(made: Callable[..., dict], measured: int) -> None:
    samples.check_the_rule_model_predicts(made, measured)


def test_torchinfo_seed_reconciles_with_every_cause_named() -> None:
    for name in ("default", "macs"):
        result = reconcile(torchinfo_seed(), PRESETS[name])
        assert result.residual == 0 and result.residuals == []
        assert result.total == result.reference + sum(a.flops for a in result.adjustments)
        assert result.priced_steps == {"gru": 97} and not [a for a in result.adjustments if a.cause == "steps"]
    result = reconcile(torchinfo_seed(), PRESETS["default"])
    assert result.total == 2 * 122996000
    assert by_cause(result) == {
        ("activation", "conv"): -OUTPUTS,
        ("bias", "conv"): OUTPUTS,  # the conv bias's size x positions: one MAC (2 FLOPs) per output
        ("activation", "gru"): -3 * U * ROWS,
        ("bias", "gru"): 6 * U * ROWS,
        ("elementwise", "gru"): -8 * U * ROWS,
        ("activation", "output"): -ROWS * 256,
        # one row of the 97 priced: its MACs and bias, named as rows not priced rather than a price per MAC
        ("rows", "output"): 2 * 256 - ROWS * 256 + 2 * (1 - ROWS) * U * 256,
    }
    assert "prices 1 of the 97 rows" in result.notes["output"][0]
    assert "97 sequences of 1 step" in result.notes["gru"][0]


def test_torchinfo_counts_that_depart_from_its_rules_are_residual_at_their_layer() -> None:
    all_rows = reconcile(torchinfo_seed(fc=(ROWS * TI_FC, "output_size[0]")), PRESETS["default"])
    assert all_rows.residual == 2 * (ROWS - 1) * TI_FC
    (residual,) = all_rows.residuals
    assert residual.place == "output" and residual_items(residual)[0].startswith(
        "fc: counted 2,408,704 MACs, rule model 24,832"
    )
    one_step_short = reconcile(torchinfo_seed(gru=(TI_GRU // ROWS * 96, "output_size[:2]")), PRESETS["default"])
    assert one_step_short.residual == -2 * TI_GRU // ROWS and one_step_short.residuals[0].place == "gru"


def test_torchinfo_conv_bias_comes_from_the_recorded_module_options() -> None:
    items = {"conv2d": (TI_CONV, "conv"), "relu": (0, "no parameters")}
    assert reconcile(record("torchinfo", "1.8.0", SEED_CONV, items), PRESETS["default"]).residual == 0
    no_bias = {"conv2d": {"bias": False}, "relu": {}}
    wrong = reconcile(record("torchinfo", "1.8.0", SEED_CONV, items, no_bias), PRESETS["default"])
    assert wrong.residual == 2 * OUTPUTS and wrong.residuals[0].place == "conv"
    right = {"conv2d": (CONV_MACS, "conv"), "relu": (0, "no parameters")}
    assert reconcile(record("torchinfo", "1.8.0", SEED_CONV, right, no_bias), PRESETS["default"]).residual == 0


def test_a_torchinfo_branch_on_a_layer_it_is_not_modelled_for_is_residual() -> None:
    result = reconcile(torchinfo_seed(fc=(TI_FC, "output_size[:2]")), PRESETS["default"])
    assert result.residual == 2 * TI_FC
    assert "no rule model for torchinfo's 'output_size[:2]' on a dense layer" in residual_items(result.residuals[0])[0]


def test_torchinfo_prices_every_cell_evaluation_whatever_the_axis_order() -> None:
    evaluations = 2 * 3
    raw = evaluations * (3 * 4 * 8 + 3 * 4 * 4 + 2 * 3 * 4)  # weights and biases x output_size[0] x [1]
    batch_first = {"gru": {"bias": True, "batch_first": True}}
    result = reconcile(record("torchinfo", "1.8.0", TOY_GRU, {"gru": (raw, "output_size[:2]")}, batch_first),
                       PRESETS["default"])  # fmt: skip
    assert result.residual == 0 and result.priced_steps == {"gru": 3} and "gru" not in result.notes
    time_major = reconcile(record("torchinfo", "1.8.0", TOY_GRU, {"gru": (raw, "output_size[:2]")}), PRESETS["default"])
    assert time_major.residual == 0 and "3 sequences of 2 step" in time_major.notes["gru"][0]
    short = reconcile(record("torchinfo", "1.8.0", TOY_GRU, {"gru": (raw * 5 // 6, "output_size[:2]")}, batch_first),
                      PRESETS["default"])  # fmt: skip
    assert short.residuals[0].place == "gru" and short.residual == -2 * raw // 6


def test_the_probe_names_torchinfos_branch_from_class_and_parameter_names() -> None:
    def info(class_name: str, *names: str) -> SimpleNamespace:
        module = SimpleNamespace(named_parameters=lambda: [(n, None) for n in names])
        return SimpleNamespace(class_name=class_name, module=module)

    assert count_torchinfo._rule(info("Conv2d", "weight", "bias")) == "conv"
    assert count_torchinfo._rule(info("Linear", "weight", "bias")) == "output_size[0]"
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    assert count_torchinfo._rule(info("GRU", *names)) == "output_size[:2]"
    assert count_torchinfo._rule(info("ReLU")) == "no parameters"
    assert count_torchinfo._rule(info("Embedding2", "table")) == "not priced"


# --- calflops ---------------------------------------------------------------------------------


def test_calflops_counts_that_depart_from_its_rules_are_residual_at_their_layer() -> None:
    eight = reconcile(calflops_seed(gru=(CF_GRU + U * ROWS, "_rnn_forward_hook", 0)), PRESETS["default"])
    assert eight.residual == U * ROWS and [r.place for r in eight.residuals] == ["gru"]
    patched = reconcile(calflops_seed(sigmoid=(ROWS * 256, "", 0)), PRESETS["default"])
    assert patched.residual == ROWS * 256 and residual_items(patched.residuals[0])[0].startswith(
        "sigmoid: counted 24,832"
    )
    gap = calflops_seed()
    gap["probe"]["raw_total"] += 3
    assert [(r.place, r.flops) for r in reconcile(gap, PRESETS["default"]).residuals] == [("total", 3)]


def test_calflops_rules_are_chosen_by_the_recorded_call_and_the_layer() -> None:
    no_bias = {"conv2d": {"bias": False}, "relu": {}}
    items = {"conv2d": (CF_CONV, "conv2d", CONV_MACS), "relu": (CF_RELU, "relu", 0)}
    assert reconcile(record("calflops", "0.3.2", SEED_CONV, items), PRESETS["default"]).residual == 0
    wrong = reconcile(record("calflops", "0.3.2", SEED_CONV, items, no_bias), PRESETS["default"])
    assert wrong.residual == OUTPUTS and residual_items(wrong.residuals[0])[0].startswith("conv2d:")
    gelu = reconcile(record("calflops", "0.3.2", SEED_CONV, {**items, "relu": (CF_RELU, "gelu", 0)}),
                     PRESETS["default"])  # fmt: skip
    assert gelu.residual == CF_RELU and "no rule model for calflops' 'gelu'" in residual_items(gelu.residuals[0])[0]


def test_the_unit_the_catalog_declares_decides_the_flops_a_torchinfo_count_stands_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = PRESETS["default"]
    as_declared = reconcile(torchinfo_seed(), default).total
    assert ADAPTERS["torchinfo"].unit is Unit.MAC
    monkeypatch.setattr(catalog.COUNTERS["torchinfo"], "unit", "FLOP")
    as_flops = reconcile(torchinfo_seed(), default)
    assert as_flops.residual == 0 and as_flops.total == 122996000 != as_declared
    assert Counter(a.cause for a in as_flops.adjustments)["mac"] == 2  # conv and gru priced at 1 FLOP (output: rows)
