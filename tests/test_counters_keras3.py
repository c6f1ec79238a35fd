"""Keras 3 + JAX, XLA's cost analysis: the probe's reading of the compiled HLO and the rule model
(XLA's HloCostAnalysis rules over it), each property beside a record that must break it. The HLO is
the shape of what the real keras3-jax container compiled for the seed (244,971,552 FLOPs there) and
seed-conv (13,008,864); the numbers are worked out by hand here."""

from __future__ import annotations

import sys

import pytest

from bench import paths
from bench.counters import keras3
from bench.explain.reconcile import reconcile
from bench.probe import zoo
from bench.records import results
from bench.reference.convention import PRESETS

CONV_OUT = 32 * 97 * 127
CONV_FLOPS = 2 * CONV_OUT * 4 * 4  # 2 x output elements x 4x4 taps x 1 input channel
F = "jit(<lambda>)/functional"

HLO = """HloModule jit__lambda

%fused_computation (param_0: f32[1,100,256,1], param_1: f32[4,4,1,32]) -> f32[1,97,127,32] {
  %param_0 = f32[1,100,256,1]{3,2,1,0} parameter(0)
  %param_1 = f32[4,4,1,32]{3,2,1,0} parameter(1)
  ROOT %convolution.1 = f32[1,97,127,32]{3,2,1,0} convolution(%param_0, %param_1), window={size=4x4 stride=1x2},\
 dim_labels=b01f_01io->b01f, metadata={op_name="jit(<lambda>)/functional/conv/conv_general_dilated"}
}

%fused_computation.1 (param_0.3: f32[1,97,127,32]) -> f32[1,32,97,127] {
  %param_0.3 = f32[1,97,127,32]{3,2,1,0} parameter(0)
  %constant.1 = f32[] constant(0)
  %broadcast.2 = f32[1,97,127,32]{3,2,1,0} broadcast(%constant.1), dimensions={}
  %max.5 = f32[1,97,127,32]{3,2,1,0} maximum(%param_0.3, %broadcast.2), metadata={op_name="jit(<lambda>)/functional\
/conv/jit(relu)/max"}
  ROOT %transpose.7 = f32[1,32,97,127]{1,3,2,0} transpose(%max.5), dimensions={0,3,1,2}
}

ENTRY %main.2 (x.1: f32[1,1,100,256]) -> f32[1,32,97,127] {
  %x.1 = f32[1,1,100,256]{3,2,1,0} parameter(0), metadata={op_name="x"}
  %constant.3 = f32[4,4,1,32]{3,2,1,0} constant({...})
  %ynn_fusion = f32[1,97,127,32]{3,2,1,0} fusion(%x.1, %constant.3), kind=kCustom, calls=%fused_computation,\
 metadata={op_name="jit(<lambda>)/functional/conv/conv_general_dilated"}
  ROOT %t = f32[1,32,97,127]{3,2,1,0} fusion(%ynn_fusion), kind=kLoop, calls=%fused_computation.1
}
"""


@pytest.fixture
def probe_module():
    """The probe module as a container imports it (its folder on the path; jax only on call)."""
    folder, before = str(paths.ROOT / "bench" / "probe"), set(sys.modules)
    sys.path.insert(0, folder)
    try:
        import count_keras3

        yield count_keras3
    finally:
        sys.path.remove(folder)
        for name in set(sys.modules) - before:
            del sys.modules[name]


def node(name, op, shape, inputs=(), computation="main", op_name="", **attrs) -> dict:
    attrs.update({"computation": computation, "op_name": op_name})
    return {
        "name": name,
        "op": op,
        "raw": 0,
        "rule": "counted",
        "shape": shape,
        "inputs": [i for i, _ in inputs],
        "input_shapes": [s for _, s in inputs],
        "attrs": attrs,
    }


def conv_nodes(out: str = "f32[1,97,127,32]") -> list[dict]:
    return [
        node("conv_fusion", "fusion", out, calls="%fc", op_name=f"{F}/conv/conv_general_dilated"),
        node(
            "convolution.1",
            "convolution",
            out,
            [("p0", "f32[1,100,256,1]"), ("p1", "f32[4,4,1,32]")],
            "fc",
            dim_labels="b01f_01io->b01f",
        ),
        node("relu_fusion", "fusion", out, calls="%fr"),
        node("max.5", "maximum", out, [("p", out), ("b", out)], "fr", f"{F}/conv/jit(relu)/max"),
    ]


