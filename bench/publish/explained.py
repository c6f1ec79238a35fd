"""The report's sections on how each total is explained, written from the explain side's data: the
opening answer per model, each model's reconciliation table and rows, the closed form beside the
reference, per batch or per sample, the counters of models given as code, and how a counter is called.
"""

from __future__ import annotations

from bench.explain import answer, variations
from bench.explain.answer import CauseSize, ModelAnswer, Skipped, Unread
from bench.explain.batching import BatchingFinding
from bench.explain.peers import PeerComparison
from bench.explain.reconcile import Cause, Reconciliation
from bench.explain.variations import CauseChange, SwitchChange, Tally
from bench.models import libraries
from bench.probe import catalog, variants
from bench.publish.headings import HEADINGS, RESIDUAL, pinned
from bench.publish.markdown import code, number, signed, table, text
from bench.publish.words import clause, definition_note, residual_items
from bench.reference import closed_form
from bench.reference.convention import PRESETS, Convention

QUESTION = (
    "Each counter's total below is split into the analytic reference (what the model computes,"
    " counted from the definition the record holds), plus named adjustments (what the counter's"
    " rule model predicts it does differently, from the graph or modules the probe saw and never from"
    " the counted numbers), plus the residual: what was counted minus what the rule model predicted."
    " A residual of 0 means the counter did exactly what its rules say; anything else is named below."
)
PER_BATCH = "the whole batch it is given"
PEERS = "Models without a definition: the counters against the exact count"


def skipped(s: Skipped) -> str:
    """One line of "Measurements not reconciled"."""
    name = f"{code(s.model)} / {text(s.cell)} / {code(s.job)}"
    if s.why is Unread.SCHEMA:
        return f"{name}: recorded by probe schema {text(s.schema)}, not {catalog.COUNT_SCHEMA}"
    return f"{name}: no counter adapter on the host"


def _share(flops: float, reference: float) -> str:
    return f"{100 * flops / reference:.1f}%" if reference else "-"


def _span(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low} to {high}"


def _cause(c: CauseSize, reference: float) -> str:
    if c.cause is Cause.STEPS:
        parts = [
            f"the {text(s.layer)}'s {s.steps} steps are {_share(s.flops, reference)} of it: "
            + ", ".join(f"{tool} prices {_span(low, high)}" for tool, low, high in s.priced)
            for s in c.steps
        ]
        detail = f" ({'; '.join(parts)})"
    else:
        detail = f" ({', '.join(c.tools)})"
    return f"{HEADINGS[c.cause]}, up to {_share(c.flops, reference)} of the reference{detail}"


def model_answer(found: ModelAnswer) -> str:
    """Per model: how far the counters spread, and the largest causes with their share."""
    causes = [_cause(c, found.reference) for c in found.causes]
    residual = (
        "the residual is 0 in every row"
        if not found.off
        else f"the residual is not 0 in {len(found.off)} of {found.rows} rows: "
        + ", ".join(f"{text(r.cell)} {code(r.counter)} {signed(r.residual)}" for r in found.off)
    )
    return (
        f"- **{code(found.model)}**: the counters give {found.low:.1f}% to {found.high:.1f}% of the reference,"
        f" {number(found.reference)} FLOPs. Largest causes: " + ("; ".join(causes) or "none") + f"; {residual}."
    )


def closed_form_line(definition: dict, reference: float, convention: Convention = PRESETS["default"]) -> str:
    """The closed form beside the reference (both under `convention`), and whether they agree; "" for a
    model without one."""
    closed = closed_form.decoder(definition)
    if closed is None:
        return ""
    verdict = (
        "they agree: the per-layer reference adds only the element-wise work the closed form leaves out"
        if closed_form.agrees(closed, reference, convention)
        else f"THEY DO NOT AGREE (more than {closed_form.TOLERANCE:.0%} apart, or the reference below it)"
    )
    per_mac = closed_form.flops_per_weight(convention)
    off = closed_form.departure(closed, reference, convention)
    return (
        f"Closed form ({number(per_mac)} FLOPs per weight of the matrix products per token, plus attention):"
        f" {closed.tokens:,} tokens x {number(per_mac)} x ({number(closed.weights)} weights + 2 x {closed.layers}"
        f" layers x {closed.context:,} context x {closed.attention_width:,} width) ="
        f" **{number(closed.total(convention))} FLOPs** ({number(closed.per_token(convention))} per token);"
        f" the reference is {text(f'{off:+.3%}')} from it: {verdict}.\n"
    )


