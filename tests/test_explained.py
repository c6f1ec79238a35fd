"""The explain side's data and the words the report makes of it: each kind of adjustment and residual
item worded with its numbers, the model answer ranked from the reconciliations, the skipped
measurements, the causes' headings checked whole, a figure's digits."""

from __future__ import annotations

from bench.counters import Unit
from bench.explain import answer, batching, rows
from bench.explain.answer import Skipped, Unread
from bench.explain.reconcile import (
    Adjustment,
    Cause,
    Departure,
    Gap,
    MacPrice,
    Outside,
    Pinned,
    Reconciliation,
    Residual,
    RuleCount,
    StepsPriced,
)
from bench.probe import catalog, zoo
from bench.publish import explained, headings, words
from bench.publish.published_rows import READING, count_said, show
from bench.publish.report import rows_of as report_rows
from bench.reference import closed_form
from bench.reference.convention import PRESETS
from bench.reference.formulas import analyse
from bench.reference.published import Figure, Rounding
from bench.reference.reproduce import count
from tests import samples

SEED = zoo.MODELS["seed"]
REFERENCE = sum(PRESETS["default"].flops(c.total()) for c in analyse(SEED))
GRU = next(PRESETS["default"].flops(c.total()) for c in analyse(SEED) if c.name == "gru")


def reconciliation(
    counter: str, tool: str, adjustments: list[Adjustment], residuals: tuple[Residual, ...] = ()
) -> Reconciliation:
    """seed's reconciliation by a made-up counter: its terms as given, its total their sum."""
    flops = REFERENCE + sum(a.flops for a in adjustments) + sum(r.flops for r in residuals)
    pinned = Pinned(tool, "1.0", "torch", "2.0", tool)
    made = Reconciliation(
        "torch-x", "seed", counter, tool, Unit.FLOP, int(flops), 1, REFERENCE, PRESETS["default"], SEED, pinned
    )
    made.adjustments, made.residuals = adjustments, list(residuals)
    made.steps = {"gru": 97}
    made.priced_steps = {"gru": next((a.detail.priced for a in adjustments if isinstance(a.detail, StepsPriced)), 97)}
    return made


def steps(priced: int) -> Adjustment:
    step = GRU / 97
    return Adjustment(Cause.STEPS, "gru", (priced - 97) * step, StepsPriced(97, priced, step))


def rule(cause: Cause, component: str, delta: float, factor: float = 1) -> Adjustment:
    said = RuleCount("tool", Unit.MAC if factor != 1 else Unit.FLOP, component, 10, 1, 5, factor, ("r1", "r2"))
    return Adjustment(cause, "conv", delta, said, ("n1",))


# --- words for each kind of adjustment and residual item


def test_each_kind_of_adjustment_is_worded_with_its_numbers() -> None:
    assert words.clause(steps(1)) == "gru runs 97 time steps of 2,397,792 FLOPs each; 1 priced"
    outside = Adjustment(Cause.OUTSIDE, "ops outside", 8, Outside(4, Unit.MAC), ("a", "b"))
    assert words.clause(outside) == "ops outside: 4 MACs over 2 items"
    mac = Adjustment(Cause.MAC, "conv", -5, MacPrice("thop", 1, 2), ("conv",))
    assert words.clause(mac) == "conv: thop prices a multiply-accumulate at 1 FLOP, the convention at 2 FLOPs"
    bias = rule(Cause.BIAS, "bias", -5)
    assert (
        words.clause(bias)
        == "conv: 10 bias adds at 1 FLOP each in the reference; tool gives 5 FLOPs by its rules (r1; r2)"
    )
    relu = rule(Cause.ACTIVATION, "act:relu", -5, factor=2)
    assert words.clause(relu) == (
        "conv: 10 relu values at 1 FLOP each in the reference; tool gives 5 MACs (10 FLOPs at 2 FLOPs per MAC)"
        " by its rules (r1; r2)"
    )
    other = rule(Cause.OTHER, "other", 5)
    assert words.clause(other) == "conv: ops the reference does not count; tool gives 5 FLOPs by its rules (r1; r2)"


