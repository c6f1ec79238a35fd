"""The report's answer: every counter's total reconciled with the analytic reference, per model.

Nothing here knows a model, counter or layer by name: the opening answer is drawn from whatever
reconciliations there are.
"""

from __future__ import annotations

from bench.counters import ADAPTERS
from bench.explain import batching, peers
from bench.explain.reconcile import CAUSES, Reconciliation, reconcile
from bench.probe import catalog, variants
from bench.publish.markdown import code, number, signed, table, text
from bench.reference import closed_form
from bench.reference.convention import Convention
from bench.reference.formulas import analyse
from bench.run.cells import order_key

QUESTION = (
    "Each counter's total below is split into the analytic reference (what the model computes,"
    " counted from the definition the record holds), plus named adjustments (what the counter's"
    " rule model predicts it does differently, from the graph or modules the probe saw and never from"
    " the counted numbers), plus the residual: what was counted minus what the rule model predicted."
    " A residual of 0 means the counter did exactly what its rules say; anything else is named below."
)


def reconciliations(entries: list[dict], convention: Convention) -> tuple[list[Reconciliation], list[str]]:
    """One per measurement the current probe schema describes and a counter adapter reads; and why
    the others were not reconciled."""
    found, skipped = [], []
    for entry in entries:
        probe = entry.get("probe") or {}
        name = f"{code(entry['model'])} / {text(entry['cell'])} / {code(entry['job'])}"
        if probe.get("schema") != catalog.COUNT_SCHEMA:
            skipped.append(f"{name}: recorded by probe schema {text(probe.get('schema'))}, not {catalog.COUNT_SCHEMA}")
        elif peers.is_code(entry):
            continue  # no definition, no reference: peers.section sets it beside the other counters
        elif variants.split(entry["job"])[0] not in ADAPTERS:
            skipped.append(f"{name}: no counter adapter on the host")
        else:
            found.append(reconcile(entry, convention))
    return found, skipped


def _ordered(rows: list[Reconciliation]) -> list[Reconciliation]:
    return sorted(rows, key=lambda r: (r.model, order_key(r.cell), r.counter))


def answer(rows: list[Reconciliation]) -> str:
    """Per model: how far the counters spread, and the largest causes with their share."""
    lines = ["**The answer**, model by model (largest causes of disagreement first):\n"]
    for model in sorted({r.model for r in rows}):
        lines.append(model_answer([r for r in rows if r.model == model]))
    lines.append("\nIn short (each line is one measurement; the sections below give every term):\n")
    lines += [_short(r) for r in _ordered(rows)]
    return "\n".join(lines) + "\n"


def model_answer(rows: list[Reconciliation]) -> str:
    reference = rows[0].reference
    shares = [100 * r.total / reference for r in rows] if reference else [0.0]
    size: dict[str, float] = {}
    for r in rows:
        for cause, group in r.by_cause().items():
            size[cause] = max(size.get(cause, 0), abs(sum(a.flops for a in group)))
    ranked = sorted(size, key=lambda c: (-size[c], list(CAUSES).index(c)))[:3]
    causes = [f"{CAUSES[c]}, up to {_share(size[c], reference)} of the reference{_detail(c, rows)}" for c in ranked]
    off = [r for r in rows if r.residual]
    residual = (
        "the residual is 0 in every row"
        if not off
        else f"the residual is not 0 in {len(off)} of {len(rows)} rows: "
        + ", ".join(f"{text(r.cell)} {code(r.counter)} {signed(r.residual)}" for r in _ordered(off))
    )
    return (
        f"- **{code(rows[0].model)}**: the counters give {min(shares):.1f}% to {max(shares):.1f}% of the reference,"
        f" {number(reference)} FLOPs. Largest causes: " + ("; ".join(causes) or "none") + f"; {residual}."
    )


def _share(flops: float, reference: float) -> str:
    return f"{100 * flops / reference:.1f}%" if reference else "-"


def _detail(cause: str, rows: list[Reconciliation]) -> str:
    """For recurrent steps: each layer's share and how many steps each tool prices."""
    if cause != "steps":
        tools = sorted({r.tool for r in rows if cause in r.by_cause()})
        return f" ({', '.join(tools)})"
    parts = []
    for layer, steps in rows[0].steps.items():
        cost = next(c for c in analyse(rows[0].definition) if c.name == layer)
        share = _share(rows[0].convention.flops(cost.total()), rows[0].reference)
        priced: dict[str, list[int]] = {}
        for r in rows:
            priced.setdefault(r.tool, []).append(r.priced_steps.get(layer, 0))
        said = ", ".join(f"{tool} prices {_span(counts)}" for tool, counts in sorted(priced.items()))
        parts.append(f"the {text(layer)}'s {steps} steps are {share} of it: {said}")
    return f" ({'; '.join(parts)})"


