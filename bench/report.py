"""What `nox -s report` publishes, made from the JSON records under results/ (and the model
definitions and formulas that the reconciliation prices them against): README.md (here),
report.html (bench/page.py), flops.csv and flops.json (bench/export.py) and the charts under
charts/ (bench/charts.py), all drawn from the same rows (bench/rows.py).

A record that cannot be read, trusted or reconciled is left out of every table and listed, with
its file and the reason, in a section of its own: one bad file never stops the report. Every string
a record holds reaches the page through `markdown.text` or `markdown.code`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import batching, charts, explain, export, page, peers, published_rows, results, rows, seal, variations
from bench.cells import order_key
from bench.markdown import Markup, code, join, number, table, text
from bench.probe import variants
from bench.reconcile import Reconciliation
from bench.reference.convention import PRESETS, Convention
from bench.results import Problem
from bench.rows import Failure, Row

TITLE = "# FLOPs Matrix results\n"
HEADER = """Written by `nox -s report` from the JSON records in this folder (one per cell, model and job;
`*.failed.json` for attempts that gave no result), with [report.html](report.html) (the same on one
page, with charts), [flops.csv](flops.csv) and [flops.json](flops.json) (one row per model, cell and
counter). Do not edit: rerun the matrix. To price the reference another way:
`nox -s report -- --convention macs` (or `mac=1,act:tanh=4`, ...).
"""
INTRO = (
    "Each counter's total for each model, under the report's convention, beside the analytic reference"
    " (what the model computes), with every difference named and explained. Written by nox -s report from"
    " the result records alone."
)
PROBLEMS = "Unreadable or invalid records"
CHARTS = "charts"
OUTPUTS = ("README.md", "flops.csv", "flops.json", "report.html")


@dataclass(frozen=True)
class Published:
    """Everything `nox -s report` writes: path under results/ -> text; and the records left out."""

    files: dict[str, str]
    problems: list[Problem]


def write(
    where: Path, convention: Convention = PRESETS["default"], cache: charts.Cache | None = None
) -> tuple[Path, list[Problem]]:
    """Rewrite every output atomically, file by file (results.Unwritable when one cannot be), and remove
    the charts of models no longer reported; the records left out, and why. Charts in `cache` are not
    drawn again."""
    loaded = results.load(where)
    records, edited = seal.split(loaded.records, where)
    published = publish(records, convention, [*loaded.problems, *edited], cache)
    for name, content in published.files.items():
        results.write_text_atomically(where / name, content)
    drawn = where / CHARTS
    if drawn.is_dir():
        for old in sorted(drawn.glob("*.svg")):
            if f"{CHARTS}/{old.name}" not in published.files:
                old.unlink()
    return where / "README.md", published.problems


def publish(
    entries: list[dict],
    convention: Convention = PRESETS["default"],
    problems: Sequence[Problem] = (),
    cache: charts.Cache | None = None,
) -> Published:
    """Every output, from the records alone: the same records give the same bytes."""
    readme, found, measured, failures = _compose(entries, convention, problems)
    svgs = charts.draw(measured, cache)
    published = published_rows.build_for(entries, measured)
    files = {
        "README.md": readme,
        "flops.csv": export.to_csv(measured),
        "flops.json": export.to_json(measured, published_rows.records(published, measured)),
        "report.html": page.render(measured, svgs, failures, found, INTRO, cite(measured), published),
    }
    files |= {f"{CHARTS}/{name}": svg for name, svg in sorted(svgs.items())}
    return Published(files, found)


def render(entries: list[dict], convention: Convention = PRESETS["default"], problems: Sequence[Problem] = ()) -> str:
    return compose(entries, convention, problems)[0]


def rows_of(entries: list[dict], convention: Convention = PRESETS["default"]) -> list[Row]:
    """The published rows of these records (those it cannot reconcile are left out, as in the report)."""
    pairs, _, _ = _reconciled(entries, convention, [])
    return [rows.build(e, r, convention) for e, r in pairs]


def compose(
    entries: list[dict], convention: Convention = PRESETS["default"], problems: Sequence[Problem] = ()
) -> tuple[str, list[Problem]]:
    """The README, and every record it lists as unreadable or invalid (those given, and those that
    could not be reconciled)."""
    readme, found, _, _ = _compose(entries, convention, problems)
    return readme, found


def _compose(
    entries: list[dict], convention: Convention, problems: Sequence[Problem]
) -> tuple[str, list[Problem], list[Row], list[Failure]]:
    problems = list(problems)
    pairs, skipped, entries = _reconciled(entries, convention, problems)
    everything = [r for _, r in pairs if r is not None]
    explained = [r for r in everything if variations.is_plain(r.counter)]  # variants: a section of their own
    measured = [rows.build(e, r, convention) for e, r in pairs if variations.is_plain(e["job"])]
    ok = [e for e in entries if e["status"] == "ok" and e["kind"] == "count"]
    checks = [e for e in entries if e["status"] == "ok" and e["kind"] == "check"]
    missing = [e for e in entries if e["status"] != "ok"]
    failures = rows.failures(missing, {_key(e) for e in ok + checks})
    parts = [TITLE]
    if problems:
        many = len(problems) != 1
        parts.append(
            f"**{len(problems)} record{'s' * many} could not be read or trusted** and {'are' if many else 'is'}"
            f" left out of every table: see [{PROBLEMS}](#unreadable-or-invalid-records).\n"
        )
    if measured:
        published = published_rows.build_for(entries, measured)
        parts += [
            _overview(measured, published),
            f"![Each total's distance from the reference]({CHARTS}/{charts.MATRIX})\n",
            published_rows.markdown(published, measured),
        ]
    else:
        parts.append("No measurements yet: run `nox -s matrix`.\n")
    parts.append(HEADER)
    if explained:
        parts += [explain.QUESTION + "\n", explain.answer(explained)]
    for model in sorted({r.model for r in explained}):
        heading, rest = explain.section(model, [r for r in explained if r.model == model]).split("\n", 1)
        parts += [heading + "\n", _pictures(model, [r for r in measured if r.model == model]) + rest]
    compared = peers.section(ok)
    if compared:
        parts.append(compared)
    if skipped:
        parts.append("Measurements not reconciled:\n\n" + "\n".join(f"- {line}" for line in skipped) + "\n")
    parts.append(variations.section(entries, everything))  # "" without variants
    if checks:
        parts.append(_checks(checks))
    if ok:
        parts += [
            _details(ok),
            batching.section(sorted({variants.split(e["job"])[0] for e in ok})),
            _versions(ok),
            "## How to cite a row\n\n" + text(cite(measured)) + "\n",
        ]
    if missing:
        parts.append(_not_measured(failures))
    if problems:
        parts.append(_problems(problems))
    return "\n".join(parts), problems, measured, failures


def _reconciled(
    entries: list[dict], convention: Convention, problems: list[Problem]
) -> tuple[list[tuple[dict, Reconciliation | None]], list[str], list[dict]]:
    """Each measurement reconciled on its own, so that one the reconciliation cannot read becomes a
    problem (and leaves every table) instead of stopping the report; each kept measurement with its
    reconciliation (None where there is none)."""
    explained: list[tuple[dict, Reconciliation | None]] = []
    skipped: list[str] = []
    kept = []
    for entry in entries:
        if entry["status"] == "ok" and entry["kind"] == "count":
            try:
                found, why = explain.reconciliations([entry], convention)
            except Exception as error:  # whatever it is, it is this record's: named, and the report goes on
                path = results.Key(*_key(entry), entry["kind"]).path(Path(), entry["status"]).as_posix()
                reason = f"cannot be reconciled: {type(error).__name__}: {error}"
                problems.append(Problem(path, results.one_line(reason)))
                continue
            explained.append((entry, found[0] if found else None))
            skipped += why
        kept.append(entry)
    return explained, skipped, kept


def _key(entry: dict) -> tuple[str, str, str]:
    return entry["cell"], entry["model"], entry["job"]


def _overview(measured: list[Row], published: list[published_rows.PublishedRow]) -> str:
    """Models x columns (counter and version @ framework and version): the total and its share of the reference;
    and the figures published for the model, when any are, with the verdict on each."""
    heading = rows.columns(measured)
    by_key = {r.key: r for r in measured}
    body = []
    for model in sorted({r.model for r in measured}):
        line: list[str] = [code(model)]
        for cell, counter in heading:
            r = by_key.get((model, cell, counter))
            share = "" if r is None or r.share is None else f" ({100 * r.share:.1f}%)"
            line.append("-" if r is None else number(r.flops) + share)
        body.append(line + ([published_rows.column(published, model)] if published else []))
    extra = ["published (source): verdict"] if published else []
    return (
        table(["model", *heading.values(), *extra], body)
        + "\nEach entry is the counter's total in FLOPs under the report's"
        " convention and, in brackets, its share of the analytic reference (a count the tool reports in MACs is"
        " converted by the convention; the tables below give the raw numbers). Each column is one counter in one"
        " cell: the counter and its version @ the framework and its version."
        + (
            " The last column: the counts published for the model, as printed, each in its own convention (see"
            " [Published counts](#published-counts)).\n"
            if published
            else "\n"
        )
    )


def _pictures(model: str, measured: list[Row]) -> str:
    """The model's charts, as files beside this README (drawn by `publish`)."""
    shown = [("totals", "Every counter's total, with the reference as a dashed line")]
    if any(r.layers for r in measured):
        shown += [
            ("layers", "Where each total goes, layer by layer"),
            ("waterfall", "From the reference to each total"),
        ]
    return "\n".join(f"![{alt}]({CHARTS}/{charts.file_name(model, kind)})\n" for kind, alt in shown)


