"""keras-flops: its rule model (tf.profiler's rules at the record's TensorFlow version plus the three
rules keras-flops registers) and the reconciliation of hand-made records, each property beside a
record that must break it. The nodes are the ones the real tf-2.5.3 container recorded for the seed
(keras_flops.get_flops = 17,801,440 FLOPs there); the other numbers are worked out by hand here."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from bench import paths
from bench.counters import keras_flops, rules, tf_profiler
from bench.explain.reconcile import reconcile
from bench.probe import answer as probe_answer
from bench.probe import catalog, zoo
from bench.publish.headings import pinned
from bench.publish.words import clause, residual_items
from bench.records import results
from bench.reference.convention import PRESETS
from tests import samples

SEED, CONV = zoo.MODELS["seed"], zoo.MODELS["seed-conv"]
CONV_OUT = 32 * 97 * 127  # the conv's output values
CONV_FLOPS = 2 * CONV_OUT * 4 * 4 * 1  # 2 per MAC, kernel 4 x 4 x 1 input channel per output
DENSE_FLOPS = 2 * 97 * 96 * 256  # Tensordot/MatMul: (97, 96) @ (96, 256)
BODY = "model/gru/PartitionedCall/while/body/_10/while"
V2_5, V2_21 = rules.version("2.5.3"), rules.version("2.21.0")


def node(name: str, op: str, raw: int = 0, shape: str = "<unknown>", input_shapes: tuple = ()) -> dict:
    return {
        "name": name,
        "op": op,
        "raw": raw,
        "rule": "",
        "shape": shape,
        "inputs": [],
        "input_shapes": list(input_shapes),
        "attrs": {},
    }


def conv_nodes(conv: int = CONV_FLOPS) -> list[dict]:
    out = "(1, 32, 97, 127)"
    return [
        node("model/conv/Conv2D", "Conv2D", conv, out, ("(1, 1, 100, 256)", "(4, 4, 1, 32)")),
        node("model/conv/BiasAdd", "BiasAdd", CONV_OUT, out, (out, "(32,)")),
        node("model/conv/Relu", "Relu", 0, out, (out,)),
    ]


def seed_nodes(dense: int = DENSE_FLOPS) -> list[dict]:
    """The seed's frozen graph as keras-flops profiles it in TF 2.5.3: the GRU's loop body lowered into
    the graph with shapes it does not know (priced 0), the Dense as a Tensordot MatMul."""
    body = [
        node(f"{BODY}/MatMul", "MatMul", 0, "(1, None)", ("(1, 4064)", "<unknown>")),
        node(f"{BODY}/BiasAdd", "BiasAdd", 0, "(1, None)", ("(1, None)", "<unknown>")),
        node(f"{BODY}/MatMul_1", "MatMul", 0, "(None, None)", ("<unknown>", "<unknown>")),
        node(f"{BODY}/add", "AddV2", 0, "(None, None)", ("(1, None)", "(None, None)")),
        node(f"{BODY}/add_4", "AddV2", 0, "<unknown>", ("<unknown>", "()")),
        node(f"{BODY}/Sigmoid", "Sigmoid", 0, "(None, None)", ("(None, None)",)),
        node(f"{BODY}/mul", "Mul", 0, "(None, None)", ("(None, None)", "(None, None)")),
    ]
    output = [
        node("model/output/Tensordot/MatMul", "MatMul", dense, "(97, 256)", ("(97, 96)", "(96, 256)")),
        node("model/output/BiasAdd", "BiasAdd", 97 * 256, "(1, 97, 256)", ("(1, 97, 256)", "(256,)")),
        node("model/output/Sigmoid", "Sigmoid", 0, "(1, 97, 256)", ("(1, 97, 256)",)),
    ]
    return conv_nodes() + body + output


def record(definition: dict, nodes: list[dict], tensorflow: str = "2.5.3", total: int | None = None) -> dict:
    tool, framework = ("keras-flops", "0.1.2"), ("tensorflow", tensorflow)
    return samples.graph_record("keras-flops", definition, nodes, tool, framework, "tf-2.5.3", total)


def result(rec: dict, convention: str = "default"):
    return reconcile(rec, PRESETS[convention])


def by_tf_profiler_alone(rec: dict):
    """The same record read as tf.profiler's at the same TensorFlow, without keras-flops' rules."""
    probe = rec["probe"]
    tool = {"name": "tf.profiler", "version": probe["provenance"]["framework"]["version"]}
    probe = dict(probe, provenance=dict(probe["provenance"], counter_tool=tool))
    return reconcile(dict(rec, probe=probe), PRESETS["default"], tf_profiler.ADAPTER_FROZEN)


# --- the real counts, reconciled ---------------------------------------------------------------


def test_the_seed_conv_reconciles_to_its_conv_and_bias_with_relu_unpriced() -> None:
    got = result(record(CONV, conv_nodes()))
    assert got.raw_total == 12_614_656 + 394_208 == 13_008_864
    assert got.residual == 0 and got.residuals == []
    assert {(a.cause, a.layer): a.flops for a in got.adjustments} == {("activation", "conv"): -CONV_OUT}
    relu = got.adjustments[0]
    assert "no FLOPs rule for Relu in TensorFlow 2.5.3" in clause(relu) and relu.evidence == ("model/conv/Relu",)


def test_a_conv_count_off_its_rule_is_residual_at_the_conv() -> None:
    got = result(record(CONV, conv_nodes(conv=CONV_FLOPS + 32)))
    assert got.residual == 32 and [r.place for r in got.residuals] == ["conv"]
    assert residual_items(got.residuals[0]) == (
        "model/conv/Conv2D: counted 12,614,688 FLOPs, rule model 12,614,656 (Conv2D: 2 FLOPs per multiply-accumulate)",
    )


def test_the_seed_prices_no_gru_step_because_the_loop_body_has_unknown_shapes() -> None:
    got = result(record(SEED, seed_nodes()))
    assert got.raw_total == 17_801_440 and got.residual == 0
    assert got.priced_steps == {"gru": 0}
    # keras-flops' AddV2 rule makes the body's additions shape-unknown too: 6 body ops here, where
    # TensorFlow 2.5.3's rules alone (no AddV2 rule) see 4
    assert got.why["gru"] == (
        "the loop body's ops have shapes the graph does not know, so the profiler prices them 0 (6 ops, e.g."
        f" {BODY}/BiasAdd, {BODY}/MatMul)",  # in name order, whatever order the graph lists them in
    )
    alone = by_tf_profiler_alone(record(SEED, seed_nodes()))
    assert "(4 ops, e.g." in alone.why["gru"][0]
    by = {(a.cause, a.layer) for a in got.adjustments}
    assert by == {("activation", "conv"), ("steps", "gru"), ("activation", "output")}


def test_a_dense_count_off_its_rule_is_residual_at_the_dense_alone() -> None:
    got = result(record(SEED, seed_nodes(dense=DENSE_FLOPS + 1000)))
    assert got.residual == 1000 and [r.place for r in got.residuals] == ["output"]
    fine = result(record(SEED, seed_nodes()))
    assert got.adjustments == fine.adjustments  # predicted from structure: they do not move with the count


def test_a_total_that_is_not_its_nodes_sum_is_residual_at_the_total() -> None:
    got = result(record(SEED, seed_nodes(), total=17_801_440 + 5))
    assert got.residual == 5 and [r.place for r in got.residuals] == ["total"]


# --- keras-flops' own rules --------------------------------------------------------------------


def add_v2(raw: int, name: str = "model/output/add") -> dict:
    return node(name, "AddV2", raw, "(1, 97, 256)", ("(1, 97, 256)", "(1, 97, 256)"))


def test_keras_flops_prices_addv2_where_tensorflow_2_5_has_no_rule() -> None:
    add = add_v2(97 * 256)
    assert keras_flops.rule_status(add, V2_5) == "counted"
    assert tf_profiler.rule_status(add, V2_5) == "no-rule"
    got = result(record(SEED, seed_nodes() + [add]))
    assert got.residual == 0
    elementwise = next(a for a in got.adjustments if a.cause == "elementwise" and a.layer == "output")
    assert elementwise.flops == 97 * 256 and "a rule keras-flops registers" in clause(elementwise)
    # the same record under tf.profiler's rules alone: the addition is counted where no rule prices it
    wrong = by_tf_profiler_alone(record(SEED, seed_nodes() + [add]))
    assert wrong.residual == 97 * 256 and [r.place for r in wrong.residuals] == ["output"]


def test_an_addv2_keras_flops_would_price_but_the_record_counts_0_is_residual() -> None:
    got = result(record(SEED, seed_nodes() + [add_v2(0)]))
    assert got.residual == -97 * 256 and [r.place for r in got.residuals] == ["output"]
    assert "counted 0 FLOPs, rule model 24,832 (AddV2: 1 FLOP per output value" in residual_items(got.residuals[0])[0]


def max_node(raw: int) -> dict:
    return node("model/output/Max", "Max", raw, "(1, 97)", ("(1, 97, 256)", "(1,)"))


def test_max_is_priced_by_the_reduction_rule_keras_flops_registers() -> None:
    priced = 97 * 256 - 97  # 1 per input value less 1 per output value
    assert keras_flops.OWN_RULES["Max"].price(max_node(0)) == tf_profiler.Priced(priced)
    assert keras_flops.rule_status(max_node(0), V2_5) == "counted"
    assert tf_profiler.rule_status(max_node(0), V2_5) == "no-rule"
    assert result(record(SEED, seed_nodes() + [max_node(priced)])).residual == 0


def test_a_max_node_counted_0_is_kept_and_left_as_residual() -> None:
    """tf.profiler's rules alone leave an unpriced, uncounted Max out; keras-flops' rule prices it."""
    got = result(record(SEED, seed_nodes() + [max_node(0)]))
    assert got.residual == -(97 * 256 - 97) and [r.place for r in got.residuals] == ["output"]
    assert residual_items(got.residuals[0])[0].startswith("model/output/Max: counted 0 FLOPs, rule model 24,735 (Max:")


def batch_norm(raw: int, x: str = "(1, 8, 4, 4)") -> dict:
    return node("model/bn/FusedBatchNormV3", "FusedBatchNormV3", raw, x, (x, "(8,)", "(8,)", "(8,)", "(8,)"))


def test_fused_batch_norm_is_2_per_input_5_per_variance_1_per_mean() -> None:
    assert keras_flops.OWN_RULES["FusedBatchNormV3"].price(batch_norm(0)) == tf_profiler.Priced(2 * 128 + 5 * 8 + 8)
    assert keras_flops.rule_status(batch_norm(0, x="(None, 8, 4, 4)"), V2_5) == "shape-unknown"
    assert result(record(SEED, seed_nodes() + [batch_norm(304)])).residual == 0  # placed outside the layers
    off = result(record(SEED, seed_nodes() + [batch_norm(305)]))
    assert off.residual == 1 and off.residuals[0].place == tf_profiler.BUCKET_OTHER


def test_the_tensorflow_version_is_the_frameworks_not_keras_flops() -> None:
    got = result(record(CONV, conv_nodes(), tensorflow="2.21.0"))
    assert "no FLOPs rule for Relu in TensorFlow 2.21.0" in clause(got.adjustments[0])
    assert pinned(got.pinned) == "keras-flops 0.1.2 @ tensorflow 2.21.0"
    # TensorFlow 2.21 registers AddV2 itself; keras-flops' rule is the same one, and prices it alike
    add = add_v2(97 * 256)
    assert keras_flops.rule_status(add, V2_21) == tf_profiler.rule_status(add, V2_21) == "counted"


def test_every_node_of_the_rule_model_says_what_tensorflow_said_with_keras_flops_imported() -> None:
    """The statuses the real container recorded (count_tf._rule after `import keras_flops`)."""
    said = {"MatMul": "shape-unknown", "AddV2": "shape-unknown", "Sigmoid": "no-rule", "Mul": "shape-unknown"}
    body = [n for n in seed_nodes() if n["name"].startswith(BODY)]
    assert {n["op"]: keras_flops.rule_status(n, V2_5) for n in body if n["op"] in said} == said
    assert tf_profiler.rule_status(body[3], V2_5) == "no-rule"  # the twin: TensorFlow 2.5.3 alone


# --- the probe's record of keras-flops' number -------------------------------------------------


@pytest.fixture
def probe_module():
    """The probe module as a container imports it (its folder on the path; TensorFlow only on call)."""
    folder, before = str(paths.ROOT / "bench" / "probe"), set(sys.modules)
    sys.path.insert(0, folder)
    try:
        import count_keras_flops

        yield count_keras_flops
    finally:
        sys.path.remove(folder)
        for name in set(sys.modules) - before:
            del sys.modules[name]


def answer(nodes: list[dict], total: int) -> dict:
    """The answer count_tf gives for these nodes (answer.make), with keras-flops' own total."""
    items = Counter()
    for n in nodes:
        items[n["op"]] += n["raw"]
    op_types = [{"name": k, "raw": v} for k, v in items.items() if v]
    return probe_answer.make(total, op_types, [], ("tensorflow", "2.5.3"), ("keras-flops", "0.1.2"), nodes=nodes)


