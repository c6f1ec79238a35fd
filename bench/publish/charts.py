"""The report's charts: Vega-Lite specifications (altair) drawn to static SVG by vl-convert.

Static SVG renders on a code-hosting page and inside the site's pages without a script or a network;
the same specification always gives the same bytes. Names go into the charts as data, never into
the specification's fields, so a model called `a.b[0]` or `<script>` is just a label (Vega escapes
it when it writes the SVG).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import altair as alt
import vl_convert

from bench.explain.rows import Row
from bench.publish.headings import HEADINGS, columns
from bench.records import results

WIDTH = 520
BAR = 18  # pixels per bar
FONT = "Helvetica, Arial, sans-serif"
REFERENCE = "analytic reference"
_CONFIG = {"font": FONT, "view": {"stroke": None}, "axis": {"labelLimit": 360, "titleFontWeight": "normal"}}


def file_name(model: str, kind: str) -> str:
    """A chart's file under results/charts/: readable, safe whatever the model is called, and stable
    when other models come and go."""
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:40] or "model"
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{slug}-{digest}-{kind}.svg"


KINDS = ("totals", "layers", "waterfall")


_ID = re.compile(r'\bid="([^"]+)"')
_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # a chart changes when this module does


def svg(spec: dict, name: str) -> str:
    """The chart as SVG. Vega numbers its gradients and clip paths per process, so the same chart
    drawn twice would differ: every id is renamed after the chart (`name`) and its place in the file,
    which also keeps the ids of charts inlined on one page apart."""
    drawn = vl_convert.vegalite_to_svg(spec)
    ids = list(dict.fromkeys(_ID.findall(drawn)))
    if not ids:
        return drawn + "\n"
    stem = re.sub(r"[^A-Za-z0-9-]", "-", name.removesuffix(".svg"))
    renamed = {old: f"{stem}-{i}" for i, old in enumerate(ids)}
    pattern = re.compile(r'(\bid="|url\(#|href="#)(' + "|".join(map(re.escape, ids)) + r')(?=[")])')
    return pattern.sub(lambda m: m[1] + renamed[m[2]], drawn) + "\n"


class Cache:
    """SVGs already drawn, by what determines them (the specification, the file name, the versions
    of altair and vl-convert): a report whose charts did not change draws none. It keeps the
    charts of the last report only."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()

    def key(self, rows: list[Row], name: str) -> str:
        """What determines a chart: its rows, its file name, this module's code and the two libraries' versions
        (so a hit skips building the specification too)."""
        said = json.dumps([repr(rows), name, _CODE, alt.__version__, vl_convert.__version__])
        return hashlib.sha256(said.encode()).hexdigest() + ".svg"

    def get(self, key: str) -> str | None:
        self.used.add(key)
        try:
            return (self.folder / key).read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, key: str, drawn: str) -> None:
        try:
            results.write_text_atomically(self.folder / key, drawn)
        except results.Unwritable:
            pass  # a cache that cannot be written only costs time

    def prune(self) -> None:
        for old in self.folder.glob("*.svg"):
            if old.name not in self.used:
                old.unlink(missing_ok=True)


def totals(rows: list[Row]) -> alt.LayerChart:
    """Every counter's total for one model, with the reference as a line."""
    heading = columns(rows)
    order = list(heading.values())
    values = [
        {
            "column": heading[(r.cell, r.counter)],
            "flops": r.flops,
            "label": f"{r.flops:,.0f}" + ("" if r.share is None else f" ({100 * r.share:.1f}%)"),
        }
        for r in rows
    ]
    y = alt.Y("column:N", sort=order, title=None)
    base = alt.Chart(alt.Data(values=values)).encode(y=y)
    bars = base.mark_bar(color="#4c78a8").encode(x=alt.X("flops:Q", title="FLOPs"))
    labels = base.mark_text(align="left", dx=3, fontSize=10).encode(x="flops:Q", text="label:N")
    layers = [bars, labels]
    references = sorted({r.reference for r in rows if r.reference is not None})
    if references:
        line = [{"reference": ref, "what": f"{REFERENCE} {ref:,.0f}"} for ref in references]
        rule = alt.Chart(alt.Data(values=line)).mark_rule(color="#e45756", strokeDash=[4, 3], size=2)
        layers.append(rule.encode(x="reference:Q", tooltip="what:N"))
    return alt.layer(*layers).properties(width=WIDTH, height=alt.Step(BAR)).configure(**_CONFIG)


