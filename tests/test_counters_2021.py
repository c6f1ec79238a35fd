"""The counters a torch 1.10.1 user had in late 2021 (torch-1.10.1 cell: fvcore 0.1.5.post20211023,
ptflops 0.6.7, torchinfo 1.5.4, torchprofile 0.0.4), read by the same adapters as torch-latest's.

Each record is hand-made from the numbers the real torch-1.10.1 container gave (torch 1.10.1+cu102),
each number also worked out by hand below from the tools' 2021 sources. Each property sits beside a
record that must break it: where the 2021 rules differ from the newer ones, the 2021 record read
with the newer rule model (or the newer record with the 2021 one) leaves a residual naming the layer.
"""

from collections.abc import Callable
from inspect import Parameter, Signature
from types import ModuleType, SimpleNamespace

import pytest

from bench.counters import ptflops, torchprofile
from bench.explain.reconcile import reconcile
from bench.probe import count_ptflops, count_torchinfo, count_torchprofile, zoo
from bench.publish.headings import pinned
from bench.publish.words import clause, residual_items
from bench.reference.convention import PRESETS
from tests import samples
from tests.samples import by_cause

SEED, CONV = zoo.MODELS["seed"], zoo.MODELS["seed-conv"]
OUTPUTS = 32 * 97 * 127  # the conv's output values
CONV_MACS = OUTPUTS * 1 * 4 * 4
D, U, T = 4064, 96, 97  # GRU input features, units, cell evaluations (97 one-step sequences)
FC_MACS, FC_OUT = T * U * 256, T * 256
# ptflops' rnn_flops, the same in 0.6.7 and 0.7.5: 3U(D+U) weights, U + 3U + 3U gate work, 6U biases per cell
PTFLOPS_GRU = T * (3 * U * (D + U) + 7 * U + 6 * U)
PTFLOPS_FC_2021 = FC_MACS + 256  # 0.6.7's linear hook: np.prod(input.shape) x out + out, the bias once
PTFLOPS_FC_LATEST = FC_MACS + FC_OUT  # 0.7.5's: (in x out + out) x rows
# torchinfo 1.5.4's calculate_macs (1.8.0's too): parameter sizes x output positions / output_size[0] / [:2]
TI_CONV = 32 * 16 * (97 * 127) + 32 * (97 * 127)
TI_GRU = (3 * U * D + 3 * U * U + 2 * 3 * U) * 1 * T
TI_FC = (U * 256 + 256) * 1
CONFIG = {
    "conv2d": {"bias": True},
    "relu": {},
    "gru": {"batch_first": False, "bias": True},
    "fc": {"bias": True},
    "sigmoid": {},
}  # what build_torch.describe recorded for the blog's modules in the container
ROOT = "(the model's own forward)"
OLD_TOOLS = {"fvcore": "0.1.5.post20211023", "ptflops-pytorch": "0.6.7", "torchinfo": "1.5.4", "torchprofile": "0.0.4"}
NEW_TOOLS = {"fvcore": "0.1.5.post20221221", "ptflops-pytorch": "0.7.5", "torchinfo": "1.8.0", "torchprofile": "0.1.0"}


def record(job: str, tool: str, definition: dict, items: list[tuple], nodes: tuple = ()) -> dict:
    """A probe record: items are (module, raw, rule[, fvcore's unsupported ops])."""
    rows = [
        samples.item(name, raw, rule, **({"unsupported": more[0]} if more else {})) for name, raw, rule, *more in items
    ]
    framework = "1.10.1+cu102" if tool == OLD_TOOLS.get(job) else "2.13.0+cpu"
    return samples.module_record(job, definition, rows, CONFIG, tool, "torch-1.10.1", framework=framework, nodes=nodes)


def with_version(rec: dict, tool: str) -> dict:
    rec["probe"]["provenance"]["counter_tool"]["version"] = tool
    return rec


# --- ptflops 0.6.7: module hooks only, the Linear bias once, ReLU once


def ptflops_seed(fc: int = PTFLOPS_FC_2021, tool: str = "0.6.7", functional: bool = False) -> dict:
    items = [
        ("conv2d", CONV_MACS + OUTPUTS, "conv_flops_counter_hook"),
        ("relu", OUTPUTS, "relu_flops_counter_hook"),
        ("gru", PTFLOPS_GRU, "rnn_flops_counter_hook"),
        ("fc", fc, "linear_flops_counter_hook"),
        ("sigmoid", 0, ""),
    ]
    if functional:
        items.append(("relu", OUTPUTS, "F.relu: _numel_functional_flops_hook"))
    return record("ptflops-pytorch", tool, SEED, items)


