"""Rule models and reconciliation on hand-made records (the real records are checked in
test_recorded.py and, on fresh runs, in test_matrix_docker.py)."""

from collections import Counter

from bench.counters import rules, tf_profiler
from bench.explain.reconcile import Drift, reconcile
from bench.probe import zoo
from bench.publish.words import clause, definition_note, residual_items
from bench.reference.convention import PRESETS
from tests import samples

DENSE = {
    "input": [1, 8],
    "layers": [{"name": "output", "kind": "dense", "units": 4, "activation": "sigmoid", "torch": ["fc", "sigmoid"]}],
}
GRU = {
    "input": [1, 3, 8],
    "layers": [
        {"name": "gru", "kind": "gru", "units": 4, "reset_after": True, "activation": "tanh",
         "recurrent_activation": "sigmoid", "torch": ["gru"]},
    ],
}  # fmt: skip


def node(name: str, op: str, raw: int, shape: str = "(1, 4)", inputs: tuple = (), input_shapes: tuple = ()) -> dict:
    return {
        "name": name,
        "op": op,
        "raw": raw,
        "rule": "",
        "shape": shape,
        "inputs": list(inputs),
        "input_shapes": list(input_shapes),
        "attrs": {},
    }


def matmul(name: str, raw: int, rows: int = 1, inner: int = 8, out: int = 4) -> dict:
    return node(name, "MatMul", raw, f"({rows}, {out})", input_shapes=(f"({rows}, {inner})", f"({inner}, {out})"))


def tf_record(definition: dict, nodes: list[dict], version: str = "2.21.0", total: int | None = None) -> dict:
    tool, framework = ("tf.profiler", version), ("tensorflow", version)
    return samples.graph_record("tf-profiler-seed", definition, nodes, tool, framework, total=total)


def thop_record(raw: dict, version: str, definition: dict) -> dict:
    items = [samples.item(k, v[0], v[1]) for k, v in raw.items()]
    config = dict.fromkeys(raw, {"bias": True, "batch_first": False})
    return samples.module_record("thop", definition, items, config, version, "torch-x")


def dense_nodes(matmul_raw: int = 64) -> list[dict]:
    return [
        node("random_normal/mul", "Mul", 8, shape="(1, 8)"),
        node("random_normal", "Add", 8, shape="(1, 8)"),
        node("output/kernel/Initializer/random_uniform/mul", "Mul", 32, shape="(8, 4)"),
        matmul("output/MatMul", matmul_raw),
        node("output/BiasAdd", "BiasAdd", 4, input_shapes=("(1, 4)", "(4,)")),
        node("output/Sigmoid", "Sigmoid", 0),
    ]


def test_tf_nodes_are_predicted_from_their_shapes_and_placed_on_layers_and_buckets() -> None:
    result = reconcile(tf_record(DENSE, dense_nodes()), PRESETS["default"])
    assert result.reference == 64 + 4 + 4
    by = {(a.cause, a.layer): a.flops for a in result.adjustments}
    assert by == {
        ("activation", "output"): -4,
        ("outside", "input generator"): 16,
        ("outside", "variable initializers"): 32,
    }
    assert result.residual == 0 and result.residuals == []
    activation = next(a for a in result.adjustments if a.cause == "activation")
    assert "no FLOPs rule for Sigmoid in TensorFlow 2.21.0" in clause(activation)
    assert activation.evidence == ("output/Sigmoid",)


def test_a_count_that_departs_from_the_rules_is_residual_at_its_layer() -> None:
    result = reconcile(tf_record(DENSE, dense_nodes(matmul_raw=64 + 1000)), PRESETS["default"])
    assert result.residual == 1000
    (residual,) = result.residuals
    assert residual.place == "output"
    assert residual_items(residual) == (
        "output/MatMul: counted 1,064 FLOPs, rule model 64 (MatMul: 2 FLOPs per multiply-accumulate)",
    )
    # the adjustments are the prediction's, so they do not move with the counted number
    assert [a for a in result.adjustments if a.layer == "output"] == [
        a for a in reconcile(tf_record(DENSE, dense_nodes()), PRESETS["default"]).adjustments if a.layer == "output"
    ]


def test_a_total_that_is_not_the_sum_of_its_breakdown_is_residual() -> None:
    result = reconcile(tf_record(DENSE, dense_nodes(), total=116 + 7), PRESETS["default"])
    assert result.residual == 7 and result.residuals[0].place == "total"


def test_an_op_without_a_rule_that_was_counted_is_residual() -> None:
    nodes = dense_nodes() + [node("output/Cumsum", "Cumsum", 5)]
    result = reconcile(tf_record(DENSE, nodes), PRESETS["default"])
    assert result.residual == 5
    assert (
        "output/Cumsum: counted 5 FLOPs, rule model 0 (no FLOPs rule for Cumsum"
        in residual_items(result.residuals[0])[0]
    )