def _span(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low} to {high}"


def _short(r: Reconciliation) -> str:
    parts = [f"{_share(r.total, r.reference)} of the reference {number(r.reference)}"]
    for layer, steps in r.steps.items():
        parts.append(f"{r.priced_steps.get(layer, 0)} of the {text(layer)}'s {steps} steps priced")
    for cause, group in r.by_cause().items():
        if cause != "steps":
            parts.append(f"{signed(sum(a.flops for a in group))} {CAUSES[cause]}")
    parts.append(f"residual {signed(r.residual) if r.residual else 0}")
    return f"- {code(r.model)}, {text(r.cell)}, {code(r.counter)}: {number(r.total)} = {'; '.join(parts)}."


def section(model: str, rows: list[Reconciliation]) -> str:
    rows = _ordered(rows)
    causes = [c for c in CAUSES if any(c in r.by_cause() for r in rows)]
    body = [
        [r.cell, code(r.counter), r.versions, f"{r.raw_total:,} {r.unit.value}", number(r.total), number(r.reference)]
        + [_column(r, c) for c in causes]
        + [number(r.residual)]
        for r in rows
    ]
    header = ["cell", "counter", "pinned to", "as reported", "in FLOPs", "reference"]
    header += [CAUSES[c] for c in causes] + ["residual"]
    whole = next((r for r in rows if not batching.per_sample(r.counter)), rows[0])  # at the model's own batch
    closed = closed_form.line(whole.definition, whole.reference, whole.convention)
    lines = [f"## {code(model)}: each counter's total, explained\n", _reference(whole) + "\n"]
    lines += [closed] * bool(closed) + [table(header, body)]
    lines += [_row(r) for r in rows]
    return "\n".join(lines)


def _column(r: Reconciliation, cause: str) -> str:
    group = r.by_cause().get(cause)
    return signed(sum(a.flops for a in group)) if group else "0"


def _reference(r: Reconciliation) -> str:
    convention = r.convention
    parts = []
    for cost in analyse(r.definition):
        flops = convention.flops(cost.total())
        steps = f" ({cost.steps} steps of {number(convention.flops(cost.step))})" if cost.steps else ""
        parts.append(f"{text(cost.name)} {number(flops)}{steps}")
    return (
        f"Analytic reference for {code(r.model)} ({text(r.definition.get('summary', 'no summary'))}):"
        f" **{number(r.reference)} FLOPs** under the convention {text(repr(convention.name))}"
        f" ({text(convention.describe())}):"
        f" {'; '.join(parts)}."
    )


def _row(r: Reconciliation) -> str:
    unit = "" if r.unit_flops == 1 else f" ({r.raw_total:,} {r.unit.value}s x {number(r.unit_flops)})"
    terms = " ".join(f"{signed(sum(a.flops for a in group))} ({CAUSES[c]})" for c, group in r.by_cause().items())
    lines = [
        f"**{text(r.cell)}, {code(r.counter)}: {number(r.total)}**{unit} = {number(r.reference)} (reference) {terms}"
        f" {signed(r.residual)} (residual)\n"
    ]
    for cause, group in r.by_cause().items():
        said = "; ".join(a.text for a in group)
        if cause == "steps":
            said += ". Why: " + "; ".join(why for a in group for why in r.why.get(a.layer, ()))
        elif cause == "outside" and r.outside_why:
            said += f". {r.outside_why[0].upper()}{r.outside_why[1:]}"
        lines.append(f"- {CAUSES[cause]} ({signed(sum(a.flops for a in group))}): {text(said)}.")
    lines += [f"- note on {text(layer)}: {text(note)}." for layer, notes in r.notes.items() for note in notes]
    if r.definition_note:
        lines.append(f"- definition: {text(r.definition_note)}.")
    for residual in r.residuals:
        items = text("; ".join(residual.items))
        lines.append(f"- residual at {text(residual.place)} ({signed(residual.flops)}): {items}.")
    return "\n".join(lines) + "\n"