def sigmoid(prefix: str, shape: str, computation: str, layer: str) -> list[dict]:
    return [
        node(f"{prefix}neg", "negate", shape, [("z", shape)], computation, f"{F}/{layer}/neg"),
        node(f"{prefix}exp", "exponential", shape, [(f"{prefix}neg", shape)], computation, f"{F}/{layer}/exp"),
        node(f"{prefix}add", "add", shape, [(f"{prefix}exp", shape), ("one", shape)], computation, f"{F}/{layer}/add"),
        node(
            f"{prefix}div", "divide", shape, [("one", shape), (f"{prefix}add", shape)], computation, f"{F}/{layer}/div"
        ),
    ]


def gru_nodes(in_call: bool = False) -> list[dict]:
    """Keras 3's GRU on JAX: the input projection of all 97 steps as one dot, then a while loop whose
    body holds the recurrent dot (no metadata) and the gates fused; the counter in s32."""
    h, g = "f32[1,96]", "body"
    body = [
        node("dot.3", "dot", "f32[1,288]", [("h", "f32[96,1]"), ("w", "f32[96,288]")], g, lhs_contracting_dims="{0}")
    ]
    gates = sigmoid("z", h, "gates", "gru/while/body/closed_call") + sigmoid("r", h, "gates", "gru/while/body/x")
    gates.append(node("tanh", "tanh", h, [("a", h)], "gates", f"{F}/gru/while/body/closed_call/tanh"))
    for i, op in enumerate(["add", "multiply", "subtract", "add", "multiply", "add", "multiply", "add"]):
        gates.append(node(f"e{i}", op, h, [("a", h), ("b", h)], "gates", f"{F}/gru/while/body/closed_call/{op}"))
    body.append(node("gate_fusion", "fusion", h, computation=g, calls="%gates"))
    body.append(node("step", "add", "s32[]", [("i", "s32[]"), ("one", "s32[]")], g, f"{F}/gru/while/body/add"))
    cond = [node("lt", "compare", "pred[]", [("i", "s32[]"), ("n", "s32[]")], "cond", f"{F}/gru/while/cond/lt")]
    where = "loop_call" if in_call else "main"
    loop = [
        node(
            "while.6",
            "while",
            "(s32[], f32[1,96])",
            computation=where,
            body="%body",
            condition="%cond",
            op_name=f"{F}/gru/while",
        )
    ]
    if in_call:
        loop.append(node("call", "call", "(s32[], f32[1,96])", to_apply="%loop_call"))
    dot = node(
        "dot.5",
        "dot",
        "f32[97,288]",
        [("x", "f32[97,4064]"), ("w", "f32[4064,288]")],
        "fd",
        f"{F}/gru/dot_general",
        lhs_contracting_dims="{1}",
    )
    return [dot, *body, *gates, *cond, *loop]


def dense_nodes() -> list[dict]:
    shape = "f32[97,256]"
    return [
        node(
            "dot.4",
            "dot",
            shape,
            [("h", "f32[97,96]"), ("w", "f32[96,256]")],
            "fo",
            f"{F}/output/dot_general",
            lhs_contracting_dims="{1}",
        )
    ] + sigmoid("o", shape, "fs", "output")


SEED_TOTAL = 244_971_552
CONV_TOTAL = 13_008_864


def record(model: str, nodes: list[dict], total: int) -> dict:
    definition = zoo.MODELS[model]
    probe = {
        "raw_total": total,
        "definition": definition,
        "definition_sha256": zoo.fingerprint(definition),
        "breakdown": {"by": "program", "items": [{"name": "jit(<lambda>)", "raw": total}]},
        "nodes": nodes,
        "layers": [],
        "unsupported": [],
        "notes": [],
        "provenance": {
            "counter_tool": {"name": "keras", "version": "3.15.1"},
            "framework": {"name": "jax", "version": "0.10.2"},
        },
    }
    return results.record(results.Key("keras3-jax", model, "keras3-jax-xla"), "ok", probe=probe, host={})


def seed(total: int = SEED_TOTAL, in_call: bool = False):
    return reconcile(record("seed", conv_nodes() + gru_nodes(in_call) + dense_nodes(), total), PRESETS["default"])


def test_seed_conv_reconciles_with_no_residual_and_no_bias_add():
    r = reconcile(record("seed-conv", conv_nodes(), CONV_TOTAL), PRESETS["default"])
    assert r.residual == 0
    assert [(a.cause, a.layer, a.flops) for a in r.adjustments] == [("bias", "conv", -CONV_OUT)]


def test_a_count_off_the_rules_leaves_a_residual_at_the_total():
    r = reconcile(record("seed-conv", conv_nodes(), CONV_TOTAL + 1), PRESETS["default"])
    assert r.residual == 1 and r.residuals[0].place == "total"