def as_probe(got: dict) -> dict:
    """The probe's record of that answer (probe.measure)."""
    breakdown = {"by": catalog.COUNTERS["keras-flops"].breakdown, "items": got["items"]}
    return dict(got, counter="keras-flops", breakdown=breakdown, flops_per_unit=1, flops=got["raw_total"])


def test_a_keras_flops_number_beyond_the_graph_is_kept_and_shown_as_residual(probe_module) -> None:
    got = answer(conv_nodes(), total=13_008_864 + 7)
    probe_module._keep_gap(got, 7)
    results._check_sums(as_probe(got))  # the record stays valid: the number is keras-flops' own
    assert got["raw_total"] == 13_008_871
    rec = record(CONV, got["nodes"], total=got["raw_total"])
    reconciled = result(rec)
    assert reconciled.residual == 7 and [r.place for r in reconciled.residuals] == [tf_profiler.BUCKET_OTHER]
    assert (
        "keras_flops.get_flops beyond the recorded graph: counted 7 FLOPs" in residual_items(reconciled.residuals[0])[0]
    )


def test_without_the_gap_item_such_a_record_would_not_be_valid(probe_module) -> None:
    got = answer(conv_nodes(), total=13_008_864 + 7)
    with pytest.raises(results.InvalidRecord, match="add up to 13,008,864, not raw_total 13,008,871"):
        results._check_sums(as_probe(got))
