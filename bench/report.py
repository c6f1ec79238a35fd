"""results/README.md, made from the JSON records under results/ (and the model definitions and
formulas that the reconciliation prices them against)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from bench import explain, results
from bench.cells import order_key
from bench.markdown import table
from bench.reference.convention import PRESETS, Convention

HEADER = """# FLOPs Matrix results

Written by `nox -s report` from the JSON records in this folder (one per cell, model and job;
`*.failed.json` for attempts that gave no result). Do not edit: rerun the matrix. To price the
reference another way: `nox -s report -- --convention macs` (or `mac=1,act:tanh=4`, ...).
"""


def write(where: Path, convention: Convention = PRESETS["default"]) -> Path:
    target = where / "README.md"
    where.mkdir(parents=True, exist_ok=True)
    target.write_text(render(results.load(where), convention))
    return target


def render(entries: list[dict], convention: Convention = PRESETS["default"]) -> str:
    ok = [e for e in entries if e["status"] == "ok" and e["kind"] == "count"]
    checks = [e for e in entries if e["status"] == "ok" and e["kind"] == "check"]
    missing = [e for e in entries if e["status"] != "ok"]
    parts = [HEADER]
    explained, skipped = explain.reconciliations(ok, convention)
    if explained:
        parts += [explain.QUESTION + "\n", explain.answer(explained)]
    for model in sorted({r.model for r in explained}):
        parts.append(explain.section(model, [r for r in explained if r.model == model]))
    if skipped:
        parts.append("Measurements not reconciled:\n\n" + "\n".join(f"- {line}" for line in skipped) + "\n")
    if ok:
        parts += [_overview(ok)]
    else:
        parts.append("No measurements yet: run `nox -s matrix`.\n")
    if checks:
        parts.append(_checks(checks))
    if ok:
        parts += [_details(ok), _versions(ok)]
    if missing:
        parts.append(_not_measured(missing, {_key(e) for e in ok + checks}))
    return "\n".join(parts)


def _key(entry: dict) -> tuple[str, str, str]:
    return entry["cell"], entry["model"], entry["job"]


def _overview(ok: list[dict]) -> str:
    cells = sorted({e["cell"] for e in ok}, key=order_key)
    by_model: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in sorted(ok, key=lambda e: e["job"]):
        by_model[e["model"]][e["cell"]].append(f"{e['probe']['flops']:,} ({e['job']})")
    rows = [[f"`{model}`"] + ["<br>".join(by_model[model][c]) or "-" for c in cells] for model in sorted(by_model)]
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
                f"`{e['model']}`",
                e["cell"],
                f"`{e['job']}`",
                f"{p['raw_total']:,} {p['unit']}",
                f"x{p['flops_per_unit']}",
                f"{p['flops']:,}",
                f"{prov['framework']['name']} {prov['framework']['version']}",
                f"{prov['counter_tool']['name']} {prov['counter_tool']['version']}",
                prov["python"],
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
            "not counted by the tool",
        ],
        rows,
    )


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
                f"`{image['id'][7:19]}`",
                host["docker_engine"],
                f"`{host['project_commit'][:12]}`",
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
                    f"`{e['model']}`",
                    e["cell"],
                    f"{c['a']} vs {c['b']}",
                    expected,
                    "equal" if c["params_equal"] else "DIFFERENT",
                    f"{c['max_abs_diff']:.2e}",
                    "holds" if c["holds"] else "**DOES NOT HOLD**",
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
        groups[(e["cell"], e["status"], e["reason"])].append(e)
    rows = []
    for (cell, status, reason), group in sorted(groups.items(), key=lambda g: (order_key(g[0][0]), g[0][1:])):
        what = ", ".join(f"`{e['model']}` / `{e['job']}`" for e in sorted(group, key=_key))
        standing = [f"`{e['model']}` / `{e['job']}`" for e in group if _key(e) in measured]
        rows.append([cell, status, what, reason.replace("|", "\\|"), ", ".join(standing) or "none"])
    return (
        "## Not run, or failed\n\n"
        "An attempt that gives no number never replaces an earlier measurement; the last column"
        " names the measurements that still stand.\n\n"
        + table(["cell", "status", "models / counters", "why", "earlier measurements kept"], rows)
    )