def per_layer(rows: list[Row]) -> alt.Chart:
    """Where each counter's total goes, layer by layer (work outside the model too), beside the reference's."""
    heading = columns(rows)
    order = [REFERENCE] + list(heading.values())
    values = []
    first = next((r for r in rows if r.layers), None)
    if first is not None:
        values += [{"column": REFERENCE, "layer": layer.name, "flops": layer.reference} for layer in first.layers]
    for r in rows:
        column = heading[(r.cell, r.counter)]
        values += [{"column": column, "layer": layer.name, "flops": layer.counted} for layer in r.layers]
    places = list(dict.fromkeys(v["layer"] for v in values))
    for v in values:
        v["order"] = places.index(v["layer"])
    return (
        alt.Chart(alt.Data(values=values))
        .mark_bar()
        .encode(
            y=alt.Y("column:N", sort=order, title=None),
            x=alt.X("flops:Q", title="FLOPs", stack="zero"),
            color=alt.Color("layer:N", sort=places, title="layer", scale=alt.Scale(scheme="tableau10")),
            order=alt.Order("order:Q"),
        )
        .properties(width=WIDTH, height=alt.Step(BAR))
        .configure(**_CONFIG)
    )


def waterfall(rows: list[Row]) -> alt.HConcatChart:
    """Per row, one group of bars: the reference, each named adjustment, the residual, and the
    counter's total, each named with its FLOPs beside the plot (one chart with rows grouped by
    offset: a facet per row costs a second per model to draw)."""
    heading = columns(rows)
    values = [step for r in rows if r.reference is not None for step in _steps(r, heading[(r.cell, r.counter)])]
    data = alt.Data(values=values)
    y = alt.Y("column:N", sort=list(heading.values()), title=None)
    offset = alt.YOffset("order:O")
    colour = alt.Color(
        "kind:N",
        title=None,
        legend=alt.Legend(orient="top"),
        scale=alt.Scale(
            domain=["reference", "adds", "removes", "residual", "total"],
            range=["#9d9d9d", "#54a24b", "#e45756", "#b279a2", "#4c78a8"],
        ),
    )
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y.axis(labelFontWeight="bold"),
            yOffset=offset,
            x=alt.X("start:Q", title="FLOPs"),
            x2="end:Q",
            color=colour,
        )
        .properties(width=WIDTH, height=alt.Step(11))
    )
    labels = (
        alt.Chart(data)
        .mark_text(align="left", fontSize=9)
        .encode(y=y.axis(None), yOffset=offset, x=alt.value(0), text="label:N")
        .properties(width=240, height=alt.Step(11))
    )
    return alt.hconcat(bars, labels, spacing=6).configure(**_CONFIG).configure_axisY(grid=True, tickBand="extent")


def _steps(r: Row, column: str) -> list[dict]:
    assert r.reference is not None
    steps = [("reference", REFERENCE, 0.0, r.reference)]
    running = r.reference
    terms = [(HEADINGS[c], flops) for c, flops in r.adjustments.items() if flops]
    if r.residual:
        terms.append(("residual", r.residual))
    for name, flops in terms:
        kind = "residual" if name == "residual" else ("adds" if flops > 0 else "removes")
        steps.append((kind, name, running, running + flops))
        running += flops
    steps.append(("total", "counter's total", 0.0, r.flops))
    return [
        {
            "column": column,
            "order": i,
            "step": name,
            "kind": kind,
            "start": start,
            "end": end,
            "right": max(start, end),
            "label": f"{name} {end:,.0f}" if kind in ("reference", "total") else f"{name} {end - start:+,.0f}",
        }
        for i, (kind, name, start, end) in enumerate(steps)
    ]


def by_model(rows: list[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for r in rows:
        grouped.setdefault(r.model, []).append(r)
    return dict(sorted(grouped.items()))


def draw(rows: list[Row], cache: Cache | None = None) -> dict[str, str]:
    """Every chart of the report: file name -> SVG text."""
    drawn: dict[str, str | None] = {}
    specs: dict[str, dict] = {}
    keys: dict[str, str] = {}
    for model, group in by_model(rows).items():
        made = [("totals", totals)]
        if any(r.layers for r in group):
            made += [("layers", per_layer), ("waterfall", waterfall)]
        for kind, chart in made:
            name = file_name(model, kind)
            if cache is not None:
                keys[name] = cache.key(group, name)
                drawn[name] = cache.get(keys[name])
            if drawn.get(name) is None:
                specs[name] = chart(group).to_dict(validate=False)
    missing = list(specs)
    # vl-convert draws outside the GIL: a few at a time, each named by its own file (same bytes, any order)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for name, made_svg in zip(missing, pool.map(svg, [specs[n] for n in missing], missing), strict=True):
            drawn[name] = made_svg
            if cache is not None:
                cache.put(keys[name], made_svg)
    if cache is not None:
        cache.prune()
    return {name: svg_text or "" for name, svg_text in sorted(drawn.items())}
