"""keras-flops: its record read onto the model, and its rule model.

keras_flops.get_flops (0.1.2) is tf.profiler's float_operation over a frozen concrete function of
the model, so its rule model is tf.profiler's (tf_profiler.py) at the TensorFlow version the record
names, with one difference: importing keras-flops registers three FLOPs rules of its own with
TensorFlow (keras_flops/flops_registory.py), which then price those op types in every graph the
profiler reads. Where TensorFlow registers one of them itself (AddV2 from 2.6 on) the import
raises, so a record only exists where all three are keras-flops' own.
"""

from __future__ import annotations

from math import prod

from bench.counters import tf_profiler
from bench.counters.base import Adapter, Reading
from bench.counters.rules import recorded_shape, version
from bench.counters.tf_profiler import Priced, Rule

__all__ = ["ADAPTER", "ADAPTERS", "OWN_RULES", "rule_status"]


def _fused_batch_norm(node: dict) -> Priced | None:
    """2 per input value + 5 per variance value + 1 per mean value (inputs 0, 4 and 3)."""
    given = node.get("input_shapes", [])
    if len(given) < 5:
        return None
    x, mean, variance = recorded_shape(given[0]), recorded_shape(given[3]), recorded_shape(given[4])
    if x is None or mean is None or variance is None:
        return None
    return Priced(2 * prod(x) + 5 * prod(variance) + prod(mean))


# What keras-flops registers, by the TensorFlow helper each calls: AddV2 is TensorFlow's own rule for
# Add (_binary_per_element_op_flops), Max its rule for Sum (_reduction_op_flops, reduce 1, finalize 0).
OWN_RULES: dict[str, Rule] = {
    "AddV2": Rule(tf_profiler.RULES["Add"].price, "1 FLOP per output value, a rule keras-flops registers"),
    "Max": Rule(
        tf_profiler.RULES["Sum"].price, "1 FLOP per input value less 1 per output, a rule keras-flops registers"
    ),
    "FusedBatchNormV3": Rule(
        _fused_batch_norm,
        "2 FLOPs per input value + 5 per variance value + 1 per mean value (inference only),"
        " a rule keras-flops registers",
    ),
}


def rule_status(node: dict, tf_version: tuple[int, ...]) -> str:
    """What the rule model expects TensorFlow to say of the node once keras-flops is imported."""
    return tf_profiler.rule_status(node, tf_version, OWN_RULES)


def read(definition: dict, probe: dict) -> Reading:
    """tf.profiler's rule model at the record's TensorFlow version (its counter_tool is keras-flops),
    with the rules keras-flops registers."""
    return tf_profiler.read_with(definition, probe, probe["provenance"]["framework"]["version"], OWN_RULES)


def _status_in(node: dict, probe: dict) -> str:
    return rule_status(node, version(probe["provenance"]["framework"]["version"]))


ADAPTER = Adapter("keras-flops", "keras-flops", read, rule_status=_status_in)
ADAPTERS = (ADAPTER,)
