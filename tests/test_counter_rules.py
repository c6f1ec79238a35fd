"""The helpers every rule model reads a record with: versions, recorded shapes, nn.GRU's axes."""

from __future__ import annotations

import pytest

from bench.counters import rules


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2.13.0+cpu", (2, 13, 0)),  # torch's local build tag
        ("1.10.1+cu102", (1, 10, 1)),
        ("0.1.1-2209072238", (0, 1, 1)),  # thop's build stamp
        ("0.1.5.post20211023", (0, 1, 5)),
        ("2.21.0", (2, 21, 0)),
        ("unknown", ()),  # no readable version: the rule models take their newest rules
    ],
)
def test_a_version_is_read_as_up_to_three_numbers(text: str, parsed: tuple[int, ...]) -> None:
    assert rules.version(text) == parsed


def test_versions_order_as_numbers_not_as_text() -> None:
    assert rules.version("0.7.10") > rules.version("0.7.5") and "0.7.10" < "0.7.5"


@pytest.mark.parametrize(
    ("text", "plain", "signed"),
    [
        ("(1, 32, 97, 127)", (1, 32, 97, 127), (1, 32, 97, 127)),
        ("(96,)", (96,), (96,)),
        ("()", (), ()),
        (" (2, 3) ", (2, 3), (2, 3)),
        ("(-1, 96)", None, (-1, 96)),  # ONNX leaves a size open as -1
        ("(?, 96)", None, None),  # TensorFlow's unknown size
        ("<unknown>", None, None),
        ("[1, 2]", None, None),
    ],
)
def test_a_recorded_shape_is_a_tuple_of_known_sizes_or_none(
    text: str, plain: tuple | None, signed: tuple | None
) -> None:
    assert rules.recorded_shape(text) == plain
    assert rules.recorded_shape(text, signed=True) == signed


def test_nn_gru_reads_axis_0_as_time_unless_batch_first() -> None:
    assert rules.time_major((2, 97, 8), {"batch_first": True}) == (97, 2, 8)
    assert rules.time_major((2, 97, 8), {"batch_first": False}) == (2, 97, 8)
    assert rules.time_major((2, 97, 8), {}) == (2, 97, 8)


def test_the_reference_batch_follows_the_definitions_time_major() -> None:
    assert rules.reference_batch({"time_major": True}, (97, 2, 8)) == 2
    assert rules.reference_batch({}, (97, 2, 8)) == 97


def test_a_recurrent_layers_activations_are_its_own_else_its_kinds_declared_first() -> None:
    assert rules.recurrent_activations({"kind": "gru", "units": 4}) == ("tanh", "sigmoid")
    assert rules.recurrent_activations({"kind": "simple_rnn", "units": 4, "activation": "relu"}) == ("relu", "")
    written = {"kind": "lstm", "units": 4, "activation": "tanh", "recurrent_activation": "hard_sigmoid"}
    assert rules.recurrent_activations(written) == ("tanh", "hard_sigmoid")  # what a definition says wins


def test_a_layer_of_no_declared_kind_has_no_activations_to_read() -> None:
    with pytest.raises(KeyError, match="bogus"):
        rules.recurrent_activations({"kind": "bogus", "units": 4})
