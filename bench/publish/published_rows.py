"""The published counts as the report shows them: one row per printed figure of a reported model.

Read from the registry (bench/reference/published.py) and judged by bench/reference/reproduce.py;
this module only lays the verdicts out, in Markdown for README.md and in HTML for the site. It
names no model, source or counter: whatever the registry holds for the models the report shows.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from math import log10

from bench.explain.rows import Row, ordered
from bench.probe import zoo
from bench.publish.headings import columns
from bench.publish.markdown import Markup, code, table, text
from bench.reference.published import Figure, Rounding
from bench.reference.reproduce import Count, Verdict, verdicts

__all__ = [
    "PublishedRow",
    "agreeing",
    "build",
    "build_for",
    "column",
    "describe",
    "markdown",
    "html_section",
    "records",
    "INTRO",
]

INTRO = (
    "What papers and model hubs print for these models, beside the analytic reference priced by the convention"
    " the source uses (its MACs by where they come from: convolutions, matrix products, ...), read at the precision"
    " the figure is printed. A figure the reference does not reproduce is explained only by what its entry states"
    " (another definition, another convention), computed on its own."
)


@dataclass(frozen=True)
class PublishedRow:
    model: str
    figure: str  # as printed, unit included
    source: str  # short label
    citation: str  # where it is printed, with the version read
    url: str
    convention: str  # name and terms
    reference: float  # the zoo model under that convention
    verdict: str  # "reproduced", "explained (as ...)" or "NOT reproduced"
    detail: str  # the counts and how they print
    printing: float | None  # the count that prints as the figure (the reference's or the alternative's), if any

    @property
    def short(self) -> str:
        return f"{self.figure} ({self.source}): {self.verdict}"


# a reading of a figure, in one word
READING = {Rounding.NEAREST: "rounded", Rounding.DOWN: "truncated"}


def show(figure: Figure, value: float) -> str:
    """A value written as the figure writes its number: to its last digit, in its scale."""
    decimals = max(0, round(-log10(figure.quantum / figure.scale)))
    return f"{value / figure.scale:.{decimals}f}"


def count_said(count: Count, figure: Figure) -> str:
    """`4,089,184,256 prints as 4.089 (rounded): reproduced`."""
    shown = " or ".join(f"{show(figure, value)} ({READING[how]})" for how, value in count.printed)
    verdict = "reproduced" if count.reproduced else f"not reproduced (printed {show(figure, figure.value)})"
    return f"{count.value:,.0f} prints as {shown}: {verdict}"


def describe(found: Verdict) -> str:
    """The counts and how they print: the reference's, and the alternative's with its reason."""
    said = count_said(found.reference, found.entry.figure)
    if found.alternative is not None and found.entry.alternative is not None:
        said += f"; {found.entry.alternative.reason}: {count_said(found.alternative, found.entry.figure)}"
    return said


def _reading(count: Count, figure: Figure) -> str:
    """The one reading it needed, where the figure allows two and only one prints as it: "truncated"."""
    matched = count.matched(figure)
    if figure.rounding is not Rounding.UNSTATED or len(matched) != 1:
        return ""
    return READING[matched[0]]


def _row(found: Verdict) -> PublishedRow:
    entry = found.entry
    printing: float | None = None
    if found.reproduced:
        reading = _reading(found.reference, entry.figure)
        verdict = f"reproduced ({reading})" if reading else "reproduced"
        printing = found.reference.value
    elif found.explained and entry.alternative is not None and found.alternative is not None:
        reading = _reading(found.alternative, entry.figure)
        verdict = f"explained ({', '.join(filter(None, (entry.alternative.label, reading)))})"
        printing = found.alternative.value
    else:
        verdict = "NOT reproduced"
    terms = ", ".join(f"{k} = {w:g}" for k, w in entry.convention.weights if w)
    citation = entry.source.citation + (f" [{entry.source.version}]" if entry.source.version else "")
    return PublishedRow(
        entry.model,
        entry.figure.printed,
        entry.source.label,
        citation,
        entry.source.url,
        f"{entry.convention.name} ({terms}, nothing else)",
        found.reference.value,
        verdict,
        describe(found),
        printing,
    )


def build(measured: Iterable[tuple[str, str]]) -> list[PublishedRow]:
    """The rows for these (model, definition sha256) pairs, by model, each model's in registry order: a
    figure is judged on the zoo's definition, so only a model measured on that very definition gets it."""
    wanted = {model for model, sha in measured if model in zoo.MODELS and sha == zoo.fingerprint(zoo.MODELS[model])}
    found = [v for v in verdicts() if v.entry.model in wanted]
    return [_row(v) for v in sorted(found, key=lambda v: v.entry.model)]


