"""tf.profiler's rules for the zoo's transposed conv (Conv2DBackpropInput, every version measured) and
attention products (BatchMatMul*, TensorFlow 2.x only), each beside a record that must break them. The
nodes are the ones the real containers recorded (tf-2.5.3 and tf-latest, conv2d-transpose and
transformer-encoder); the prices are worked out by hand here."""

from __future__ import annotations

from bench.counters import rules, tf_profiler
from bench.explain.reconcile import reconcile
from bench.probe import zoo
from bench.reference.convention import PRESETS
from tests import samples

DECONV = zoo.MODELS["conv2d-transpose"]
V1_12, V2_5 = rules.version("1.12.0"), rules.version("2.5.3")
# 2 x (1*33*33*8 outputs) x (3*3*8*16 filter elements) / (8 output channels x stride 2 x stride 2)
DECONV_FLOPS = 2 * (33 * 33 * 8) * (3 * 3 * 8 * 16) // (8 * 2 * 2)
# (1, 4, 32, 16) @ (1, 4, 16, 32): 2 x 16 x (1*4*32*32) outputs
SCORES_FLOPS = 2 * 16 * (4 * 32 * 32)


def deconv(raw: int, attrs: dict | None = None) -> dict:
    return {
        "name": "model/deconv/conv2d_transpose",
        "op": "Conv2DBackpropInput",
        "raw": raw,
        "rule": "counted",
        "shape": "(1, 33, 33, 8)",
        "inputs": ["model/deconv/stack", "model/deconv/conv2d_transpose/ReadVariableOp", "main_inputs"],
        "input_shapes": ["(4,)", "(3, 3, 8, 16)", "(1, 16, 16, 16)"],
        "attrs": {"data_format": "NHWC"} if attrs is None else attrs,
    }


def scores(raw: int = SCORES_FLOPS, a: str = "(1, 4, 32, 16)") -> dict:
    return {
        "name": "model/encoder/attention/MatMul",
        "op": "BatchMatMulV2",
        "raw": raw,
        "rule": "counted",
        "shape": "(1, 4, 32, 32)",
        "inputs": ["model/encoder/attention/transpose", "model/encoder/attention/transpose_3"],
        "input_shapes": [a, "(1, 4, 16, 32)"],
        "attrs": {},
    }


def record(definition: dict, nodes: list[dict], tensorflow: str = "2.5.3") -> dict:
    tool, framework = ("tf.profiler", tensorflow), ("tensorflow", tensorflow)
    return samples.graph_record("tf-profiler-frozen", definition, nodes, tool, framework, "tf-2.5.3")


def result(rec: dict):
    return reconcile(rec, PRESETS["default"])


def test_the_transposed_conv_is_priced_with_the_strides_of_its_layer() -> None:
    assert DECONV_FLOPS == 627_264  # what tf-1.12.0, tf-2.5.3 and tf-latest all counted
    got = result(record(DECONV, [deconv(DECONV_FLOPS)]))
    assert got.residual == 0 and got.residuals == []
    assert tf_profiler.rule_status(deconv(0), V1_12) == "counted"


def test_a_transposed_conv_priced_as_stride_1_leaves_a_residual() -> None:
    """A definition whose layer says stride 1 prices 4 times the count: the strides are read, not fitted."""
    layers = [dict(DECONV["layers"][0], strides=[1, 1])]
    got = result(record(dict(DECONV, layers=layers), [deconv(DECONV_FLOPS)]))
    assert got.residual == DECONV_FLOPS - 4 * DECONV_FLOPS and [r.place for r in got.residuals] == ["deconv"]


def test_a_recorded_strides_attribute_wins_over_the_definition() -> None:
    node = deconv(0, {"data_format": "NHWC", "strides": [1, 1, 1, 1]})
    assert tf_profiler.RULES["Conv2DBackpropInput"].price(node) == tf_profiler.Priced(
        4 * DECONV_FLOPS, 2 * DECONV_FLOPS
    )
    assert tf_profiler.RULES["Conv2DBackpropInput"].price(deconv(0)) is None  # no strides: no price alone


def test_a_transposed_conv_with_an_unknown_output_is_shape_unknown() -> None:
    node = dict(deconv(0), shape="(None, 33, 33, 8)")
    assert tf_profiler.rule_status(node, V2_5) == "shape-unknown"


def test_batch_matmul_is_priced_in_tensorflow_2_and_not_in_1_12() -> None:
    assert tf_profiler.RULES["BatchMatMulV2"].price(scores()) == tf_profiler.Priced(SCORES_FLOPS, SCORES_FLOPS // 2)
    assert tf_profiler.rule_status(scores(), V2_5) == "counted"
    assert tf_profiler.rule_status(scores(), V1_12) == "no-rule"
    assert tf_profiler.rule_status(scores(a="(None, 4, 32, 16)"), V2_5) == "shape-unknown"


def test_batch_matmul_takes_k_from_the_first_operands_last_dimension() -> None:
    """TensorFlow's rule reads `transpose_a`, which BatchMatMul lacks: an adjoint first operand (32, 16)^T
    is still priced with k = 16, its last dimension."""
    adjoint = dict(scores(a="(1, 4, 64, 16)"), attrs={"adj_x": True})
    assert tf_profiler.RULES["BatchMatMulV2"].price(adjoint).flops == SCORES_FLOPS
    assert tf_profiler.RULES["BatchMatMulV2"].price(scores(a="(1, 4, 32, 8)")).flops == SCORES_FLOPS // 2


def test_attention_scores_reconcile_at_their_layer_in_2_5_and_are_residual_under_1_12_rules() -> None:
    encoder = zoo.MODELS["transformer-encoder"]
    assert result(record(encoder, [scores()])).residual == 0
    wrong = result(record(encoder, [scores()], tensorflow="1.12.0"))
    assert wrong.residual == SCORES_FLOPS and [r.place for r in wrong.residuals] == ["encoder"]