def test_a_wrong_shape_in_the_hlo_leaves_a_residual():
    r = reconcile(record("seed-conv", conv_nodes("f32[1,97,128,32]"), CONV_TOTAL), PRESETS["default"])
    assert r.residual == -(2 * 16 + 1) * 32 * 97


def test_seed_prices_the_while_body_once_and_the_hoisted_projection_in_full():
    r = seed()
    assert r.residual == 0
    assert r.priced_steps == {"gru": 1}
    assert "prices its body once" in r.why["gru"][0] and "dot.5" in r.why["gru"][1]


def test_a_loop_priced_every_step_would_not_reconcile():
    step = 2 * 288 * 96 + 14 * 96  # the body's dot and its non-transcendental gate ops
    assert seed(SEED_TOTAL + 96 * step).residual == 96 * step


def test_the_loop_counter_is_priced_but_a_float32_total_of_2_4e8_rounds_it_away():
    """XLA prices the counter's add and compare (2 FLOPs) wherever the while sits; its float32 total of
    244,971,552 + 2 is 244,971,552 (spacing 16 there), so a count 2 higher is residual."""
    for in_call in (False, True):
        assert seed(SEED_TOTAL, in_call=in_call).residual == 0
        assert seed(SEED_TOTAL + 2, in_call=in_call).residual == 2


def small_loop(with_counter: bool = True) -> list[dict]:
    """A while in the entry: its body adds f32[32] (32 FLOPs), its counter adds 1 and compares."""
    body = [node("add.1", "add", "f32[32]", [("a", "f32[32]"), ("b", "f32[32]")], "body")]
    if with_counter:
        body.append(node("step", "add", "s32[]", [("i", "s32[]"), ("one", "s32[]")], "body"))
        body.append(node("lt", "compare", "pred[]", [("i", "s32[]"), ("n", "s32[]")], "cond"))
    return [*body, node("while.1", "while", "(s32[], f32[32])", computation="main", body="%body", condition="%cond")]


def test_a_small_total_keeps_the_loop_counter_exactly():
    assert keras3.float32_total(small_loop(), {}) == 34  # measured: a jax fori_loop adding f32[32] costs 34
    assert keras3.float32_total(small_loop(with_counter=False), {}) == 32


def test_the_float32_sum_rounds_per_computation_as_xla_holds_it():
    big = node("dot", "dot", "f32[97,288]", [("x", "f32[97,4064]"), ("w", "f32[4064,288]")], "main",
               lhs_contracting_dims="{1}")  # fmt: skip
    assert keras3.float32_total([big, *small_loop()], {}) == 227_063_808 + 32  # 2 lost: spacing 16 at 2.3e8
    assert 227_063_808 + 34 != keras3.float32_total([big, *small_loop()], {})


def conv(window: str, out: str = "f32[1,8,8,4]", groups: str = "1", kernel: str = "f32[3,3,4,4]") -> dict:
    return node("c", "convolution", out, [("x", "f32[1,8,8,4]"), ("k", kernel)], dim_labels="b01f_01io->b01f",
                window=window, feature_group_count=groups)  # fmt: skip


def test_a_padded_conv_prices_only_the_taps_that_land_on_the_input():
    """3x3 SAME on 8x8: per dimension 8 x 3 pairs less the 2 that fall on padding = 22."""
    assert keras3.price(conv("{size=3x3 pad=1_1x1_1}")).flops == 2 * 4 * 4 * 22 * 22
    assert keras3.price(conv("{size=3x3 pad=1_1x1_1}")).flops != 2 * 8 * 8 * 4 * 9 * 4  # not every tap
    depthwise = conv("{size=3x3 pad=1_1x1_1}", "f32[1,8,8,4]", "4", "f32[3,3,1,4]")
    assert keras3.price(depthwise).flops == 2 * 1 * 4 * 22 * 22


def test_a_transposed_conv_skips_the_holes_of_lhs_dilation():
    """lhs_dilate=2 on 8 inputs, size 3, pad 2_2: output 17; of its 17 x 3 pairs only those landing on an
    even (undilated) index inside 0..14 count: 24 per dimension."""
    got = keras3.price(conv("{size=3x3 pad=2_2x2_2 lhs_dilate=2x2}", "f32[1,17,17,4]"))
    assert got.flops == 2 * 4 * 4 * 24 * 24
    assert keras3.valid_positions(keras3.window("{size=3 pad=2_2 lhs_dilate=2}")[0], 3, 17, 8) == 24