def section(model: str, rows: list[Reconciliation]) -> str:
    """One model's reconciliation: the reference, the closed form, the table, and each row explained."""
    rows = answer.ordered(rows)
    causes = [c for c in Cause if any(c in r.by_cause() for r in rows)]
    body = [
        [
            r.cell,
            code(r.counter),
            pinned(r.pinned),
            f"{r.raw_total:,} {r.unit.value}",
            number(r.total),
            number(r.reference),
        ]
        + [_column(r, c) for c in causes]
        + [number(r.residual)]
        for r in rows
    ]
    header = ["cell", "counter", "pinned to", "as reported", "in FLOPs", "reference"]
    header += [HEADINGS[c] for c in causes] + [RESIDUAL]
    whole = answer.at_own_batch(rows)
    closed = closed_form_line(whole.definition, whole.reference, whole.convention)
    lines = [f"## {code(model)}: each counter's total, explained\n", _reference(whole) + "\n"]
    lines += [closed] * bool(closed) + [table(header, body)]
    lines += [_row(r) for r in rows]
    return "\n".join(lines)


def _column(r: Reconciliation, cause: Cause) -> str:
    group = r.by_cause().get(cause)
    return signed(sum(a.flops for a in group)) if group else "0"


def weights(convention: Convention) -> str:
    """A convention's prices: `mac = 2, bias = 1, ...`."""
    return ", ".join(f"{component} = {weight:g}" for component, weight in convention.weights)


def _reference(r: Reconciliation) -> str:
    parts = []
    for layer in answer.layer_references(r):
        steps = f" ({layer.steps} steps of {number(layer.step_flops)})" if layer.steps else ""
        parts.append(f"{text(layer.name)} {number(layer.flops)}{steps}")
    return (
        f"Analytic reference for {code(r.model)} ({text(r.definition.get('summary', 'no summary'))}):"
        f" **{number(r.reference)} FLOPs** under the convention {text(repr(r.convention.name))}"
        f" ({text(weights(r.convention))}):"
        f" {'; '.join(parts)}."
    )


def _row(r: Reconciliation) -> str:
    unit = "" if r.unit_flops == 1 else f" ({r.raw_total:,} {r.unit.value}s x {number(r.unit_flops)})"
    terms = " ".join(f"{signed(sum(a.flops for a in group))} ({HEADINGS[c]})" for c, group in r.by_cause().items())
    lines = [
        f"**{text(r.cell)}, {code(r.counter)}: {number(r.total)}**{unit} = {number(r.reference)} (reference) {terms}"
        f" {signed(r.residual)} ({RESIDUAL})\n"
    ]
    for cause, group in r.by_cause().items():
        said = "; ".join(clause(a) for a in group)
        if cause is Cause.STEPS:
            said += ". Why: " + "; ".join(why for a in group for why in r.why.get(a.layer, ()))
        elif cause is Cause.OUTSIDE and r.outside_why:
            said += f". {r.outside_why[0].upper()}{r.outside_why[1:]}"
        lines.append(f"- {HEADINGS[cause]} ({signed(sum(a.flops for a in group))}): {text(said)}.")
    lines += [f"- note on {text(layer)}: {text(note)}." for layer, notes in r.notes.items() for note in notes]
    if r.definition_note:
        lines.append(f"- definition: {text(definition_note(r.definition_note))}.")
    for residual in r.residuals:
        items = text("; ".join(residual_items(residual)))
        lines.append(f"- {RESIDUAL} at {text(residual.place)} ({signed(residual.flops)}): {items}.")
    return "\n".join(lines) + "\n"


