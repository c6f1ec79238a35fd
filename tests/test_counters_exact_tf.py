"""exact-tf: its formulas on shapes recorded from TensorFlow graphs (no TensorFlow needed), and its records
reconciled: the reference with no adjustment and residual 0 under every convention, and every kind of fault (a
formula off by one, an op left out, a loop priced once) a residual at the layer and component it touches, naming
the op."""

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench import paths
from bench.counters import exact_tf
from bench.explain.reconcile import reconcile
from bench.probe import count_exact_tf, zoo
from bench.probe.count_exact_tf import price
from bench.reference.convention import PRESETS, parse
from bench.reference.formulas import analyse, measure
from tests import samples

CONVENTIONS = (PRESETS["default"], PRESETS["macs"], parse("mac=1,act:tanh=4,bias=3"))

# The seed's GRU as TensorFlow 2.21's tf.keras traces it (standard_gru's While body, one time step): each op's
# type, input shapes, output shape and whether an add's operand is the layer's bias variable
GRU_BODY = [
    ("MatMul", [(1, 4064), (4064, 288)], (1, 288), {}),
    ("BiasAdd", [(1, 288), (288,)], (1, 288), {"bias": True}),
    ("Split", [(), (1, 288)], (1, 96), {}),
    ("MatMul", [(1, 96), (96, 288)], (1, 288), {}),
    ("BiasAdd", [(1, 288), (288,)], (1, 288), {"bias": True}),
    ("AddV2", [(1, 96), (1, 96)], (1, 96), {}),
    ("Sigmoid", [(1, 96)], (1, 96), {}),
    ("AddV2", [(1, 96), (1, 96)], (1, 96), {}),
    ("Sigmoid", [(1, 96)], (1, 96), {}),
    ("Mul", [(1, 96), (1, 96)], (1, 96), {}),
    ("AddV2", [(1, 96), (1, 96)], (1, 96), {}),
    ("Tanh", [(1, 96)], (1, 96), {}),
    ("Mul", [(1, 96), (1, 96)], (1, 96), {}),
    ("Sub", [(), (1, 96)], (1, 96), {}),
    ("Mul", [(1, 96), (1, 96)], (1, 96), {}),
    ("AddV2", [(1, 96), (1, 96)], (1, 96), {}),
    ("TensorListGetItem", [(), (), (2,)], (1, 4064), {}),
    ("TensorListSetItem", [(), (), (1, 96)], (), {}),
]


def _body(ops: list) -> Counter:
    total: Counter = Counter()
    for op, inputs, out, attrs in ops:
        total.update(price(op, inputs, out, attrs))
    return total


def test_a_recurrent_step_priced_times_its_trip_count_is_the_reference() -> None:
    gru = next(cost for cost in analyse(zoo.MODELS["seed"]) if cost.name == "gru")
    trips = count_exact_tf.trip_count(97, [97])
    assert count_exact_tf.times(_body(GRU_BODY), trips) == +gru.total()
    assert count_exact_tf.times(_body(GRU_BODY), 1) != +gru.total()  # a loop priced once is not


def test_the_trip_count_is_the_smallest_static_bound() -> None:
    assert count_exact_tf.trip_count(97, []) == 97
    assert count_exact_tf.trip_count(None, [20]) == 20
    assert count_exact_tf.trip_count(-1, [20, 30]) == 20  # -1: no maximum_iterations
    assert count_exact_tf.trip_count(None, [None]) is None