def test_reduce_and_reduce_window_apply_their_reducer_per_element():
    reduce = node("r", "reduce", "f32[1,128]", [("x", "f32[1,128,768]"), ("z", "f32[]")], to_apply="%sum")
    assert keras3.price(reduce, reducer=1).flops == 128 * 768 - 128
    pool = node("p", "reduce-window", "f32[1,15,15,16]", [("x", "f32[1,32,32,16]"), ("z", "f32[]")],
                window="{size=1x3x3x1 stride=1x2x2x1}", to_apply="%max")  # fmt: skip
    assert keras3.price(pool, reducer=1).flops == 8 * 15 * 15 * 16
    assert keras3.price(pool, reducer=0).flops == 0


def test_rsqrt_and_power_are_transcendentals_not_flops():
    for op in ("rsqrt", "power", "sqrt", "erf"):
        assert keras3.price(node("t", op, "f32[1,128]", [("x", "f32[1,128]")])).flops == 0
    assert keras3.price(node("t", "multiply", "f32[1,128]", [("x", "f32[1,128]")])).flops == 128


def test_without_a_while_loop_the_steps_come_from_the_macs():
    nodes = [n for n in gru_nodes() if n["op"] != "while" and n["attrs"]["computation"] != "cond"]
    for n in nodes:  # no loop: the body's computation is called by a fusion in the entry
        if n["name"] == "gate_fusion":
            n["attrs"]["op_name"] = f"{F}/gru/closed_call"
    nodes.append(node("body_fusion", "fusion", "f32[1,288]", calls="%body", op_name=f"{F}/gru/unrolled"))
    reading = keras3.read(zoo.MODELS["seed"], {"nodes": conv_nodes() + nodes + dense_nodes()})
    assert reading.steps["gru"].priced == (97 * 288 * 4064 + 288 * 96) // (288 * (4064 + 96))
    assert "no while loop" in reading.steps["gru"].why[0]


def test_price_follows_hlo_cost_analysis():
    assert (
        keras3.price(
            node("d", "dot", "f32[2,3]", [("a", "f32[2,5]"), ("b", "f32[5,3]")], lhs_contracting_dims="{1}")
        ).flops
        == 2 * 2 * 3 * 5
    )
    assert keras3.price(node("t", "tanh", "f32[4]")).flops == 0
    assert keras3.price(node("c", "copy", "f32[4]")).flops == 0
    assert keras3.price(node("m", "multiply", "f32[4,2]")).flops == 8


def test_the_probe_reads_operands_callers_and_metadata_from_the_hlo_text(probe_module):
    nodes = {n["name"]: n for n in probe_module.hlo_nodes(HLO)}
    conv = nodes["convolution.1"]
    assert conv["input_shapes"] == ["f32[1,100,256,1]", "f32[4,4,1,32]"]
    assert conv["attrs"]["dim_labels"] == "b01f_01io->b01f" and conv["attrs"]["computation"] == "fused_computation"
    assert nodes["ynn_fusion"]["attrs"]["calls"] == "%fused_computation"
    assert nodes["max.5"]["attrs"]["op_name"].endswith("conv/jit(relu)/max")
    reading = keras3.read(zoo.MODELS["seed-conv"], {"nodes": list(nodes.values())})
    assert sum(i.counted for i in reading.items) == CONV_TOTAL


def unnamed_dot(operand: str) -> list[dict]:
    """resnet50's fc as XLA:CPU leaves it: a dot with no metadata in the entry, reading a fusion whose
    parameter param_0.3 is its operand 0, the seed's output layer's op there."""
    return [
        node(
            "act", "maximum", "f32[97,96]", [("a", "f32[97,96]"), ("b", "f32[97,96]")], "main", f"{F}/output/max"
        ),  # fmt: skip
        node("feed", "fusion", "f32[96,97]", [(operand, "f32[97,96]")], "main", calls="%fb"),
        node("param_0.3", "parameter", "f32[97,96]", (), "fb"),
        node("bitcast.1", "bitcast", "f32[96,97]", [("param_0.3", "f32[97,96]")], "fb"),
        node(
            "dot.1",
            "dot",
            "f32[97,256]",
            [("feed", "f32[96,97]"), ("w", "f32[96,256]")],
            "main",
            lhs_contracting_dims="{0}",
        ),  # fmt: skip
    ]


def test_an_instruction_without_metadata_goes_to_the_layer_it_reads():
    placed = {i.name: i.place for i in keras3.read(zoo.MODELS["seed"], {"nodes": unnamed_dot("act")}).items}
    assert placed["dot.1"] == "output"
    alone = {i.name: i.place for i in keras3.read(zoo.MODELS["seed"], {"nodes": unnamed_dot("x.1")}).items}
    assert alone["dot.1"] == keras3.BUCKET_OUTSIDE  # reads the model's input only, and nothing reads it
