"""thop (0.0.31, 0.1.1, ultralytics-thop 2.2.3) and torchinfo on the zoo's layer kinds: hand-made records
with the counts measured in the torch-1.10.1, torch-latest and torch-ultralytics-thop cells, each count
also worked out by hand below from the tools' hook sources; every property next to a record that breaks it."""

from collections import Counter

import pytest

from bench.counters import thop
from bench.explain.reconcile import reconcile
from bench.probe import zoo
from bench.records import results
from bench.reference.convention import PRESETS
from tests import samples
from tests.test_counters_torchinfo_calflops import record

OLD, NEW, ULTRA = "0.0.31", "0.1.1", "2.2.3"
BIAS, NO_BIAS, BATCH_FIRST = {"bias": True}, {"bias": False}, {"bias": True, "batch_first": True}

# The containers' counts, each with how thop's hooks make it; the rule model (not this file) must reproduce them.
# conv2d-transpose, 16 -> 8 channels, 3 x 3, stride 2, on 16 x 16 (a 33 x 33 x 8 output): 0.0.31 prices it
# as a conv with bias, 33 x 33 x 8 x (16 x 9 + 1); 0.1.1 without the bias; ultralytics-thop by the input,
# 16 x 16 x 16 x 8 x 9
DECONV_OLD, DECONV_NEW, DECONV_ULTRA = 1263240, 1254528, 294912
# separable-conv2d, 16 channels on 32 x 32 ('same'): 3 x 3 depthwise, 32 x 32 x 16 x 9; 32 filters, 32 x 32 x 16 x 32
DEPTHWISE, POINTWISE = 147456, 524288
# avgpool, 3 x 3 windows, stride 2, over 32 x 32 x 16: 15 x 15 x 16 outputs
POOLED = 3600
# 20 steps of 16 features into 32 units: bigru both directions, 2 x 20 x (3 x 48 x 32 + 7 x 32 + 6 x 32);
# lstm 20 x (4 x 48 x 32 + 8 x 32 + 8 x 32); simplernn 20 x (48 x 32 + 32 + 64)
BIGRU, LSTM, RNN = 200960, 133120, 32640
# transformer-encoder, 32 tokens, 4 heads of 16: q @ k^T and p @ v, each 4 x 32 x 32 x 16
ATTENTION = 131072


def single(model: str, version: str, raw: int, rule: str, config: dict, job: str = "thop") -> dict:
    definition = zoo.MODELS[model]
    (name,) = definition["layers"][0]["torch"]
    return record(job, version, definition, {name: (raw, rule)}, {name: config})


def residual(entry: dict) -> float:
    return reconcile(entry, PRESETS["default"]).residual


def test_a_transposed_conv_is_priced_as_each_thop_version_prices_it() -> None:
    measured = {OLD: DECONV_OLD, NEW: DECONV_NEW, ULTRA: DECONV_ULTRA}
    rules = {OLD: "count_convNd", NEW: "count_convNd", ULTRA: "count_convtNd"}
    for version, raw in measured.items():
        result = reconcile(single("conv2d-transpose", version, raw, rules[version], BIAS), PRESETS["default"])
        assert result.residual == 0, version
        other = sum(a.flops for a in result.adjustments if a.cause == "other")
        assert other == (0 if version == ULTRA else 2 * (DECONV_NEW - DECONV_ULTRA)), version
    # each version's count read with another version's rules departs from them
    old_as_new = single("conv2d-transpose", NEW, DECONV_OLD, "count_convNd", BIAS)
    assert residual(old_as_new) == 2 * (DECONV_OLD - DECONV_NEW)
    new_as_ultra = single("conv2d-transpose", ULTRA, DECONV_NEW, "count_convtNd", BIAS)
    assert residual(new_as_ultra) == 2 * (DECONV_NEW - DECONV_ULTRA)


