"""The host side of each counter, one registry entry per counter of the probe's catalog: its unit,
how its record maps onto the model's layers, its rule model and the words the report uses.

Adding a counter: an entry in bench/probe/catalog.py, its function in bench/probe/count_*.py, an
adapter module here with its rule model, its entry below, and tests.
"""

from __future__ import annotations

from bench.counters import (
    calflops,
    deepspeed,
    flop_counter,
    fvcore,
    keras3,
    keras_flops,
    onnx_tool,
    ptflops,
    tf_profiler,
    thop,
    torchinfo,
    torchprofile,
)
from bench.counters.base import Adapter, Item, Reading, Steps, Unit
from bench.probe import variants

__all__ = ["ADAPTERS", "Adapter", "Item", "Reading", "Steps", "Unit", "adapter_for"]

ADAPTERS: dict[str, Adapter] = {
    "tf-profiler-seed": tf_profiler.ADAPTER_SEED,
    "tf-profiler-frozen": tf_profiler.ADAPTER_FROZEN,
    "thop": thop.ADAPTER,
    "keras-flops": keras_flops.ADAPTER,
    "keras3-jax-xla": keras3.ADAPTER,
    "keras3-tf-frozen": tf_profiler.ADAPTER_FROZEN,
    "torch-flop-counter": flop_counter.ADAPTER,
    "fvcore": fvcore.ADAPTER,
    "ptflops-pytorch": ptflops.PYTORCH,
    "ptflops-aten": ptflops.ATEN,
    "torchinfo": torchinfo.ADAPTER,
    "torchprofile": torchprofile.ADAPTER,
    "calflops": calflops.ADAPTER,
    "deepspeed": deepspeed.ADAPTER,
    "onnx-tool-torch": onnx_tool.ADAPTER_TORCH,
    "onnx-tool-keras": onnx_tool.ADAPTER_KERAS,
}


def adapter_for(job: str) -> Adapter:
    """The adapter that reads a job's record: a named variant (`counter@variant`) is read by its counter's."""
    return ADAPTERS[variants.split(job)[0]]