def ptflops_conv(tool: str = "0.6.7", functional: bool = False) -> dict:
    items = [("conv2d", CONV_MACS + OUTPUTS, "conv_flops_counter_hook"), ("relu", OUTPUTS, "relu_flops_counter_hook")]
    if functional:
        items.append(("relu", OUTPUTS, "F.relu: _numel_functional_flops_hook"))
    return record("ptflops-pytorch", tool, CONV, items)


# (a record made from the hand counts above, what the torch-1.10.1 container counted)
MEASURED = [
    (lambda: ptflops_seed(), 125814688),
    (lambda: ptflops_conv(), 7095744),
    (lambda: ptflops_seed(PTFLOPS_FC_LATEST, "0.7.5", functional=True), 126233472),  # torch-latest's ptflops
    (lambda: fvcore_seed(OLD_TOOLS["fvcore"]), 8691200),
    (lambda: torchinfo_seed(OLD_TOOLS["torchinfo"]), 122996000),
    (lambda: tp_seed(), 8691201),  # + 1 for the size multiplication in the model's own forward
]


@pytest.mark.parametrize(("made", "measured"), MEASURED)
def test_the_2021_rule_models_predict_the_containers_numbers(made: Callable[[], dict], measured: int) -> None:
    samples.check_the_rule_model_predicts(made, measured)


def test_ptflops_0_6_prices_the_linear_bias_once_and_reconciles() -> None:
    for name in ("default", "macs"):
        result = reconcile(ptflops_seed(), PRESETS[name])
        assert (
            result.residual == 0 and result.residuals == [] and result.total == 125814688 * PRESETS[name].weight("mac")
        )
    result = reconcile(ptflops_seed(), PRESETS["default"])
    assert by_cause(result)[("bias", "output")] == 2 * 256 - FC_OUT
    assert by_cause(result)[("activation", "conv")] == 2 * OUTPUTS - OUTPUTS  # the module hook alone, 2 FLOPs per MAC
    bias = next(a for a in result.adjustments if a.cause == "bias" and a.layer == "output")
    assert "ptflops < 0.7.2" in clause(bias) and "once for all rows" in clause(bias)
    assert result.priced_steps == {"gru": 97}


def test_the_2021_ptflops_record_read_with_the_newer_rules_leaves_the_bias_rows_at_the_fc() -> None:
    result = reconcile(with_version(ptflops_seed(), "0.7.5"), PRESETS["macs"])
    assert result.residual == 256 - FC_OUT
    (residual,) = result.residuals
    assert residual.place == "output"
    assert residual_items(residual)[0].startswith(
        f"fc: counted {PTFLOPS_FC_2021:,} MACs, rule model {PTFLOPS_FC_LATEST:,}"
    )


def test_the_newer_ptflops_record_read_with_the_2021_rules_leaves_residuals_at_conv_and_fc() -> None:
    newer = ptflops_seed(fc=PTFLOPS_FC_LATEST, tool="0.7.5", functional=True)
    assert reconcile(newer, PRESETS["macs"]).residual == 0
    result = reconcile(with_version(newer, "0.6.7"), PRESETS["macs"])
    assert {r.place: r.flops for r in result.residuals} == {"conv": OUTPUTS, "output": FC_OUT - 256}
    conv = next(r for r in result.residuals if r.place == "conv")
    assert "ptflops < 0.7.1 patches no function" in residual_items(conv)[0]


def test_ptflops_0_6_seed_conv_counts_the_relu_once() -> None:
    assert reconcile(ptflops_conv(), PRESETS["macs"]).residual == 0
    assert by_cause(reconcile(ptflops_conv(), PRESETS["default"])) == {
        ("activation", "conv"): OUTPUTS,
        ("bias", "conv"): OUTPUTS,
    }
    # a second ReLU count, as ptflops >= 0.7.1 makes it, cannot be 0.6.7's
    doubled = reconcile(ptflops_conv(functional=True), PRESETS["macs"])
    assert doubled.residual == OUTPUTS and [r.place for r in doubled.residuals] == ["conv"]
    assert reconcile(ptflops_conv(tool="0.7.5", functional=True), PRESETS["macs"]).residual == 0


