"""onnx-tool over ONNX exports: its rule model and reconciliation on records shaped like the measured ones,
each property next to a record that must break it. The nodes are those the torch-latest and tf-latest
cells recorded (onnx-tool 1.0.1; torch 2.13.0's TorchScript exporter, tf2onnx 1.17.0), plumbing trimmed;
every count is also worked out by hand below from the layers' sizes, independently of the rule model."""

from collections import Counter, defaultdict

from bench.counters import ADAPTERS, Unit, onnx_tool
from bench.explain.reconcile import reconcile
from bench.probe import zoo
from bench.publish.words import residual_items
from bench.reference.convention import PRESETS
from tests import samples

SEED, SEED_CONV = zoo.MODELS["seed"], zoo.MODELS["seed-conv"]
U, D, ROWS = 96, 4064, 97
OUTPUTS = 32 * 97 * 127
CONV = OUTPUTS * 1 * 4 * 4  # output values x kernel volume
RELU = OUTPUTS  # 1 compare per value
# GRU: (W + R) x batch x seq products, B x batch x seq adds, 110 per output value: 3 gate adds, 2 x 32
# for the sigmoids, 38 for the tanh, 5 blend ops; batch x seq = 97 whichever way the frames are read
GRU = 3 * U * (D + U) * ROWS + 6 * U * ROWS + ROWS * U * (3 + 64 + 38 + 5)
FC = ROWS * U * 256
SIGMOID = ROWS * 256 * 32


def node(
    name: str, op: str, raw: int, out: str, ins: list, weights: tuple = (), scope: str | None = None, **kw
) -> dict:
    """ins: (tensor, shape) pairs; the output tensor is `<name>:0`."""
    attrs = {"module": scope if scope is not None else "/".join(p for p in name.split("/")[:-1] if p)}
    attrs.update({"weights": list(weights), "outputs": [f"{name}:0"], "profiler": f"{op}Node", **kw})
    rule = attrs.pop("rule", "counted")
    return {
        "name": name,
        "op": op,
        "raw": raw,
        "rule": rule,
        "shape": out,
        "inputs": [i for i, _ in ins],
        "input_shapes": [s for _, s in ins],
        "attrs": attrs,
    }


def hidden(name: str, op: str, out: str, ins: list, scope: str | None = None) -> dict:
    return node(name, op, 0, out, ins, scope=scope, profiler="hidden (NoMacsOps): not profiled")


def torch_conv(conv: int = CONV + OUTPUTS, relu: int = RELU) -> list[dict]:
    return [
        node(
            "/conv2d/Conv",
            "Conv",
            conv,
            "(1, 32, 97, 127)",
            [("x", "(1, 1, 100, 256)"), ("w", "(32, 1, 4, 4)"), ("b", "(32,)")],
            ("w", "b"),
        ),
        node("/relu/Relu", "Relu", relu, "(1, 32, 97, 127)", [("/conv2d/Conv:0", "(1, 32, 97, 127)")]),
    ]


def torch_seed(gru: int = GRU, sigmoid: int = SIGMOID, op: str = "Sigmoid") -> list[dict]:
    gru_ins = [("/Reshape:0", "(1, 97, 4064)"), ("W", "(1, 288, 4064)"), ("R", "(1, 288, 96)"), ("B", "(1, 576)")]
    return [
        *torch_conv(),
        hidden("/Reshape", "Reshape", "(1, 97, 4064)", [("/relu/Relu:0", "(1, 32, 97, 127)")]),
        node("/gru/GRU", "GRU", gru, "(1, 1, 97, 96)", [*gru_ins, ("", ""), ("h0", "(1, 97, 96)")], ("W", "R", "B")),
        hidden("/gru/Squeeze", "Squeeze", "(1, 97, 96)", [("/gru/GRU:0", "(1, 1, 97, 96)")]),
        node(
            "/fc/MatMul", "MatMul", FC, "(1, 97, 256)", [("/gru/Squeeze:0", "(1, 97, 96)"), ("M", "(96, 256)")], ("M",)
        ),
        node(
            "/fc/Add",
            "Add",
            ROWS * 256,
            "(1, 97, 256)",
            [("fc.bias", "(256,)"), ("/fc/MatMul:0", "(1, 97, 256)")],
            ("fc.bias",),
        ),
        node(f"/sigmoid/{op}", op, sigmoid, "(1, 97, 256)", [("/fc/Add:0", "(1, 97, 256)")]),
    ]


