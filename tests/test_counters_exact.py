"""exact: its formulas on recorded shapes (no torch needed), and its records reconciled: the reference with no
adjustment and residual 0 under every convention, and every kind of fault (a formula off by one, an op left out,
a loop priced once) a residual at the layer and component it touches, naming the op."""

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.counters import exact
from bench.explain.reconcile import reconcile
from bench.probe import count_exact, zoo
from bench.probe.count_exact import T, price
from bench.reference.convention import PRESETS, parse
from bench.reference.formulas import analyse, measure
from tests import samples

CONVENTIONS = (PRESETS["default"], PRESETS["macs"], parse("mac=1,act:tanh=4,bias=3"))


def test_matrix_products_and_convolutions_are_priced_from_their_shapes() -> None:
    assert price("aten.addmm", [T((256,)), T((97, 96)), T((96, 256))], T((97, 256))) == {
        "mac": 97 * 96 * 256,
        "bias": 97 * 256,
    }
    assert price("aten.bmm", [T((8, 32, 16)), T((8, 16, 32))], T((8, 32, 32))) == {"mac": 8 * 32 * 16 * 32}
    # seed's conv: 1 -> 32 channels, 4 x 4, on 100 x 256 with stride (1, 2): 97 x 127 outputs per filter
    conv = price(
        "aten.convolution",
        [T((1, 1, 100, 256)), T((32, 1, 4, 4)), T((32,)), [1, 2], [0, 0], [1, 1], False],
        T((1, 32, 97, 127)),
    )
    assert conv == {"mac": 32 * 97 * 127 * 16, "bias": 32 * 97 * 127}
    assert price("aten.conv2d", [T((1, 1, 100, 256)), T((32, 1, 4, 4)), T((32,))], T((1, 32, 97, 127))) == conv
    # transposed: every input position meets the whole weight (in, out, kh, kw)
    deconv = price(
        "aten.convolution",
        [T((1, 16, 16, 16)), T((16, 8, 3, 3)), None, [2, 2], [0, 0], [1, 1], True],
        T((1, 8, 33, 33)),
    )
    assert deconv == {"mac": 16 * 16 * 16 * 8 * 9}


def test_the_composite_and_decomposed_forms_agree() -> None:
    x, weight, bias = T((1, 32, 64)), T((16, 64)), T((16,))
    whole = price("aten.linear", [x, weight, bias], T((1, 32, 16)))
    parts = price("aten.addmm", [bias, T((32, 64)), T((64, 16))], T((32, 16)))
    assert whole == parts
    assert price("aten.layer_norm", [x, [64]], x) == price("aten.native_layer_norm", [x, [64]], x)
    assert price("aten.relu6", [x], x) == price("aten.hardtanh", [x, 0.0, 6.0], x) == {"act:relu6": 2048}
    assert price("aten.hardtanh", [x, -1.0, 1.0], x) == {"elementwise": 2048}


def test_the_norms_and_pools_follow_the_reference() -> None:
    x = T((1, 32, 64))
    assert (
        price("aten.native_layer_norm", [x, [64]], x)
        == measure(zoo.MODELS["layernorm"]["layers"][0], (1, 32, 64)).total()
    )
    image = T((1, 16, 32, 32))
    assert price("aten.max_pool2d", [image, [3, 3], [2, 2]], T((1, 16, 15, 15))) == {"elementwise": 3600 * 8}
    assert price("aten.avg_pool2d", [image, 3, 2], T((1, 16, 15, 15))) == {"elementwise": 3600 * 9}


def test_an_op_without_a_formula_fails_loudly_naming_it() -> None:
    with pytest.raises(NotImplementedError, match="aten.erfinv"):
        price("aten.erfinv", [T((3,))], T((3,)))
    # an in-place form of a known op is priced as the op
    assert price("aten.relu_", [T((3,))], T((3,))) == {"act:relu": 3}