def test_a_separable_conv_is_two_convs() -> None:
    definition = zoo.MODELS["separable-conv2d"]
    items = {"sepconv_depthwise": (DEPTHWISE, "count_convNd"), "sepconv_pointwise": (POINTWISE, "count_convNd")}
    config = {"sepconv_depthwise": NO_BIAS, "sepconv_pointwise": BIAS, "sepconv_act": {}}
    items["sepconv_act"] = (0, "zero_ops")
    assert residual(record("thop", NEW, definition, items, config)) == 0
    with_bias = dict(items, sepconv_pointwise=(POINTWISE + 32 * 32 * 32, "count_convNd"))
    assert residual(record("thop", OLD, definition, with_bias, config)) == 0
    swapped = dict(items, sepconv_depthwise=(POINTWISE, "count_convNd"), sepconv_pointwise=(DEPTHWISE, "count_convNd"))
    assert [r.place for r in reconcile(record("thop", NEW, definition, swapped, config), PRESETS["default"]).residuals]
    assert residual(record("thop", NEW, definition, swapped, config)) == 0  # the layer's sum is unchanged...
    places = reconcile(record("thop", NEW, definition, swapped, config), PRESETS["default"]).residuals[0].departures
    assert len(places) == 2  # ...but each module departs from its own rule


def test_norms_are_priced_per_input_value_and_per_affine_pair() -> None:
    values = 16 * 16 * 32
    assert residual(single("batchnorm", OLD, 2 * values, "count_bn", BIAS)) == 0
    assert residual(single("batchnorm", NEW, 4 * values, "count_normalization", BIAS)) == 0
    assert residual(single("batchnorm", NEW, 4 * values, "count_normalization", NO_BIAS)) == 2 * 2 * values
    assert residual(single("layernorm", NEW, 4 * 32 * 64, "count_normalization", BIAS)) == 0
    assert residual(single("layernorm", OLD, 0, "", BIAS)) == 0  # thop 0.0.31 has no LayerNorm rule
    assert residual(single("layernorm", OLD, 1, "", BIAS)) == 2


def test_average_pools_by_version() -> None:
    assert residual(single("avgpool", NEW, POOLED, "count_avgpool", {})) == 0
    assert residual(single("avgpool", ULTRA, 9 * POOLED + POOLED, "count_avgpool", {})) == 0
    assert residual(single("avgpool", ULTRA, POOLED, "count_avgpool", {})) == -2 * 9 * POOLED
    pool = {"input": [1, 7, 7, 1280], "layers": [{"name": "gap", "kind": "global_avg_pool2d", "torch": ["gap"]}]}
    entry = record("thop", NEW, pool, {"gap": ((49 + 1) * 1280, "count_adap_avgpool")}, {"gap": {}})
    assert residual(entry) == 0
    assert residual(record("thop", NEW, pool, {"gap": (49 * 1280, "count_adap_avgpool")}, {"gap": {}})) == -2 * 1280