def keras_seed(scope: str = "model") -> list[dict]:
    """tf2onnx's export: no bias add (the zero-initialised biases fold away), the GRU as GRU__25 with no scope."""
    gru_ins = [(f"{scope}/gru/t:0", "(97, 1, 4064)"), ("W", "(1, 288, 4064)"), ("R", "(1, 288, 96)"), ("B", "(1, 576)")]
    return [
        node(
            f"{scope}/conv/Conv2D",
            "Conv",
            CONV,
            "(1, 32, 97, 127)",
            [("x", "(1, 1, 100, 256)"), ("k", "(32, 1, 4, 4)")],
            ("k",),
        ),
        node(f"{scope}/conv/Relu", "Relu", RELU, "(1, 32, 97, 127)", [(f"{scope}/conv/Conv2D:0", "(1, 32, 97, 127)")]),
        hidden(f"{scope}/gru/t", "Reshape", "(97, 1, 4064)", [(f"{scope}/conv/Relu:0", "(1, 32, 97, 127)")]),
        node(
            "GRU__25", "GRU", GRU, "(97, 1, 1, 96)", [*gru_ins, ("", ""), ("h0", "(1, 1, 96)")], ("W", "R", "B", "h0")
        ),
        hidden("Squeeze__27", "Squeeze", "(97, 1, 96)", [("GRU__25:0", "(97, 1, 1, 96)")]),
        node(
            f"{scope}/output/MatMul",
            "MatMul",
            FC,
            "(97, 256)",
            [("Squeeze__27:0", "(97, 96)"), ("M", "(96, 256)")],
            ("M",),
        ),
        node(
            f"{scope}/output/Sigmoid", "Sigmoid", SIGMOID, "(1, 97, 256)", [(f"{scope}/output/MatMul:0", "(97, 256)")]
        ),
    ]


def record(definition: dict, nodes: list[dict], counter: str = "onnx-tool-torch", total: int = -1, said=()) -> dict:
    framework = ("torch", "2.13.0+cpu") if counter == "onnx-tool-torch" else ("tensorflow", "2.21.0")
    total_or_sum = None if total < 0 else total
    return samples.graph_record(
        counter, definition, nodes, ("onnx-tool", "1.0.1"), framework, "torch-latest", total_or_sum, unsupported=said
    )


def by_cause(result) -> dict:
    found: dict = defaultdict(float)
    for adjustment in result.adjustments:
        found[(adjustment.cause, adjustment.layer)] += adjustment.flops
    return {k: v for k, v in found.items() if v}


def test_the_measured_counts_are_the_hand_counts() -> None:
    assert (CONV + OUTPUTS, RELU, GRU, FC, SIGMOID) == (6701536, 394208, 117293952, 2383872, 794624)
    assert sum(n["raw"] for n in torch_seed()) == 127593024  # measured in torch-latest
    assert sum(n["raw"] for n in keras_seed()) == 127173984  # measured in tf-latest: no bias adds
    assert sum(n["raw"] for n in torch_conv()) == 7095744 and CONV + RELU == 6701536
    assert ADAPTERS["onnx-tool-torch"].unit is Unit.MAC and ADAPTERS["onnx-tool-keras"].unit is Unit.MAC


def test_torch_export_reconciles_node_by_node() -> None:
    for name in ("default", "macs"):
        result = reconcile(record(SEED, torch_seed()), PRESETS[name])
        assert result.residual == 0 and result.residuals == []
        assert result.priced_steps == {"gru": 97}
    result = reconcile(record(SEED, torch_seed()), PRESETS["default"])
    causes = by_cause(result)
    assert causes[("activation", "output")] == 2 * SIGMOID - ROWS * 256  # 32 MACs per sigmoid, 2 FLOPs per MAC
    assert causes[("bias", "conv")] == OUTPUTS  # an add priced as a MAC: 2 FLOPs against the reference's 1
    assert ("steps", "gru") not in causes
    assert "(1, 97, 4064)" in result.why["gru"][0] and "97 steps' worth" in result.why["gru"][0]


def test_keras_export_places_the_unscoped_gru_and_says_the_biases_are_missing() -> None:
    result = reconcile(record(SEED, keras_seed(), "onnx-tool-keras"), PRESETS["default"])
    assert result.residual == 0 and result.priced_steps == {"gru": 97}
    causes = by_cause(result)
    assert causes[("bias", "conv")] == -OUTPUTS and causes[("bias", "output")] == -ROWS * 256
    assert "no bias add" in result.notes["conv"][0] and "model/conv/Conv2D" in result.notes["conv"][0]
    reading = ADAPTERS["onnx-tool-keras"].read(SEED, record(SEED, keras_seed("model_1"))["probe"])
    assert {i.name: i.place for i in reading.items}["GRU__25"] == "gru"
    assert {i.name: i.place for i in reading.items}["Squeeze__27"] == "gru"