def batching(found: list[BatchingFinding]) -> str:
    """The table: per counter, whether its number is per batch or per sample, and why."""
    rows = [
        [code(f.counter), text("per sample" if f.per_sample else "per batch"), text(f.why or PER_BATCH)] for f in found
    ]
    return (
        "## Per batch or per sample\n\n"
        "What each counter's number covers when a model runs on a batch of more than one (`--batch`,"
        " `--shape`): the reference of a per-sample counter is computed at a batch of 1.\n\n"
        + table(["counter", "reports", "why"], rows)
    )


def peers(found: list[PeerComparison]) -> str:
    """Per model given as code and per build: each counter against the exact count; "" when there is none."""
    if not found:
        return ""
    parts = [
        f"## {PEERS}\n\n"
        "These models are Python code that builds the model (`models/<name>.py`, or a library's own builder:"
        " `torchvision:resnet50`, bench/models/libraries.py), not a definition: there is"
        " no analytic reference to reconcile them with. Their reference is the project's own exact counter,"
        " which prices every op the model runs as the analytic reference prices it (on every model with a"
        " definition it equals that reference); each other count is shown as its distance from it. A build"
        " no exact counter counted is set against the median of its counts.\n"
    ]
    for model in found:
        table_rows = [
            [
                text(c.cell),
                code(c.counter),
                number(c.flops),
                signed(c.distance(model.reference)),
                text("-" if c.ratio is None else f"{c.ratio:.3f}"),
            ]
            for c in model.counts
        ]
        if model.exact:
            said = f"exact count ({code(model.exact.counter)} in {text(model.exact.cell)})"
        else:
            said = f"no exact count: median of {len(model.counts)} counts"
        parts.append(
            f"### {code(libraries.shown(model.model))}: {code(model.build + '()')}\n\n{text(model.summary)};"
            f" reference, the {said}:"
            f" {number(model.reference)} FLOPs.\n\n"
            + table(["cell", "counter", "FLOPs", "distance", "x reference"], table_rows)
        )
    return "\n".join(parts)


def switch(change: SwitchChange) -> str:
    """`grad_enabled: True -> False`."""
    return f"{change.key}: {change.plain} -> {change.variant}"


def cause_change(change: CauseChange) -> str:
    """`recurrent steps priced: - 232,585,824 -> 0`."""
    name = RESIDUAL if change.cause is None else HEADINGS[change.cause]
    return f"{name}: {signed(change.plain)} -> {signed(change.variant)}"


def variants_section(found: Tally) -> str:
    """One row per variant that moves a total; "" when no variant was measured."""
    if not found.measured:
        return ""
    rows = [
        [
            code(m.model),
            m.cell,
            code(m.counter),
            code(m.variant),
            number(m.plain),
            number(m.moved),
            signed(m.moved - m.plain),
            text("; ".join(map(switch, m.switches)) or "-"),
            text("; ".join(map(cause_change, m.causes)) or "-"),
        ]
        for m in found.moved
    ]
    intro = (
        "## How a counter is called\n\n"
        "Each counter also runs under named variants (`counter@variant`): "
        + "; ".join(f"{code(name)}: {text(spec['summary'])}" for name, spec in sorted(variants.VARIANTS.items()))
        + f". Of {found.measured} variant measurements, {len(found.moved)} move their counter's total; the others"
        " equal the plain call's, and those that failed are listed under failures. Why: the switches the probe"
        " saw at the model's first layer, and the causes of the reconciliation that change. A residual that"
        " appears is what the counter's rule model does not know of the switch: "
        + "; ".join(f"{', '.join(map(code, names))}: {text(why)}" for why, names in variations.unmodelled().items())
        + ".\n\n"
    )
    if not rows:
        return intro
    return intro + table(
        ["model", "cell", "counter", "variant", "plain", "variant total", "moved by", "switches seen", "causes"], rows
    )