def test_a_residual_is_worded_item_by_item() -> None:
    off = Residual("conv", 2, (Departure("conv2d", 1002, 1000, Unit.MAC, "a rule"), Gap(-3, Unit.MAC)))
    assert words.residual_items(off) == (
        "conv2d: counted 1,002 MACs, rule model 1,000 (a rule)",
        "the total differs from the sum of the counter's own breakdown by -3 MACs",
    )
    assert words.departure(Departure("x", 1, 1, Unit.FLOP, "r")) != words.departure(
        Departure("x", 2, 1, Unit.FLOP, "r")
    )


def test_reasons_are_named_by_their_cause_or_their_residuals_place() -> None:
    off = Residual("output", 7, (Departure("fc", 8, 1, Unit.FLOP, "r"),))
    made = reconciliation(
        "thop", "thop", [steps(1), rule(Cause.BIAS, "bias", -5), rule(Cause.BIAS, "bias", 0)], residuals=[off]
    )
    reasons = made.reasons()
    assert [headings.term(r) for r in reasons] == ["recurrent steps priced", "bias adds", "residual at output"]
    assert [r.flops for r in reasons] == [steps(1).flops, -5, 7]
    assert len(reasons[1].adjustments) == 1  # the twin: an adjustment of 0 FLOPs is no term
    assert words.clauses(reasons[2]) == "fc: counted 8 FLOPs, rule model 1 (r)"
    assert words.clauses(reasons[1]).startswith("conv: 10 bias adds")


def test_every_cause_has_a_heading_and_a_missing_one_is_seen() -> None:
    assert headings.unnamed(headings.HEADINGS) == []
    fewer = {c: h for c, h in headings.HEADINGS.items() if c is not Cause.ROWS}
    assert headings.unnamed(fewer) == [Cause.ROWS]
    assert headings.unnamed({**headings.HEADINGS, Cause.MAC: ""}) == [Cause.MAC]


def test_pins_name_a_counter_inside_its_framework_once() -> None:
    assert headings.pinned(Pinned("thop", "0.1.1", "torch", "2.0", "thop")) == "thop 0.1.1 @ torch 2.0"
    assert headings.pinned(Pinned("torch", "2.0", "torch", "2.0", "FlopCounterMode")) == "FlopCounterMode @ torch 2.0"
    assert headings.pinned(Pinned("onnx-tool", "0.9", "", "", "onnx-tool")) == "onnx-tool 0.9"


# --- the model answer


def test_the_model_answer_ranks_the_three_largest_causes_and_names_the_rows_off() -> None:
    off = Residual("output", 7, (Departure("fc", 8, 1, Unit.FLOP, "r"),))
    thop = reconciliation("thop", "thop", [steps(1), rule(Cause.BIAS, "bias", -5)])
    fvcore = reconciliation(
        "fvcore",
        "fvcore",
        [steps(0), rule(Cause.OTHER, "other", 3), rule(Cause.ELEMENTWISE, "elementwise", -1000)],
        residuals=(off,),
    )
    found = answer.model_answer([thop, fvcore])
    assert [c.cause for c in found.causes] == [Cause.STEPS, Cause.ELEMENTWISE, Cause.BIAS]  # OTHER is 4th
    assert found.causes[0].flops == -steps(0).flops and found.causes[2].tools == ("thop",)
    (gru,) = found.causes[0].steps
    assert (gru.layer, gru.steps, gru.flops, gru.priced) == ("gru", 97, GRU, (("fvcore", 0, 0), ("thop", 1, 1)))
    assert found.low == 100 * fvcore.total / REFERENCE and found.high == 100 * thop.total / REFERENCE
    assert found.off == (fvcore,) and found.rows == 2
    said = explained.model_answer(found)
    assert "Largest causes: recurrent steps priced, up to" in said and "fvcore prices 0, thop prices 1" in said
    assert "the residual is not 0 in 1 of 2 rows: torch-x `fvcore` + 7." in said
    clean = answer.model_answer([thop])  # the twin: no residual anywhere
    assert clean.off == () and "the residual is 0 in every row" in explained.model_answer(clean)


