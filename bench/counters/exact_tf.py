"""exact-tf, the project's own counter for TensorFlow graphs: its record read onto the model's layers, by component.

The probe (bench/probe/count_exact_tf.py) prices every op of the traced forward pass in the reference's own
vocabulary, per Keras layer and component, a loop's body times its trip count. Its record has the shape of
exact's (items per layer with their components, nodes with attrs.components and attrs.module), and a Keras
layer is named as the definition's layer, so exact's reading is reused whole: the identity on components,
each layer's predicted as the analytic reference counts it. Any departure (a formula, an op left unpriced, a
loop priced otherwise, a layer TensorFlow decomposes into more work than the reference's formula) is a
residual at the layer and component it touches, with the ops that gave the count as its evidence.
"""

from __future__ import annotations

from bench.counters import exact
from bench.counters.base import Adapter, Reading, Steps
from bench.probe.count_exact_tf import LOOPS

__all__ = ["ADAPTER", "ADAPTERS", "read"]


def loops(probe: dict, layer: str) -> tuple[str, ...]:
    """The loops the probe opened in a layer, each with the trip count it priced the body by."""
    found = [
        node for node in probe.get("nodes", []) if node["op"] in LOOPS and node.get("attrs", {}).get("module") == layer
    ]
    return tuple(f"{node['name']}: body priced {node['attrs'].get('trips', '?')} times" for node in found)


def read(definition: dict, probe: dict) -> Reading:
    reading = exact.read(exact.keras_named(definition), probe)
    for layer, steps in reading.steps.items():
        said = loops(probe, layer) or ("no loop in the layer's graph",)
        reading.steps[layer] = Steps(steps.priced, ("every iteration priced: a loop body times its trip count", *said))
    return reading


# its own tool (the front page shows each tool of a family at its latest version: TensorFlow's and torch's
# versions are not one scale), in exact's family
ADAPTER = Adapter(
    "exact-tf",
    "exact-tf",
    read,
    outside="exact-tf prices every op of the traced forward pass, whichever layer runs it",
    family="exact",
    components=True,
)
ADAPTERS = (ADAPTER,)
