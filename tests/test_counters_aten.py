"""The aten-level counters' rule models (FlopCounterMode, torchprofile) on hand-made records:
each record the rules reproduce next to one that departs from them, and steps decided by the op
a layer ran, never by its count. The real records come from the torch-latest cell."""

from collections import Counter

from bench.counters import flop_counter, torchprofile
from bench.explain.reconcile import reconcile
from bench.probe import count_flop_counter, count_torchprofile, zoo
from bench.publish.words import clause, residual_items
from bench.reference.convention import PRESETS
from tests import samples

SEED, CONV = zoo.MODELS["seed"], zoo.MODELS["seed-conv"]
CONV_MACS, CONV_OUTPUTS = 32 * 97 * 127 * 16, 32 * 97 * 127  # 4x4 taps on one channel per output
GRU_STEP_MACS = 3 * 96 * (4064 + 96)  # one step, one sequence
GRU_CELLS = 97  # the blog's nn.GRU reads (1, 97, 4064) as 97 sequences of one step
FC_MACS = 97 * 96 * 256
ROOT = "(the model's own forward)"
CONFIG = {"conv2d": {"bias": True}, "gru": {"bias": True, "batch_first": False}, "fc": {"bias": True}}


def node(module: str, op: str, raw: int = 0, shape: str = "()", inputs: tuple = (), pointwise: bool = False) -> dict:
    return {
        "name": f"{module}/{op}",
        "op": op,
        "raw": raw,
        "rule": "counted" if raw else "no-rule",
        "shape": shape,
        "inputs": [],
        "input_shapes": list(inputs),
        "attrs": {"module": module, "pointwise": pointwise},
    }


def record(counter: str, tool: tuple[str, str], definition: dict, raw: dict, nodes: list[dict]) -> dict:
    items = [samples.item(name, count, "") for name, count in raw.items()]
    return samples.module_record(counter, definition, items, CONFIG, tool[1], nodes=tuple(nodes))


# --- FlopCounterMode -------------------------------------------------------------------------

CONV_NODES = [
    node("conv2d", "aten.convolution", 2 * CONV_MACS, "(1, 32, 97, 127)", ("(1, 1, 100, 256)", "(32, 1, 4, 4)")),
    node("relu", "aten.relu", shape="(1, 32, 97, 127)", pointwise=True),
]
GRU_ADDMM = [  # nn.GRU's CPU kernel: the input projection over all rows, then the hidden one per step
    node("gru", "aten.addmm", 0, "(97, 288)", ("(288,)", "(97, 4064)", "(4064, 288)")),
    node("gru", "aten.addmm", 0, "(97, 288)", ("(288,)", "(97, 96)", "(96, 288)")),
    node("gru", "aten.sigmoid_", shape="(97, 96)", pointwise=True),
    node("gru", "aten.tanh_", shape="(97, 96)", pointwise=True),
]
GRU_ONEDNN = [node("gru", "aten.mkldnn_rnn_layer", shape="(97, 96)")]  # one fused op, no formula
FC_NODES = [
    node("fc", "aten.addmm", 2 * FC_MACS, "(97, 256)", ("(256,)", "(97, 96)", "(96, 256)")),
    node("sigmoid", "aten.sigmoid", shape="(1, 97, 256)", pointwise=True),
]
FLOP_COUNTER = ("torch", "2.13.0+cpu")


def flop_record(definition: dict, raw: dict, nodes: list[dict]) -> dict:
    return record("torch-flop-counter", FLOP_COUNTER, definition, raw, nodes)


def flop_seed(gru: int = 2 * GRU_CELLS * GRU_STEP_MACS, gru_nodes: list[dict] = GRU_ADDMM) -> dict:
    raw = {"conv2d": 2 * CONV_MACS, "relu": 0, "gru": gru, "fc": 2 * FC_MACS, "sigmoid": 0}
    return flop_record(SEED, raw, CONV_NODES + gru_nodes + FC_NODES)


