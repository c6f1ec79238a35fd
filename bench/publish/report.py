"""What `nox -s report` publishes, made from the JSON records under results/ (and the model
definitions and formulas that the reconciliation prices them against): the front page README.md
(its answers from bench/publish/front.py), one page per model under models/, details.md (all here), the same
as a site under site/ (bench/publish/page.py), flops.csv and flops.json (bench/publish/export.py) and the charts under
charts/ (bench/publish/charts.py), all drawn from the same rows (bench/explain/rows.py).

A record that cannot be read, trusted or reconciled is left out of every table and listed, with
its file and the reason, in a section of its own: one bad file never stops the report. Every string
a record holds reaches the page through `markdown.text` or `markdown.code`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bench.explain import answer, batching, peers, rows, variations
from bench.explain.answer import Skipped
from bench.explain.reconcile import Reconciliation
from bench.explain.rows import Failure, Row
from bench.probe import variants
from bench.publish import charts, explained, export, front, page, published_rows
from bench.publish.headings import columns
from bench.publish.markdown import Markup, code, join, number, table, text
from bench.publish.words import failure_reason, failure_status
from bench.records import memo as bench_memo
from bench.records import results, seal
from bench.records.memo import Memo
from bench.records.results import Problem
from bench.reference.convention import PRESETS, Convention
from bench.run.cells import order_key

TITLE = "# FLOPs Matrix results\n"
HEADER = """Written by `nox -s report` from the JSON records in this folder (one per cell, model and job;
`*.failed.json` for attempts that gave no result), with one page per model under [models/](models/), the
same as a small static site under [site/](site/index.html) (plain HTML, charts inline, nothing fetched),
[details.md](details.md) (how the numbers were made, what did not run), [flops.csv](flops.csv) and
[flops.json](flops.json) (one row per model, cell and counter). Do not edit: rerun the matrix. To price
the reference another way: `nox -s report -- --convention macs` (or `mac=1,act:tanh=4`, ...).
"""
INTRO = (
    "Each counter's total for each model, under the report's convention, beside the analytic reference"
    " (what the model computes), with every difference named and explained. Written by nox -s report from"
    " the result records alone."
)
PROBLEMS = "Unreadable or invalid records"
CHARTS = "charts"
MODELS = "models"
SITE = "site"
DETAILS = "details.md"
FOLDERS = (CHARTS, MODELS, SITE, f"{SITE}/{MODELS}")  # what they hold is the report's alone: stale files go
RETIRED = ("report.html",)  # what earlier versions wrote and this one does not: removed on the next write
OUTPUTS = ("README.md", DETAILS, "flops.csv", "flops.json", f"{SITE}/index.html", f"{SITE}/details.html")
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@=+-]{0,79}")


@dataclass(frozen=True)
class Published:
    """Everything `nox -s report` writes: path under results/ -> text; and the records left out."""

    files: dict[str, str]
    problems: list[Problem]


def page_name(model: str) -> str:
    """A model's page file name without its suffix: the model's own name where that is a plain file name."""
    if _SAFE.fullmatch(model) and not model.endswith("."):
        return model
    return charts.file_name(model, "page").removesuffix("-page.svg")


def write(
    where: Path,
    convention: Convention = PRESETS["default"],
    cache: charts.Cache | None = None,
    memo: Memo | None = None,
) -> tuple[Path, list[Problem]]:
    """Rewrite every output atomically, file by file (results.Unwritable when one cannot be), and remove
    the pages and charts of models no longer reported; the records left out (unreadable, invalid, edited after
    measurement), and why. Charts in `cache` are not drawn again, records `memo` has seen are neither checked
    nor reconciled again, and a file whose text is already on disk is left untouched."""
    loaded = results.load(where, memo)
    records, digests, edited = [], [], []
    for entry, digest in zip(loaded.records, loaded.digests, strict=True):
        if memo is None or not memo.is_valid(f"sealed:{digest}"):
            kept, found = seal.split([entry], where)
            edited += found
            if not kept:
                continue
            if memo is not None:
                memo.add_valid(f"sealed:{digest}")
        records.append(entry)
        digests.append(digest)
    published = publish(records, convention, [*loaded.problems, *edited], cache, memo and (memo, digests))
    if memo is not None:
        memo.save()
    for name, content in published.files.items():
        target = where / name
        try:
            if target.read_text() == content:
                continue
        except (OSError, UnicodeDecodeError):
            pass
        results.write_text_atomically(target, content)
    for name in RETIRED:
        (where / name).unlink(missing_ok=True)
    for folder in FOLDERS:
        for old in sorted((where / folder).glob("*.*")):
            if old.is_file() and f"{folder}/{old.name}" not in published.files:
                old.unlink()
    return where / "README.md", published.problems


@dataclass(frozen=True)
class _Parts:
    """What every page is made of: the records sorted out, reconciled and turned into rows."""

    entries: list[dict]  # those kept (a record that could not be reconciled is a problem)
    problems: list[Problem]
    skipped: list[Skipped]  # measurements not reconciled, and why
    everything: list[Reconciliation]  # variants too
    measured: list[Row]  # plain runs
    failures: list[Failure]
    published: list[published_rows.PublishedRow]
    convention: Convention = PRESETS["default"]

    def ok(self, model: str | None = None) -> list[dict]:
        return [e for e in self.entries if e["status"] == "ok" and e["kind"] == "count" and model in (None, e["model"])]

    def checks(self, model: str | None = None) -> list[dict]:
        return [e for e in self.entries if e["status"] == "ok" and e["kind"] == "check" and model in (None, e["model"])]

    @property
    def models(self) -> list[str]:
        return sorted({e["model"] for e in self.ok()} | {r.model for r in self.measured})


def _parts(
    entries: list[dict],
    convention: Convention,
    problems: Sequence[Problem],
    memo: tuple[Memo, list[str]] | None = None,
) -> _Parts:
    found = list(problems)
    pairs, skipped, kept, built = _reconciled(entries, convention, found, memo)
    everything = [r for _, r in pairs if r is not None]
    measured = [row for (e, _), row in zip(pairs, built, strict=True) if variations.is_plain(e["job"])]
    standing = {_key(e) for e in kept if e["status"] == "ok"}
    failures = rows.failures([e for e in kept if e["status"] != "ok"], standing)
    published = published_rows.build_for(kept, measured) if measured else []
    return _Parts(kept, found, skipped, everything, measured, failures, published, convention)


def publish(
    entries: list[dict],
    convention: Convention = PRESETS["default"],
    problems: Sequence[Problem] = (),
    cache: charts.Cache | None = None,
    memo: tuple[Memo, list[str]] | None = None,
) -> Published:
    """Every output, from the records alone: the same records give the same bytes. `memo`: what an earlier
    report computed, with the digest of each record's file."""
    parts = _parts(entries, convention, problems, memo)
    svgs = charts.draw(parts.measured, cache)
    names = {m: page_name(m) for m in parts.models}
    files = {
        "README.md": _front(parts, names),
        DETAILS: _details_page(parts),
        "flops.csv": export.to_csv(parts.measured),
        "flops.json": export.to_json(parts.measured, published_rows.records(parts.published, parts.measured)),
        f"{SITE}/index.html": page.index(
            parts.measured, parts.failures, parts.problems, INTRO, parts.published, _links(names, ".html")
        ),
        f"{SITE}/details.html": page.details(parts.measured, parts.failures, parts.problems, cite(parts.measured)),
    }
    for model, name in names.items():
        files[f"{MODELS}/{name}.md"] = _model_page(parts, model)
        files[f"{SITE}/{MODELS}/{name}.html"] = page.model_page(
            model,
            [r for r in parts.measured if r.model == model],
            svgs,
            _failures_of(parts.failures, model),
            published_rows.column(parts.published, model),
        )
    files |= {f"{CHARTS}/{name}": svg for name, svg in sorted(svgs.items())}
    return Published(files, parts.problems)


