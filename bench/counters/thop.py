"""thop.profile: its per-module record read onto the model, and its rule model.

thop reports multiply-accumulates per leaf module, each from the rule (a hook function) that its
table maps the module's class to. The rule model re-states each rule per thop version from the
definition, the layer's input shape and the module's recorded options, never from the counted
number, and splits the prediction into the reference's components.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from bench.counters.base import Adapter, Item, Module, Reading, Steps, Unit, outside_definition, torch_modules
from bench.reference.formulas import analyse

__all__ = ["ADAPTER", "RULES", "version"]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.replace("-", ".").split(".")[:3] if p.isdigit())


def _linear_cost(spec: dict, in_shape: tuple) -> Counter[str]:
    return analyse({"input": list(in_shape), "layers": [dict(spec, activation="linear")]})[0].once


def _conv(spec: dict, in_shape: tuple, config: dict, thop: tuple) -> tuple[Counter[str], str]:
    cost = _linear_cost(spec, in_shape)
    macs = Counter({"mac": cost["mac"]})
    if not config.get("bias"):
        return macs, "count_convNd: a MAC per kernel tap per output"
    if thop < (0, 1):
        macs["bias"] = cost["bias"]
        return macs, "count_convNd: a MAC per kernel tap per output, and one per output for the bias (thop < 0.1)"
    macs["bias"] = 0
    return macs, "count_convNd: a MAC per kernel tap per output, none for the bias (thop >= 0.1)"


def _linear(spec: dict, in_shape: tuple, config: dict, thop: tuple) -> tuple[Counter[str], str]:
    macs = Counter({"mac": _linear_cost(spec, in_shape)["mac"]})
    if config.get("bias"):
        macs["bias"] = 0
    return macs, "count_linear: in_features MACs per output, none for the bias"


def _gru(spec: dict, in_shape: tuple, config: dict, thop: tuple) -> tuple[Counter[str], str]:
    """Per cell evaluation: 3 x ((D+U)U + U) for the gates and their sums, 6U biases, U for r * (...),
    3U for h' = (1 - z) * n + z * h, no activations; times steps x batch as thop reads them."""
    steps, batch, features = _time_major(in_shape, config)
    units = spec["units"]
    per_cell = Counter({"mac": 3 * (features + units) * units, "elementwise": 3 * units + units + 3 * units})
    if config.get("bias"):
        per_cell["bias"] = 6 * units
    macs = Counter({k: v * steps * batch for k, v in per_cell.items()})
    for key in ("recurrent_activation", "activation"):
        macs[f"act:{spec[key]}"] = 0
    return macs, "count_gru: gate MACs, biases and gate sums and products as MACs, activations 0"


def _zero(spec: dict, in_shape: tuple, config: dict, thop: tuple) -> tuple[Counter[str], str]:
    activation = spec.get("activation", "linear")
    return (Counter() if activation == "linear" else Counter({f"act:{activation}": 0})), "zero_ops: 0"


def _none(spec: dict, in_shape: tuple, config: dict, thop: tuple) -> tuple[Counter[str], str]:
    return _zero(spec, in_shape, config, thop)[0], "no thop rule for the module's class: 0"


RULES: dict[str, Callable[[dict, tuple, dict, tuple], tuple[Counter[str], str]]] = {
    "count_convNd": _conv,
    "count_linear": _linear,
    "count_gru": _gru,
    "zero_ops": _zero,
    "": _none,
}


def _time_major(in_shape: tuple, config: dict) -> tuple[int, int, int]:
    """(steps, batch, features) as nn.GRU reads the input: without batch_first, axis 0 is time."""
    first, second, features = in_shape
    return (second, first, features) if config.get("batch_first") else (first, second, features)


def read(definition: dict, probe: dict) -> Reading:
    counted = {item["name"]: item for item in probe["breakdown"]["items"]}
    thop = version(probe["provenance"]["counter_tool"]["version"])
    reading = Reading([])
    for module in torch_modules(definition, probe):
        item = counted.get(module.name)
        rule = RULES.get(item.get("rule", "")) if item else None
        if item is None:
            reading.items.append(Item(module.name, module.layer, 0, Counter(), "not in thop's breakdown"))
        elif rule is None:
            words = f"no rule model for thop's {item['rule']}"
            reading.items.append(Item(module.name, module.layer, item["raw"], Counter(), words))
        else:
            predicted, words = rule(module.spec, module.in_shape, module.config, thop)
            reading.items.append(Item(module.name, module.layer, item["raw"], predicted, words, predicted["mac"]))
        if module.index == 0 and module.cost.steps:
            reading.steps[module.layer] = _steps(module, reading)
    reading.items += outside_definition(definition, list(counted.values()))
    return reading


def _steps(module: Module, reading: Reading) -> Steps:
    """thop prices every cell evaluation it sees: time steps x sequences as the module reads the input."""
    spec, in_shape, steps = module.spec, module.in_shape, module.cost.steps
    seen, batch, _ = _time_major(in_shape, module.config)
    reference_batch = in_shape[0]
    if seen != steps:
        reading.notes.setdefault(spec["name"], []).append(
            f"nn.GRU without batch_first reads the {in_shape} input as {batch} sequences of {seen} step:"
            f" the cell still runs {seen * batch} times, so thop's count matches {steps} steps of one sequence,"
            " though the outputs differ (see the equivalence check)"
        )
    return Steps(seen * batch // reference_batch, (f"thop prices each of the {seen * batch} cell evaluations",))


ADAPTER = Adapter("thop", Unit.MAC, read)