def test_recurrent_layers_price_every_cell_of_every_direction() -> None:
    assert residual(single("bigru", NEW, BIGRU, "count_gru", BATCH_FIRST)) == 0
    assert residual(single("bigru", NEW, BIGRU // 2, "count_gru", BATCH_FIRST)) == -BIGRU
    assert residual(single("lstm", OLD, LSTM, "count_lstm", BATCH_FIRST)) == 0
    assert residual(single("simplernn", ULTRA, RNN, "count_rnn", BATCH_FIRST)) == 0
    assert residual(single("simplernn", ULTRA, RNN, "count_rnn", NO_BIAS | {"batch_first": True})) == 128 * 20


def encoder(attention: dict, version: str = ULTRA) -> dict:
    definition = zoo.MODELS["transformer-encoder"]
    linear = (131072, "count_linear")
    items = {f"encoder.{n}": linear for n in ("query", "key", "value", "output")}
    items |= {"encoder.ffn1": (524288, "count_linear"), "encoder.ffn2": (524288, "count_linear")}
    items |= {"encoder.norm1": (8192, "count_normalization"), "encoder.norm2": (8192, "count_normalization")}
    items |= {"encoder.ffn1_act": (0, ""), "encoder.attention": (attention.get("raw", 0), "")}
    entry = record("thop", version, definition, items, {name: BIAS for name in items})
    for item in entry["probe"]["breakdown"]["items"]:
        if item["name"] == "encoder.attention" and "functions" in attention:
            item["functions"] = attention["functions"]
    return entry


def test_ultralytics_thop_prices_attention_by_its_functional_matmuls() -> None:
    counted = encoder({"raw": ATTENTION, "functions": {"_count_matmul": ATTENTION}})
    result = reconcile(counted, PRESETS["default"])
    assert result.residual == 0 and result.total == 2 * 1720320
    assert not [a for a in result.adjustments if a.layer == "encoder" and a.cause == "mac"]  # its MACs: the reference's
    assert residual(encoder({"raw": 0})) == 0  # thop 0.1.1 and older: no rule, nothing functional
    # the products counted but not recorded as the functional rule's: the rule model cannot see them
    assert residual(encoder({"raw": ATTENTION})) == 2 * ATTENTION
    # the functional rule modelled on attention layers alone; a count above its products is residual
    assert thop.FUNCTIONS["_count_matmul"][1] == frozenset({"attention"})
    doubled = encoder({"raw": 2 * ATTENTION, "functions": {"_count_matmul": 2 * ATTENTION}})
    assert residual(doubled) == 2 * ATTENTION


# --- torchinfo: parameter sizes x output_size[0] (x positions for a Conv class, x [1] for an RNN's)


def test_torchinfo_prices_the_new_kinds_from_parameter_sizes() -> None:
    def ti(model: str, raw: int, rule: str, config: dict) -> float:
        return residual(single(model, "1.8.0", raw, rule, config, "torchinfo"))

    # ConvTranspose2d: (16 x 8 x 9 weights + 8 biases) x 33 x 33 output positions
    assert ti("conv2d-transpose", (16 * 8 * 9 + 8) * 33 * 33, "conv", BIAS) == 0
    assert ti("conv2d-transpose", 16 * 8 * 9 * 33 * 33, "conv", BIAS) == -2 * 8 * 33 * 33
    assert ti("batchnorm", 2 * 32, "output_size[0]", BIAS) == 0  # weight and bias, x batch 1
    assert ti("layernorm", 2 * 64, "output_size[0]", BIAS) == 0
    assert ti("embedding", 1000 * 64, "output_size[0]", {}) == 0  # the table, x batch 1
    assert ti("embedding", 32 * 1000 * 64, "output_size[0]", {}) == 2 * 31 * 64000
    gru = 2 * (3 * 32 * 48 + 6 * 32)  # both directions' weight_ih, weight_hh, bias_ih, bias_hh
    assert ti("bigru", gru * 20, "output_size[:2]", BATCH_FIRST) == 0
    assert ti("bigru", gru // 2 * 20, "output_size[:2]", BATCH_FIRST) == -gru * 20


def test_torchinfo_prices_a_separable_conv_module_by_module() -> None:
    definition = zoo.MODELS["separable-conv2d"]
    items = {
        "sepconv_depthwise": (16 * 9 * 1024, "conv"),
        "sepconv_pointwise": ((32 * 16 + 32) * 1024, "conv"),
        "sepconv_act": (0, "no parameters"),
    }
    config = {"sepconv_depthwise": NO_BIAS, "sepconv_pointwise": BIAS, "sepconv_act": {}}
    assert residual(record("torchinfo", "1.8.0", definition, items, config)) == 0
    biased = dict(config, sepconv_depthwise=BIAS)
    assert residual(record("torchinfo", "1.8.0", definition, items, biased)) == -2 * 16 * 1024


def test_predictions_split_into_the_references_components() -> None:
    """A rule that prices nothing still names each component it leaves out, at 0."""
    entry = encoder({"raw": 0}, NEW)
    result = reconcile(entry, PRESETS["default"])
    components = Counter(a.cause for a in result.adjustments if a.layer == "encoder")
    assert components["activation"] and components["elementwise"]


def test_a_record_names_its_functional_counts_as_integers() -> None:
    entry = samples.ok()
    entry["probe"]["breakdown"]["items"][0]["functions"] = {"_count_matmul": 4}
    results.validate(entry)
    entry["probe"]["breakdown"]["items"][0]["functions"] = {"_count_matmul": "4"}
    with pytest.raises(results.InvalidRecord, match="functions/_count_matmul"):
        results.validate(entry)
