"""Attribution and reconciliation on hand-made breakdowns (the real ones are checked in
test_matrix_docker.py against fresh runs)."""

from bench import attribution
from bench.probe import zoo
from bench.reconcile import reconcile
from bench.reference.convention import PRESETS

DENSE = {
    "input": [1, 8],
    "layers": [{"name": "output", "kind": "dense", "units": 4, "activation": "sigmoid", "torch": ["fc", "sigmoid"]}],
}


def node(name: str, op: str, raw: int, rule: str = "counted", shape: str = "(1, 4)", inputs: tuple = ()) -> dict:
    return {"name": name, "op": op, "raw": raw, "rule": rule, "shape": shape, "inputs": list(inputs)}


def tf_record(nodes: list[dict]) -> dict:
    total = sum(n["raw"] for n in nodes)
    probe = {
        "counter": "tf-profiler-seed",
        "flops": total,
        "raw_total": total,
        "flops_per_unit": 1,
        "breakdown": {"by": "op_type", "items": []},
        "nodes": nodes,
        "layers": [],
        "provenance": {"counter_tool": {"name": "tf.profiler", "version": "x"}},
    }
    return {"cell": "tf-x", "model": "m", "job": "tf-profiler-seed", "probe": probe}


def thop_record(raw: dict, version: str, definition: dict) -> dict:
    items = [{"name": k, "raw": v[0], "rule": v[1], "type": "?"} for k, v in raw.items()]
    layers = [{"name": k, "class": "?", "params": 0, "config": {"bias": True, "batch_first": False}} for k in raw]
    total = sum(v[0] for v in raw.values())
    probe = {
        "counter": "thop",
        "flops": 2 * total,
        "raw_total": total,
        "flops_per_unit": 2,
        "breakdown": {"by": "module", "items": items},
        "nodes": [],
        "layers": layers,
        "provenance": {"counter_tool": {"name": "thop", "version": version}},
    }
    return {"cell": "torch-x", "model": "m", "job": "thop", "probe": probe}


def test_tf_nodes_go_to_layers_components_and_buckets() -> None:
    record = tf_record(
        [
            node("random_normal/mul", "Mul", 8, shape="(1, 8)"),
            node("random_normal", "Add", 8, shape="(1, 8)"),
            node("output/kernel/Initializer/random_uniform/mul", "Mul", 32, shape="(8, 4)"),
            node("output/MatMul", "MatMul", 64),
            node("output/BiasAdd", "BiasAdd", 4),
            node("output/Sigmoid", "Sigmoid", 0, rule="no-rule"),
        ]
    )
    result = reconcile(DENSE, record, PRESETS["default"])
    assert result.reference == 64 + 4 + 4
    by = {(a.cause, a.layer): a.flops for a in result.adjustments}
    assert by == {
        ("activation", "output"): -4,
        ("outside", "input generator"): 16,
        ("outside", "variable initializers"): 32,
    }
    assert result.residual == 0
    activation = next(a for a in result.adjustments if a.cause == "activation")
    assert "no FLOPs rule for Sigmoid" in activation.text and activation.evidence == ("output/Sigmoid",)


def test_what_finds_no_place_stays_in_the_residual() -> None:
    record = tf_record(
        [node("output/MatMul", "MatMul", 64), node("output/BiasAdd", "BiasAdd", 4), node("output/Cumsum", "Cumsum", 5)]
    )
    result = reconcile(DENSE, record, PRESETS["default"])
    assert result.residual == 5
    assert result.unexplained == ["output/Cumsum (5 FLOPs): op Cumsum has no component"]


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
    assert attribution._hard_sigmoid_nodes(nodes) == {
        "gru/mul",
        "gru/add_1",
        "gru/clip_by_value/Minimum",
        "gru/clip_by_value",
    }


def test_thop_conv_bias_before_and_after_thop_0_1() -> None:
    conv = zoo.MODELS["seed-conv"]
    macs, outputs = 6307328, 394208
    old = reconcile(
        conv,
        thop_record({"conv2d": (macs + outputs, "count_convNd"), "relu": (0, "zero_ops")}, "0.0.31-2005241907", conv),
        PRESETS["default"],
    )
    new = reconcile(
        conv,
        thop_record({"conv2d": (macs, "count_convNd"), "relu": (0, "zero_ops")}, "0.1.1-2209072238", conv),
        PRESETS["default"],
    )
    assert {a.cause: a.flops for a in old.adjustments} == {"bias": outputs, "activation": -outputs}
    assert {a.cause: a.flops for a in new.adjustments} == {"bias": -outputs, "activation": -outputs}
    assert old.residual == new.residual == 0


def test_a_thop_count_its_rule_model_does_not_reproduce_is_residual() -> None:
    conv = zoo.MODELS["seed-conv"]
    record = thop_record({"conv2d": (6307328 + 1, "count_convNd"), "relu": (0, "zero_ops")}, "0.1.1", conv)
    result = reconcile(conv, record, PRESETS["default"])
    assert result.residual == 2
    assert "count_convNd gave 6,307,329" in result.unexplained[0]


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
    result = reconcile(seed, record, PRESETS["default"])
    assert result.residual == 0
    assert result.priced_steps == {"gru": 97} and not [a for a in result.adjustments if a.cause == "steps"]
    assert "97 sequences of 1 step" in result.notes["gru"][0]
