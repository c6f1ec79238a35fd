"""DeepSpeed's flops profiler (get_model_profile): its per-module FLOPs read onto the model, and its rule model.

DeepSpeed 0.19's FlopsProfiler patches torch.nn.functional, some tensor methods and einops.einsum
while the model runs; each patched call adds its (FLOPs, MACs) to the module whose forward made it
(__flops__, __macs__), and nn.RNN/GRU/LSTM get a forward hook of their own (_rnn_forward_hook) that
adds FLOPs only. get_model_profile returns (flops, macs, params); the probe records the FLOPs and
keeps the MACs figure in the record's notes. calflops was derived from this profiler and its rules
for the layers here are the same functions (deepspeed/profiling/flops_profiler/profiler.py):
- F.conv2d (_conv_flops_compute): 2 x MACs, plus one FLOP per output for the bias;
- F.linear (_linear_flops_compute): 2 x input.numel() x out_features, the bias not counted;
- F.relu and the other patched activations: input.numel() FLOPs;
- nn.GRU (_rnn_forward_hook, _rnn_flops): per cell evaluation (input.shape[0] x input.shape[1] of
  them), 2 x rows x cols - rows per weight matrix, both bias vectors and 7U element-wise; no activations;
- torch.sigmoid (nn.Sigmoid) and torch.tanh are not patched: 0.
So the rule model is calflops' (bench/counters/calflops.py), imported rather than restated; only the
words naming the tool are DeepSpeed's own.
"""

from __future__ import annotations

from collections import Counter

from bench.counters import calflops
from bench.counters.base import Adapter, Item, Reading, Unit, outside_definition, torch_modules
from bench.reference.formulas import LayerCost

__all__ = ["ADAPTER"]


def _unpatched(spec: dict, in_shape: tuple, cost: LayerCost, config: dict) -> tuple[Counter[str], str]:
    """A module whose forward calls nothing the profiler patches: 0, as calflops, in DeepSpeed's words."""
    predicted, _words = calflops._unpatched(spec, in_shape, cost, config)
    return predicted, "its forward calls no function DeepSpeed's flops profiler patches: 0"


def _rule(name: str, position: int, spec: dict) -> calflops.Rule | None:
    """DeepSpeed's rule for the module: calflops' for the same patched call or hook."""
    rule = calflops._rule(name, position, spec)
    return _unpatched if rule is calflops._unpatched else rule


def read(definition: dict, probe: dict) -> Reading:
    counted = {item["name"]: item for item in probe["breakdown"]["items"]}
    reading = Reading([])
    for module in torch_modules(definition, probe):
        spec, cost, item = module.spec, module.cost, counted.get(module.name)
        rule = _rule(item.get("rule", ""), module.index, spec) if item else None
        if item is None:
            reading.items.append(Item(module.name, module.layer, 0, Counter(), "not among DeepSpeed's modules"))
        elif rule is None:
            words = f"no rule model for DeepSpeed's {item.get('rule', '')!r} on a {spec['kind']} layer"
            reading.items.append(Item(module.name, module.layer, item["raw"], Counter(), words))
        else:
            predicted, words = rule(spec, module.in_shape, cost, module.config)
            macs = cost.total()["mac"] if module.index == 0 else 0  # the multiply-accumulates its rule prices
            reading.items.append(Item(module.name, module.layer, item["raw"], predicted, words, macs))
            if rule is calflops._rnn:
                calflops._dot_product_note(spec, predicted["mac"], macs, reading)
            _macs_note(spec, module.name, item, reading)
        if module.index == 0 and cost.steps:
            reading.steps[module.layer] = calflops._steps(spec, module.in_shape)
    reading.items += outside_definition(definition, list(counted.values()), lambda _: "a module the definition lacks")
    return reading


def _macs_note(spec: dict, module: str, item: dict, reading: Reading) -> None:
    """DeepSpeed's MACs figure is another sum: say where it leaves out a module its FLOPs price."""
    if item.get("rule") == "_rnn_forward_hook" and item["raw"] and not item.get("macs"):
        reading.notes.setdefault(spec["name"], []).append(
            f"_rnn_forward_hook adds {item['raw']:,} FLOPs to {module} and no MACs, so DeepSpeed's MACs figure"
            " leaves the layer out"
        )


ADAPTER = Adapter("DeepSpeed flops profiler", Unit.FLOP, read)
