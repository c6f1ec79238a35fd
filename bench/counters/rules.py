"""The rule machinery the counters' adapters share: reading a tool's version and a recorded shape, the
axes nn.GRU reads its input by, and the per-module rule model with its reader.

A per-module counter (ptflops, fvcore) records one (module, rule) item per rule that priced a module; its
rule model maps (role, rule) to a prediction, where the role of a layer's first module is the layer's kind
and of the modules after it "activation". `read_modules` places every item on its layer with that prediction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import prod

from bench.counters.base import Item, Reading, Steps, outside_definition
from bench.probe import zoo
from bench.reference.formulas import LayerCost, analyse

__all__ = [
    "recurrent_activations",
    "Module",
    "torch_modules",
    "Rule",
    "RuleModel",
    "conv_macs",
    "image_layout",
    "read_modules",
    "recorded_shape",
    "reference_batch",
    "time_major",
    "version",
]


def version(text: str) -> tuple[int, ...]:
    """A tool's or framework's version as numbers, up to three ("2.13.0+cpu" -> (2, 13, 0), "0.1.1-2209072238"
    -> (0, 1, 1), "0.1.5.post20211023" -> (0, 1, 5)): what the rule models choose their rules by."""
    return tuple(int(p) for p in text.split("+")[0].replace("-", ".").split(".")[:3] if p.isdigit())


def recorded_shape(text: str, signed: bool = False) -> tuple[int, ...] | None:
    """A shape as a probe records it, "(1, 32, 97, 127)", "(96,)", "()"; None where it is no tuple of known
    sizes (TensorFlow's "(?, 96)" or "<unknown>"). `signed`: ONNX's -1 for a size left open counts as known."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return None
    dims = [d.strip() for d in text[1:-1].split(",") if d.strip()]
    known = all((d.lstrip("-") if signed else d).isdigit() for d in dims)
    return tuple(int(d) for d in dims) if known else None


@dataclass(frozen=True)
class Module:
    """One PyTorch module of a definition's layer, with what a rule model prices it from."""

    spec: dict  # the layer's definition
    cost: LayerCost  # the layer's reference cost (its output shape, steps)
    in_shape: tuple[int, ...]  # the layer's input shape
    index: int  # the module's place among the layer's modules (0: the layer itself; then its activation)
    name: str
    config: dict  # the module's options as built (bias, batch_first, ...)
    owner: str = ""  # for a part of a composite layer (a residual block's conv): that layer
    tool: tuple[int, ...] = ()  # the version of the tool that counted it (rules differ between releases)

    @property
    def layer(self) -> str:
        return self.owner or self.spec["name"]


def torch_modules(definition: dict, probe: dict) -> Iterator[Module]:
    """Every module the definition's layers name, in order, with shapes carried from the input; a
    composite layer's parts each with their own definition and input, placed on the layer."""
    built = {row["name"]: row.get("config", {}) for row in probe["layers"]}
    tool = version(probe["provenance"]["counter_tool"]["version"])
    for spec, cost in zip(definition["layers"], analyse(definition), strict=True):
        if cost.parts:
            yield from _parts(spec, cost, built, tool)
            continue
        for index, name in enumerate(spec["torch"]):
            yield Module(spec, cost, cost.in_shape, index, name, built.get(name, {}), tool=tool)


def _parts(spec: dict, cost: LayerCost, built: dict[str, dict], tool: tuple[int, ...]) -> Iterator[Module]:
    """A composite layer's parts: each part's modules, found under the layer's module by their own names."""
    container = spec["torch"][0] + "."
    specs = {part["name"]: part for part in zoo.parts(spec, cost.in_shape[-1])}
    for part in cost.parts:
        part_spec = specs[part.name]
        for index, local in enumerate(part_spec["torch"]):
            under = [
                n for n in built if n.startswith(container) and (n == container + local or n.endswith("." + local))
            ]
            name = under[0] if len(under) == 1 else container + local
            yield Module(part_spec, part, part.in_shape, index, name, built.get(name, {}), spec["name"], tool)


# Every per-module counter's rules (thop, ptflops, fvcore, torchinfo, calflops, DeepSpeed) take the module as
# built (its definition, reference cost, input shape, options, place in its layer, the tool's version) and what
# the probe recorded of it (its item); they give the prediction by component, in the tool's unit, and its words.
Rule = Callable[[Module, dict], tuple[Counter[str], str]]


@dataclass(frozen=True)
class RuleModel:
    """A per-module counter's rules, keyed by (role, the tool's rule name as the probe recorded it)."""

    tool: str
    rules: dict[tuple[str, str], Rule]
    steps: Callable[[dict, tuple, dict], Steps]  # (GRU spec, its input shape, module options) -> steps priced
    unpriced: frozenset[str] = frozenset()  # the tool's rule names under which a module priced nothing, no step


def image_layout(spec: dict, shape: tuple) -> tuple[int, int, tuple[int, ...]]:
    """(batch, channels, spatial dims) of an image-like shape, in the definition's layout."""
    batch, *rest = shape
    if spec.get("data_format", "channels_last") == "channels_first":
        return batch, rest[0], tuple(rest[1:])
    return batch, rest[-1], tuple(rest[:-1])


def conv_macs(spec: dict, in_shape: tuple, out_shape: tuple, kernel: list, groups: int) -> tuple[int, int]:
    """A torch conv's (MACs, outputs) as the per-module counters price it: kernel taps x in_channels x
    (out_channels // groups) per output position (a depthwise conv, groups = in_channels: taps x channels),
    and out_channels values per output position."""
    batch, channels, _ = image_layout(spec, in_shape)
    _, filters, dims = image_layout(spec, out_shape)
    positions = batch * prod(dims)
    return prod(kernel) * channels * (filters // groups) * positions, filters * positions


def recurrent_activations(spec: dict) -> tuple[str, str]:
    """A recurrent layer's activation and recurrent activation (simple_rnn has none: ""): what the definition
    says, else the one its kind's declaration allows first, which is what the builders default to."""
    fields = zoo.KINDS[spec["kind"]]["fields"]
    found = tuple(
        spec.get(name) or (fields[name][0] if name in fields else "") for name in ("activation", "recurrent_activation")
    )
    return found[0], found[1]


def time_major(in_shape: tuple, config: dict) -> tuple[int, int, int]:
    """(steps, batch, features) as nn.GRU reads its input: without batch_first, axis 0 is time."""
    first, second, features = in_shape
    return (second, first, features) if config.get("batch_first") else (first, second, features)


def reference_batch(spec: dict, in_shape: tuple) -> int:
    """The batch the reference reads a recurrent layer's input with (formulas._recurrent)."""
    return in_shape[1] if spec.get("time_major", False) else in_shape[0]


def read_modules(definition: dict, probe: dict, model: RuleModel) -> Reading:
    """Place every (module, rule) item of the probe's breakdown on its layer, predicted by the rule model."""
    by_module: dict[str, list[dict]] = {}
    for item in probe["breakdown"]["items"]:
        by_module.setdefault(item["name"], []).append(item)
    reading = Reading([])
    for module in torch_modules(definition, probe):
        spec = module.spec
        role = spec["kind"] if module.index == 0 else "activation"
        found = by_module.get(module.name)
        if not found:
            reading.items.append(Item(module.name, module.layer, 0, Counter(), f"not in {model.tool}'s breakdown"))
        for item in found or []:
            rule = model.rules.get((role, item.get("rule", "")))
            if rule is None:
                words = f"no rule model for {model.tool}'s {item.get('rule') or 'empty rule'} on a {role} module"
                reading.items.append(Item(module.name, module.layer, item["raw"], Counter(), words))
                continue
            predicted, words = rule(module, item)
            reading.items.append(Item(module.name, module.layer, item["raw"], predicted, words, predicted["mac"]))
        if module.index == 0 and module.cost.steps:
            rules = [i.get("rule", "") for i in found or []]
            if any((spec["kind"], r) in model.rules and r not in model.unpriced for r in rules):
                reading.steps[module.layer] = model.steps(spec, module.in_shape, module.config)
            elif rules and all(r in model.unpriced for r in rules):
                reading.steps[module.layer] = Steps(0, (f"{model.tool} priced no op in {module.name}",))
            else:
                why = f"{model.tool} priced {module.name} by no rule the rule model knows"
                reading.steps[module.layer] = Steps(0, (why,))
            _note_batch(spec, module.in_shape, module.config, module.cost.steps, reading)
    rest = [item for items in by_module.values() for item in items]
    reading.items += outside_definition(definition, rest, lambda i: f"{i.get('rule') or 'work'} outside its modules")
    return reading


def _note_batch(spec: dict, in_shape: tuple, config: dict, steps: int, reading: Reading) -> None:
    seen, batch, _ = time_major(in_shape, config)
    if seen != steps:
        reading.notes.setdefault(spec["name"], []).append(
            f"nn.GRU without batch_first reads the {in_shape} input as {batch} sequences of {seen} step:"
            f" the cell still runs {seen * batch} times, so the count matches {steps} steps of one sequence,"
            " though the outputs differ (see the equivalence check)"
        )
