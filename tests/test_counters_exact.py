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
    with pytest.raises(NotImplementedError, match="aten.fft_rfft"):
        price(count_exact.op_name(_builtin("fft_rfft")), [T((1, 1, 4, 4, 4))], T((1, 1, 4, 4, 3)))


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


# Beyond the zoo: the ops user models reach, on shapes recorded from hand-built models (a UNet block, a 3-d
# conv net, an EfficientNet block, a small ViT, a point-wise MLP) in torch 2.13 and 1.10.1. Each case: the op,
# its arguments, its output, what the formula gives, and a twin (a wrong shape or argument) that departs.
UNET, VOLUME, ROWS = T((2, 16, 16, 16)), T((1, 8, 8, 8, 8)), T((4, 32))
OUT = "a wrong output shape"  # the twin of an op priced per output value
BEYOND = [
    # 3-d convolution: output values x in/groups x 27 taps; transposed: input positions x the whole weight
    (
        "aten.conv3d",
        [T((1, 2, 8, 8, 8)), T((8, 2, 3, 3, 3)), T((8,)), [1, 1, 1], [1, 1, 1]],
        T((1, 8, 8, 8, 8)),
        {"mac": 4096 * 54, "bias": 4096},
        [T((1, 2, 8, 8, 8)), T((8, 2, 3, 3)), T((8,))],
    ),
    (
        "aten.convolution",
        [T((1, 8, 4, 4, 4)), T((8, 4, 3, 3, 3)), None, [1, 1, 1], [1, 1, 1], [1, 1, 1], False, [0, 0, 0], 2],
        T((1, 8, 4, 4, 4)),
        {"mac": 512 * 108},
        [T((1, 8, 4, 4, 4)), T((8, 4, 3, 3)), None, [1, 1, 1], [1, 1, 1], [1, 1, 1], False, [0, 0, 0], 2],
    ),
    (
        "aten.slow_conv3d_forward",
        [T((1, 2, 8, 8, 8)), T((8, 2, 3, 3, 3)), [3, 3, 3], T((8,)), [1, 1, 1], [1, 1, 1]],
        T((1, 8, 8, 8, 8)),
        {"mac": 4096 * 54, "bias": 4096},
        [T((1, 2, 8, 8, 8)), T((8, 2, 3, 3, 3)), [3, 3, 3], None, [1, 1, 1], [1, 1, 1]],
    ),
    (
        "aten.conv_transpose3d",
        [T((1, 8, 4, 4, 4)), T((8, 4, 2, 2, 2)), T((4,)), [2, 2, 2]],
        T((1, 4, 8, 8, 8)),
        {"mac": 64 * 8 * 32, "bias": 2048},
        [T((1, 8, 4, 4)), T((8, 4, 2, 2, 2)), T((4,)), [2, 2, 2]],
    ),
    (
        "aten.slow_conv_transpose3d",
        [T((1, 8, 4, 4, 4)), T((8, 4, 2, 2, 2)), [2, 2, 2], T((4,)), [2, 2, 2]],
        T((1, 4, 8, 8, 8)),
        {"mac": 64 * 8 * 32, "bias": 2048},
        [T((1, 8, 4, 4, 4)), T((8, 4, 2, 2)), [2, 2, 2], T((4,)), [2, 2, 2]],
    ),
    # pooling of any rank: k - 1 comparisons, or k adds and a division, per output value
    ("aten.max_pool1d", [T((4, 1, 32)), [2], [2]], T((4, 1, 16)), {"elementwise": 64}, [T((4, 1, 32)), [3], [2]]),
    ("aten.max_pool1d_with_indices", [T((4, 1, 32)), 2], T((4, 1, 16)), {"elementwise": 64}, [T((4, 1, 32)), 4]),
    ("aten.max_pool3d", [VOLUME, [2, 2, 2], [2, 2, 2]], T((1, 8, 4, 4, 4)), {"elementwise": 512 * 7}, [VOLUME, [2, 2]]),
    ("aten.max_pool3d_with_indices", [VOLUME, [2]], T((1, 8, 4, 4, 4)), {"elementwise": 512 * 7}, [VOLUME, [3]]),
    ("aten.avg_pool1d", [T((4, 1, 32)), [2], [2]], T((4, 1, 16)), {"elementwise": 128}, [T((4, 1, 32)), [4]]),
    ("aten.avg_pool3d", [T((1, 8, 4, 4, 4)), [2, 2, 2]], T((1, 8, 2, 2, 2)), {"elementwise": 512}, [VOLUME, [2, 2]]),
    ("aten.adaptive_avg_pool1d", [T((4, 1, 16)), [4]], T((4, 1, 4)), {"elementwise": 64}, [T((4, 1, 32)), [4]]),
    ("aten.adaptive_avg_pool3d", [T((1, 8, 2, 2, 2)), [1]], T((1, 8, 1, 1, 1)), {"elementwise": 64}, [VOLUME, [1]]),
    (
        "aten.adaptive_max_pool2d",
        [T((1, 8, 16, 16)), [2, 2]],
        T((1, 8, 2, 2)),
        {"elementwise": 2048 - 32},
        [T((1, 8, 16, 8)), [2, 2]],
    ),
    # norms that compute their statistics: 7n + 1 element-wise and one rsqrt per row (the reference's layer_norm)
    ("aten.group_norm", [UNET, 4, T((16,)), T((16,))], UNET, {"elementwise": 8 * 7169, "act:rsqrt": 8}, [UNET, 8]),
    (
        "aten.native_group_norm",
        [UNET, T((16,)), T((16,)), 2, 16, 256, 4, 1e-05],
        UNET,
        {"elementwise": 8 * 7169, "act:rsqrt": 8},
        [UNET, T((16,)), T((16,)), 2, 16, 256, 2, 1e-05],
    ),
    (
        "aten.instance_norm",
        [T((2, 16, 8, 8)), T((16,)), T((16,)), None, None, True, 0.1, 1e-05, True],
        T((2, 16, 8, 8)),
        {"elementwise": 32 * 449, "act:rsqrt": 32},
        [T((2, 16, 8, 8)), T((16,)), T((16,)), T((16,)), T((16,)), False, 0.1, 1e-05, True],
    ),
    # the batch norm InstanceNorm runs as outside inference_mode: (1, N x C, H, W), training set
    (
        "aten.native_batch_norm",
        [T((1, 32, 8, 8)), T((32,)), T((32,)), None, None, True, 0.1, 1e-05],
        T((1, 32, 8, 8)),
        {"elementwise": 32 * 449, "act:rsqrt": 32},
        [T((1, 32, 8, 8)), T((32,)), T((32,)), T((32,)), T((32,)), False, 0.1, 1e-05],
    ),
    (
        "aten._native_batch_norm_legit",
        [T((1, 32, 8, 8)), None, None, True, 0.1, 1e-05],
        T((1, 32, 8, 8)),
        {"elementwise": 32 * 449, "act:rsqrt": 32},
        [T((1, 32, 8, 8)), None, None, False, 0.1, 1e-05],
    ),
    (
        "aten._batch_norm_no_update",
        [T((1, 32, 8, 8)), None, None, None, None, 0.1, 1e-05],
        T((1, 32, 8, 8)),
        {"elementwise": 32 * 449, "act:rsqrt": 32},
        [T((1, 32, 8, 8)), None, None, T((32,)), T((32,)), 0.1, 1e-05],
    ),
    # activations: one act:<name> per value; SELU reaches the mode as ELU with its constants outside inference_mode
    ("aten.leaky_relu", [UNET, 0.1], UNET, {"act:leaky_relu": 8192}, OUT),
    ("aten.elu", [VOLUME, 1.0], VOLUME, {"act:elu": 4096}, [VOLUME, 1.0, 1.0507009873554805]),
    ("aten.elu", [ROWS, 1.6732632423543772, 1.0507009873554805], ROWS, {"act:selu": 128}, [ROWS, 1.67, 1.0]),
    ("aten.selu", [ROWS], ROWS, {"act:selu": 128}, OUT),
    ("aten.hardswish", [T((1, 32, 16, 16))], T((1, 32, 16, 16)), {"act:hardswish": 8192}, OUT),
    ("aten.hardsigmoid", [T((1, 8, 16, 16))], T((1, 8, 16, 16)), {"act:hardsigmoid": 2048}, OUT),
    ("aten.softplus", [ROWS, 1.0, 20.0], ROWS, {"act:softplus": 128}, OUT),
    ("aten.mish", [ROWS], ROWS, {"act:mish": 128}, OUT),
    ("aten.log_softmax", [T((4, 10)), -1], T((4, 10)), {"act:log_softmax": 40}, OUT),
    ("aten._log_softmax", [T((4, 10)), -1, False], T((4, 10)), {"act:log_softmax": 40}, OUT),
    ("aten.exp", [ROWS], ROWS, {"act:exp": 128}, OUT),
    ("aten.log", [ROWS], ROWS, {"act:log": 128}, OUT),
    ("aten.sqrt", [ROWS], ROWS, {"act:sqrt": 128}, OUT),
    ("aten.erf", [ROWS], ROWS, {"act:erf": 128}, OUT),
    ("aten._safe_softmax", [T((2, 4, 17, 17)), -1], T((2, 4, 17, 17)), {"act:softmax": 2312}, OUT),
    ("aten.log_sigmoid_forward", [ROWS], ROWS, {"act:log_sigmoid": 128}, OUT),
    ("aten.glu", [T((4, 64)), -1], ROWS, {"act:sigmoid": 128, "elementwise": 128}, OUT),
    # element-wise arithmetic and comparisons: one per output value (comparisons as max pooling's)
    ("aten.abs", [ROWS], ROWS, {"elementwise": 128}, OUT),
    ("aten.clamp", [UNET, -3.0, 3.0], UNET, {"elementwise": 8192}, OUT),
    ("aten.clamp_min", [T((4, 1)), 1e-12], T((4, 1)), {"elementwise": 4}, OUT),
    ("aten.clamp_max", [ROWS, 5.0], ROWS, {"elementwise": 128}, OUT),
    ("aten.maximum", [ROWS, ROWS], ROWS, {"elementwise": 128}, OUT),
    ("aten.minimum", [ROWS, ROWS], ROWS, {"elementwise": 128}, OUT),
    ("aten.eq", [T((4, 10)), 2], T((4, 10)), {"elementwise": 40}, OUT),
    ("aten.gt", [ROWS, 0], ROWS, {"elementwise": 128}, OUT),
    ("aten.logical_and", [T((4, 10)), T((4, 10))], T((4, 10)), {"elementwise": 40}, OUT),
    ("aten.bitwise_not", [T((4, 10))], T((4, 10)), {"elementwise": 40}, OUT),
    ("aten.__xor__", [T((4, 10)), T((4, 10))], T((4, 10)), {"elementwise": 40}, OUT),
    ("aten.addcmul", [ROWS, ROWS, ROWS], ROWS, {"elementwise": 384}, OUT),
    ("aten.addcdiv", [ROWS, ROWS, ROWS], ROWS, {"elementwise": 384}, OUT),
    ("aten.max", [ROWS, ROWS], ROWS, {"elementwise": 128}, [T((4, 64)), -1, True]),
    # reductions: one op per input value; variance 4 per input value (and a sqrt per result for std)
    ("aten.amax", [ROWS, [-1], True], T((4, 1)), {"elementwise": 128}, [T((4, 16)), [-1], True]),
    ("aten.argmax", [T((2, 10)), -1], T((2,)), {"elementwise": 20}, [T((2, 11)), -1]),
    ("aten.any", [T((4, 10))], T(()), {"elementwise": 40}, [T((4, 11))]),
    ("aten.prod", [ROWS, -1, True], T((4, 1)), {"elementwise": 128}, [T((4, 31)), -1, True]),
    ("aten.cumsum", [ROWS, -1], ROWS, {"elementwise": 128}, [T((4, 31)), -1]),
    ("aten.max", [T((4, 4)), -1, True], T((4, 1)), {"elementwise": 16}, [T((4, 4)), T((4, 4))]),
    ("aten.min", [T((3,))], T(()), {"elementwise": 3}, [T((4,))]),
    ("aten.var", [ROWS, [-1]], T((4,)), {"elementwise": 512}, [T((4, 31)), [-1]]),
    ("aten.var_mean", [ROWS, [-1]], T((4,)), {"elementwise": 512}, [T((4, 31)), [-1]]),
    ("aten.std", [ROWS, [-1]], T((4,)), {"elementwise": 512, "act:sqrt": 4}, [T((4, 31)), [-1]]),
    # vector norms: |x|^p and the sum per input value, a sqrt per result for p = 2, no root for p = 1
    ("aten.linalg_vector_norm", [ROWS, 2.0, [-1], True], T((4, 1)), {"elementwise": 256, "act:sqrt": 4}, [ROWS, 1]),
    ("aten.norm", [ROWS, 2.0, [-1], True], T((4, 1)), {"elementwise": 256, "act:sqrt": 4}, [ROWS, 3.0, [-1]]),
    ("aten.frobenius_norm", [ROWS, [-1], True], T((4, 1)), {"elementwise": 256, "act:sqrt": 4}, [ROWS, 1, [-1]]),
    # sort: n x ceil(log2 n) comparisons per row; topk: n x max(1, ceil(log2 k))
    ("aten.sort", [T((4, 10))], T((4, 10)), {"elementwise": 4 * 10 * 4}, [T((4, 8))]),
    ("aten.sort", [T((4, 10)), 0], T((4, 10)), {"elementwise": 10 * 4 * 2}, [T((4, 10))]),
    ("aten.topk", [T((2, 10)), 3], T((2, 3)), {"elementwise": 2 * 10 * 2}, [T((2, 10)), 8]),
    ("aten.topk", [T((2, 10)), 1], T((2, 1)), {"elementwise": 2 * 10}, [T((2, 10)), 3]),
    # interpolation: taps products and taps - 1 adds per output value; nearest is a lookup
    (
        "aten.upsample_bilinear2d",
        [T((2, 16, 8, 8)), [16, 16], False, 2.0, 2.0],
        T((2, 16, 16, 16)),
        {"elementwise": 8192 * 7},
        OUT,
    ),
    ("aten.upsample_nearest2d", [T((2, 4, 8, 8)), [16, 16], 2.0, 2.0], T((2, 4, 16, 16)), {}, None),
    # selections, permutations and creation compute nothing
    ("aten.where", [ROWS, ROWS, ROWS], ROWS, {}, None),
    ("aten.masked_fill", [T((4, 10)), T((4, 10)), 0.0], T((4, 10)), {}, None),
    ("aten.roll", [T((4, 10)), [1], [-1]], T((4, 10)), {}, None),
    ("aten.flip", [T((4, 10)), [-1]], T((4, 10)), {}, None),
    ("aten.pixel_shuffle", [T((2, 4, 16, 16)), 2], T((2, 1, 32, 32)), {}, None),
    ("aten.new_ones", [T((4, 10)), [4, 10]], T((4, 10)), {}, None),
    ("aten.ones", [[4, 10]], T((4, 10)), {}, None),
]