def test_ptflops_rules_change_at_0_7_1_0_7_2_and_0_7_5() -> None:
    linear, functional = ("dense", "linear_flops_counter_hook"), ptflops.FUNCTIONAL
    transpose = ("conv2d_transpose", "conv_flops_counter_hook")
    assert ptflops.pytorch_rules((0, 6, 7))[linear] is not ptflops.PYTORCH_RULES[linear]
    assert ptflops.pytorch_rules((0, 6, 7))[functional] is not ptflops.PYTORCH_RULES[functional]
    assert ptflops.pytorch_rules((0, 7, 1))[functional] is ptflops.PYTORCH_RULES[functional]
    assert ptflops.pytorch_rules((0, 7, 1))[linear] is not ptflops.PYTORCH_RULES[linear]
    assert ptflops.pytorch_rules((0, 7, 2))[linear] is ptflops.PYTORCH_RULES[linear]
    assert ptflops.pytorch_rules((0, 7, 4))[transpose] is not ptflops.PYTORCH_RULES[transpose]
    assert ptflops.pytorch_rules((0, 7, 5)) == ptflops.PYTORCH_RULES
    assert ptflops.pytorch_rules(()) == ptflops.PYTORCH_RULES  # no readable version: the newest rules


def test_ptflops_0_6_prices_no_bias_for_an_unbiased_linear() -> None:
    dense = {
        "input": [1, 3, 8],
        "layers": [{"name": "out", "kind": "dense", "units": 4, "activation": "linear", "torch": ["fc"]}],
    }
    biased = record("ptflops-pytorch", "0.6.7", dense, [("fc", 3 * 8 * 4 + 4, "linear_flops_counter_hook")])
    assert reconcile(biased, PRESETS["macs"]).residual == 0
    biased["probe"]["layers"][0]["config"] = {"bias": False}
    wrong = reconcile(biased, PRESETS["macs"])
    assert wrong.residual == 4 and wrong.residuals[0].place == "out"


# --- fvcore 0.1.5.post20211023 and torchinfo 1.5.4: the same rules as their newer releases


def fvcore_seed(tool: str, conv: int = CONV_MACS, gru: int = 0) -> dict:
    items = [
        ("conv2d", conv, "conv", {}),
        ("relu", 0, "", {}),
        ("gru", gru, "", {"aten::gru": 1}),
        ("fc", FC_MACS, "linear", {}),
        ("sigmoid", 0, "", {"aten::sigmoid": 1}),
    ]
    return record("fvcore", tool, SEED, items)


def torchinfo_seed(tool: str, fc: int = TI_FC) -> dict:
    items = [
        ("conv2d", TI_CONV, "conv"),
        ("relu", 0, "no parameters"),
        ("gru", TI_GRU, "output_size[:2]"),
        ("fc", fc, "output_size[0]"),
        ("sigmoid", 0, "no parameters"),
    ]
    return record("torchinfo", tool, SEED, items)


@pytest.mark.parametrize("made", [fvcore_seed, torchinfo_seed])
def test_the_2021_record_reconciles_as_the_newer_one_does(made: object) -> None:
    job = "fvcore" if made is fvcore_seed else "torchinfo"
    old, new = reconcile(made(OLD_TOOLS[job]), PRESETS["default"]), reconcile(made(NEW_TOOLS[job]), PRESETS["default"])
    assert old.residual == new.residual == 0
    assert old.adjustments == new.adjustments and old.priced_steps == new.priced_steps
    assert pinned(old.pinned) == f"{job} {OLD_TOOLS[job]} @ torch 1.10.1+cu102"


def test_a_2021_fvcore_count_off_its_handles_is_residual_at_the_layer() -> None:
    result = reconcile(fvcore_seed(OLD_TOOLS["fvcore"], conv=CONV_MACS + OUTPUTS), PRESETS["macs"])
    assert result.residual == OUTPUTS and [r.place for r in result.residuals] == ["conv"]
    gru = reconcile(fvcore_seed(OLD_TOOLS["fvcore"], gru=1000), PRESETS["macs"])
    assert gru.residual == 1000 and residual_items(gru.residuals[0])[0].startswith(
        "gru: counted 1,000 MACs, rule model 0"
    )
    assert gru.priced_steps == {"gru": 0}