def test_flop_counter_prices_the_conv_at_2_flops_per_mac_and_nothing_for_bias_or_relu() -> None:
    result = reconcile(flop_record(CONV, {"conv2d": 2 * CONV_MACS, "relu": 0}, CONV_NODES), PRESETS["default"])
    assert result.residual == 0
    assert {a.cause: a.flops for a in result.adjustments} == {"bias": -CONV_OUTPUTS, "activation": -CONV_OUTPUTS}
    bias = next(a for a in result.adjustments if a.cause == "bias")
    assert "conv_flop (aten.convolution)" in clause(bias) and "bias not counted" in clause(bias)
    macs = reconcile(flop_record(CONV, {"conv2d": 2 * CONV_MACS, "relu": 0}, CONV_NODES), PRESETS["macs"])
    assert {a.cause: a.flops for a in macs.adjustments} == {"mac": CONV_MACS} and macs.residual == 0


def test_a_flop_counter_conv_count_with_its_bias_is_residual_at_the_conv() -> None:
    raw = {"conv2d": 2 * CONV_MACS + CONV_OUTPUTS, "relu": 0}
    result = reconcile(flop_record(CONV, raw, CONV_NODES), PRESETS["default"])
    assert result.residual == CONV_OUTPUTS
    (residual,) = result.residuals
    assert residual.place == "conv" and residual_items(residual)[0].startswith(
        "conv2d: counted 13,008,864 FLOPs, rule model 12,614,656 (conv_flop"
    )


def test_flop_counter_prices_every_gru_cell_because_the_gru_runs_addmm() -> None:
    result = reconcile(flop_seed(), PRESETS["default"])
    assert result.residual == 0
    assert result.priced_steps == {"gru": 97} and not [a for a in result.adjustments if a.cause == "steps"]
    assert "2 ops that FlopCounterMode prices" in result.why["gru"][0]
    assert "97 sequences of 1 step" in result.notes["gru"][0]
    gru: Counter[str] = Counter()
    for adjustment in result.adjustments:
        if adjustment.layer == "gru":
            gru[adjustment.cause] += adjustment.flops
    assert gru == {"bias": -6 * 96 * 97, "elementwise": -8 * 96 * 97, "activation": -3 * 96 * 97}


def test_a_gru_that_runs_one_fused_op_without_a_formula_is_priced_no_step_whatever_its_count() -> None:
    # the same count as the addmm record: the steps follow the op the layer ran, so the count is residual
    fused = reconcile(flop_seed(gru_nodes=GRU_ONEDNN), PRESETS["default"])
    assert fused.priced_steps == {"gru": 0} and "aten.mkldnn_rnn_layer" in fused.why["gru"][0]
    assert "gru" not in fused.notes  # nothing priced, so no word on what the count matches
    assert fused.residual == 2 * GRU_CELLS * GRU_STEP_MACS and fused.residuals[0].place == "gru"
    # priced 0, as such a GRU would be: no residual, the missing steps are an adjustment
    zero = reconcile(flop_seed(gru=0, gru_nodes=GRU_ONEDNN), PRESETS["default"])
    assert zero.residual == 0
    (steps,) = [a for a in zero.adjustments if a.cause == "steps"]
    assert steps.layer == "gru" and steps.flops == -97 * (2 * GRU_STEP_MACS + 96 * (6 + 8 + 3))


def test_a_gru_count_one_step_short_is_residual_at_the_gru() -> None:
    result = reconcile(flop_seed(gru=2 * (GRU_CELLS - 1) * GRU_STEP_MACS), PRESETS["default"])
    assert result.priced_steps == {"gru": 97}
    assert result.residual == -2 * GRU_STEP_MACS and [r.place for r in result.residuals] == ["gru"]


def test_flop_counter_ops_in_the_models_own_forward_are_priced_from_their_shapes() -> None:
    own = [node(ROOT, "aten.mm", 0, "(2, 4)", ("(2, 8)", "(8, 4)"))]
    raw = {"conv2d": 2 * CONV_MACS, "relu": 0, ROOT: 2 * 2 * 8 * 4}
    result = reconcile(flop_record(CONV, raw, CONV_NODES + own), PRESETS["default"])
    assert result.residual == 0
    assert [(a.cause, a.layer, a.flops) for a in result.adjustments if a.cause == "outside"] == [
        ("outside", "the model's own forward", 128)
    ]
    raw[ROOT] += 1
    wrong = reconcile(flop_record(CONV, raw, CONV_NODES + own), PRESETS["default"])
    assert wrong.residual == 1 and wrong.residuals[0].place == "the model's own forward"