@pytest.mark.parametrize("model", ["bigru", "stacked-gru"])
def test_a_recurrent_layer_is_priced_every_step_as_the_reference_prices_it(model: str) -> None:
    definition = zoo.MODELS[model]
    for cost in analyse(definition):
        spec, (batch, steps, features) = next(s for s in definition["layers"] if s["name"] == cost.name), cost.in_shape
        directions, units = 2 if spec.get("bidirectional") else 1, spec["units"]
        biases = directions * 6 * units  # b_ih and b_hh, 3 gates each, per direction
        got = count_exact.recurrent("GRU", steps, batch, features, units, directions, biases)
        assert got == +cost.total()
        once = count_exact.recurrent("GRU", 1, batch, features, units, directions, biases)
        assert once != +cost.total()


def _record(definition: dict, change: dict[str, Counter] | None = None) -> dict:
    """A record as the probe writes it when every op is priced as the reference prices its layer: one item
    per module (a composite layer's under its own module), `change` module -> components added to its item."""
    items, nodes = [], []
    for spec, cost in zip(definition["layers"], analyse(definition), strict=True):
        if not spec["torch"]:
            continue
        module = spec["torch"][0]
        components = Counter(cost.total())
        if spec["kind"] in exact.TORCH_TWO_BIASES:  # PyTorch's b_ih and b_hh, as the probe counts the module
            components["bias"] *= 2
        components.update((change or {}).get(module, {}))
        components = {k: v for k, v in components.items() if v}
        raw = count_exact.flops(components)
        items.append(samples.item(module, raw, "", components=components))
        nodes.append(
            {
                "name": f"{module}/aten.op#1",
                "op": f"aten.op_{module}",
                "raw": raw,
                "rule": "counted",
                "attrs": {"module": module, "components": components},
            }
        )
    return samples.module_record("exact", definition, items, {}, "2.13.0+cpu", nodes=nodes)


TWO_BIASES = sorted(m for m, d in zoo.MODELS.items() if {s["kind"] for s in d["layers"]} & exact.TORCH_TWO_BIASES)


@pytest.mark.parametrize("model", sorted(set(zoo.MODELS) - set(TWO_BIASES)))
def test_every_zoo_model_reconciles_with_no_adjustment_and_no_residual(model: str) -> None:
    definition = zoo.MODELS[model]
    for convention in CONVENTIONS:
        result = reconcile(_record(definition), convention, exact.ADAPTER)
        assert result.adjustments == [] and result.residuals == [], convention.name
        assert result.total == result.reference


@pytest.mark.parametrize("model", TWO_BIASES)
def test_pytorchs_second_bias_is_the_one_adjustment_where_the_build_holds_it(model: str) -> None:
    """nn.LSTM and nn.RNN add b_ih and b_hh where the definition's layer (Keras's) adds one bias: the build
    does that work, so it is a bias adjustment of exactly the reference's bias adds, and nothing else."""
    definition = zoo.MODELS[model]
    biases = sum(cost.total()["bias"] for cost in analyse(definition))
    for convention in CONVENTIONS:
        result = reconcile(_record(definition), convention, exact.ADAPTER)
        priced = biases * convention.weight("bias")  # a convention that prices no bias add sees none
        assert [(a.cause.value, a.flops) for a in result.adjustments] == ([("bias", priced)] if priced else [])
        assert result.residuals == []
    # twin: a count with the definition's one bias (what a Keras build holds) departs under PyTorch's adapter
    single = {
        s["torch"][0]: Counter({"bias": -c.total()["bias"]})
        for s, c in zip(definition["layers"], analyse(definition), strict=True)
        if s["kind"] in exact.TORCH_TWO_BIASES
    }
    result = reconcile(_record(definition, single), PRESETS["default"], exact.ADAPTER)
    assert result.residual == -biases


def _departure(definition: dict, change: dict[str, Counter]) -> tuple[str, float, str]:
    result = reconcile(_record(definition, change), PRESETS["default"], exact.ADAPTER)
    assert result.adjustments == []
    (residual,) = result.residuals
    (departure,) = residual.departures
    return departure.name, residual.flops, departure.rule


