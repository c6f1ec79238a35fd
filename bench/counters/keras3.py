"""(being written) The host side of Keras 3 + JAX's XLA cost analysis, and its rule model."""

from __future__ import annotations

from bench.counters.base import Adapter, Reading, Unit


def read(definition: dict, probe: dict) -> Reading:
    raise NotImplementedError("no rule model yet")


ADAPTER = Adapter("XLA cost analysis", Unit.FLOP, read)
