"""The front page's two answers, from the published rows: the blog's question (bench/reference/blog.py)
and a summary small enough to read at a glance (models x counter families, each family at its latest
version here, as a share of the reference), with each family's worst blind spot in one line.

Each answer is data first (`Blog`, `Summary`) and then written as Markdown (README.md) or HTML (the
site's index), so both say the same. Nothing here names a model, counter or cell: the blog's are in
its registry, the families are the counter adapters'.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from bench.counters import adapter_for
from bench.explain.rows import Failure, Row
from bench.publish.headings import pinned, term
from bench.publish.markdown import Markup, code, number, table, text
from bench.publish.words import failure_reason
from bench.reference.blog import BLOG, System

MAX_COLUMNS = 12  # the summary's, the model's included: wider tables stop being read
NO_REFERENCE = "no reference"
SUMMARY_INTRO = (
    "Each entry is the counter family's total as a share of the analytic reference, at the family's latest"
    " version here (a range where it has several counters or cells at that version); every counter at every"
    " version is on the model's page."
)
BLIND_SPOTS = "Each family's worst blind spot (the model it misses most, and the largest cause there):"


@dataclass(frozen=True)
class Answer:
    """One system of the blog: the row that measures it here (None: not measured), and what stands in."""

    system: System
    row: Row | None
    stand_in_why: str  # why its own cell did not run, from that cell's record ("" when it ran)


@dataclass(frozen=True)
class Blog:
    answers: tuple[Answer, ...]
    reference: float | None
    steps: tuple[tuple[str, int, float], ...]  # (recurrent layer, its steps, its share of the reference)
    control: tuple[Row | None, ...]  # the blog's control model, measured the same way


def _row(rows: list[Row], model: str, cell: str, counter: str) -> Row | None:
    return next((r for r in rows if (r.model, r.cell, r.counter) == (model, cell, counter)), None)


def _why_not(failures: list[Failure], model: str, cell: str, counter: str) -> str:
    return next((failure_reason(f) for f in failures if f.cell == cell and (model, counter) in f.jobs), "")


def blog(rows: list[Row], failures: list[Failure]) -> Blog | None:
    """The blog's three systems as measured here; None when none of them was."""
    answers = []
    for system in BLOG.systems:
        found = _row(rows, BLOG.model, system.cell, system.counter)
        why = ""
        if found is None and system.stand_in:
            why = _why_not(failures, BLOG.model, system.cell, system.counter) or "its cell has no measurement"
            found = _row(rows, BLOG.model, system.stand_in, system.counter)
        answers.append(Answer(system, found, why))
    measured = [a.row for a in answers if a.row is not None]
    if not measured:
        return None
    reference = next((r.reference for r in measured if r.reference is not None), None)
    steps = []
    first = next((r for r in measured if r.steps), None)
    if first is not None and reference:
        layers = {layer.name: layer.reference for layer in first.layers}
        steps = [(layer, n, layers.get(layer, 0.0) / reference) for layer, n, _ in first.steps]
    control = tuple(_row(rows, BLOG.control, a.row.cell if a.row else a.system.cell, a.system.counter) for a in answers)
    return Blog(tuple(answers), reference, tuple(steps), control)


def _share(row: Row | None) -> str:
    return "-" if row is None or row.share is None else f"{100 * row.share:.1f}%"


def _priced(row: Row | None) -> str:
    if row is None or not row.steps:
        return "-"
    return "; ".join(f"{priced} of {n}" for _, n, priced in row.steps)


def _blog_table(found: Blog) -> tuple[list[str], list[list[str]]]:
    layers = " and ".join(layer for layer, _, _ in found.steps) or "recurrent"
    header = ["the blog's system", "measured here", "FLOPs", "of the reference", f"{layers} steps priced", "the blog"]
    body = []
    for a in found.answers:
        r = a.row
        where = (
            "not measured"
            if r is None
            else f"{pinned(r.pinned)}, cell {r.cell}" + (" (stands in)" * bool(a.stand_in_why))
        )
        body.append(
            [a.system.label, where, "-" if r is None else number(r.flops), _share(r), _priced(r), a.system.blog_says]
        )
    if found.reference is not None:
        all_steps = "; ".join(f"{n} of {n}" for _, n, _ in found.steps) or "-"
        body.append(["analytic reference", "from the definition", number(found.reference), "100.0%", all_steps, "-"])
    return header, body