def test_a_formula_off_by_one_is_a_residual_naming_the_layer_and_op() -> None:
    name, flops, rule = _departure(zoo.MODELS["seed"], {"conv2d": Counter({"mac": 1})})
    assert (name, flops, rule) == ("conv:mac", 2, "aten.op_conv2d")


def test_an_op_left_out_is_a_residual_naming_the_layer_and_op() -> None:
    definition = zoo.MODELS["layernorm"]
    rows = analyse(definition)[0].total()["act:rsqrt"]
    name, flops, _ = _departure(definition, {definition["layers"][0]["torch"][0]: Counter({"act:rsqrt": -rows})})
    assert name.endswith(":act:rsqrt") and flops == -rows


def test_a_loop_priced_once_is_a_residual_at_the_recurrent_layer() -> None:
    definition = zoo.MODELS["seed"]
    gru = next(c for c in analyse(definition) if c.name == "gru")
    missing = Counter({k: -v * (gru.steps - 1) for k, v in gru.step.items()})
    result = reconcile(_record(definition, {"gru": missing}), PRESETS["default"], exact.ADAPTER)
    assert result.adjustments == []
    assert {r.place for r in result.residuals} == {"gru"}
    assert result.residual == -(gru.steps - 1) * PRESETS["default"].flops(gru.step)


def test_work_on_no_layer_is_a_residual_too() -> None:
    definition = zoo.MODELS["seed-conv"]
    record = _record(definition)
    stray = {"mac": 5}
    record["probe"]["breakdown"]["items"].append(samples.item("(the model's own forward)", 10, "", components=stray))
    record["probe"]["raw_total"] += 10
    result = reconcile(record, PRESETS["default"], exact.ADAPTER)
    assert result.residual == 10


def _encoder(definition: dict) -> tuple[dict, tuple, int]:
    spec = definition["layers"][0]
    return spec, tuple(definition["input"]), spec["ffn"]