@pytest.mark.parametrize(("op", "args", "out", "expected", "twin"), BEYOND, ids=[c[0] for c in BEYOND])
def test_the_ops_beyond_the_zoo_are_priced_from_their_recorded_shapes(
    op: str, args: list, out: T, expected: dict, twin: list | str | None
) -> None:
    assert price(op, args, out) == expected
    if twin is None:  # an op that computes nothing: its twin is that a priced op of the same shape is not free
        assert price("aten.mul", [out, out], out) != expected
    elif twin == OUT:  # priced per output value: one more output column departs
        assert price(op, args, T((*out.shape[:-1], out.shape[-1] + 1))) != expected
    else:
        assert price(op, twin, out) != expected


def test_every_op_name_is_listed_once_and_well_formed() -> None:
    names = [*count_exact.ZERO, *count_exact.MOVES, *count_exact.WIDER]
    assert len(names) == len(set(names))
    # WIDER adds to FORMULAS, never replaces a formula the zoo's records were priced by
    source = Path(count_exact.__file__).read_text()
    table = source.split("\nFORMULAS = {\n")[1].split("\n}\n")[0]
    listed = re.findall(r'^    "([^"]+)": \(', table, flags=re.M)
    assert len(listed) == len(set(listed)) and not set(listed) & set(names)
    for name in count_exact.FORMULAS:
        assert re.fullmatch(r"(aten|prim)\.[a-z_][a-z0-9_]*", name), name
        # an in-place form (relu_) is priced as its op; one listed must be an op with no out-of-place twin (copy_)
        assert not name.endswith("_") or name.endswith("__") or name[:-1] not in count_exact.FORMULAS, name
        formula, words = count_exact.FORMULAS[name]
        assert callable(formula) and words.strip() == words and words, name