def _sentences(found: Blog) -> list[str]:
    """Three sentences: where the reference goes, what each system prices, what the control shows."""
    said = []
    if found.reference is not None:
        parts = [f"the {layer}'s {n} steps are {100 * share:.1f}% of it" for layer, n, share in found.steps]
        said.append(
            f"The analytic reference is {number(found.reference)} FLOPs"
            + (f"; {', '.join(parts)}" if parts else "")
            + "."
        )
    priced = [
        f"{a.system.label} prices {_priced(a.row)} steps and reports {_share(a.row)}" for a in found.answers if a.row
    ]
    said.append("Measured with the blog's own code: " + "; ".join(priced) + ".")
    control = [(a, r) for a, r in zip(found.answers, found.control, strict=True) if r is not None]
    if control:
        shares = ", ".join(f"{_share(r)} ({a.system.label})" for a, r in control)
        said.append(f"On the blog's control, the same model's first layer alone ({BLOG.control}), they give {shares}.")
    for a in found.answers:
        if a.stand_in_why and a.row is not None:
            said.append(f"{a.system.label} is measured by cell {a.row.cell} here: {a.stand_in_why}.")
    return said


def _blog_opening(escape: Callable[[str], str], code_span: Callable[[str], str]) -> str:
    """The section's first sentence, with the given escaping (Markdown's or HTML's)."""
    return (
        f"{escape(BLOG.title)} ({code_span(BLOG.source)}) counted the FLOPs of one model, {code_span(BLOG.model)},"
        " three ways and found them far apart. Here each runs in its own image, with the blog's code:"
    )


def blog_markdown(found: Blog | None) -> str:
    if found is None:
        return ""
    header, body = _blog_table(found)
    prose = " ".join(text(s) for s in _sentences(found))
    opening = _blog_opening(text, code)
    return f"## The blog's question\n\n{opening}\n\n{table(header, body)}\n{prose} {text(BLOG.figures)}\n"


def blog_html(found: Blog | None) -> str:
    if found is None:
        return ""
    header, body = _blog_table(found)
    prose = " ".join(_e(s) for s in _sentences(found))
    opening = _blog_opening(_e, lambda s: f"<code>{_e(s)}</code>")
    return (
        f"<h2 id=blog>The blog's question</h2>\n<p>{opening}</p>\n"
        + _html_table(header, body, "blog")
        + f"\n<p>{prose} {_e(BLOG.figures)}</p>"
    )


@dataclass(frozen=True)
class Summary:
    families: tuple[str, ...]  # column headings after the model's: the family and its latest versions
    models: tuple[str, ...]
    shares: tuple[tuple[str, ...], ...]  # per model, per family: "97.7%", "7.1-9.1%", "-"
    blind_spots: tuple[str, ...]  # per family, one line
    left_out: tuple[str, ...]  # families past MAX_COLUMNS
    exact: str = ""  # the project's own counters, which count the reference itself: one line, not a column


def _version(value: str) -> tuple:
    try:
        return (1, Version(value.split("-")[0]))
    except InvalidVersion:
        return (0, value)


def latest(rows: list[Row]) -> dict[str, list[Row]]:
    """Family -> its rows at each of its tools' latest version here (plain runs only, variants apart)."""
    newest: dict[tuple[str, str], tuple] = {}
    for r in rows:
        key = (r.family or r.display or r.tool, r.tool)
        stamp = (_version(r.tool_version), _version(r.framework_version))
        newest[key] = max(newest.get(key, stamp), stamp)
    found: dict[str, list[Row]] = {}
    for r in rows:
        key = (r.family or r.display or r.tool, r.tool)
        if (_version(r.tool_version), _version(r.framework_version)) == newest[key]:
            found.setdefault(key[0], []).append(r)
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


def _span(rows: list[Row]) -> str:
    shares = [r.share for r in rows if r.share is not None]
    if not shares and any(r.reference == 0 for r in rows):  # nothing to compute (a lookup): the FLOPs counted
        low, high = number(min(r.flops for r in rows)), number(max(r.flops for r in rows))
        return f"reference 0; {low}" if low == high else f"reference 0; {low}-{high}"
    if not shares:
        return NO_REFERENCE if rows else "-"
    low, high = f"{100 * min(shares):.1f}", f"{100 * max(shares):.1f}"
    return f"{low}%" if low == high else f"{low}-{high}%"


def _blindness(r: Row) -> float:
    """How far a total is from its reference, either way (0 when it is the reference)."""
    if r.share is None:
        return -1.0
    return math.inf if r.share <= 0 else abs(math.log(r.share))