def test_a_2021_torchinfo_count_of_every_fc_row_is_residual_at_the_output() -> None:
    result = reconcile(torchinfo_seed(OLD_TOOLS["torchinfo"], fc=T * TI_FC), PRESETS["macs"])
    assert result.residual == (T - 1) * TI_FC and [r.place for r in result.residuals] == ["output"]


def test_the_torchinfo_probe_reads_the_mult_adds_column_in_either_signature() -> None:
    class Old:  # torchinfo 1.5: macs_to_str(reached_max_depth, children_layers)
        macs = 0

        def macs_to_str(self, reached_max_depth: bool, children_layers: list) -> str:
            return "--" if self.macs <= 0 else f"{self.macs:,}"

    class New:  # torchinfo 1.8: macs_to_str(reached_max_depth)
        macs = 0

        def macs_to_str(self, reached_max_depth: bool) -> str:
            return "--" if self.macs <= 0 else f"{self.macs:,}"

    assert count_torchinfo._macs_text(Old()) == count_torchinfo._macs_text(New()) == "--"
    broken = SimpleNamespace(macs_to_str=lambda: "?")  # neither signature: the probe does not hide it
    with pytest.raises(TypeError):
        count_torchinfo._macs_text(broken)


# --- torchprofile 0.0.4: its own handler and zero-cost tables


def node(module: str, op: str, raw: int = 0, shape: str = "()", inputs: tuple = (), rule: str = "counted") -> dict:
    return {"name": f"{module}/{op}", "op": op, "raw": raw, "rule": rule, "shape": shape, "inputs": [],
            "input_shapes": list(inputs), "attrs": {"module": module}}  # fmt: skip


TP_CONV = [
    node("conv2d", "aten::_convolution", CONV_MACS, "(1, 32, 97, 127)", ("(1, 1, 100, 256)", "(32, 1, 4, 4)", "(32,)")),
    node("relu", "aten::relu", 0, "(1, 32, 97, 127)", ("(1, 32, 97, 127)",)),
]
TP_REST = [  # the torch 1.10.1 trace, as the probe recorded it
    node(ROOT, "aten::size", 0, ""),
    node(ROOT, "aten::int", 0, ""),
    node(ROOT, "aten::mul", 1, "()", ("()", "()")),
    node(ROOT, "aten::reshape", 0, "(1, 97, 4064)", ("(1, 32, 97, 127)",), rule="no-rule"),
    node("gru", "aten::size", 0, ""),
    node("gru", "aten::int", 0, ""),
    node("gru", "aten::zeros", 0, "(1, 97, 96)"),
    node("gru", "aten::gru", 0, "(1, 97, 96)", ("(1, 97, 4064)", "(1, 97, 96)"), rule="no-rule"),
    node("fc", "aten::linear", FC_MACS, "(1, 97, 256)", ("(1, 97, 96)", "(256, 96)", "(256,)")),
    node("sigmoid", "aten::sigmoid", 0, "(1, 97, 256)", ("(1, 97, 256)",)),
]


def tp_seed(tool: str = "0.0.4", own: int = 1, fc: int = FC_MACS) -> dict:
    items = [
        ("conv2d", CONV_MACS, ""),
        ("relu", 0, ""),
        ("gru", 0, ""),
        ("fc", fc, ""),
        ("sigmoid", 0, ""),
        (ROOT, own, ""),
    ]
    return record("torchprofile", tool, SEED, items, tuple(TP_CONV + TP_REST))


def test_torchprofile_0_0_4_reconciles_with_its_own_handler_names() -> None:
    result = reconcile(tp_seed(), PRESETS["default"])
    assert result.residual == 0 and result.raw_total == 8691201
    assert result.priced_steps == {"gru": 0}
    assert "aten::gru node, for which torchprofile 0.0.4 has no handler" in result.why["gru"][0]
    items = {i.name: i.rule for i in torchprofile.ADAPTER.read(SEED, tp_seed()["probe"]).items}
    assert items["conv2d"].startswith("convolution (aten::_convolution)") and "0.0.4's tables" in items["conv2d"]
    assert items["fc"].startswith("matmul (aten::linear)")
    assert "no handler for aten::reshape (skipped, 0)" in items[ROOT]
    conv_record = record("torchprofile", "0.0.4", CONV, [("conv2d", CONV_MACS, ""), ("relu", 0, "")], tuple(TP_CONV))
    conv = reconcile(conv_record, PRESETS["default"])
    assert conv.residual == 0 and by_cause(conv) == {("bias", "conv"): -OUTPUTS, ("activation", "conv"): -OUTPUTS}