def test_convolutions_and_matrix_products_are_priced_from_their_shapes() -> None:
    # seed's conv, channels first: 1 -> 32 channels, 4 x 4, filter (kh, kw, in, out)
    conv = price("Conv2D", [(1, 1, 100, 256), (4, 4, 1, 32)], (1, 32, 97, 127))
    assert conv == {"mac": 32 * 97 * 127 * 16}
    assert price("DepthwiseConv2dNative", [(1, 32, 32, 16), (3, 3, 16, 1)], (1, 32, 32, 16)) == {
        "mac": 32 * 32 * 16 * 9
    }
    # Conv2DTranspose(8, 3x3, stride 2) on 16x16x16: (output sizes, filter (kh, kw, out, in), x)
    deconv = price("Conv2DBackpropInput", [(4,), (3, 3, 8, 16), (1, 16, 16, 16)], (1, 33, 33, 8))
    assert deconv == +measure(zoo.MODELS["conv2d-transpose"]["layers"][0], (1, 16, 16, 16)).total() - Counter(
        {"bias": 1 * 33 * 33 * 8}
    )
    assert price("BatchMatMulV2", [(1, 4, 32, 16), (1, 4, 16, 32)], (1, 4, 32, 32)) == {"mac": 4 * 32 * 32 * 16}
    assert price("BatchMatMulV2", [(1, 4, 16, 32), (1, 4, 16, 32)], (1, 4, 32, 32), {"adj_x": True}) == {
        "mac": 4 * 32 * 32 * 16
    }
    assert price("Einsum", [(2, 3, 4), (2, 4, 5)], (2, 3, 5), {"equation": "bij,bjk->bik"}) == {"mac": 120}


def test_norms_and_pools_follow_the_reference_where_they_are_one_op() -> None:
    image = (1, 16, 16, 32)
    assert (
        price("FusedBatchNormV3", [image, (32,), (32,), (32,), (32,)], image, {"is_training": False})
        == +measure(zoo.MODELS["batchnorm"]["layers"][0], image).total()
    )
    rows = (1, 32, 64, 1)  # statistics computed, rows as channels (as a fused LayerNormalization calls it)
    assert (
        price("FusedBatchNormV3", [rows, (32,), (32,), (0,), (0,)], rows, {"is_training": True})
        == +measure(zoo.MODELS["layernorm"]["layers"][0], (1, 32, 64)).total()
    )
    pooled = (1, 15, 15, 16)
    assert price("MaxPool", [(1, 32, 32, 16)], pooled, {"ksize": [1, 3, 3, 1]}) == {"elementwise": 3600 * 8}
    assert price("AvgPool", [(1, 32, 32, 16)], pooled, {"ksize": [1, 3, 3, 1]}) == {"elementwise": 3600 * 9}
    assert price("Mean", [(1, 7, 7, 2048), (2,)], (1, 2048)) == {"elementwise": 7 * 7 * 2048}


def test_an_add_is_a_bias_only_when_it_adds_a_bias_variable() -> None:
    assert price("AddV2", [(1, 96), (1, 96)], (1, 96)) == {"elementwise": 96}
    assert price("BiasAdd", [(1, 288), (288,)], (1, 288), {"bias": True}) == {"bias": 288}
    assert price("BiasAdd", [(1, 128), (128,)], (1, 128), {"bias": False}) == {"elementwise": 128}
    assert price("SquaredDifference", [(1, 32, 64), (1, 32, 1)], (1, 32, 64)) == {"elementwise": 4096}


def test_an_op_without_a_formula_fails_loudly_naming_it() -> None:
    with pytest.raises(NotImplementedError, match="Cumsum"):
        price("Cumsum", [(3,), ()], (3,))
    assert price("Reshape", [(1, 97, 4064), (3,)], (97, 4064)) == {}
    assert "Identity" in count_exact_tf.ZERO and "ReadVariableOp" in count_exact_tf.ZERO


