"""results/README.md, made from the JSON records under results/ (and the model definitions and
formulas that the reconciliation prices them against).

A record that cannot be read, trusted or reconciled is left out of every table and listed, with
its file and the reason, in a section of its own: one bad file never stops the report. Every string
a record holds reaches the page through `markdown.text` or `markdown.code`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench import batching, compare, explain, results
from bench.cells import order_key
from bench.markdown import Markup, code, join, table, text
from bench.reconcile import Reconciliation
from bench.reference.convention import PRESETS, Convention
from bench.results import Problem

HEADER = """# FLOPs Matrix results

Written by `nox -s report` from the JSON records in this folder (one per cell, model and job;
`*.failed.json` for attempts that gave no result). Do not edit: rerun the matrix. To price the
reference another way: `nox -s report -- --convention macs` (or `mac=1,act:tanh=4`, ...).
"""
PROBLEMS = "Unreadable or invalid records"


def write(where: Path, convention: Convention = PRESETS["default"]) -> tuple[Path, list[Problem]]:
    """Rewrite README.md atomically (results.Unwritable when it cannot); the records it left out, and why."""
    loaded = results.load(where)
    page, problems = compose(loaded.records, convention, loaded.problems)
    target = where / "README.md"
    results.write_text_atomically(target, page)
    return target, problems


def render(entries: list[dict], convention: Convention = PRESETS["default"], problems: Sequence[Problem] = ()) -> str:
    return compose(entries, convention, problems)[0]


def compose(
    entries: list[dict], convention: Convention = PRESETS["default"], problems: Sequence[Problem] = ()
) -> tuple[str, list[Problem]]:
    """The report, and every record it lists as unreadable or invalid (those given, and those that
    could not be reconciled)."""
    problems = list(problems)
    explained, skipped, entries = _reconciled(entries, convention, problems)
    ok = [e for e in entries if e["status"] == "ok" and e["kind"] == "count"]
    checks = [e for e in entries if e["status"] == "ok" and e["kind"] == "check"]
    missing = [e for e in entries if e["status"] != "ok"]
    parts = [HEADER]
    if problems:
        many = len(problems) != 1
        parts.append(
            f"**{len(problems)} record{'s' * many} could not be read or trusted** and {'are' if many else 'is'}"
            f" left out of every table: see [{PROBLEMS}](#unreadable-or-invalid-records).\n"
        )
    if explained:
        parts += [explain.QUESTION + "\n", explain.answer(explained)]
    for model in sorted({r.model for r in explained}):
        parts.append(explain.section(model, [r for r in explained if r.model == model]))
    compared = compare.section(ok)
    if compared:
        parts.append(compared)
    if skipped:
        parts.append("Measurements not reconciled:\n\n" + "\n".join(f"- {line}" for line in skipped) + "\n")
    if ok:
        parts += [_overview(ok)]
    else:
        parts.append("No measurements yet: run `nox -s matrix`.\n")
    if checks:
        parts.append(_checks(checks))
    if ok:
        parts += [_details(ok), batching.section(sorted({e["job"] for e in ok})), _versions(ok)]
    if missing:
        parts.append(_not_measured(missing, {_key(e) for e in ok + checks}))
    if problems:
        parts.append(_problems(problems))
    return "\n".join(parts), problems


def _reconciled(
    entries: list[dict], convention: Convention, problems: list[Problem]
) -> tuple[list[Reconciliation], list[str], list[dict]]:
    """Each measurement reconciled on its own, so that one the reconciliation cannot read becomes a
    problem (and leaves every table) instead of stopping the report."""
    explained: list[Reconciliation] = []
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
            explained += found
            skipped += why
        kept.append(entry)
    return explained, skipped, kept


def _key(entry: dict) -> tuple[str, str, str]:
    return entry["cell"], entry["model"], entry["job"]


def _overview(ok: list[dict]) -> str:
    cells = sorted({e["cell"] for e in ok}, key=order_key)
    by_model: dict[str, dict[str, list[Markup]]] = defaultdict(lambda: defaultdict(list))
    for e in sorted(ok, key=lambda e: e["job"]):
        by_model[e["model"]][e["cell"]].append(text(f"{e['probe']['flops']:,} ({e['job']})"))
    rows = [[code(model)] + [join("<br>", by_model[model][c]) or "-" for c in cells] for model in sorted(by_model)]
    return (
        "## FLOPs by model and cell\n\n"
        "Each entry is the counter's total in FLOPs and the counter that gave it; a count the tool reports"
        " in MACs is shown at the catalog's FLOPs per MAC (the table below gives the raw numbers).\n\n"
        + table(["model"] + cells, rows)
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
    mode = "grad" if seen.get("grad_enabled") else "no_grad"
    kernels = "" if seen.get("mkldnn_enabled") else ", oneDNN off"
    return f"{mode}, {'train' if seen.get('training') else 'eval'}, {seen.get('device')}{kernels}"


def _skipped(unsupported: list[str]) -> str:
    """A long list shrinks to its size and first entry; the record keeps them all."""
    if len(unsupported) <= 2:
        return "; ".join(unsupported) or "-"
    return f"{len(unsupported)} ops, e.g. {unsupported[0]}"


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


def _not_measured(missing: list[dict], measured: set[tuple[str, str, str]]) -> str:
    """One row per cell and reason: a cell that could not be had fails the same way for every model."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for e in missing:
        expected = (e.get("host") or {}).get("expected_failure")
        status = f"{e['status']} (expected)" if expected else e["status"]
        reason = f"{e['reason']} (expected: {expected})" if expected else e["reason"]
        groups[(e["cell"], status, reason)].append(e)
    rows = []
    for (cell, status, reason), group in sorted(groups.items(), key=lambda g: (order_key(g[0][0]), g[0][1:])):
        what = join(", ", [_named(e) for e in sorted(group, key=_key)])
        standing = [_named(e) for e in group if _key(e) in measured]
        rows.append([cell, status, what, reason, join(", ", standing) or "none"])
    return (
        "## Not run, or failed\n\n"
        "An attempt that gives no number never replaces an earlier measurement; the last column"
        " names the measurements that still stand.\n\n"
        + table(["cell", "status", "models / counters", "why", "earlier measurements kept"], rows)
    )


def _named(entry: dict) -> Markup:
    return Markup(f"{code(entry['model'])} / {code(entry['job'])}")


def _problems(problems: list[Problem]) -> str:
    rows = [[code(p.path), p.reason] for p in sorted(problems, key=lambda p: p.path)]
    return (
        f"## {PROBLEMS}\n\n"
        "These files under results/ could not be read, break their schema, or do not add up; they are left"
        " out of every table above. Rerun the matrix for them, or remove them.\n\n" + table(["file", "why"], rows)
    )