def test_flop_counter_node_macs_read_the_recorded_operands() -> None:
    addmm, conv = GRU_ADDMM[0], CONV_NODES[0]
    assert flop_counter.node_macs(addmm) == 97 * 4064 * 288
    assert flop_counter.node_macs(conv) == CONV_MACS
    assert flop_counter.node_macs(node("m", "aten.bmm", 0, "(3, 2, 4)", ("(3, 2, 8)", "(3, 8, 4)"))) == 3 * 2 * 8 * 4
    assert flop_counter.node_macs(node("m", "aten.add", 0, "(97, 96)", ("(97, 96)", "(97, 96)"))) == 0


def test_the_flop_counter_probe_places_an_op_in_the_innermost_module() -> None:
    place = count_flop_counter._place
    assert place({"Global", "Net", "Net.gru"}, "Net") == "gru"
    assert place({"Global", "Net", "Net.block", "Net.block.fc"}, "Net") == "block.fc"
    assert place({"Global", "Net"}, "Net") == count_flop_counter.ROOT
    assert place({"Global"}, "Net") == count_flop_counter.OUTSIDE
    assert place({"Global", "Netter.fc"}, "Net") == count_flop_counter.OUTSIDE  # a prefix is not a parent


# --- torchprofile ----------------------------------------------------------------------------

TORCHPROFILE = ("torchprofile", "0.1.0")
TP_CONV = [
    node("conv2d", "aten::_convolution", CONV_MACS, "(1, 32, 97, 127)", ("(1, 1, 100, 256)", "(32, 1, 4, 4)", "(32,)")),
    node("relu", "aten::relu", 0, "(1, 32, 97, 127)", ("(1, 32, 97, 127)",)),
]
TP_REST = [
    node(ROOT, "aten::size", 0, ""),
    node(ROOT, "aten::mul", 1, "()", ("()", "()")),  # freq * channel, traced on 0-d tensors
    node(ROOT, "aten::reshape", 0, "(1, 97, 4064)", ("(1, 32, 97, 127)",)),
    node("gru", "aten::zeros", 0, "(1, 97, 96)"),
    node("gru", "aten::gru", 0, "(1, 97, 96)", ("(1, 97, 4064)", "(1, 97, 96)")),
    node("fc", "aten::linear", FC_MACS, "(1, 97, 256)", ("(1, 97, 96)", "(256, 96)", "(256,)")),
    node("sigmoid", "aten::sigmoid", 0, "(1, 97, 256)", ("(1, 97, 256)",)),
]


def tp_record(definition: dict, raw: dict, nodes: list[dict]) -> dict:
    return record("torchprofile", TORCHPROFILE, definition, raw, nodes)


def tp_seed(gru: int = 0, conv: int = CONV_MACS, own: int = 1, gru_op: str = "aten::gru") -> dict:
    nodes = [dict(n, op=gru_op) if n["op"] == "aten::gru" else n for n in TP_CONV + TP_REST]
    raw = {"conv2d": conv, "relu": 0, "gru": gru, "fc": FC_MACS, "sigmoid": 0, ROOT: own}
    return tp_record(SEED, raw, nodes)


def test_torchprofile_prices_conv_and_linear_by_their_handlers_without_bias() -> None:
    result = reconcile(tp_record(CONV, {"conv2d": CONV_MACS, "relu": 0}, TP_CONV), PRESETS["macs"])
    assert result.residual == 0 and result.adjustments == []
    default = reconcile(tp_record(CONV, {"conv2d": CONV_MACS, "relu": 0}, TP_CONV), PRESETS["default"])
    assert {a.cause: a.flops for a in default.adjustments} == {"bias": -CONV_OUTPUTS, "activation": -CONV_OUTPUTS}
    assert "_convolution (aten::_convolution)" in next(clause(a) for a in default.adjustments if a.cause == "bias")
    assert "aten::relu in the zero-cost list" in next(clause(a) for a in default.adjustments if a.cause == "activation")


