"""fvcore and ptflops (pytorch and aten backends): their rule models and reconciliation on hand-made
records, each hand count worked out here from the tools' source, each property beside a record that
must break it. The numbers are the ones the real containers gave for the seed model."""

from collections.abc import Callable

import pytest

from bench.explain.reconcile import reconcile
from bench.probe import zoo
from bench.publish.words import clause, residual_items
from bench.reference.convention import PRESETS
from tests import samples
from tests.samples import by_cause

SEED, CONV = zoo.MODELS["seed"], zoo.MODELS["seed-conv"]
OUTPUTS = 32 * 97 * 127  # the conv's output values: 32 filters, (100-4)/1+1 rows, (256-4)/2+1 columns
CONV_MACS = OUTPUTS * 1 * 4 * 4  # one MAC per kernel tap per output
D, U, T = 4064, 96, 97  # the GRU's input features, units and the cell evaluations nn.GRU runs (97 rows of 1 step)
GRU_MACS = T * 3 * U * (D + U)
FC_MACS, FC_OUT = T * 96 * 256, T * 256
# ptflops' rnn_flops: 3U(D+U), U + 3U + 3U gate sums and products, 6U biases, per cell
PTFLOPS_GRU = T * (3 * U * (D + U) + U + 3 * U + 3 * U + 6 * U)
ATEN_GRU = T * (3 * U * (D + U) + 6 * U)  # two aten.addmm: the weights' MACs and one add per bias value
CONFIG = {
    "conv2d": {"bias": True},
    "relu": {},
    "gru": {"batch_first": False, "bias": True},
    "fc": {"bias": True},
    "sigmoid": {},
}  # what build_torch.describe records for the seed's modules


def record(
    job: str, items: list[tuple], definition: dict = SEED, total: int | None = None, config: dict = CONFIG
) -> dict:
    """A probe record of (module, raw, rule[, fvcore's unsupported ops]) items."""
    rows = [
        samples.item(name, raw, rule, **({"unsupported": more[0]} if more else {})) for name, raw, rule, *more in items
    ]
    return samples.module_record(job, definition, rows, config, total=total)


def fvcore_seed(gru: int = 0, conv: int = CONV_MACS) -> dict:
    return record(
        "fvcore",
        [
            ("conv2d", conv, "conv", {}),
            ("relu", 0, "", {}),
            ("gru", gru, "", {"aten::gru": 1}),
            ("fc", FC_MACS, "linear", {}),
            ("sigmoid", 0, "", {"aten::sigmoid": 1}),
        ],
    )


def pytorch_seed(gru: int = PTFLOPS_GRU) -> dict:
    return record(
        "ptflops-pytorch",
        [
            ("conv2d", CONV_MACS + OUTPUTS, "conv_flops_counter_hook"),
            ("relu", OUTPUTS, "relu_flops_counter_hook"),
            ("gru", gru, "rnn_flops_counter_hook"),
            ("fc", FC_MACS + FC_OUT, "linear_flops_counter_hook"),
            ("sigmoid", 0, ""),
            ("relu", OUTPUTS, "F.relu: _numel_functional_flops_hook"),
        ],
    )


def aten_seed(gru: int = ATEN_GRU, gru_op: str = "aten.addmm") -> dict:
    return record(
        "ptflops-aten",
        [
            ("conv2d", CONV_MACS + OUTPUTS, "aten.convolution"),
            ("relu", 0, ""),
            ("gru", gru, gru_op),
            ("fc", FC_MACS + FC_OUT, "aten.addmm"),
            ("sigmoid", 0, ""),
        ],
    )


@pytest.mark.parametrize(
    ("made", "measured"), [(fvcore_seed, 8691200), (pytorch_seed, 126233472), (aten_seed, 125379872)]
)
def test_the_rule_models_predict_the_containers_numbers(made: Callable[[], dict], measured: int) -> None:
    """The records are made from the hand counts above; the torch-latest container counted these numbers."""
    samples.check_the_rule_model_predicts(made, measured)


# --- fvcore


def test_fvcore_prices_no_step_of_the_gru_it_cannot_handle() -> None:
    result = reconcile(fvcore_seed(), PRESETS["default"])
    assert result.residual == 0 and result.residuals == []
    assert result.priced_steps == {"gru": 0}
    assert "one aten::gru, for which fvcore has no handle" in result.why["gru"][0]
    step = 2 * GRU_MACS // T + 6 * U + 8 * U + 3 * U  # one step in the reference, in FLOPs
    assert by_cause(result)[("steps", "gru")] == -T * step
    assert [cause for cause, layer in by_cause(result) if layer == "gru"] == ["steps"]