def test_seed_conv_reconciles_in_both_exports() -> None:
    torch = reconcile(record(SEED_CONV, torch_conv()), PRESETS["default"])
    keras = reconcile(record(SEED_CONV, keras_seed()[:2], "onnx-tool-keras"), PRESETS["default"])
    assert torch.residual == 0 and keras.residual == 0
    assert torch.total == 2 * 7095744 and keras.total == 2 * 6701536


def test_counts_that_depart_from_its_rules_are_residual_at_their_node() -> None:
    tampered = reconcile(record(SEED, torch_seed(gru=GRU + 1)), PRESETS["default"])
    assert tampered.residual == 2 and [r.place for r in tampered.residuals] == ["gru"]
    assert residual_items(tampered.residuals[0])[0].startswith("/gru/GRU: counted 117,293,953 MACs")
    relu = reconcile(record(SEED_CONV, torch_conv(relu=RELU * 2)), PRESETS["default"])
    assert relu.residual == 2 * RELU and residual_items(relu.residuals[0])[0].startswith("/relu/Relu:")
    gap = record(SEED, torch_seed(), total=sum(n["raw"] for n in torch_seed()) + 3)
    assert [(r.place, r.flops) for r in reconcile(gap, PRESETS["default"]).residuals] == [("total", 6)]


def test_a_wrong_rule_leaves_a_residual() -> None:
    # a tanh priced once per value (its ratio is 2 in onnx-tool), or an op the rule model does not know
    tanh = reconcile(record(SEED, torch_seed(sigmoid=ROWS * 256 * 38, op="Tanh")), PRESETS["default"])
    assert tanh.residual == -2 * ROWS * 256 * 38
    unknown = reconcile(record(SEED, torch_seed(op="HardSwish", sigmoid=5)), PRESETS["default"])
    assert (
        unknown.residual == 10 and "no rule model for the ONNX op HardSwish" in residual_items(unknown.residuals[0])[0]
    )


def test_an_op_onnx_tool_cannot_price_is_zero_with_its_own_words() -> None:
    words = "node RNN is not registed for profiling, return 0 Macs and 0 params as default."
    rnn = node("/gru/GRU", "RNN", 0, "(1, 1, 97, 96)", [("/Reshape:0", "(1, 97, 4064)")], rule="no-rule")
    nodes = [rnn if n["name"] == "/gru/GRU" else n for n in torch_seed()]
    result = reconcile(record(SEED, nodes, said=[words]), PRESETS["default"])
    assert result.residual == 0 and result.priced_steps == {"gru": 0}
    assert words in result.notes["gru"][0]
    assert by_cause(result)[("steps", "gru")] < 0


def test_generic_prices() -> None:
    gemm = node("g", "Gemm", 0, "(8, 10)", [("a", "(8, 4)"), ("w", "(10, 4)"), ("c", "(10,)")], ("w", "c"), transB=1)
    assert onnx_tool.price(gemm).parts == Counter({"mac": 8 * 10 * 4, "bias": 80})
    lstm_ins = [("x", "(5, 2, 3)"), ("W", "(1, 16, 3)"), ("R", "(1, 16, 4)"), ("B", "(1, 32)")]
    lstm = onnx_tool.price(node("l", "LSTM", 0, "(5, 1, 2, 4)", lstm_ins, ("W", "R", "B")))
    values = 2 * 5 * 4
    assert lstm.parts["mac"] == (48 + 64) * 10 and lstm.parts["bias"] == 32 * 10
    assert sum(lstm.parts.values()) == (48 + 64) * 10 + 320 + values * (4 + 3 * 32 + 2 * 38 + 4)
    assert onnx_tool.price(node("m", "Mul", 0, "(2, 3)", [("a", ""), ("b", "")])).parts == Counter({"elementwise": 6})
    assert onnx_tool.price(node("d", "Div", 0, "(2, 3)", [("a", ""), ("b", "")])).parts == Counter({"elementwise": 24})


# --- pools, normalisations and the transposed conv (tf-latest's real tf2onnx nodes, priced by hand) ----


def keras_record(model: str, nodes: list[dict]) -> dict:
    return record(zoo.MODELS[model], nodes, counter="onnx-tool-keras")


