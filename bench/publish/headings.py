"""The names the report gives to what the explain side finds: each cause's heading, each reason's
name, what a number is pinned to, and each column's heading. Apart from the sentences (words.py), so
that the modules that only name things (the charts, the CSV) import no more than they need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bench.explain.reconcile import Cause, Pinned, Reason
from bench.run.cells import order_key

# each cause's heading, in the report's words; the report lists causes in the enum's order
HEADINGS = {
    Cause.STEPS: "recurrent steps priced",
    Cause.MAC: "FLOPs per multiply-accumulate",
    Cause.BIAS: "bias adds",
    Cause.ACTIVATION: "activation functions",
    Cause.ACTIVATION_AS_OPS: "activations built from other ops",
    Cause.ELEMENTWISE: "element-wise ops",
    Cause.ROWS: "rows of a layer not priced",
    Cause.OTHER: "other ops inside layers",
    Cause.OUTSIDE: "work outside the model",
}
RESIDUAL = "residual"


def unnamed(headings: dict[Cause, str]) -> list[Cause]:
    """The causes a table of headings leaves without one (or with an empty one)."""
    return [cause for cause in Cause if not headings.get(cause)]


if unnamed(HEADINGS):  # checked when imported: a cause the report could not name
    raise ImportError(f"bench.publish.headings: causes without a heading: {unnamed(HEADINGS)}")


def term(reason: Reason) -> str:
    """A reason's name: its cause's heading, or where its residual is."""
    if reason.residual is not None:
        return f"{RESIDUAL} at {reason.residual.place}"
    assert reason.cause is not None
    return HEADINGS[reason.cause]


def pinned(p: Pinned) -> str:
    """`thop 0.1.1 @ torch 2.13.0`: what a number is pinned to. A counter that is part of its
    framework (tool named as the framework) is called by its display name, not versioned twice."""
    on = f"{p.framework} {p.framework_version}".strip()
    if p.tool == p.framework:
        return f"{p.display} @ {on}"
    return f"{p.tool} {p.tool_version} @ {on}" if p.framework else f"{p.tool} {p.tool_version}"


class Placed(Protocol):
    """A published row as far as its column heading goes (explain.rows.Row)."""

    @property
    def cell(self) -> str: ...
    @property
    def counter(self) -> str: ...
    @property
    def framework(self) -> str: ...
    @property
    def pinned(self) -> Pinned: ...


def columns(rows: Sequence[Placed]) -> dict[tuple[str, str], str]:
    """(cell, counter) -> its column heading, in reading order (framework, cell, counter). Headings
    are the pins; columns the pins cannot tell apart also get what tells them apart: the counter,
    the cell, or both."""
    keys = sorted({(r.cell, r.counter): r for r in rows}.items(), key=lambda kv: _column_order(kv[1]))
    heading = {key: pinned(row.pinned) for key, row in keys}
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, text in heading.items():
        groups.setdefault(text, []).append(key)
    for text, group in groups.items():
        if len(group) == 1:
            continue
        for place in (1, 0):
            if len({key[place] for key in group}) == len(group):
                heading |= {key: f"{text} ({key[place]})" for key in group}
                break
        else:
            heading |= {key: f"{text} ({key[1]} in {key[0]})" for key in group}
    return heading


def _column_order(row: Placed) -> tuple:
    return row.framework, order_key(row.cell), row.counter