def test_the_name_check_catches_a_malformed_or_repeated_name() -> None:
    """The twin: what the checks above reject."""
    assert not re.fullmatch(r"(aten|prim)\.[a-z_][a-z0-9_]*", "aten.Conv3d")
    assert not re.fullmatch(r"(aten|prim)\.[a-z_][a-z0-9_]*", "conv3d")
    repeated = [*count_exact.ZERO, "aten.view"]
    assert len(repeated) != len(set(repeated))


def test_the_zoo_formulas_are_untouched_where_the_new_ones_branch() -> None:
    """Inference BatchNorm (training unset) is still 2 per value, the 2-d pools still square a single size."""
    image = T((1, 16, 32, 32))
    args = [image, T((16,)), T((16,)), T((16,)), T((16,)), False, 0.1, 1e-05]
    assert price("aten.native_batch_norm", args, image) == {"elementwise": 2 * image.numel}
    assert price("aten.native_batch_norm", [*args[:5], True, *args[6:]], image) != {"elementwise": 2 * image.numel}
    assert price("aten.max_pool2d", [image, [3]], T((1, 16, 10, 10))) == {"elementwise": 1600 * 8}


def test_a_bias_parameter_is_known_by_its_name() -> None:
    assert all(map(count_exact.is_bias, ["fc.bias", "rnn.bias_ih_l0", "attn.in_proj_bias", "bias"]))
    assert not any(map(count_exact.is_bias, ["fc.weight", "attn.in_proj_weight", "biased.weight", "unbiased"]))
