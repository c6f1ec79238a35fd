"""fvcore, torchprofile and FlopCounterMode on the zoo's layer kinds (norms, transposed, depthwise and
separable convolutions, attention, LSTM, bidirectional GRU): hand-made records holding the numbers and
shapes the torch-latest and torch-1.10.1 containers recorded, each hand count worked out here from the
tools' source, each beside a record the rules cannot have made (a residual)."""

from bench.explain.reconcile import reconcile
from bench.probe import zoo
from bench.reference.convention import PRESETS
from tests.test_counters_aten import node

FVCORE_2022, FVCORE_2021 = "0.1.5.post20221221", "0.1.5.post20211023"  # torch-latest's, torch-1.10.1's
TORCHPROFILE_NEW, TORCHPROFILE_OLD = "0.1.0", "0.0.4"


def record(model: str, job: str, version: str, items: list[dict], config: dict, nodes: list[dict] = ()) -> dict:
    definition = zoo.MODELS[model]
    probe = {
        "counter": job,
        "raw_total": sum(item["raw"] for item in items),
        "breakdown": {"by": "module", "items": items},
        "nodes": list(nodes),
        "layers": [{"name": n, "class": "?", "params": 0, "config": c} for n, c in config.items()],
        "definition": definition,
        "definition_sha256": zoo.fingerprint(definition),
        "provenance": {"counter_tool": {"name": job, "version": version}},
    }
    return {"cell": "torch-latest", "model": model, "job": job, "probe": probe}


def item(name: str, raw: int, rule: str = "", unsupported: dict | None = None) -> dict:
    return {"name": name, "type": "?", "raw": raw, "rule": rule, "unsupported": unsupported or {}}


def residual(made: dict) -> float:
    return reconcile(made, PRESETS["default"]).residual


# --- fvcore: the handles of fvcore/nn/jit_handles.py


BN_VALUES = 1 * 16 * 16 * 32  # the batchnorm model's input
LN_VALUES = 1 * 32 * 64  # the layernorm model's input


def test_fvcore_prices_batch_norm_at_two_per_value_in_eval_mode() -> None:
    # batchnorm_flop_jit, not training, with the affine weight: input size x 2
    ok = record("batchnorm", "fvcore", FVCORE_2022, [item("bn", 2 * BN_VALUES, "batch_norm")], {"bn": {"bias": True}})
    assert residual(ok) == 0
    training = record("batchnorm", "fvcore", FVCORE_2022, [item("bn", 5 * BN_VALUES, "batch_norm")], {"bn": {}})
    assert residual(training) != 0  # norm_flop_counter's 5 per value is the training branch's


def test_fvcore_prices_layer_norm_at_its_rough_five_per_value() -> None:
    ok = record("layernorm", "fvcore", FVCORE_2022, [item("norm", 5 * LN_VALUES, "layer_norm")], {"norm": {}})
    assert residual(ok) == 0
    reference = record("layernorm", "fvcore", FVCORE_2022, [item("norm", 7 * LN_VALUES, "layer_norm")], {"norm": {}})
    assert residual(reference) == 2 * 2 * LN_VALUES  # the reference's 7 per value is not fvcore's


# conv2d-transpose: 16 x 16 input, 16 channels, 8 filters 3 x 3 stride 2: 33 x 33 output
TRANSPOSED_BY_INPUT = 16 * 16 * 16 * 8 * 9  # the 2022 release's transposed branch: input positions x weight
TRANSPOSED_2021 = 33 * 33 * 8 * 8 * 9  # before it: output positions x out_shape[1] x w_shape[1] (the filters again)


def transposed(version: str, raw: int) -> dict:
    return record("conv2d-transpose", "fvcore", version, [item("deconv", raw, "conv")], {"deconv": {"bias": True}})


def test_fvcore_prices_a_transposed_conv_as_its_release_does() -> None:
    assert residual(transposed(FVCORE_2022, TRANSPOSED_BY_INPUT)) == 0
    assert residual(transposed(FVCORE_2021, TRANSPOSED_2021)) == 0
    assert residual(transposed(FVCORE_2022, TRANSPOSED_2021)) != 0  # the 2021 count under the 2022 rules
    assert residual(transposed(FVCORE_2021, TRANSPOSED_BY_INPUT)) != 0


# separable-conv2d: 32 x 32 x 16 input, 3 x 3 depthwise then 32 1 x 1 filters ('same')
DEPTHWISE, POINTWISE = 32 * 32 * 16 * 9, 32 * 32 * 32 * 16


def separable(depthwise: int, pointwise: int) -> dict:
    items = [item("sepconv_depthwise", depthwise, "conv"), item("sepconv_pointwise", pointwise, "conv")]
    items.append(item("sepconv_act", 0))
    config = {"sepconv_depthwise": {"bias": False}, "sepconv_pointwise": {"bias": True}, "sepconv_act": {}}
    return record("separable-conv2d", "fvcore", FVCORE_2022, items, config)


def test_fvcore_prices_a_separable_convs_depthwise_and_pointwise_parts() -> None:
    assert residual(separable(DEPTHWISE, POINTWISE)) == 0
    assert residual(separable(POINTWISE, DEPTHWISE)) == 0  # the layer's total is the same...
    made = reconcile(separable(POINTWISE, DEPTHWISE), PRESETS["default"])
    assert len(made.residuals[0].departures) == 2  # ...but each part departs from its own rule


# --- torchprofile: each traced node by its handler, from the node's recorded shapes


def norm_node(weight: str) -> dict:
    inputs = ("(1, 32, 64)", "(64,)", weight)
    return node("norm", "aten::layer_norm", LN_VALUES, "(1, 32, 64)", inputs) | {
        "attrs": {"module": "norm", "handler": "_norm"}
    }