def test_the_fused_transformer_kernels_are_priced_as_the_reference_prices_the_layer() -> None:
    spec, (batch, steps, width), ffn = _encoder(zoo.MODELS["transformer-encoder"])
    src, heads = T((batch, steps, width)), spec["heads"]
    weights = [T((3 * width, width)), T((3 * width,)), T((width, width)), T((width,))]
    norms = [T((width,))] * 4
    ffns = [T((ffn, width)), T((ffn,)), T((width, ffn)), T((width,))]
    args = [src, width, heads, *weights, True, False, 1e-5, *norms, *ffns, None]
    assert price("aten._transformer_encoder_layer_fwd", args, src) == +measure(spec, (batch, steps, width)).total()
    relu = price("aten._transformer_encoder_layer_fwd", [*args[:7], False, *args[8:]], src)
    assert relu != +measure(spec, (batch, steps, width)).total()
    # the attention alone, as its fused CPU kernels and the composite take it: the reference's attention part
    attention = next(p for p in zoo.parts(spec, width) if p["kind"] == "attention")
    q = T((batch, heads, steps, width // heads))
    reference = +measure(attention, (batch, steps, width)).total()
    assert price("aten.scaled_dot_product_attention", [q, q, q], q) == reference
    assert price("aten._scaled_dot_product_flash_attention_for_cpu", [q, q, q, 0.0, False], q) == reference
    causal = price("aten._scaled_dot_product_flash_attention_for_cpu", [q, q, q, 0.0, True], q)
    assert causal == +measure(dict(attention, causal=True), (batch, steps, width)).total()


def test_einsum_and_whole_recurrent_ops_have_formulas() -> None:
    assert price("aten.einsum", ["bij,bjk->bik", [T((2, 3, 4)), T((2, 4, 5))]], T((2, 3, 5))) == {"mac": 120}
    with pytest.raises(NotImplementedError, match="einsum"):
        price("aten.einsum", ["ij,jk,kl->il", [T((2, 3)), T((3, 4)), T((4, 5))]], T((2, 5)))
    # nn.LSTM(16, 32) on (1, 20, 16), batch_first: PyTorch's b_ih and b_hh, 4 x 32 each
    params = [T((128, 16)), T((128, 32)), T((128,)), T((128,))]
    got = price(
        "aten.lstm",
        [T((1, 20, 16)), [T((1, 1, 32)), T((1, 1, 32))], params, True, 1, 0.0, False, False, True],
        T((1, 20, 32)),
    )
    reference = +measure(zoo.MODELS["lstm"]["layers"][0], (1, 20, 16)).total()
    assert got == reference + Counter({"bias": 20 * 128})  # the second bias vector the reference does not hold


class _Packet:
    """What torch >= 1.12 hands a TorchDispatchMode: an OpOverload whose packet prints as aten.<name>."""

    def __init__(self, name: str) -> None:
        self._overloadpacket = type("Packet", (), {"__str__": lambda _: f"aten.{name}"})()


def _builtin(name: str) -> Callable[[], None]:
    """What torch 1.10 hands __torch_dispatch__: a builtin with the op's bare name."""

    def op() -> None: ...

    op.__name__ = name
    return op


def test_both_dispatchers_name_an_op_as_the_formulas_do() -> None:
    assert count_exact.op_name(_Packet("addmm")) == count_exact.op_name(_builtin("addmm")) == "aten.addmm"
    assert count_exact.op_name(_builtin("add_")) == "aten.add_"
    # an op torch 1.10 dispatches that has no formula is still a loud failure naming it
    with pytest.raises(NotImplementedError, match="aten.slow_conv3d"):
        price(count_exact.op_name(_builtin("slow_conv3d")), [T((1, 1, 4, 4, 4))], T((1, 1, 2, 2, 2)))


def test_torch_1_10_linear_on_3d_input_a_matmul_and_its_bias_added_is_the_linear_whole() -> None:
    """torch 1.10's F.linear on (batch, rows, in): mm on the flattened rows, then `output += bias` (add_)."""
    x, weight, out = T((1, 32, 64)), T((16, 64)), T((1, 32, 16))
    whole = price("aten.linear", [x, weight, T((16,))], out)
    parts = Counter(price("aten.mm", [T((32, 64)), T((64, 16))], T((32, 16))))
    assert parts + Counter(price("aten.add_", [out, T((16,), bias=True)], out)) == whole
    # a tensor that is no layer's bias is an element-wise add: the bias would be priced as something else
    assert parts + Counter(price("aten.add_", [out, T((16,))], out)) != whole


def _seed_conv(op: str, args: list, transposed: bool = False) -> dict:
    """seed's conv (1 -> 32 channels, 4 x 4, stride (1, 2)) as a torch 1.10 kernel takes it."""
    return price(op, [T((1, 1, 100, 256)), T((32, 1, 4, 4)), *args], T((1, 32, 97, 127)))


def test_torch_1_10_convolution_kernels_are_priced_as_aten_convolution() -> None:
    conv = _seed_conv("aten.convolution", [T((32,)), [1, 2], [0, 0], [1, 1], False, [0, 0], 1])
    # oneDNN's own signature (input, weight, bias, padding, stride, dilation, groups): the 7th is groups
    mkldnn = [T((32,)), [0, 0], [1, 2], [1, 1], 1]
    assert _seed_conv("aten.mkldnn_convolution", mkldnn) == conv
    assert _seed_conv("aten.convolution", mkldnn) != conv  # read as aten.convolution's, groups 1 is `transposed`
    # aten's own kernels take the kernel size before the bias (input, weight, kernel_size, bias, stride, padding)
    assert _seed_conv("aten.thnn_conv2d_forward", [[4, 4], T((32,)), [1, 2], [0, 0]]) == conv
    assert _seed_conv("aten.thnn_conv2d_forward", [[4, 4], None, [1, 2], [0, 0]]) != conv
    deconv = price(
        "aten.convolution",
        [T((1, 16, 16, 16)), T((16, 8, 3, 3)), T((8,)), [2, 2], [0, 0], [1, 1], True, [0, 0], 1],
        T((1, 8, 33, 33)),
    )
    slow = price(
        "aten.slow_conv_transpose2d", [T((1, 16, 16, 16)), T((16, 8, 3, 3)), [3, 3], T((8,)), [2, 2]], T((1, 8, 33, 33))
    )
    assert slow == deconv and slow["mac"] == 16 * 16 * 16 * 8 * 9
    assert price("aten._nnpack_available", [], T(())) == {}


OLD = "torch-1.10.1"  # torch without TorchDispatchMode: exact runs through its python mode
OLD_MODELS = ("seed", "transformer-encoder", "conv2d-transpose", "mobilenetv2")  # every 1.10-only kernel


def _old_cell_alone(folder: Path) -> Path:
    """A cells file with the torch 1.10.1 cell and exact its only counter, its variants kept."""
    (block,) = [b for b in paths.CELLS_FILE.read_text().split("[[cell]]") if f'name = "{OLD}"' in b]
    block = re.sub(r"^counters = .*$", 'counters = ["exact"]', block, flags=re.M)
    block = re.sub(r"^expected_failures = .*\n", "", block, flags=re.M)
    target = folder / "cells.toml"
    target.write_text("[[cell]]" + block)
    return target


@pytest.fixture(scope="module")
def old_records(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("exact-old")
    command = [sys.executable, "-m", "bench", "matrix", "--base", "local", "--cells", OLD, "--results", str(folder)]
    env = {**os.environ, "FLOPS_MATRIX_CELLS_FILE": str(_old_cell_alone(folder))}
    run = subprocess.run(
        [*command, "--models", ",".join(OLD_MODELS)], cwd=paths.ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return {f"{p.parent.name}/{p.stem}": json.loads(p.read_text()) for p in (folder / OLD).glob("*/exact*.json")}


@pytest.mark.docker
def test_in_torch_1_10_exact_gives_the_reference_under_every_variant(old_records: dict[str, dict]) -> None:
    assert {name.partition("/")[0] for name in old_records} == set(OLD_MODELS)
    assert {"seed/exact@mkldnn-off", "transformer-encoder/exact@no-grad"} <= set(old_records)
    ops = set()
    for name, record in old_records.items():
        assert record["status"] == "ok", name
        assert record["probe"]["raw_total"] == old_records[name.partition("@")[0]]["probe"]["raw_total"], name
        for convention in CONVENTIONS:
            result = reconcile(record, convention, exact.ADAPTER)
            assert result.adjustments == [] and result.residuals == [], (name, convention.name)
        ops |= {node["op"] for node in record["probe"]["nodes"]}
    # what torch 1.10 dispatches that torch 2 does not: each reached a formula of its own
    assert {"aten.mkldnn_convolution", "aten.thnn_conv2d_forward", "aten.slow_conv_transpose2d", "aten.add_"} <= ops


@pytest.mark.docker
def test_in_torch_1_10_a_bias_added_as_an_element_wise_op_is_a_residual_at_its_layer(
    old_records: dict[str, dict],
) -> None:
    """The twin: torch 1.10's nn.Linear on 3-d input adds its bias after the matmul (aten.add_); priced as any
    add, the encoder's bias would be element-wise work, which a convention that prices the two apart sees."""
    record = json.loads(json.dumps(old_records["transformer-encoder/exact"]))
    for item in record["probe"]["breakdown"]["items"]:
        moved = item["components"].pop("bias", 0)
        item["components"]["elementwise"] = item["components"].get("elementwise", 0) + moved
    convention = CONVENTIONS[2]  # bias priced 3, element-wise 1
    result = reconcile(record, convention, exact.ADAPTER)
    assert result.adjustments == [] and result.residual < 0
    assert {r.place for r in result.residuals} == {"encoder"}
