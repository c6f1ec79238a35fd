"""The host side of each counter: one adapter per counter of the probe's catalog, registered by its name,
with how its record maps onto the model's layers, its rule model and the words the report uses.

Adding a counter touches these files and no other (tests/test_counter_registry.py adds one):
- bench/probe/count_<tool>.py: the function that counts (answering with answer.make) and the counter's one
  declaration, its entry in the module's COUNTERS literal (catalog.Counter: framework, unit, recipe, function,
  breakdown, flags), which bench/probe/catalog.py collects without importing the module;
- bench/counters/<tool>.py: its adapter, `Adapter("<counter>", ...)` in the module's ADAPTERS, found here by
  walking this package (rules.py holds the rule machinery the adapters share);
- tests/test_counters_<tool>.py: hand-made records its rule model reproduces, and ones it does not;
- docker/cells.toml, and the pinned requirements of a cell new to the tool: the cells that install and run it;
- docs/cells-and-counters.md: what it counts and how it is called (tests/test_docs.py checks it is named).
Importing this package checks both ways that every catalog entry has its probe function and its adapter
and every adapter its entry, so a counter missing a part is refused, in one line naming it, before anything runs.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from bench import paths
from bench.counters.base import Adapter, Item, Reading, Steps, Unit
from bench.probe import catalog, variants

__all__ = ["ADAPTERS", "Adapter", "CounterError", "Item", "Reading", "Steps", "Unit", "adapter_for", "check"]

SHARED = ("base", "rules")  # this package's modules that are no counter's adapter


class CounterError(Exception):
    """A counter declared in part: said in one line that names it."""


def discover(package: str = __name__) -> list[Adapter]:
    """Every adapter of every adapter module in `package` (each module's `ADAPTERS`)."""
    found = []
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name in SHARED:
            continue
        adapters = getattr(importlib.import_module(f"{package}.{module.name}"), "ADAPTERS", None)
        if adapters is None:
            raise CounterError(f"adapter module {package}.{module.name} declares no ADAPTERS")
        found += adapters
    return found


@cache
def _functions(path: Path) -> frozenset[str]:
    """The functions a probe module defines at its top level, read without importing it (nor its framework)."""
    if not path.is_file():
        return frozenset()
    tree = ast.parse(path.read_text(), str(path))
    return frozenset(node.name for node in tree.body if isinstance(node, ast.FunctionDef))


def check(entries: Mapping[str, catalog.Counter], adapters: Iterable[Adapter], probe: Path) -> dict[str, Adapter]:
    """The adapters by counter name, once every catalog entry has its probe function (in `probe`) and one
    adapter, and every adapter an entry; else the first problem, naming the counter."""
    registered: dict[str, Adapter] = {}
    for adapter in adapters:
        if adapter.counter in registered:
            raise CounterError(f"counter {adapter.counter}: two adapters ({adapter.tool!r} and another)")
        if adapter.counter not in entries:
            raise CounterError(f"counter {adapter.counter}: an adapter ({adapter.tool!r}) but no catalog entry")
        registered[adapter.counter] = adapter
    for name, entry in entries.items():
        if entry.function not in _functions(probe / f"{entry.module}.py"):
            raise CounterError(f"counter {name}: no function {entry.function} in the probe's {entry.module}.py")
        if name not in registered:
            raise CounterError(f"counter {name}: a catalog entry but no adapter in bench/counters/")
    return {name: registered[name] for name in entries}


ADAPTERS: dict[str, Adapter] = check(catalog.COUNTERS, discover(), paths.PROBE)


def adapter_for(job: str) -> Adapter:
    """The adapter that reads a job's record: a named variant (`counter@variant`) is read by its counter's."""
    return ADAPTERS[variants.split(job)[0]]