def test_a_torchprofile_conv_count_with_its_bias_is_residual_at_the_conv() -> None:
    result = reconcile(tp_seed(conv=CONV_MACS + CONV_OUTPUTS), PRESETS["macs"])
    assert result.residual == CONV_OUTPUTS and [r.place for r in result.residuals] == ["conv"]


def test_torchprofile_has_no_handler_for_aten_gru_so_no_step_is_priced() -> None:
    result = reconcile(tp_seed(), PRESETS["default"])
    assert result.residual == 0
    assert result.priced_steps == {"gru": 0}
    assert 'No handlers found: "aten::gru". Skipped.' in result.why["gru"][0]
    (steps,) = [a for a in result.adjustments if a.cause == "steps"]
    assert steps.flops == -97 * (2 * GRU_STEP_MACS + 96 * (6 + 8 + 3))
    gru = next(i for i in torchprofile.ADAPTER.read(SEED, tp_seed()["probe"]).items if i.name == "gru")
    assert "no handler for aten::gru (skipped)" in gru.rule and "aten::zeros in the zero-cost list" in gru.rule


def test_a_gru_counted_by_torchprofile_is_residual_and_still_no_step_priced() -> None:
    # as if a torchprofile with a GRU handler had been read with 0.1.0's rules: the count cannot move the steps
    result = reconcile(tp_seed(gru=GRU_CELLS * GRU_STEP_MACS), PRESETS["macs"])
    assert result.priced_steps == {"gru": 0}
    assert result.residual == GRU_CELLS * GRU_STEP_MACS and [r.place for r in result.residuals] == ["gru"]


def test_a_gru_traced_as_an_op_with_a_handler_has_no_rule_model_here() -> None:
    reading = torchprofile.ADAPTER.read(SEED, tp_seed(gru_op="aten::lstm")["probe"])
    gru = next(i for i in reading.items if i.name == "gru")
    assert gru.predicted == Counter() and "no rule model" in gru.rule


def test_torchprofile_prices_the_traced_size_arithmetic_outside_the_layers() -> None:
    result = reconcile(tp_seed(), PRESETS["default"])
    assert [(a.layer, a.flops) for a in result.adjustments if a.cause == "outside"] == [
        ("size arithmetic in the model's forward", 2)
    ]
    wrong = reconcile(tp_seed(own=3), PRESETS["macs"])
    assert wrong.residual == 2 and wrong.residuals[0].place == "size arithmetic in the model's forward"


def test_torchprofile_handler_tables_are_disjoint_and_hold_the_seed_ops() -> None:
    assert not set(torchprofile.HANDLERS) & torchprofile.ZERO_COST
    assert torchprofile.HANDLERS["aten::_convolution"] == "_convolution"
    assert torchprofile.HANDLERS["aten::linear"] == "_matmul"
    assert "aten::gru" not in torchprofile.HANDLERS and "aten::gru" not in torchprofile.ZERO_COST
    assert {"aten::relu", "aten::sigmoid", "aten::tanh"} <= torchprofile.ZERO_COST


def test_the_torchprofile_probe_reads_a_traced_scope_as_its_innermost_module() -> None:
    module = count_torchprofile._module
    assert module("gru") == "gru"
    assert module("block/block.fc") == "block.fc"
    assert module("") == count_torchprofile.ROOT


def test_a_batch_first_gru_reads_its_steps_as_steps_and_gets_no_note() -> None:
    seed = flop_seed()
    for row in seed["probe"]["layers"]:
        if row["name"] == "gru":
            row["config"] = {"bias": True, "batch_first": True}
    result = reconcile(seed, PRESETS["default"])
    assert result.residual == 0 and result.priced_steps == {"gru": 97} and "gru" not in result.notes
    assert "97 sequences of 1 step" in reconcile(flop_seed(), PRESETS["default"]).notes["gru"][0]
