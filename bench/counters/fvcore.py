"""fvcore.nn.FlopCountAnalysis: its per-module record read onto the model, and its rule model.

fvcore traces the model with torch.jit and prices each traced op by the handle its table maps the
op's kind to, in multiply-accumulates (it calls them flops). Its handles count multiplications
only: no bias adds (conv_flop_jit, linear_flop_jit, addmm_flop_jit), and aten::relu is among its
ignored ops. An op without a handle is "unsupported" and priced 0: the traced nn.GRU is one such
op, aten::gru, so none of its steps is priced; aten::sigmoid is another. The rule model re-states
fvcore 0.1.5's handles from the definition, the layer's input shape and the module's recorded
options, never from the counted number.

Per version: the handles these layers reach (conv_flop_jit, linear_flop_jit, addmm_flop_jit,
matmul_flop_jit), the ignored ops and the absence of an aten::gru handle are the same in
0.1.5.post20211023 (torch-1.10.1's, 2021) and 0.1.5.post20221221 (torch-latest's): the sources
differ only in conv_flop_count's new `transposed` branch (a transposed convolution priced on its
input positions), which no zoo layer takes. So one rule model serves both; the records of both
cells reconcile to residual 0 with it.
"""

from __future__ import annotations

from collections import Counter
from math import prod

from bench.counters.base import Adapter, Reading, Steps, Unit
from bench.counters.ptflops import Rule, RuleModel, conv_geometry, read_modules

__all__ = ["ADAPTER", "RULES"]

GRU_OP = "aten::gru"  # what torch.jit records for an nn.GRU call: one op for the whole layer


def _unsupported(item: dict) -> str:
    ops = item.get("unsupported") or {}
    return ", ".join(f"{op} x{count}" for op, count in sorted(ops.items()))


def _conv(spec: dict, in_shape: tuple, config: dict, item: dict) -> tuple[Counter[str], str]:
    batch, channels, filters, out = conv_geometry(spec, in_shape)
    predicted = Counter({"mac": batch * filters * channels * prod(spec["kernel"]) * prod(out)})
    if config.get("bias"):
        predicted["bias"] = 0
    return predicted, "conv (conv_flop_jit): batch x weight size x output positions; the bias is ignored"


def _linear(spec: dict, in_shape: tuple, config: dict, item: dict) -> tuple[Counter[str], str]:
    predicted = Counter({"mac": prod(in_shape) * spec["units"]})
    if config.get("bias"):
        predicted["bias"] = 0
    return predicted, f"{item['rule']} ({item['rule']}_flop_jit): input size x out features; the bias is ignored"


def _gru(spec: dict, in_shape: tuple, config: dict, item: dict) -> tuple[Counter[str], str]:
    seen = _unsupported(item) or "nothing"
    return Counter(), f"fvcore has no handle for {GRU_OP}: the layer is one unsupported op, 0 (it reported {seen})"


def _activation(spec: dict, in_shape: tuple, config: dict, item: dict) -> tuple[Counter[str], str]:
    name = spec.get("activation", "linear")
    predicted = Counter() if name == "linear" else Counter({f"act:{name}": 0})
    seen = _unsupported(item)
    if seen:
        return predicted, f"no fvcore handle for the activation's op ({seen} unsupported): 0"
    return predicted, "the activation's op is among fvcore's ignored ops (aten::relu): 0"


def _steps(spec: dict, in_shape: tuple, config: dict) -> Steps:
    return Steps(0, (f"torch.jit records the whole nn.GRU as one {GRU_OP}, for which fvcore has no handle",))


RULES: dict[tuple[str, str], Rule] = {
    ("conv2d", "conv"): _conv,
    ("conv1d", "conv"): _conv,
    ("dense", "linear"): _linear,
    ("dense", "addmm"): _linear,
    ("dense", "matmul"): _linear,
    ("gru", ""): _gru,
    ("activation", ""): _activation,
}

MODEL = RuleModel("fvcore", RULES, _steps)


def read(definition: dict, probe: dict) -> Reading:
    return read_modules(definition, probe, MODEL)


ADAPTER = Adapter("fvcore", Unit.MAC, read)