def test_torchprofile_prices_a_layer_norm_with_its_weight_at_one_per_value() -> None:
    ok = record(
        "layernorm", "torchprofile", TORCHPROFILE_NEW, [item("norm", LN_VALUES)], {"norm": {}}, [norm_node("(64,)")]
    )
    assert residual(ok) == 0
    no_weight = record(
        "layernorm", "torchprofile", TORCHPROFILE_NEW, [item("norm", LN_VALUES)], {"norm": {}}, [norm_node("None")]
    )
    assert residual(no_weight) == 2 * LN_VALUES  # _norm gives 0 without the affine weight


def deconv(raw: int) -> dict:
    nodes = [node("deconv", "aten::_convolution", raw, "(1, 8, 33, 33)", ("(1, 16, 16, 16)", "(16, 8, 3, 3)"))]
    return record("conv2d-transpose", "torchprofile", TORCHPROFILE_NEW, [item("deconv", raw)], {"deconv": {}}, nodes)


def test_torchprofile_prices_a_transposed_conv_on_its_output_with_the_input_channels() -> None:
    # _convolution: output (1, 8, 33, 33) != weight[0] 16, so in_channels = weight[0]: outputs x 16 x 9
    assert residual(deconv(33 * 33 * 8 * 16 * 9)) == 0
    assert residual(deconv(TRANSPOSED_BY_INPUT)) != 0


LSTM_STEP = 4 * 32 * (16 + 32)  # 4 gates, 32 units, 16 features


def lstm(version: str, raw: int) -> dict:
    nodes = [node("lstm", "aten::lstm", raw, "(1, 20, 32)", ("(1, 20, 16)",))]
    return record("lstm", "torchprofile", version, [item("lstm", raw)], {"lstm": {"batch_first": True}}, nodes)


def test_torchprofile_prices_every_lstm_step_from_0_1_on_and_none_before() -> None:
    new = reconcile(lstm(TORCHPROFILE_NEW, 20 * LSTM_STEP), PRESETS["default"])
    assert new.residual == 0 and new.priced_steps == {"lstm": 20}
    old = reconcile(lstm(TORCHPROFILE_OLD, 0), PRESETS["default"])
    assert old.residual == 0 and old.priced_steps == {"lstm": 0}
    assert residual(lstm(TORCHPROFILE_OLD, 20 * LSTM_STEP)) != 0  # 0.0.4 has no _lstm handler


# --- FlopCounterMode: each dispatched op by its flop_registry formula


def flop_deconv(raw: int) -> dict:
    nodes = [node("deconv", "aten.convolution", raw, "(1, 8, 33, 33)", ("(1, 16, 16, 16)", "(16, 8, 3, 3)", "(8,)"))]
    items = [item("deconv", raw)]
    return record("conv2d-transpose", "torch-flop-counter", "2.13.0+cpu", items, {"deconv": {"bias": True}}, nodes)


def test_flop_counter_prices_a_transposed_conv_on_its_input_positions() -> None:
    assert residual(flop_deconv(2 * TRANSPOSED_BY_INPUT)) == 0
    assert residual(flop_deconv(2 * 33 * 33 * 8 * 16 * 9)) != 0  # a regular conv's formula on the output


GRU_STEP = 3 * 32 * (16 + 32)  # one direction's step: 3 gates, 32 units, 16 features


def bigru(raw: int) -> dict:
    rows = node("bigru", "aten.addmm", 0, "(20, 96)", ("(96,)", "(20, 16)", "(16, 96)"))
    step = node("bigru", "aten.addmm", 0, "(1, 96)", ("(96,)", "(1, 32)", "(32, 96)"))
    nodes = [rows] + [step] * 20 + [rows] + [step] * 20  # forwards, then backwards
    config = {"bigru": {"batch_first": True, "bias": True}}
    return record("bigru", "torch-flop-counter", "2.13.0+cpu", [item("bigru", raw)], config, nodes)


def test_flop_counter_prices_both_directions_of_a_bidirectional_gru() -> None:
    made = reconcile(bigru(2 * 2 * 20 * GRU_STEP), PRESETS["default"])
    assert made.residual == 0 and made.priced_steps == {"bigru": 20}
    assert residual(bigru(2 * 20 * GRU_STEP)) != 0  # one direction only


def whole_lstm(raw: int, mkldnn: bool) -> dict:
    """nn.LSTM under inference_mode: aten.lstm reaches the mode whole (the torch-latest record's one op)."""
    nodes = [
        node("lstm", "aten.lstm", raw, "(1, 20, 32)", ("(1, 20, 16)", "[]", "[(128, 16), (128, 32), (128,), (128,)]"))
    ]
    made = record(
        "lstm", "torch-flop-counter", "2.13.0+cpu", [item("lstm", raw)], {"lstm": {"batch_first": True}}, nodes
    )
    made["probe"]["provenance"]["switches"] = {"mkldnn_enabled": mkldnn, "inference_mode": True}
    return made


def test_flop_counter_prices_a_whole_lstm_only_where_onednn_is_off() -> None:
    on = reconcile(whole_lstm(0, True), PRESETS["default"])
    assert on.residual == 0 and on.priced_steps == {"lstm": 0}  # at::lstm's oneDNN path: mkldnn_rnn_layer
    off = reconcile(whole_lstm(2 * 20 * LSTM_STEP, False), PRESETS["default"])
    assert off.residual == 0 and off.priced_steps == {"lstm": 20}  # decomposed into addmm and mm
    assert residual(whole_lstm(2 * 20 * LSTM_STEP, True)) != 0
    assert residual(whole_lstm(0, False)) != 0
