"""Per-layer closed-form operation counts, one small function per layer kind, looked up by name.

Each formula takes a layer's definition (bench/probe/zoo.py) and its input shape (batch first,
or time first for a time-major recurrent layer) and returns what one forward pass costs, split
into named components that a convention prices (convention.py):

- `mac`: multiply-accumulates of the layer's matrix products and convolutions;
- `bias`: one add per bias value applied;
- `elementwise`: the other adds, subtractions and products (recurrent gate work);
- `act:<name>`: one evaluation of an activation function per value (`act:sigmoid`, ...).

Recurrent layers split their cost into `step` (one time step, all batch rows) and `steps` (how
many time steps one pass runs), because counters disagree most about how many steps they see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod

__all__ = ["LayerCost", "FORMULAS", "formula", "analyse"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    out_shape: Shape
    params: int
    once: Counter[str] = field(default_factory=Counter)  # outside any recurrence
    step: Counter[str] = field(default_factory=Counter)  # one recurrent time step
    steps: int = 0

    def total(self) -> Counter[str]:
        """Component counts for one forward pass."""
        whole = Counter(self.once)
        for component, count in self.step.items():
            whole[component] += count * self.steps
        return whole


FORMULAS: dict[str, Callable[[dict, Shape], LayerCost]] = {}


def formula(kind: str) -> Callable:
    def register(function: Callable[[dict, Shape], LayerCost]) -> Callable[[dict, Shape], LayerCost]:
        if kind in FORMULAS:
            raise ValueError(f"a formula for {kind!r} is already registered")
        FORMULAS[kind] = function
        return function

    return register


def _activation(spec: dict, values: int, key: str = "activation") -> Counter[str]:
    name = spec.get(key) or "linear"
    return Counter() if name == "linear" else Counter({f"act:{name}": values})


def _conv(spec: dict, in_shape: Shape, spatial: int) -> LayerCost:
    """Convolution with 'valid' padding: one MAC per kernel tap per output value."""
    channels_first = spec.get("data_format", "channels_last") == "channels_first"
    batch, *rest = in_shape
    channels, dims = (rest[0], rest[1:]) if channels_first else (rest[-1], rest[:-1])
    if len(dims) != spatial:
        raise ValueError(f"{spec['name']}: expected {spatial} spatial dimensions, got input {in_shape}")
    out_dims = tuple((d - k) // s + 1 for d, k, s in zip(dims, spec["kernel"], spec["strides"], strict=True))
    filters = spec["filters"]
    outputs = batch * filters * prod(out_dims)
    taps = channels * prod(spec["kernel"])
    use_bias = spec.get("use_bias", True)
    once = Counter({"mac": outputs * taps}) + _activation(spec, outputs)
    if use_bias:
        once["bias"] = outputs
    out_shape = (batch, filters, *out_dims) if channels_first else (batch, *out_dims, filters)
    return LayerCost(spec["name"], spec["kind"], out_shape, filters * taps + (filters if use_bias else 0), once)


@formula("conv1d")
def conv1d(spec: dict, in_shape: Shape) -> LayerCost:
    """Conv1D: MACs = outputs x in_channels x kernel; one bias add and activation per output."""
    return _conv(spec, in_shape, 1)


@formula("conv2d")
def conv2d(spec: dict, in_shape: Shape) -> LayerCost:
    """Conv2D: MACs = outputs x in_channels x kh x kw; one bias add and activation per output."""
    return _conv(spec, in_shape, 2)


@formula("dense")
def dense(spec: dict, in_shape: Shape) -> LayerCost:
    """Dense on the last axis: MACs = rows x in x units; one bias add and activation per output."""
    rows, features, units = prod(in_shape[:-1]), in_shape[-1], spec["units"]
    outputs = rows * units
    use_bias = spec.get("use_bias", True)
    once = Counter({"mac": rows * features * units}) + _activation(spec, outputs)
    if use_bias:
        once["bias"] = outputs
    return LayerCost(
        spec["name"], "dense", (*in_shape[:-1], units), features * units + (units if use_bias else 0), once
    )


@formula("reshape")
def reshape(spec: dict, in_shape: Shape) -> LayerCost:
    """A reshape moves no numbers: zero operations."""
    target = tuple(spec["shape"])
    if prod(target) != prod(in_shape[1:]):
        raise ValueError(f"{spec['name']}: cannot reshape {in_shape[1:]} to {target}")
    return LayerCost(spec["name"], "reshape", (in_shape[0], *target), 0)


@formula("activation")
def activation(spec: dict, in_shape: Shape) -> LayerCost:
    """A standalone activation: one evaluation per value."""
    return LayerCost(spec["name"], "activation", in_shape, 0, _activation(spec, prod(in_shape)))


def _recurrent(spec: dict, in_shape: Shape, gates: int, step: Counter[str], biases: int) -> LayerCost:
    time_major = spec.get("time_major", False)
    steps, batch, features = in_shape if time_major else (in_shape[1], in_shape[0], in_shape[2])
    units = spec["units"]
    per_step = Counter({"mac": batch * gates * units * (features + units)})
    if spec.get("use_bias", True):
        per_step["bias"] = batch * biases
    per_step.update({k: v * batch for k, v in step.items()})
    params = gates * units * (features + units) + (biases if spec.get("use_bias", True) else 0)
    if spec.get("return_sequences", False):
        out_shape = (steps, batch, units) if time_major else (batch, steps, units)
    else:
        out_shape = (batch, units)
    return LayerCost(spec["name"], spec["kind"], out_shape, params, step=per_step, steps=steps)


@formula("gru")
def gru(spec: dict, in_shape: Shape) -> LayerCost:
    """GRU step per batch row, U units: x@W and h@U are 3U(D+U) MACs; 3U biases, or 6U with
    reset_after (an input and a recurrent bias); 8U element-wise: the z, r and candidate sums of
    the input and recurrent parts (3U), r times the recurrent candidate (U), and
    h = (1 - z) * hh + z * h_prev (4U); 2U recurrent activations (z, r) and U activations (hh)."""
    units = spec["units"]
    work = Counter({"elementwise": 8 * units})
    work.update(_activation(spec, 2 * units, "recurrent_activation"))
    work.update(_activation(spec, units))
    return _recurrent(spec, in_shape, 3, work, (6 if spec.get("reset_after", True) else 3) * units)


@formula("lstm")
def lstm(spec: dict, in_shape: Shape) -> LayerCost:
    """LSTM step per batch row: 4U(D+U) MACs, 4U biases; 8U element-wise: the four gate sums (4U),
    c = f * c + i * g (3U), h = o * tanh(c) (U); 3U recurrent activations (i, f, o) and 2U
    activations (g, tanh(c))."""
    units = spec["units"]
    work = Counter({"elementwise": 8 * units})
    work.update(_activation(spec, 3 * units, "recurrent_activation"))
    work.update(_activation(spec, 2 * units))
    return _recurrent(spec, in_shape, 4, work, 4 * units)


@formula("simple_rnn")
def simple_rnn(spec: dict, in_shape: Shape) -> LayerCost:
    """SimpleRNN step per batch row: U(D+U) MACs, U biases, U sums of the two parts, U activations."""
    units = spec["units"]
    work = Counter({"elementwise": units}) + _activation(spec, units)
    return _recurrent(spec, in_shape, 1, work, units)


def analyse(definition: dict) -> list[LayerCost]:
    """Every layer's cost, in order, with shapes carried from the model's input."""
    shape: Shape = tuple(definition["input"])
    costs = []
    for spec in definition["layers"]:
        if spec["kind"] not in FORMULAS:
            raise KeyError(f"no formula for layer kind {spec['kind']!r} (known: {', '.join(sorted(FORMULAS))})")
        cost = FORMULAS[spec["kind"]](spec, shape)
        costs.append(cost)
        shape = cost.out_shape
    return costs
