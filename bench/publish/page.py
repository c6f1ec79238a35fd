"""results/site/: the report as plain HTML pages that need nothing else to be read: the index (the
front page), one page per model with its charts inline, and the details.

No script, no stylesheet or font from elsewhere: the charts are inline SVG (bench/publish/charts.py), the
rest is HTML with its style inline. Every string a record holds goes through `_e` (html.escape),
so a name with `<`, `&` or quotes stays text; the SVGs were escaped by Vega when it wrote them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from bench.explain.rows import Failure, Row
from bench.publish import charts, front, published_rows
from bench.publish.headings import columns, term
from bench.publish.markdown import number, signed
from bench.publish.words import base_image, clauses, failure_reason, failure_status
from bench.records.results import Problem
from bench.run.cells import order_key

STYLE = """
body{font:14px/1.45 Helvetica,Arial,sans-serif;margin:24px auto;max-width:1400px;padding:0 16px;color:#222}
h1{font-size:24px}h2{font-size:19px;margin-top:36px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;white-space:nowrap}
table.summary td,table.blog td,table.totals td{white-space:nowrap}
.scroll{overflow-x:auto}figure{margin:12px 0;overflow-x:auto}figcaption{font-weight:bold;margin-bottom:4px}
code{background:#f4f4f4;padding:0 3px}.legend span{display:inline-block;padding:1px 8px;margin-right:4px}
ul.terms{margin:2px 0 10px;padding-left:20px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def colour(share: float | None) -> str:
    """White at the reference, redder the further below it, bluer the further above (saturating at 2x)."""
    if share is None:
        return "#eeeeee"
    off = max(-1.0, min(1.0, share - 1))
    strength = abs(off) ** 0.5
    target = (214, 96, 77) if off < 0 else (67, 147, 195)
    rgb = [round(255 + (t - 255) * strength) for t in target]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def anchor(model: str) -> str:
    return "m-" + charts.file_name(model, "x")[:-6]


def _document(title: str, body: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(p for p in body if p)
        + "\n</body>\n</html>\n"
    )


def index(
    rows: list[Row],
    failures: list[Failure],
    problems: list[Problem],
    intro: str,
    published: Sequence[published_rows.PublishedRow],
    links: dict[str, str],
) -> str:
    """site/index.html: the blog's question, the summary, one link per model (`links`: model -> page)."""
    body = [f"<h1>FLOPs Matrix results</h1>\n<p>{_e(intro)}</p>"]
    if problems:
        body.append(
            f"<p><b>{len(problems)} unreadable or invalid record(s)</b> are left out: see"
            ' <a href="details.html#problems">the details</a>.</p>'
        )
    if not rows and not links:
        body.append("<p>No measurements yet: run <code>nox -s matrix</code>.</p>")
    body.append(front.blog_html(front.blog(rows, failures)))
    if rows:
        body.append(front.summary_html(front.summary(rows), links))
    items = "".join(f'<li><a href="{_e(link)}">{_e(model)}</a></li>' for model, link in links.items())
    if items:
        body.append(f"<h2 id=models>One page per model</h2>\n<ul class=models>{items}</ul>")
    body.append(published_rows.html_section(list(published), rows))
    body.append(
        '<p><a href="details.html">How the numbers were made, what did not run, how to cite a row</a>;'
        ' every row with its pins: <a href="../flops.csv">flops.csv</a>, <a href="../flops.json">flops.json</a>.</p>'
    )
    return _document("FLOPs Matrix results", body)


def details(rows: list[Row], failures: list[Failure], problems: list[Problem], cite: str) -> str:
    """site/details.html: where the numbers come from, what did not run, what was left out, how to cite."""
    body = ['<h1>FLOPs Matrix results: how they were made</h1>\n<p><a href="index.html">All models</a></p>']
    if rows:
        body.append(_provenance(rows))
    body.append(_failures(failures))
    if problems:
        items = "".join(f"<tr><td><code>{_e(p.path)}</code></td><td>{_e(p.reason)}</td></tr>" for p in problems)
        body.append(
            "<h2 id=problems>Unreadable or invalid records</h2>\n<p>Left out of every page.</p>\n"
            f"<table><tr><th>file</th><th>why</th></tr>{items}</table>"
        )
    body.append(f"<h2 id=cite>How to cite a row</h2>\n<p>{_e(cite)}</p>")
    return _document("FLOPs Matrix results: how they were made", body)


def model_page(model: str, rows: list[Row], svgs: dict[str, str], failures: list[Failure], published: str = "-") -> str:
    """site/models/<model>.html: every counter at every version, the reference, the causes, the charts; and
    what is published for the model (`published_rows.column`)."""
    body = ['<p><a href="../index.html">All models</a> · <a href="../details.html">how the numbers were made</a></p>']
    body.append(_model(model, rows, svgs) if rows else f"<h1>{_e(model)}</h1>\n<p>No reconciled measurement.</p>")
    if published != "-":
        body.append(f'<p>Published for this model (<a href="../index.html#published">all</a>): {_e(published)}.</p>')
    if rows:
        body.append(_totals(rows))
    if failures:
        body.append(_failures(failures))
    return _document(f"{model}: FLOPs Matrix results", body)


def _figure(kind: str, caption: str, svg: str | None) -> str:
    if svg is None:
        return ""
    return f'<figure class="chart" data-chart="{_e(kind)}">\n<figcaption>{_e(caption)}</figcaption>\n{svg}</figure>'


def _model(model: str, rows: list[Row], svgs: dict[str, str]) -> str:
    heading = columns(rows)
    reference = next((r.reference for r in rows if r.reference is not None), None)
    said = (
        f"Analytic reference: {number(reference)} FLOPs." if reference is not None else "No reference: not reconciled."
    )
    parts = [f"<h1 id={anchor(model)}>{_e(model)}</h1>\n<p>{_e(said)}</p>"]
    parts.append(
        _figure(
            "totals", "Every counter's total, with the reference (dashed)", svgs.get(charts.file_name(model, "totals"))
        )
    )
    parts.append(
        _figure("layers", "Where each total goes, layer by layer", svgs.get(charts.file_name(model, "layers")))
    )
    parts.append(
        _figure(
            "waterfall",
            "From the reference to each total, term by term",
            svgs.get(charts.file_name(model, "waterfall")),
        )
    )
    parts.append("<h3>Each row explained</h3>")
    for r in rows:
        terms = "".join(f"<li>{_e(term(x))} ({_e(signed(x.flops))}): {_e(clauses(x))}</li>" for x in r.reasons)
        ref = "" if r.reference is None else f" = {number(r.reference)} (reference)"
        parts.append(
            f"<p><b>{_e(heading[(r.cell, r.counter)])}</b> in cell <code>{_e(r.cell)}</code>, counter"
            f" <code>{_e(r.counter)}</code>: {r.raw_total:,} {_e(r.unit)} = <b>{number(r.flops)} FLOPs</b>{ref}"
            + "".join(f" {_e(signed(x.flops))}" for x in r.reasons)
            + f"</p>\n<ul class=terms>{terms}</ul>"
        )
    return "\n".join(p for p in parts if p)


def _totals(rows: list[Row]) -> str:
    """Every counter at every version: its number as reported, in FLOPs, and its share of the reference."""
    heading = columns(rows)
    lines = []
    for r in sorted(rows, key=lambda r: list(heading).index((r.cell, r.counter))):
        share = "-" if r.share is None else f"{100 * r.share:.1f}%"
        lines.append(
            f"<tr><td>{_e(heading[(r.cell, r.counter)])}</td><td><code>{_e(r.cell)}</code></td>"
            f"<td><code>{_e(r.counter)}</code></td><td class=n>{r.raw_total:,} {_e(r.unit)}</td>"
            f'<td class=n>{number(r.flops)}</td><td class=n style="background:{colour(r.share)}">{share}</td></tr>'
        )
    return (
        "<h2 id=totals>Every counter at every version</h2>\n<div class=scroll><table class=totals><tr><th>counter"
        " @ framework</th><th>cell</th><th>job</th><th>as reported</th><th>FLOPs</th><th>of the reference</th></tr>\n"
        + "\n".join(lines)
        + "</table></div>"
    )


def _provenance(rows: list[Row]) -> str:
    """Per cell: what it pins and where its newest record was measured."""
    newest: dict[str, Row] = {}
    tools: dict[str, set[str]] = {}
    for r in rows:
        if r.cell not in newest or r.finished_at > newest[r.cell].finished_at:
            newest[r.cell] = r
        tools.setdefault(r.cell, set()).add(f"{r.display or r.tool} {r.tool_version}")
    lines = []
    for cell, r in sorted(newest.items(), key=lambda kv: order_key(kv[0])):
        values = [
            f"<code>{_e(cell)}</code>",
            _e(f"{r.framework} {r.framework_version}"),
            _e(", ".join(sorted(tools[cell]))),
            _e(r.python),
            f"<code>{_e(r.image_id[7:19])}</code>",
            f"<code>{_e(r.image_inputs_hash[:16])}</code>",
            _e(base_image(*r.base_image)),
            _e(r.docker_engine),
            f"<code>{_e(r.commit)}</code>",
            _e(r.finished_at),
        ]
        lines.append("<tr>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "cell",
            "framework",
            "counters",
            "Python",
            "image id",
            "image inputs hash",
            "base image",
            "Docker engine",
            "project commit",
            "finished",
        )
    )
    return (
        "<h2 id=provenance>Where the numbers come from</h2>\n<p>The newest run per cell; every record also holds the"
        " image's full pip freeze (the <code>pins</code> column of flops.csv).</p>\n"
        f"<div class=scroll><table><tr>{head}</tr>\n" + "\n".join(lines) + "</table></div>"
    )


def _failures(failures: list[Failure]) -> str:
    if not failures:
        return "<h2 id=not-run>Not run, or failed</h2>\n<p>Every job ran.</p>"

    def named(jobs: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"<code>{_e(m)}</code> / <code>{_e(j)}</code>" for m, j in jobs) or "none"

    lines = [
        f"<tr><td><code>{_e(f.cell)}</code></td><td>{_e(failure_status(f))}</td><td>{named(f.jobs)}</td><td>{_e(failure_reason(f))}</td>"
        f"<td>{named(f.standing)}</td></tr>"
        for f in failures
    ]
    return (
        "<h2 id=not-run>Not run, or failed</h2>\n<p>An attempt that gives no number never replaces an earlier"
        " measurement; the last column names those still standing.</p>\n"
        "<table><tr><th>cell</th><th>status</th><th>models / counters</th><th>why</th>"
        "<th>earlier measurements kept</th></tr>\n" + "\n".join(lines) + "</table>"
    )