def test_the_reference_is_shown_at_the_models_own_batch() -> None:
    per_sample = next(name for name, counter in catalog.COUNTERS.items() if counter.per_sample)
    assert batching.per_sample(per_sample) and not batching.per_sample("thop")
    one, whole = reconciliation(per_sample, "x", []), reconciliation("thop", "thop", [])
    assert answer.at_own_batch([one, whole]) is whole
    assert answer.at_own_batch([one]) is one  # the twin: none at the model's batch, the first stands in
    layers = answer.layer_references(whole)
    assert [x.name for x in layers] == ["conv", "reshape", "gru", "output"] and sum(
        x.flops for x in layers
    ) == REFERENCE
    assert next(x for x in layers if x.name == "gru").steps == 97


def test_a_measurement_not_reconciled_says_why() -> None:
    old = samples.ok()
    old["probe"]["schema"] = "flops-matrix/probe/2"
    unknown = samples.ok(counter="mystery")
    found, skipped = answer.reconciliations([old, unknown, samples.ok()], PRESETS["default"])
    assert len(found) == 1
    assert skipped == [
        Skipped("toy", "torch-x", "thop", Unread.SCHEMA, "flops-matrix/probe/2"),
        Skipped("toy", "torch-x", "mystery", Unread.NO_ADAPTER),
    ]
    assert explained.skipped(skipped[0]) == (
        f"`toy` / torch-x / `thop`: recorded by probe schema flops-matrix/probe/2, not {catalog.COUNT_SCHEMA}"
    )
    assert explained.skipped(skipped[1]).endswith("`mystery`: no counter adapter on the host")


# --- reference numbers and how they print


def test_a_figure_is_shown_to_its_last_digit_and_its_readings_are_named() -> None:
    figure = Figure("3.8 x 10^9 FLOPs", 3.8e9, 1e8, Rounding.UNSTATED)
    assert show(figure, 3_861_000_000) == "3.9" and show(Figure("300M", 3e8, 1e6, Rounding.NEAREST, 1e6), 3e8) == "300"
    assert set(READING) == {Rounding.NEAREST, Rounding.DOWN}
    found = count(zoo.MODELS["seed-conv"], PRESETS["macs"], Figure("6.3M", 6.3e6, 1e5, Rounding.UNSTATED, 1e6))
    assert count_said(found, Figure("6.3M", 6.3e6, 1e5, Rounding.UNSTATED, 1e6)).endswith(": reproduced")
    wrong = Figure("6.5M", 6.5e6, 1e5, Rounding.UNSTATED, 1e6)  # the twin: a figure it does not print as
    assert count_said(count(zoo.MODELS["seed-conv"], PRESETS["macs"], wrong), wrong).endswith(
        "not reproduced (printed 6.5)"
    )


def test_the_closed_form_prices_a_weight_as_the_convention_prices_a_mac() -> None:
    assert closed_form.flops_per_weight() == 2 and closed_form.flops_per_weight(PRESETS["macs"]) == 1


# --- failures and pins of the cell


def test_an_expected_failure_is_grouped_apart_and_says_so() -> None:
    plain = samples.failed(reason="boom")
    expected = samples.failed(model="other", reason="boom")
    expected["host"]["expected_failure"] = "no wheel for this Python"
    found = rows.failures([plain, expected], set())
    assert [(f.status, f.reason, f.expected, f.jobs) for f in found] == [
        ("failed", "boom", "", (("toy", "thop"),)),
        ("failed", "boom", "no wheel for this Python", (("other", "thop"),)),
    ]
    assert (words.failure_status(found[0]), words.failure_reason(found[0])) == ("failed", "boom")  # the twin
    assert words.failure_status(found[1]) == "failed (expected)"
    assert words.failure_reason(found[1]) == "boom (expected: no wheel for this Python)"


def test_a_rows_base_image_is_named_by_its_kind_and_reference() -> None:
    (row,) = report_rows([samples.ok()])
    assert row.base_image == ("local", "flops-matrix/base:bullseye")
    assert words.base_image(*row.base_image) == "local: flops-matrix/base:bullseye"
    bare = samples.ok()
    del bare["host"]["image"]["base"]
    assert words.base_image(*report_rows([bare])[0].base_image) == ""  # the twin: no base, no words