def test_addv2_has_a_rule_in_tensorflow_2_21_and_none_in_2_5() -> None:
    add = node("output/add", "AddV2", 4)
    assert tf_profiler.rule_status(add, rules.version("2.21.0")) == "counted"
    assert tf_profiler.rule_status(add, rules.version("2.5.3")) == "no-rule"
    assert tf_profiler.rule_status(node("x/MatMul", "MatMul", 0, "(None, 4)"), (2, 21)) == "shape-unknown"
    nodes = dense_nodes() + [add]
    assert reconcile(tf_record(DENSE, nodes, "2.21.0"), PRESETS["default"]).residual == 0
    wrong = reconcile(tf_record(DENSE, nodes, "2.5.3"), PRESETS["default"])
    assert wrong.residual == 4 and wrong.residuals[0].place == "output"


def test_matmul_reads_its_inner_dimension_from_the_first_operand_and_its_transpose() -> None:
    plain = matmul("l/MatMul", 0, rows=2, inner=8, out=4)
    transposed = dict(plain, input_shapes=["(8, 2)", "(8, 4)"], attrs={"transpose_a": True})
    assert tf_profiler.RULES["MatMul"].price(plain) == tf_profiler.Priced(2 * 2 * 8 * 4, 2 * 8 * 4)
    assert tf_profiler.RULES["MatMul"].price(transposed) == tf_profiler.Priced(2 * 2 * 8 * 4, 2 * 8 * 4)


def gru_step(prefix: str, copy: int) -> list[dict]:
    """One Keras GRU step as TF 2 builds it: x @ W and h @ U with biases (3U = 12 wide)."""
    x = matmul(f"{prefix}/MatMul_{2 * copy}", 2 * 8 * 12, inner=8, out=12)
    h = matmul(f"{prefix}/MatMul_{2 * copy + 1}", 2 * 4 * 12, inner=4, out=12)
    return [x, h]


def test_steps_priced_come_from_the_copies_of_the_step_in_the_graph() -> None:
    unrolled = [n for copy in range(3) for n in gru_step("gru", copy)]
    result = reconcile(tf_record(GRU, unrolled), PRESETS["default"])
    assert result.priced_steps == {"gru": 3}
    assert not [a for a in result.adjustments if a.cause == "steps"]
    assert "unrolled: the graph holds 3 copies" in result.why["gru"][0]
    looped = gru_step("gru/while", 0) + gru_step("gru", 1) + [node("gru/while", "While", 0)]
    result = reconcile(tf_record(GRU, looped), PRESETS["default"])
    assert result.priced_steps == {"gru": 2}
    assert "loop body once" in result.why["gru"][0] and "1 more copy" in result.why["gru"][1]


def test_keras_hard_sigmoid_is_found_by_its_shape_in_the_graph() -> None:
    nodes = {
        n["name"]: n
        for n in [
            node("gru/add", "Add", 96, inputs=("gru/BiasAdd", "gru/BiasAdd_3")),
            node("gru/mul", "Mul", 96, inputs=("gru/mul/x", "gru/add")),
            node("gru/add_1", "Add", 96, inputs=("gru/mul", "gru/add_1/y")),
            node("gru/clip_by_value/Minimum", "Minimum", 96, inputs=("gru/add_1", "gru/Const_1")),
            node("gru/clip_by_value", "Maximum", 96, inputs=("gru/clip_by_value/Minimum", "gru/Const")),
        ]
    }
    assert tf_profiler.hard_sigmoid_nodes(nodes) == {
        "gru/mul",
        "gru/add_1",
        "gru/clip_by_value/Minimum",
        "gru/clip_by_value",
    }


def test_thop_conv_bias_before_and_after_thop_0_1() -> None:
    conv = zoo.MODELS["seed-conv"]
    macs, outputs = 6307328, 394208
    old = thop_record({"conv2d": (macs + outputs, "count_convNd"), "relu": (0, "zero_ops")}, "0.0.31-2005241907", conv)
    new = thop_record({"conv2d": (macs, "count_convNd"), "relu": (0, "zero_ops")}, "0.1.1-2209072238", conv)
    old_result, new_result = reconcile(old, PRESETS["default"]), reconcile(new, PRESETS["default"])
    assert {a.cause: a.flops for a in old_result.adjustments} == {"bias": outputs, "activation": -outputs}
    assert {a.cause: a.flops for a in new_result.adjustments} == {"bias": -outputs, "activation": -outputs}
    assert old_result.residual == new_result.residual == 0
    # each record read with the other version's rule model: the conv bias is residual, at the conv
    old["probe"]["provenance"]["counter_tool"]["version"] = "0.1.1"
    new["probe"]["provenance"]["counter_tool"]["version"] = "0.0.31"
    assert reconcile(old, PRESETS["default"]).residual == 2 * outputs
    wrong = reconcile(new, PRESETS["default"])
    assert wrong.residual == -2 * outputs and wrong.residuals[0].place == "conv"