def render(entries: list[dict], convention: Convention = PRESETS["default"], problems: Sequence[Problem] = ()) -> str:
    """Every Markdown page of the report as one text: the front page, each model's page, the details."""
    return compose(entries, convention, problems)[0]


def rows_of(entries: list[dict], convention: Convention = PRESETS["default"]) -> list[Row]:
    """The published rows of these records (those it cannot reconcile are left out, as in the report)."""
    return _reconciled(entries, convention, [])[3]


def compose(
    entries: list[dict], convention: Convention = PRESETS["default"], problems: Sequence[Problem] = ()
) -> tuple[str, list[Problem]]:
    """The report's Markdown pages as one text (see `render`), and every record it lists as unreadable or
    invalid (those given, and those that could not be reconciled)."""
    parts = _parts(entries, convention, problems)
    names = {m: page_name(m) for m in parts.models}
    pages = [_front(parts, names)] + [_model_page(parts, m) for m in names] + [_details_page(parts)]
    return "\n".join(pages), parts.problems


def _links(names: dict[str, str], suffix: str) -> dict[str, str]:
    return {model: f"{MODELS}/{quote(name)}{suffix}" for model, name in names.items()}


def _front(parts: _Parts, names: dict[str, str]) -> str:
    """README.md: the blog's question answered, the summary, a link to each model's page."""
    out = [TITLE]
    if parts.problems:
        many = len(parts.problems) != 1
        out.append(
            f"**{len(parts.problems)} record{'s' * many} could not be read or trusted** and"
            f" {'are' if many else 'is'} left out of every table: see"
            f" [{PROBLEMS}]({DETAILS}#unreadable-or-invalid-records).\n"
        )
    if not parts.measured and not parts.ok():
        out += ["No measurements yet: run `nox -s matrix`.\n", HEADER]
        return "\n".join(out)
    links = _links(names, ".md")
    out.append(front.blog_markdown(front.blog(parts.measured, parts.failures)))
    if parts.measured:
        out.append(front.summary_markdown(front.summary(parts.measured), links))
    out.append("## One page per model\n\n" + "\n".join(_model_line(parts, m, links[m]) for m in names) + "\n")
    if parts.published:
        out.append(published_rows.markdown(parts.published, parts.measured))
    out.append("## More\n\n" + HEADER)
    return "\n".join(p for p in out if p)