def test_silu_written_as_several_ops_is_one_activation() -> None:
    # tf.nn.silu(x, beta) as tf.keras 2.21 traces it: mul = beta * x, Sigmoid(mul), mul_1 = x * Sigmoid
    ops = [
        ("x", "MatMul", ["a", "w"], False),
        ("beta", "Const", [], True),
        ("mul", "Mul", ["beta", "x"], False),
        ("Sigmoid", "Sigmoid", ["mul"], False),
        ("mul_1", "Mul", ["x", "Sigmoid"], False),
    ]
    assert count_exact_tf.swish(ops) == {"mul_1": "mul_1", "Sigmoid": "mul_1", "mul": "mul_1"}
    # a GRU's z * h: a sigmoid times another tensor than its argument is no silu
    gate = [("a", "AddV2", ["x", "y"], False), ("z", "Sigmoid", ["a"], False), ("zh", "Mul", ["z", "h"], False)]
    assert count_exact_tf.swish(gate) == {}


def test_gelu_is_found_by_its_name_scope() -> None:
    assert count_exact_tf.activation_scope("model/encoder/ffn1/Gelu/Erfc".split("/")) == (3, "gelu")
    assert count_exact_tf.activation_scope("model/encoder/ffn1/BiasAdd".split("/")) is None


def _record(definition: dict, change: dict[str, Counter] | None = None, loop: str = "") -> dict:
    """A record as the probe writes it when every op is priced as the reference prices its layer: one item per
    Keras layer (a composite layer's under its own name), `change` layer -> components added to its item."""
    items, nodes = [], []
    for cost in analyse(definition):
        components = Counter(cost.total()) + Counter((change or {}).get(cost.name, {}))
        components = {k: v for k, v in components.items() if v}
        if not components:
            continue
        raw = count_exact_tf.flops(components)
        items.append(samples.item(cost.name, raw, "", components=components))
        nodes.append(
            {
                "name": f"model/{cost.name}/Op",
                "op": f"Op_{cost.name}",
                "raw": raw,
                "rule": "counted",
                "attrs": {"module": cost.name, "components": components},
            }
        )
        if cost.steps:
            attrs = {"module": cost.name, "components": {}, "trips": cost.steps}
            nodes.append({"name": f"model/{cost.name}/while", "op": "StatelessWhile", "raw": 0, "attrs": attrs})
    return samples.module_record("exact-tf", definition, items, {}, "2.21.0", cell="tf-latest", nodes=nodes)


@pytest.mark.parametrize("model", sorted(zoo.MODELS))
def test_every_zoo_model_reconciles_with_no_adjustment_and_no_residual(model: str) -> None:
    definition = zoo.MODELS[model]
    for convention in CONVENTIONS:
        result = reconcile(_record(definition), convention, exact_tf.ADAPTER)
        assert result.adjustments == [] and result.residuals == [], convention.name
        assert result.total == result.reference


def _departure(definition: dict, change: dict[str, Counter]) -> tuple[str, float, str]:
    result = reconcile(_record(definition, change), PRESETS["default"], exact_tf.ADAPTER)
    assert result.adjustments == []
    (residual,) = result.residuals
    (departure,) = residual.departures
    return departure.name, residual.flops, departure.rule


def test_a_formula_off_by_one_is_a_residual_naming_the_layer_and_op() -> None:
    assert _departure(zoo.MODELS["seed"], {"conv": Counter({"mac": 1})}) == ("conv:mac", 2, "Op_conv")


def test_an_op_left_out_is_a_residual_naming_the_layer_and_op() -> None:
    definition = zoo.MODELS["layernorm"]
    rows = analyse(definition)[0].total()["act:rsqrt"]
    name, flops, rule = _departure(definition, {"norm": Counter({"act:rsqrt": -rows})})
    assert (name, flops, rule) == ("norm:act:rsqrt", -rows, "no op")  # no op in the layer gave the rsqrt


