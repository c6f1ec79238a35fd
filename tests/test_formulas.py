"""Each formula against a count worked out by hand here."""

import pytest

from bench.probe import zoo
from bench.reference import convention
from bench.reference.formulas import FORMULAS, analyse, formula


def one(kind: str, in_shape: tuple, **spec: object):
    return FORMULAS[kind](dict(spec, name="x", kind=kind), in_shape)


def test_conv2d_the_seed_layer() -> None:
    # 1x100x256 input, 4x4 kernel, stride (1, 2): 97 x 127 positions, 32 filters.
    cost = one(
        "conv2d",
        (1, 1, 100, 256),
        filters=32,
        kernel=[4, 4],
        strides=[1, 2],
        activation="relu",
        data_format="channels_first",
    )
    assert cost.out_shape == (1, 32, 97, 127)
    assert cost.once == {"mac": 394208 * 16, "bias": 394208, "act:relu": 394208}
    assert cost.params == 32 * 16 + 32 == 544


def test_conv1d_channels_last() -> None:
    # length 10, 3 channels, kernel 3: 8 positions x 4 filters = 32 outputs of 9 taps each.
    cost = one("conv1d", (1, 10, 3), filters=4, kernel=[3], strides=[1], activation="linear")
    assert cost.out_shape == (1, 8, 4)
    assert cost.once == {"mac": 288, "bias": 32}
    assert cost.params == 40


def test_dense_on_a_sequence() -> None:
    cost = one("dense", (1, 97, 96), units=256, activation="sigmoid")
    assert cost.once == {"mac": 97 * 96 * 256, "bias": 97 * 256, "act:sigmoid": 97 * 256}
    assert cost.params == 96 * 256 + 256 == 24832


def test_gru_reset_after_per_step_and_over_the_sequence() -> None:
    cost = one(
        "gru",
        (1, 97, 4064),
        units=96,
        reset_after=True,
        return_sequences=True,
        activation="tanh",
        recurrent_activation="sigmoid",
    )
    # 3 gates x 96 x (4064 + 96) MACs; 2 x 288 biases; 8 x 96 element-wise; 2 x 96 sigmoid; 96 tanh.
    assert cost.step == {"mac": 1198080, "bias": 576, "elementwise": 768, "act:sigmoid": 192, "act:tanh": 96}
    assert cost.steps == 97 and cost.once == {}
    assert cost.params == 3 * (4064 * 96 + 96 * 96) + 2 * 288 == 1198656
    assert convention.PRESETS["default"].flops(cost.total()) == 97 * (2 * 1198080 + 576 + 768 + 192 + 96)


def test_gru_without_reset_after_has_one_bias() -> None:
    cost = one("gru", (2, 5, 10), units=4, reset_after=False, activation="tanh", recurrent_activation="sigmoid")
    assert cost.step["bias"] == 2 * 12
    assert cost.params == 3 * (10 * 4 + 4 * 4) + 12 == 180
    assert cost.out_shape == (2, 4)


def test_time_major_swaps_the_first_two_axes() -> None:
    cost = one(
        "gru",
        (1, 97, 4064),
        units=96,
        time_major=True,
        return_sequences=True,
        activation="tanh",
        recurrent_activation="sigmoid",
    )
    assert cost.steps == 1 and cost.step["mac"] == 97 * 1198080  # 97 batch rows of one step
    assert cost.out_shape == (1, 97, 96)


def test_lstm_step() -> None:
    # B=2, D=10, U=4: 4 gates x 4 x 14 MACs per row; 16 biases; 8U element-wise; 3U sigmoid, 2U tanh.
    cost = one("lstm", (2, 5, 10), units=4, activation="tanh", recurrent_activation="sigmoid")
    assert cost.step == {"mac": 448, "bias": 32, "elementwise": 64, "act:sigmoid": 24, "act:tanh": 16}
    assert cost.steps == 5 and cost.params == 240


def test_simple_rnn_step() -> None:
    cost = one("simple_rnn", (1, 4, 3), units=2, activation="tanh")
    assert cost.step == {"mac": 10, "bias": 2, "elementwise": 2, "act:tanh": 2}
    assert cost.params == 12


def test_reshape_and_activation() -> None:
    assert one("reshape", (1, 32, 97, 127), shape=[97, 4064]).total() == {}
    with pytest.raises(ValueError, match="cannot reshape"):
        one("reshape", (1, 32, 97, 127), shape=[97, 4000])
    assert one("activation", (2, 3), activation="tanh").once == {"act:tanh": 6}


def test_the_seed_model_in_full() -> None:
    costs = analyse(zoo.MODELS["seed"])
    assert [c.name for c in costs] == ["conv", "reshape", "gru", "output"]
    assert [c.params for c in costs] == [544, 0, 1198656, 24832]
    default = convention.PRESETS["default"]
    assert sum(default.flops(c.total()) for c in costs) == 13403072 + 232585824 + 4817408 == 250806304


def test_a_kind_is_registered_once_and_unknown_kinds_are_named() -> None:
    with pytest.raises(ValueError, match="already registered"):
        formula("gru")(lambda spec, shape: None)
    with pytest.raises(KeyError, match="no formula for layer kind 'capsule'"):
        analyse({"input": [1, 2], "layers": [{"name": "a", "kind": "capsule"}]})


def test_conventions_price_the_same_counts_differently() -> None:
    counts = {"mac": 10, "bias": 3, "elementwise": 2, "act:tanh": 4}
    assert convention.PRESETS["default"].flops(counts) == 20 + 3 + 2 + 4
    assert convention.PRESETS["macs"].flops(counts) == 10
    assert convention.parse("mac=1,act:tanh=4").flops(counts) == 10 + 3 + 2 + 16
    with pytest.raises(ValueError, match="expected a preset"):
        convention.parse("mac=lots")
    with pytest.raises(KeyError, match="prices no 'flux'"):
        convention.Convention("bare", (("mac", 2),)).weight("flux")