def _model_line(parts: _Parts, model: str, link: str) -> str:
    measured = [r for r in parts.measured if r.model == model]
    shares = [r.share for r in measured if r.share is not None]
    definition = next((e["probe"].get("definition") or {} for e in parts.ok(model)), {})
    said = text(definition.get("summary", "")) or "given as code"
    if shares:
        low, high = 100 * min(shares), 100 * max(shares)
        said += f"; reference {number(measured[0].reference or 0)} FLOPs, counters {low:.1f}% to {high:.1f}% of it"
    return f"- [{code(model)}]({link}): {said}"


def _model_page(parts: _Parts, model: str) -> str:
    """models/<model>.md: every counter at every version, the reference, the causes, the charts."""
    measured = [r for r in parts.measured if r.model == model]
    reconciled = [r for r in parts.everything if r.model == model]
    plain = [r for r in reconciled if variations.is_plain(r.counter)]
    html_page = f"../{SITE}/{MODELS}/{quote(page_name(model))}.html"
    out = [
        f"# {code(model)}\n",
        f"[All models](../README.md) · [the same page with its charts in HTML]({html_page}) ·"
        f" [how the numbers were made](../{DETAILS})\n",
    ]
    dirty = sorted({(r.cell, r.counter) for r in measured if r.project_commit.endswith(results.DIRTY)})
    if dirty:
        named = ", ".join(f"{code(cell)} / {code(counter)}" for cell, counter in dirty)
        out.append(f"**Measured from a dirty tree** (code that no commit holds, `{results.DIRTY}`): {named}.\n")
    figures = published_rows.column(parts.published, model)
    if figures != "-":
        out.append(
            f"Published for this model ([all published counts](../README.md#published-counts)): {text(figures)}.\n"
        )
    if plain:
        heading, rest = explained.section(model, plain).split("\n", 1)
        out += [explained.model_answer(answer.model_answer(plain)).removeprefix("- ") + "\n", explained.QUESTION + "\n"]
        out += [heading + "\n", _pictures(model, measured) + rest]
    ok = parts.ok(model)
    compared = explained.peers(peers.compare(ok, parts.convention))
    if compared:
        out.append(compared)
    out.append(explained.variants_section(variations.tally(ok, reconciled)))
    checks = parts.checks(model)
    if checks:
        out.append(_checks(checks))
    if ok:
        out.append(_details(ok))
    mine = _failures_of(parts.failures, model)
    if mine:
        out.append(_not_measured(mine))
    return "\n".join(p for p in out if p)


