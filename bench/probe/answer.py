"""The answer every counter function gives the probe (probe.measure turns it into the record).

Plain Python 2.7 and 3.x: one function, so that every counter answers with the same keys.
"""
from __future__ import absolute_import, division, print_function


def make(raw_total, items, layers, framework, tool, unsupported=(), notes=(), nodes=()):
    """A counter's answer: its total in its own unit, its breakdown's items (what they are is the catalog
    entry's `breakdown`), the model's layers as built, the framework and the tool as (name, version), the
    parts it could not count, notes, and the graph's nodes where it has them."""
    return {
        "raw_total": raw_total,
        "items": list(items),
        "nodes": list(nodes),
        "layers": layers,
        "unsupported": list(unsupported),
        "notes": list(notes),
        "framework": {"name": framework[0], "version": framework[1]},
        "tool": {"name": tool[0], "version": tool[1]},
    }