def test_the_torchprofile_version_picks_the_tables_and_the_counts_still_have_to_match() -> None:
    newer = {i.name: i.rule for i in torchprofile.ADAPTER.read(SEED, tp_seed(tool="0.1.0")["probe"]).items}
    assert newer["conv2d"].startswith("_convolution (aten::_convolution)") and "0.1.0's tables" in newer["conv2d"]
    assert "aten::reshape" not in newer[ROOT]  # in 0.1.0's zero-cost list, so not skipped
    # the same prices in both: a count off them is residual whichever tables read it
    for tool in ("0.0.4", "0.1.0"):
        off = reconcile(tp_seed(tool=tool, fc=FC_MACS + 256), PRESETS["macs"])
        assert off.residual == 256 and [r.place for r in off.residuals] == ["output"]
        size = reconcile(tp_seed(tool=tool, own=0), PRESETS["macs"])
        assert size.residual == -1 and size.residuals[0].place == "size arithmetic in the model's forward"


def test_torchprofile_tables_per_version() -> None:
    old, new = torchprofile.tables((0, 0, 4)), torchprofile.tables((0, 1, 0))
    assert old is torchprofile.OLD and new is torchprofile.NEW and torchprofile.tables(()) is new
    assert not set(old.handlers) & old.zero_cost
    assert old.skipped(["aten::reshape", "aten::gru", "aten::lstm"]) == ["aten::reshape", "aten::gru", "aten::lstm"]
    assert new.skipped(["aten::reshape", "aten::gru", "aten::lstm"]) == ["aten::gru"]
    assert (old.handlers["aten::linear"], new.handlers["aten::linear"]) == ("matmul", "_matmul")


def test_the_torchprofile_probe_builds_0_0_4s_table_first_match_first(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = object(), object()
    handlers = ModuleType("torchprofile.handlers")
    handlers.handlers = ((("aten::linear", "aten::matmul"), first), ("aten::linear", second), ("aten::relu", None))
    package = ModuleType("torchprofile")
    package.handlers = handlers
    monkeypatch.setitem(__import__("sys").modules, "torchprofile", package)
    monkeypatch.setitem(__import__("sys").modules, "torchprofile.handlers", handlers)
    assert count_torchprofile._handler_map() == {"aten::linear": first, "aten::matmul": first, "aten::relu": None}
    handlers.HANDLER_MAP = {"aten::linear": second}  # 0.1.0: its own map, as it is
    assert count_torchprofile._handler_map() == {"aten::linear": second}


# --- the ptflops probe under both layouts


def test_the_ptflops_probe_passes_backend_only_where_ptflops_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = ModuleType("ptflops")
    names = ["model", "input_res", "print_per_layer_stat", "as_strings", "input_constructor", "ost", "verbose"]

    def signed(extra: list[str]) -> object:
        def function(*args: object, **kwargs: object) -> None:
            return None

        function.__signature__ = Signature([Parameter(n, Parameter.POSITIONAL_OR_KEYWORD) for n in names + extra])
        return function

    monkeypatch.setitem(__import__("sys").modules, "ptflops", fake)
    fake.get_model_complexity_info = signed([])  # 0.6.7
    assert count_ptflops._has_backends() is False
    fake.get_model_complexity_info = signed(["backend"])  # 0.7.x
    assert count_ptflops._has_backends() is True


@pytest.mark.parametrize("job", ["ptflops-pytorch", "torchinfo", "torchprofile", "fvcore"])
def test_every_item_is_placed_so_the_equation_holds(job: str) -> None:
    made = {"ptflops-pytorch": lambda: ptflops_seed(), "torchinfo": lambda: torchinfo_seed(OLD_TOOLS["torchinfo"]),
            "torchprofile": lambda: tp_seed(), "fvcore": lambda: fvcore_seed(OLD_TOOLS["fvcore"])}[job]  # fmt: skip
    samples.check_every_item_is_placed(made)