def _failures_of(failures: list[Failure], model: str) -> list[Failure]:
    """The failures that concern one model, with only its jobs."""
    found = []
    for f in failures:
        jobs = tuple(j for j in f.jobs if j[0] == model)
        if jobs:
            standing = tuple(j for j in f.standing if j[0] == model)
            found.append(Failure(f.cell, f.status, f.reason, jobs, standing, f.expected))
    return found


def _details_page(parts: _Parts) -> str:
    """details.md: how the numbers were made, what could not be reconciled or run, how to cite a row."""
    out = ["# FLOPs Matrix results: how they were made\n", "[All models](README.md)\n", HEADER]
    if parts.skipped:
        out.append(
            "## Measurements not reconciled\n\n" + "\n".join(f"- {explained.skipped(s)}" for s in parts.skipped) + "\n"
        )
    ok = parts.ok()
    if ok:
        out += [
            explained.batching(batching.findings(sorted({variants.split(e["job"])[0] for e in ok}))),
            _versions(ok),
            "## How to cite a row\n\n" + text(cite(parts.measured)) + "\n",
        ]
    if parts.failures:
        out.append(_not_measured(parts.failures))
    if parts.problems:
        out.append(_problems(parts.problems))
    return "\n".join(out)


def _reconciled(
    entries: list[dict], convention: Convention, problems: list[Problem], memo: tuple[Memo, list[str]] | None = None
) -> tuple[list[tuple[dict, Reconciliation | None]], list[Skipped], list[dict], list[Row]]:
    """Each measurement reconciled on its own, so that one the reconciliation cannot read becomes a
    problem (and leaves every table) instead of stopping the report; each kept measurement with its
    reconciliation (None where there is none), and its row. A record whose digest `memo` holds with this
    convention is taken from it."""
    pairs: list[tuple[dict, Reconciliation | None]] = []
    built: list[Row] = []
    skipped: list[Skipped] = []
    kept = []
    for i, entry in enumerate(entries):
        if entry["status"] == "ok" and entry["kind"] == "count":
            key = memo and bench_memo.key(memo[1][i], repr(convention))
            done = memo[0].get(key) if memo and key else None
            if done is None:
                try:
                    found, why = answer.reconciliations([entry], convention)
                except Exception as error:  # whatever it is, it is this record's: named, and the report goes on
                    path = results.Key(*_key(entry), entry["kind"]).path(Path(), entry["status"]).as_posix()
                    reason = f"cannot be reconciled: {type(error).__name__}: {error}"
                    problems.append(Problem(path, results.one_line(reason)))
                    continue
                reconciled = found[0] if found else None
                done = (reconciled, why, rows.build(entry, reconciled, convention))
                if memo and key:
                    memo[0].put(key, done)
            reconciled, why, row = done  # type: ignore[misc]
            pairs.append((entry, reconciled))
            built.append(row)
            skipped += why
        kept.append(entry)
    return pairs, skipped, kept, built


def _key(entry: dict) -> tuple[str, str, str]:
    return entry["cell"], entry["model"], entry["job"]


def _pictures(model: str, measured: list[Row]) -> str:
    """The model's charts, as files beside this README (drawn by `publish`)."""
    shown = [("totals", "Every counter's total, with the reference as a dashed line")]
    if any(r.layers for r in measured):
        shown += [
            ("layers", "Where each total goes, layer by layer"),
            ("waterfall", "From the reference to each total"),
        ]
    return "\n".join(f"![{alt}](../{CHARTS}/{charts.file_name(model, kind)})\n" for kind, alt in shown)


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
    column = columns(measured)[(r.cell, r.counter)]
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

    body = [
        [
            f.cell,
            failure_status(f),
            named(f.jobs),
            failure_reason(f),
            named(f.standing) or "none",
        ]
        for f in failures
    ]
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
