"""(being written) The host side of DeepSpeed's flops profiler: its record read onto the model, and its rule model."""

from __future__ import annotations

from bench.counters.base import Adapter, Reading, Unit


def read(definition: dict, probe: dict) -> Reading:
    raise NotImplementedError("no rule model yet")


ADAPTER = Adapter("DeepSpeed flops profiler", Unit.FLOP, read)