def build_for(entries: Iterable[dict], measured: Sequence[Row]) -> list[PublishedRow]:
    """The rows for the models of the report's rows, from the count records they were made of."""
    shown = {r.model for r in measured}
    return build(
        (e["model"], e["probe"].get("definition_sha256", ""))
        for e in entries
        if e.get("status") == "ok" and e.get("kind") == "count" and e["model"] in shown
    )


def column(rows: list[PublishedRow], model: str) -> str:
    """One model's figures, for a 'published' column beside the counters."""
    return "; ".join(r.short for r in rows if r.model == model) or "-"


# what a counter reports, in multiply-accumulates: its MACs, or its FLOPs at 2 per multiply-accumulate
_PER_MAC = {"MAC": 1, "FLOP": 2}
AGREEING = "counters giving exactly the count that prints as it (MACs, or FLOPs at 2 per MAC)"


def agreeing(row: PublishedRow, measured: Sequence[Row]) -> list[str]:
    """The columns whose counter reports exactly the count that prints as the figure (none where no count
    does): the counters that count the way the source did, by their own number alone."""
    if row.printing is None:
        return []
    names = columns(list(measured))
    return [
        names[(r.cell, r.counter)]
        for r in ordered(list(measured))
        if r.model == row.model and r.unit in _PER_MAC and r.raw_total == _PER_MAC[r.unit] * row.printing
    ]


def records(rows: list[PublishedRow], measured: Sequence[Row] = ()) -> list[dict]:
    """The rows as plain data for flops.json, each with the columns of the counters that agree."""
    return [dict(asdict(r), agreeing=agreeing(r, measured)) for r in rows]


def markdown(rows: list[PublishedRow], measured: Sequence[Row] = ()) -> str:
    if not rows:
        return ""
    body = [
        [
            code(r.model),
            r.figure,
            Markup(
                f"[{text(r.source)}]({r.url}): {text(r.citation)}" if r.url else f"{text(r.source)}: {text(r.citation)}"
            ),
            r.convention,
            f"{r.reference:,.0f}",
            Markup(f"**{text(r.verdict)}**: {text(r.detail)}"),
            "; ".join(agreeing(r, measured)) or "none",
        ]
        for r in rows
    ]
    head = ["model", "published (as printed)", "source", "its convention", "reference under it", "verdict", AGREEING]
    return "## Published counts\n\n" + INTRO + "\n\n" + table(head, body)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _link(row: PublishedRow) -> str:
    return f'<a href="{_e(row.url)}">{_e(row.source)}</a>' if row.url else _e(row.source)


def html_section(rows: list[PublishedRow], measured: Sequence[Row] = ()) -> str:
    if not rows:
        return ""
    lines = [
        f"<tr><td><code>{_e(r.model)}</code></td><td>{_e(r.figure)}</td>"
        f"<td>{_link(r)}: {_e(r.citation)}</td><td>{_e(r.convention)}</td>"
        f"<td class=n>{r.reference:,.0f}</td><td><b>{_e(r.verdict)}</b>: {_e(r.detail)}</td>"
        f"<td>{_e('; '.join(agreeing(r, measured)) or 'none')}</td></tr>"
        for r in rows
    ]
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "model",
            "published (as printed)",
            "source",
            "its convention",
            "reference under it",
            "verdict",
            AGREEING,
        )
    )
    return (
        f"<h2 id=published>Published counts</h2>\n<p>{_e(INTRO)}</p>\n"
        f"<div class=scroll><table><tr>{head}</tr>\n" + "\n".join(lines) + "</table></div>"
    )