def cite(measured: list[Row]) -> str:
    """How to cite a row so that it can be reproduced, with the first row as the example."""
    said = (
        "Cite a row by its model, its column (the counter and framework pins), its cell, its FLOPs and convention,"
        " the image inputs hash (image_inputs_hash in flops.csv: it fixes the Dockerfile, the requirements with"
        " every pin and the wheels the image was built from) and the project commit the run was made at"
        " (project_commit). To reproduce it: check out that commit and run nox -s matrix -- --cells CELL --models"
        " MODEL; the new record's image inputs hash must be the same."
    )
    if not measured:
        return said
    r = rows.ordered(measured)[0]
    column = rows.columns(measured)[(r.cell, r.counter)]
    return (
        f"{said} For example: {r.model}, {column}, cell {r.cell}: {number(r.flops)} FLOPs ({r.convention} convention);"
        f" image inputs {r.image_inputs_hash[:16] or 'unknown'},"
        f" FLOPs Matrix commit {r.commit or 'unknown'}."
    )


def _details(ok: list[dict]) -> str:
    rows = []
    for e in sorted(ok, key=lambda e: (e["model"], order_key(e["cell"]), e["job"])):
        p = e["probe"]
        prov = p["provenance"]
        skipped = _skipped(p["unsupported"])
        rows.append(
            [
                code(e["model"]),
                e["cell"],
                code(e["job"]),
                f"{p['raw_total']:,} {p['unit']}",
                f"x{p['flops_per_unit']}",
                f"{p['flops']:,}",
                f"{prov['framework']['name']} {prov['framework']['version']}",
                f"{prov['counter_tool']['name']} {prov['counter_tool']['version']}",
                prov["python"],
                _switches(prov.get("switches")),
                skipped,
            ]
        )
    return "## Every measurement\n\n" + table(
        [
            "model",
            "cell",
            "counter",
            "tool reports",
            "unit -> FLOPs",
            "FLOPs",
            "framework",
            "counter tool",
            "Python",
            "ran under",
            "not counted by the tool",
        ],
        rows,
    )


