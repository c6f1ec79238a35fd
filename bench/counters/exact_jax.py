"""exact-jax, the project's own counter for JAX: its record read onto the model's layers, by component.

The probe (bench/probe/count_exact_jax.py) prices every equation of the forward pass's jaxpr in the
reference's own vocabulary, per Keras name scope (`conv`, `gru/gru_cell`, `encoder/query`) and component.
A name scope belongs to the definition's layer its first segment names (a composite layer's parts, a
bidirectional layer's two directions, a recurrent cell inside its scan are under it). Its rule model is
exact's: the identity on components, so reconciling it gives the reference with no adjustment at all, and any
departure (a formula changed, a primitive left unpriced, a scan priced once) is a residual at the layer and
component it touches, with the primitives that gave the count as its evidence.
"""

from __future__ import annotations

from bench.counters import exact
from bench.counters.base import Adapter, Reading

__all__ = ["ADAPTER", "ADAPTERS", "layer_of"]


def layer_of(scope: str, layers: set[str]) -> str:
    """The definition's layer a name scope belongs to: its first segment, when that names one."""
    head = scope.partition("/")[0]
    return head if head in layers else scope


def read(definition: dict, probe: dict) -> Reading:
    """exact's reading, on the record's name scopes put under the layers they belong to."""
    layers = {spec["name"] for spec in definition["layers"]}
    items = [{**item, "name": layer_of(item["name"], layers)} for item in probe["breakdown"]["items"]]
    nodes = [
        {
            **node,
            "attrs": {**node.get("attrs", {}), "module": layer_of(node.get("attrs", {}).get("module", ""), layers)},
        }
        for node in probe.get("nodes", [])
    ]
    return exact.read(
        exact.keras_named(definition), {**probe, "breakdown": {**probe["breakdown"], "items": items}, "nodes": nodes}
    )


ADAPTER = Adapter(
    "exact-jax",
    "exact (jaxpr)",
    read,
    outside="exact-jax prices every equation of the forward pass's jaxpr, whichever layer's name scope holds it",
    family="exact",
    components=True,
)
ADAPTERS = (ADAPTER,)