def test_a_loop_priced_once_is_a_residual_at_the_recurrent_layer() -> None:
    definition = zoo.MODELS["seed"]
    gru = next(c for c in analyse(definition) if c.name == "gru")
    once = count_exact_tf.times(_body(GRU_BODY), 1)  # the recorded body priced once, not times 97
    record = _record(definition, {"gru": Counter({k: once[k] - gru.total()[k] for k in gru.total()})})
    result = reconcile(record, PRESETS["default"], exact_tf.ADAPTER)
    assert result.adjustments == []
    assert {r.place for r in result.residuals} == {"gru"}
    assert result.residual == -(gru.steps - 1) * PRESETS["default"].flops(gru.step)
    assert "gru:mac" in {d.name for r in result.residuals for d in r.departures}


def test_the_loops_the_probe_opened_are_the_steps_evidence() -> None:
    reading = exact_tf.read(zoo.MODELS["seed"], _record(zoo.MODELS["seed"])["probe"])
    assert reading.steps["gru"].priced == 97
    assert "model/gru/while: body priced 97 times" in reading.steps["gru"].why
    assert exact_tf.loops(_record(zoo.MODELS["seed-conv"])["probe"], "conv") == ()


def test_work_on_no_layer_is_a_residual_too() -> None:
    record = _record(zoo.MODELS["seed-conv"])
    stray = {"elementwise": 10}
    record["probe"]["breakdown"]["items"].append(samples.item(count_exact_tf.ROOT, 10, "", components=stray))
    record["probe"]["raw_total"] += 10
    assert reconcile(record, PRESETS["default"], exact_tf.ADAPTER).residual == 10


@pytest.mark.docker
def test_a_real_tensorflow_graph_reconciles_and_a_decomposed_layer_norm_is_priced_whole(
    client: object, tmp_path: Path
) -> None:
    """exact-tf alone in tf-latest's image (reused, not rebuilt): the seed (a GRU loop in a called function),
    an LSTM and a LayerNormalization give the reference with no adjustment and residual 0; the normalization,
    which tf.keras writes as moments and batch_normalization (2n element-wise per row of n more than the layer's
    own arithmetic), is priced whole and its ops' own count kept on its node."""
    text = paths.CELLS_FILE.read_text()
    cell = next(block for block in text.split("[[cell]]") if 'name = "tf-latest"' in block)
    cell = re.sub(r"counters = \[.*\]", 'counters = ["exact-tf"]', re.sub(r"expected_failures = .*\n", "", cell))
    (tmp_path / "cells.toml").write_text("[[cell]]" + cell)
    command = [sys.executable, "-m", "bench", "matrix", "--cells", "tf-latest", "--models", "seed,lstm,layernorm"]
    environment = {**os.environ, "FLOPS_MATRIX_CELLS_FILE": str(tmp_path / "cells.toml")}
    done = subprocess.run(
        [*command, "--results", str(tmp_path / "results")],
        cwd=paths.ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = {}
    for model in ("seed", "lstm", "layernorm"):
        record = json.loads((tmp_path / "results" / "tf-latest" / model / "exact-tf.json").read_text())
        results[model] = reconcile(record, PRESETS["default"], exact_tf.ADAPTER)
        assert results[model].adjustments == []
        assert results[model].residuals == [] and results[model].total == results[model].reference
    rows, n = 32, 64
    record = json.loads((tmp_path / "results" / "tf-latest" / "layernorm" / "exact-tf.json").read_text())
    (whole,) = [node for node in record["probe"]["nodes"] if node["op"] == "LayerNormalization"]
    assert whole["attrs"]["components"] == {"elementwise": (7 * n + 1) * rows, "act:rsqrt": rows}
    assert whole["attrs"]["ops"]["elementwise"] == (9 * n + 1) * rows  # the twin: what its ops would cost


def test_a_layer_norm_is_priced_whole_by_the_references_formula() -> None:
    spec = zoo.MODELS["layernorm"]["layers"][0]
    assert count_exact_tf.layer_norm(32 * 64, 64) == +measure(spec, (1, 32, 64)).total()
    assert count_exact_tf.layer_norm(32 * 64, 32) != +measure(spec, (1, 32, 64)).total()  # rows read wrong: off