def _switches(seen: dict | None) -> str:
    """The switches a PyTorch counter ran the model under, as the probe saw them at its first layer."""
    if not seen:
        return "-"
    mode = "inference_mode" if seen.get("inference_mode") else "grad" if seen.get("grad_enabled") else "no_grad"
    kernels = "" if seen.get("mkldnn_enabled") else ", oneDNN off"
    if seen.get("tensor_type", "Tensor") != "Tensor":
        kernels += f", {seen['tensor_type']}"
    if seen.get("sdpa_backends") and len(seen["sdpa_backends"]) == 1:  # one kernel left: an sdpa_kernel switch
        kernels += f", SDPA {seen['sdpa_backends'][0]}"
    return f"{mode}, {'train' if seen.get('training') else 'eval'}, {seen.get('device')}{kernels}"


def _skipped(unsupported: list[str]) -> str:
    """A long list shrinks to its size and first entry; the record keeps them all."""
    if len(unsupported) <= 2:
        return "; ".join(unsupported) or "-"
    return f"{len(unsupported)} ops, e.g. {min(unsupported)}"


def _versions(ok: list[dict]) -> str:
    newest: dict[str, dict] = {}
    for e in ok:
        if e["cell"] not in newest or e["host"]["finished_at"] > newest[e["cell"]]["host"]["finished_at"]:
            newest[e["cell"]] = e
    rows = []
    for cell in sorted(newest, key=order_key):
        host = newest[cell]["host"]
        image = host["image"]
        rows.append(
            [
                cell,
                f"{image['base']['kind']}: {image['base']['reference']}",
                code(image["id"][7:19]),
                host["docker_engine"],
                code(host["project_commit"][:12]),
                host["finished_at"],
            ]
        )
    return (
        "## Where the numbers come from\n\n"
        "Each record also holds the image's full `pip freeze`, the base image's recipe and the"
        " platform; this is the newest run per cell.\n\n"
        + table(["cell", "base image", "image id", "Docker engine", "project commit", "finished"], rows)
    )