def avg_pool(raw: int, kernel: tuple = (3, 3)) -> dict:
    return node("model/pool/AvgPool", "AveragePool", raw, "(1, 16, 15, 15)", [("x", "(1, 16, 32, 32)")],
                kernel_shape=list(kernel), strides=[2, 2])  # fmt: skip


def test_pools_price_every_kernel_tap_of_every_output() -> None:
    assert reconcile(keras_record("avgpool", [avg_pool(3600 * 9)]), PRESETS["default"]).residual == 0
    maxpool = node("model/pool/MaxPool", "MaxPool", 4096 * 4, "(1, 16, 16, 16)", [("x", "(1, 16, 32, 32)")],
                   kernel_shape=[2, 2], strides=[2, 2])  # fmt: skip
    assert reconcile(keras_record("maxpool", [maxpool]), PRESETS["default"]).residual == 0


def test_a_pool_priced_with_the_wrong_kernel_leaves_a_residual() -> None:
    got = reconcile(keras_record("avgpool", [avg_pool(3600 * 9, kernel=(2, 2))]), PRESETS["default"])
    assert got.residual == 2 * 3600 * 5 and [r.place for r in got.residuals] == ["pool"]  # MACs x 2 FLOPs


def test_batch_norm_and_global_average_pool_follow_node_py() -> None:
    x = [("x", "(1, 32, 16, 16)")] + [(f"w{i}", "(32,)") for i in range(4)]
    bn = node("model/bn/FusedBatchNormV3", "BatchNormalization", 8192 * 31, "(1, 32, 16, 16)", x)
    assert reconcile(keras_record("batchnorm", [bn]), PRESETS["default"]).residual == 0
    off = dict(bn, raw=8192 * 30)
    assert reconcile(keras_record("batchnorm", [off]), PRESETS["default"]).residual == -2 * 8192
    mean = node("model/norm/moments/mean", "GlobalAveragePool", 2176, "(1, 32, 1)", [("x", "(1, 32, 64)")])
    assert onnx_tool.price(mean).parts == Counter({"elementwise": 2048 + 32 * 4})


def deconv(raw: int, bias: bool = False) -> dict:
    ins = [("x", "(1, 16, 16, 16)"), ("w", "(16, 8, 3, 3)")] + ([("b", "(8,)")] if bias else [])
    return node("model/deconv/conv2d_transpose", "ConvTranspose", raw, "(1, 8, 33, 33)", ins, weights=("w",))


def test_a_transposed_conv_is_output_values_times_the_weight_past_its_input_channels() -> None:
    out = 8 * 33 * 33
    assert reconcile(keras_record("conv2d-transpose", [deconv(out * 72)]), PRESETS["default"]).residual == 0
    assert onnx_tool.price(deconv(0, bias=True)).parts == Counter({"mac": out * 72, "bias": out})
    # priced as a Conv (weight volume past its OUTPUT channels: 16 x 3 x 3) it would not reconcile
    assert reconcile(keras_record("conv2d-transpose", [deconv(out * 144)]), PRESETS["default"]).residual != 0


def test_layer_norm_node_and_reduce_mean() -> None:
    ln = node("/norm/LayerNormalization", "LayerNormalization", 0, "(1, 32, 64)", [("x", "(1, 32, 64)")], axis=-1)
    assert onnx_tool.price(ln).parts == Counter({"elementwise": 2048 * 7 + 32 * 29})
    mean = node("/norm/ReduceMean", "ReduceMean", 0, "(1, 32, 1)", [("x", "(1, 32, 64)")])
    assert onnx_tool.price(mean).parts == Counter({"elementwise": 2048})


def test_compares_price_1_per_value_on_the_layer_keras_3_scoped_with_a_suffix() -> None:
    """llama-small's embedding mask as tf2onnx wrote it under Keras's unique scope `embed_1`."""
    less = node("functional_1/embed_1/Less", "Less", 64, "(1, 64)", [("ids", "(1, 64)"), ("zero", "()")])
    got = reconcile(keras_record("llama-small", [less]), PRESETS["default"])
    assert got.residual == 0 and onnx_tool.keras_place("functional_1/embed_1", zoo.MODELS["llama-small"]) == "embed"
    assert onnx_tool.keras_place("functional_1/embed_x", zoo.MODELS["llama-small"]) is None
    wrong = reconcile(keras_record("llama-small", [dict(less, raw=128)]), PRESETS["default"])
    assert wrong.residual == 2 * 64 and [r.place for r in wrong.residuals] == ["embed"]