def _blind_spot(family: str, rows: list[Row]) -> str:
    worst = max(rows, key=lambda r: (_blindness(r), r.model, r.cell, r.counter))
    if worst.share is None:
        return f"{family}: no model with a reference"
    if not worst.reasons:
        return f"{family}: {worst.model} at {_share(worst)} ({worst.cell}, {worst.counter}), nothing to explain"
    cause = max(worst.reasons, key=lambda x: (abs(x.flops), term(x)))
    assert worst.reference
    return (
        f"{family}: {worst.model} at {_share(worst)} ({worst.cell}, {worst.counter}); largest cause: {term(cause)},"
        f" {100 * cause.flops / worst.reference:+.1f}% of the reference"
    )


def _exact(rows: list[Row]) -> str:
    """Where the counters of the reference's own components give the reference, and where not (by how much)."""
    if not rows:
        return ""
    counters = ", ".join(sorted({r.counter for r in rows}))
    cells = ", ".join(sorted({r.cell for r in rows}))
    off = sorted({f"{r.model} {_share(r)} ({r.cell})" for r in rows if r.share is not None and r.flops != r.reference})
    equal = len({r.model for r in rows}) - len({line.split()[0] for line in off})
    said = f"; elsewhere, with an adjustment its page names: {', '.join(off)}" if off else ""
    return (
        f"The project's own exact counters ({counters}, in {cells}) are not a column: they price every op as the"
        f" reference does, and give the reference itself on {equal} of the {len({r.model for r in rows})} models"
        f" they count{said}."
    )


def summary(rows: list[Row]) -> Summary:
    exact = [r for r in rows if adapter_for(r.counter).components and r.reference is not None]
    rows = [r for r in rows if not adapter_for(r.counter).components]
    families = latest(rows)
    names = list(families)
    shown, left_out = names[: MAX_COLUMNS - 1], names[MAX_COLUMNS - 1 :]
    headings = []
    for family in shown:
        tools = sorted({f"{r.tool} {r.tool_version}" for r in families[family]})
        headings.append(f"{family} ({', '.join(tools)})" if tools != [family] else family)
    models = sorted({r.model for r in rows})
    shares = tuple(tuple(_span([r for r in families[f] if r.model == model]) for f in shown) for model in models)
    spots = tuple(_blind_spot(f, families[f]) for f in shown)
    return Summary(tuple(headings), tuple(models), shares, spots, tuple(left_out), _exact(exact))


def summary_markdown(found: Summary, link: dict[str, str]) -> str:
    """The summary table, each model linked to its page (`link`: model -> path)."""
    body = [
        [Markup(f"[{code(m)}]({link[m]})") if m in link else code(m), *s]
        for m, s in zip(found.models, found.shares, strict=True)
    ]
    spots = "\n".join(f"- {text(line)}" for line in found.blind_spots)
    more = (
        f"\nNot shown here (more than {MAX_COLUMNS} columns): {text(', '.join(found.left_out))}.\n"
        if found.left_out
        else ""
    )
    exact = f"\n{text(found.exact)}\n" if found.exact else ""
    return (
        f"## Every model, every counter family\n\n{SUMMARY_INTRO}\n\n"
        + table(["model", *found.families], body)
        + f"\n{BLIND_SPOTS}\n\n{spots}\n{more}{exact}"
    )


def summary_html(found: Summary, link: dict[str, str]) -> str:
    body = [
        [f'<a href="{_e(link[m])}">{_e(m)}</a>' if m in link else _e(m), *map(_e, s)]
        for m, s in zip(found.models, found.shares, strict=True)
    ]
    spots = "".join(f"<li>{_e(line)}</li>" for line in found.blind_spots)
    more = f"<p>Not shown here: {_e(', '.join(found.left_out))}.</p>" if found.left_out else ""
    more += f"<p>{_e(found.exact)}</p>" if found.exact else ""
    return (
        f"<h2 id=summary>Every model, every counter family</h2>\n<p>{SUMMARY_INTRO}</p>\n"
        + _html_table(["model", *map(_e, found.families)], body, "summary", escaped=True)
        + f"\n<p>{BLIND_SPOTS}</p>\n<ul>{spots}</ul>{more}"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html_table(header: list[str], body: list[list[str]], name: str, escaped: bool = False) -> str:
    show = (lambda v: v) if escaped else _e
    head = "".join(f"<th>{show(h)}</th>" for h in header)
    lines = "\n".join("<tr>" + "".join(f"<td>{show(v)}</td>" for v in row) + "</tr>" for row in body)
    return f'<div class=scroll><table class="{name}"><tr>{head}</tr>\n{lines}</table></div>'