def _checks(checks: list[dict]) -> str:
    rows = []
    for e in sorted(checks, key=lambda e: (e["model"], e["job"])):
        result = e["probe"]["result"]
        for c in result["comparisons"]:
            expected = "same function" if c["same_function_expected"] else "different functions"
            rows.append(
                [
                    code(e["model"]),
                    e["cell"],
                    f"{c['a']} vs {c['b']}",
                    expected,
                    "equal" if c["params_equal"] else "DIFFERENT",
                    f"{c['max_abs_diff']:.2e}",
                    "holds" if c["holds"] else Markup("**DOES NOT HOLD**"),
                ]
            )
    return (
        "## Equivalence checks\n\n"
        "The same weights copied into each build, one fixed input (tolerance"
        f" {checks[0]['probe']['result']['tolerance']:g} on the largest output difference).\n\n"
        + table(["model", "cell", "builds", "expected", "parameters per layer", "max abs diff", "verdict"], rows)
    )


def _not_measured(failures: list[Failure]) -> str:
    """One row per cell and reason: a cell that could not be had fails the same way for every model."""

    def named(jobs: tuple[tuple[str, str], ...]) -> Markup:
        return join(", ", [Markup(f"{code(model)} / {code(job)}") for model, job in jobs])

    body = [[f.cell, f.status, named(f.jobs), f.reason, named(f.standing) or "none"] for f in failures]
    return (
        "## Not run, or failed\n\n"
        "An attempt that gives no number never replaces an earlier measurement; the last column"
        " names the measurements that still stand.\n\n"
        + table(["cell", "status", "models / counters", "why", "earlier measurements kept"], body)
    )


def _problems(problems: list[Problem]) -> str:
    rows = [[code(p.path), p.reason] for p in sorted(problems, key=lambda p: p.path)]
    return (
        f"## {PROBLEMS}\n\n"
        "These files under results/ could not be read, break their schema, or do not add up; they are left"
        " out of every table above. Rerun the matrix for them, or remove them.\n\n" + table(["file", "why"], rows)
    )