def test_a_gru_count_fvcore_cannot_have_made_is_residual_at_the_gru() -> None:
    result = reconcile(fvcore_seed(gru=1000), PRESETS["default"])
    assert result.residual == 2000
    (residual,) = result.residuals
    assert residual.place == "gru"
    assert residual_items(residual)[0].startswith(
        "gru: counted 1,000 MACs, rule model 0 (fvcore has no handle for aten::gru"
    )
    assert "it reported aten::gru x1" in residual_items(residual)[0]


def test_fvcore_counts_no_bias_and_no_activation() -> None:
    conv = record("fvcore", [("conv2d", CONV_MACS, "conv", {}), ("relu", 0, "", {})], CONV)
    result = reconcile(conv, PRESETS["default"])
    assert result.residual == 0
    assert by_cause(result) == {("bias", "conv"): -OUTPUTS, ("activation", "conv"): -OUTPUTS}
    assert "among fvcore's ignored ops" in next(clause(a) for a in result.adjustments if a.cause == "activation")
    assert reconcile(conv, PRESETS["macs"]).adjustments == []
    seed = reconcile(fvcore_seed(), PRESETS["default"])
    sigmoid = next(a for a in seed.adjustments if a.cause == "activation" and a.layer == "output")
    assert "aten::sigmoid x1 unsupported" in clause(sigmoid)


def test_a_conv_count_with_the_bias_is_not_fvcores() -> None:
    result = reconcile(fvcore_seed(conv=CONV_MACS + OUTPUTS), PRESETS["default"])
    assert result.residual == 2 * OUTPUTS
    assert [r.place for r in result.residuals] == ["conv"]
    assert residual_items(result.residuals[0])[0].startswith(
        f"conv2d: counted {CONV_MACS + OUTPUTS:,} MACs, rule model"
    )


def test_fvcore_work_outside_the_definitions_modules_is_a_bucket_and_residual() -> None:
    items = [("conv2d", CONV_MACS, "conv", {}), ("relu", 0, "", {}), ("(the model's own forward)", 7, "mul", {})]
    result = reconcile(record("fvcore", items, CONV), PRESETS["default"])
    assert result.residual == 14
    assert [r.place for r in result.residuals] == ["modules outside the definition"]
    assert "mul outside its modules" in residual_items(result.residuals[0])[0]


def test_an_fvcore_operator_without_a_rule_model_is_residual() -> None:
    items = [("conv2d", CONV_MACS, "einsum", {}), ("relu", 0, "", {})]
    result = reconcile(record("fvcore", items, CONV), PRESETS["default"])
    assert result.residual == 2 * CONV_MACS
    assert "no rule model for fvcore's einsum on a conv2d module" in residual_items(result.residuals[0])[0]


# --- ptflops, pytorch backend


def test_ptflops_pytorch_counts_biases_gate_work_and_relu_twice_as_macs() -> None:
    result = reconcile(pytorch_seed(), PRESETS["default"])
    assert result.residual == 0 and result.residuals == []
    assert result.priced_steps == {"gru": 97}
    assert "input.shape[0] x input.shape[1] = 1 x 97" in result.why["gru"][0]
    assert by_cause(result) == {
        ("activation", "conv"): 2 * 2 * OUTPUTS - OUTPUTS,  # the module hook and the patched F.relu, 2 FLOPs each
        ("bias", "conv"): 2 * OUTPUTS - OUTPUTS,
        ("activation", "gru"): -T * 3 * U,  # -2U sigmoid, -U tanh
        ("bias", "gru"): T * 6 * U,
        ("elementwise", "gru"): T * (2 * 7 * U - 8 * U),
        ("activation", "output"): -FC_OUT,
        ("bias", "output"): FC_OUT,
    }
    relu = next(a for a in result.adjustments if a.cause == "activation" and a.layer == "conv")
    assert relu.evidence == ("relu", "relu") and "F.relu: _numel_functional_flops_hook" in clause(relu)
    assert "97 sequences of 1 step" in result.notes["gru"][0]