def test_thop_is_reconciled_in_macs_and_the_convention_converts_them() -> None:
    conv = zoo.MODELS["seed-conv"]
    record = thop_record({"conv2d": (6307328, "count_convNd"), "relu": (0, "zero_ops")}, "0.1.1", conv)
    default, macs = reconcile(record, PRESETS["default"]), reconcile(record, PRESETS["macs"])
    assert default.total == 2 * 6307328 and macs.total == 6307328
    assert macs.reference == 6307328 and macs.adjustments == [] and macs.residual == 0
    assert not [a for a in default.adjustments if a.cause == "mac"]


def test_a_thop_count_its_rule_model_does_not_reproduce_is_residual() -> None:
    conv = zoo.MODELS["seed-conv"]
    record = thop_record({"conv2d": (6307328 + 1, "count_convNd"), "relu": (0, "zero_ops")}, "0.1.1", conv)
    result = reconcile(record, PRESETS["default"])
    assert result.residual == 2
    assert residual_items(result.residuals[0])[0].startswith("conv2d: counted 6,307,329 MACs, rule model 6,307,328")


def test_thop_reads_the_blogs_gru_as_a_batch_of_one_step_sequences() -> None:
    seed = zoo.MODELS["seed"]
    gru_macs = 97 * (3 * (4064 + 96) * 96 + 96 * 3 + 6 * 96 + 96 + 3 * 96)  # count_gru, by hand
    record = thop_record(
        {
            "conv2d": (6307328, "count_convNd"),
            "relu": (0, "zero_ops"),
            "gru": (gru_macs, "count_gru"),
            "fc": (97 * 96 * 256, "count_linear"),
            "sigmoid": (0, ""),
        },
        "0.1.1",
        seed,
    )
    result = reconcile(record, PRESETS["default"])
    assert result.residual == 0
    assert result.priced_steps == {"gru": 97} and not [a for a in result.adjustments if a.cause == "steps"]
    assert "97 sequences of 1 step" in result.notes["gru"][0]


def test_a_record_measured_with_another_definition_is_reconciled_against_its_own() -> None:
    older = dict(DENSE, layers=[dict(DENSE["layers"][0], units=4)])
    record = tf_record(older, dense_nodes())
    record["model"] = "seed"
    result = reconcile(record, PRESETS["default"])
    assert result.residual == 0 and result.definition_note is not None
    assert result.definition_note.drift is Drift.EARLIER and result.definition_note.stored == zoo.fingerprint(older)
    assert "earlier definition" in definition_note(result.definition_note)
    record["probe"]["definition"] = dict(older, input=[1, 9])  # the twin: the hash beside it no longer matches
    unsealed = reconcile(record, PRESETS["default"]).definition_note
    assert unsealed is not None and unsealed.drift is Drift.UNSEALED
    assert "does not match the hash" in definition_note(unsealed)
    record["model"] = "no-such-model"
    record["probe"]["definition"] = older
    unknown = reconcile(record, PRESETS["default"]).definition_note
    assert unknown is not None and unknown.drift is Drift.UNKNOWN
    assert "no model of this name" in definition_note(unknown)
    today = dict(tf_record(zoo.MODELS["seed"], []), model="seed")
    assert reconcile(today, PRESETS["default"]).definition_note is None  # today's definition: nothing to say


def test_every_item_is_placed_so_the_equation_holds() -> None:
    nodes = dense_nodes(matmul_raw=70) + [node("output/Cumsum", "Cumsum", 5)]
    for convention in PRESETS.values():
        result = reconcile(tf_record(DENSE, nodes), convention)
        assert result.total == result.reference + sum(a.flops for a in result.adjustments) + result.residual
        assert Counter(r.place for r in result.residuals) == Counter({"output": 1})


def test_ultralytics_thop_prices_like_thop_0_1() -> None:
    """ultralytics-thop 2.x (the maintained fork, same `thop` module) leaves the conv bias out as 0.1 does."""
    conv = zoo.MODELS["seed-conv"]
    record = thop_record({"conv2d": (6307328, "count_convNd"), "relu": (0, "zero_ops")}, "2.2.3", conv)
    assert reconcile(record, PRESETS["default"]).residual == 0
    with_bias = thop_record({"conv2d": (6307328 + 394208, "count_convNd"), "relu": (0, "zero_ops")}, "2.2.3", conv)
    assert reconcile(with_bias, PRESETS["default"]).residuals[0].place == "conv"