def test_a_ptflops_gru_one_cell_short_is_residual_at_the_gru() -> None:
    cell = PTFLOPS_GRU // T
    result = reconcile(pytorch_seed(gru=PTFLOPS_GRU - cell), PRESETS["macs"])
    assert result.residual == -cell
    assert [r.place for r in result.residuals] == ["gru"]
    counted = f"gru: counted {PTFLOPS_GRU - cell:,} MACs, rule model {PTFLOPS_GRU:,}"
    assert residual_items(result.residuals[0])[0].startswith(counted)


def test_ptflops_prices_the_bias_only_of_a_module_built_with_one() -> None:
    items = [("conv2d", CONV_MACS, "conv_flops_counter_hook"), ("relu", OUTPUTS, "relu_flops_counter_hook")]
    unbiased = dict(CONFIG, conv2d={"bias": False})
    assert reconcile(record("ptflops-pytorch", items, CONV, config=unbiased), PRESETS["macs"]).residual == 0
    wrong = reconcile(record("ptflops-pytorch", items, CONV), PRESETS["macs"])
    assert wrong.residual == -OUTPUTS and wrong.residuals[0].place == "conv"


def test_ptflops_prices_gru_cells_however_batch_first_reads_the_input() -> None:
    gru = {
        "input": [1, 3, 8],  # ptflops counts one sample (its catalog entry's per_sample): a batch of 1 is what it runs
        "layers": [{"name": "gru", "kind": "gru", "units": 4, "reset_after": True, "activation": "tanh",
                    "recurrent_activation": "sigmoid", "torch": ["gru"]}],
    }  # fmt: skip
    cells = 3 * (3 * 4 * (8 + 4) + 13 * 4)
    for batch_first in (True, False):
        config = {"gru": {"batch_first": batch_first, "bias": True}}
        result = reconcile(
            record("ptflops-pytorch", [("gru", cells, "rnn_flops_counter_hook")], gru, config=config), PRESETS["macs"]
        )
        assert result.residual == 0 and result.priced_steps == {"gru": 3}
        assert bool(result.notes) is not batch_first  # only a GRU that reads axis 0 as time runs other steps
    off = record("ptflops-pytorch", [("gru", cells + 1, "rnn_flops_counter_hook")], gru, config=config)
    assert reconcile(off, PRESETS["macs"]).residual == 1


def test_a_ptflops_total_that_is_not_the_sum_of_its_breakdown_is_residual() -> None:
    result = reconcile(record("ptflops-pytorch", [("conv2d", CONV_MACS + OUTPUTS, "conv_flops_counter_hook"),
                                                  ("relu", OUTPUTS, "relu_flops_counter_hook")], CONV,
                              total=CONV_MACS + 2 * OUTPUTS + 5), PRESETS["macs"])  # fmt: skip
    assert result.residual == 5 and [r.place for r in result.residuals] == ["total"]


# --- ptflops, aten backend


def test_ptflops_aten_prices_the_grus_addmms_with_their_biases_and_nothing_else() -> None:
    result = reconcile(aten_seed(), PRESETS["default"])
    assert result.residual == 0 and result.residuals == []
    assert result.priced_steps == {"gru": 97}
    assert "each of the 1 step(s) torch runs, over 97 row(s) each" in result.why["gru"][0]
    assert by_cause(result) == {
        ("activation", "conv"): -OUTPUTS,
        ("bias", "conv"): OUTPUTS,
        ("activation", "gru"): -T * 3 * U,
        ("bias", "gru"): T * 6 * U,
        ("elementwise", "gru"): -T * 8 * U,
        ("activation", "output"): -FC_OUT,
        ("bias", "output"): FC_OUT,
    }


def test_a_ptflops_aten_gru_without_its_biases_is_residual_at_the_gru() -> None:
    result = reconcile(aten_seed(gru=GRU_MACS), PRESETS["macs"])
    assert result.residual == -T * 6 * U
    assert [r.place for r in result.residuals] == ["gru"]


def test_a_ptflops_aten_op_the_rule_model_does_not_know_prices_no_step_and_is_residual() -> None:
    result = reconcile(aten_seed(gru_op="aten.mm"), PRESETS["macs"])
    assert result.priced_steps == {"gru": 0} and "by no rule the rule model knows" in result.why["gru"][0]
    assert result.residual == ATEN_GRU
    assert (
        "no rule model for ptflops (aten backend)'s aten.mm on a gru module" in residual_items(result.residuals[0])[0]
    )


@pytest.mark.parametrize("made", [fvcore_seed, pytorch_seed, aten_seed])
def test_every_item_is_placed_so_the_equation_holds(made: object) -> None:
    samples.check_every_item_is_placed(made)
