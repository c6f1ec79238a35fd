"""The matrix's speed, measured on this machine: `nox -s perf` (figures to .matrix/perf.json).

Runs against a scratch copy of results/, on images that are already built (a cold build is
measured with `-- --cold`, which first removes every flops-matrix image):
- uncached: every job re-measured on built images (`--force`);
- nothing changed: `nox -s matrix` end to end, when every job is recorded for its inputs;
- one model changed: the records of one model made stale, so its jobs alone run again;
- per job: the time a job takes beyond its counter's own work, and each container's start and
  framework import; per engine: jobs per second of its probe time (from the records).
- the report: written from scratch, rewritten with nothing changed, and rewritten after one model's
  records changed (those validated and reconciled again and its charts drawn again, the rest from the
  memo and the chart cache); `-- --report-only` runs this alone, with no engine.
- a model too big to hold: the LLaMA-7B count (bench/models/big.py) in each cell that counts it without
  weights, re-measured: the job's wall time and peak memory (the probe's job process), and the run
  end to end (`-- --big-only` runs this alone).
- the exact counter against FlopCounterMode: both re-measured on every zoo model in one container (a cells file
  holding the cell with those two counters alone), each job's own time; and exact's LLaMA-70B count on shapes
  alone (`-- --exact-only` runs this alone).
Targets on a 2-core machine: nothing changed <= 5 s, uncached <= 15 s, one model changed <= 10 s, the
report after one model's records changed <= 10 s; the 7B count <= 60 s and <= 4 GiB in its cell; exact
<= 1.5 x FlopCounterMode's time on each model, and its 70B count <= 60 s and <= 4 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib

from bench import paths
from bench.publish import charts, report
from bench.records import results
from bench.records.memo import Memo

REPORT_CHANGED = "report after one model's records changed"
TARGETS = {
    "nothing changed (nox -s matrix)": 5.0,
    "uncached re-measure": 15.0,
    "one model changed": 10.0,
    REPORT_CHANGED: 10.0,
}
BIG_MODEL = "llama-7b"
BIG_CELLS = ("torch-latest", "keras3-jax")  # the cells whose counters count it on shapes alone
BIG_SECONDS, BIG_GIB = 60.0, 4.0
EXACT_CELL, EXACT, PEER = "torch-latest", "exact", "torch-flop-counter"  # the counter, and the one it is timed against
EXACT_RATIO, EXACT_BIG = 1.5, "llama-70b"


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"perf: {' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    summary = [line for line in done.stderr.splitlines() if "matrix done" in line]
    return seconds, summary[-1] if summary else ""


def stale(where: Path, model: str) -> int:
    """Make one model's records look measured from other inputs, as a definition change would."""
    count = 0
    for path in where.glob(f"*/{model}/*.json"):
        if path.name.endswith(".failed.json"):
            continue
        entry = json.loads(path.read_text())
        entry["host"]["inputs_key"] = "changed"
        path.write_text(json.dumps(entry))
        count += 1
    return count


def per_job(where: Path) -> dict[str, float]:
    overhead, startup = [], []
    for entry in results.load(where).records:
        host, probe = entry.get("host") or {}, entry.get("probe") or {}
        if entry.get("status") == "ok" and "probe_wall_s" in host:
            overhead.append(host["probe_wall_s"] - probe.get("duration_s", 0))
            if host.get("probe_startup_s"):
                startup.append(host["probe_startup_s"])
    return {
        "per-job overhead beyond the counter's work (median s)": round(statistics.median(overhead), 2),
        "container start + framework import per cell (median s)": round(statistics.median(startup), 2),
    }


def per_engine(where: Path) -> dict[str, float]:
    """Jobs per second of each engine's probe time (its jobs' wall and its containers' start, from the records;
    one engine's cells at a time add up, so --jobs N shows as N times the rate): what a node adds to a cluster."""
    jobs: dict[str, int] = {}
    busy: dict[str, float] = {}
    for entry in results.load(where).records:
        host = entry.get("host") or {}
        if entry.get("status") == "ok" and "probe_wall_s" in host:
            url = str(host.get("engine", "default"))
            jobs[url] = jobs.get(url, 0) + 1
            busy[url] = busy.get(url, 0.0) + host["probe_wall_s"] + host.get("probe_startup_s", 0.0)
    return {f"jobs per second on engine {url} (jobs/s)": round(jobs[url] / busy[url], 2) for url in busy if busy[url]}


def big_model(bench: list[str], where: Path) -> dict[str, float | str]:
    """The 7B count, re-measured in each cell that counts it without weights; every figure with its target."""
    cells = ",".join(BIG_CELLS)
    seconds, summary = timed([*bench, "--results", str(where), "--models", BIG_MODEL, "--cells", cells, "--force"])
    figures: dict[str, float | str] = {f"{BIG_MODEL} in {cells} end to end (s)": round(seconds, 1)}
    figures[f"{BIG_MODEL} summary"] = summary
    counted = [e for e in results.load(where).records if e["model"] == BIG_MODEL and e["status"] == "ok"]
    if {e["cell"] for e in counted} != set(BIG_CELLS):
        raise SystemExit(f"perf: {BIG_MODEL} was not counted in every one of {cells}: {summary}")
    for entry in sorted(counted, key=lambda e: (e["cell"], e["job"])):
        figures.update(_big_figures(entry))
    return figures


def _big_figures(entry: dict) -> dict[str, float | str]:
    """A count on shapes alone: its job's wall time and peak memory, with their targets."""
    where_ = f"{entry['model']} / {entry['cell']} / {entry['job']}"
    wall = float(entry["host"]["probe_wall_s"])
    peak = entry["probe"]["provenance"]["peak_rss_kib"] / 1024**2
    return {
        f"{where_}: job wall time (s)": wall,
        f"{where_}: peak memory (GiB)": round(peak, 2),
        f"{where_}: verdict": (
            f"{'met' if wall <= BIG_SECONDS else 'MISSED'} <= {BIG_SECONDS:g} s,"
            f" {'met' if peak <= BIG_GIB else 'MISSED'} <= {BIG_GIB:g} GiB"
        ),
        f"{where_}: FLOPs": entry["probe"]["flops"],
    }


def _toml(value: object) -> str:
    """A cells file's values (strings, lists of them, tables of them) as TOML: JSON's strings and arrays are TOML's."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def exact_speed(bench: list[str], where: Path) -> dict[str, float | str]:
    """exact and FlopCounterMode re-measured on every zoo model in the same container, each job's own time (the
    probe's duration, the model's build included for both); then exact's count of the 70B model on shapes alone."""
    declared = next(c for c in tomllib.loads(paths.CELLS_FILE.read_text())["cell"] if c["name"] == EXACT_CELL)
    kept = {k: v for k, v in declared.items() if k not in ("variants", "expected_failures")}
    cells_file = where.parent / "exact-cells.toml"
    cells_file.write_text(
        "[[cell]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in {**kept, "counters": [EXACT, PEER]}.items())
    )
    env = {"FLOPS_MATRIX_CELLS_FILE": str(cells_file)}
    figures: dict[str, float | str] = {}
    _, figures["exact summary"] = timed([*bench, "--results", str(where), "--cells", EXACT_CELL, "--force"], env)
    seconds = {
        (e["model"], e["job"]): e["probe"]["duration_s"] for e in results.load(where).records if e["status"] == "ok"
    }
    ratios = []
    for model in sorted({m for m, _ in seconds}):
        mine, theirs = seconds.get((model, EXACT)), seconds.get((model, PEER))
        if mine is None or theirs is None:
            raise SystemExit(f"perf: {model} was not counted by both {EXACT} and {PEER}: {figures['exact summary']}")
        ratios.append(mine / theirs)
        figures[f"{EXACT} / {PEER} on {model} (s)"] = f"{mine:.3f} / {theirs:.3f} = {mine / theirs:.2f} x"
    total = sum(s for (_, job), s in seconds.items() if job == EXACT) / sum(
        s for (_, job), s in seconds.items() if job == PEER
    )
    figures[f"{EXACT} / {PEER} over the zoo (x)"] = round(total, 2)
    figures[f"{EXACT} / {PEER}: verdict"] = (
        f"{'met' if max(ratios) <= EXACT_RATIO else 'MISSED'} <= {EXACT_RATIO:g} x on each of {len(ratios)} models"
        f" (the largest {max(ratios):.2f} x)"
    )
    _, figures["exact 70B summary"] = timed(
        [*bench, "--results", str(where / "big"), "--cells", EXACT_CELL, "--models", EXACT_BIG, "--force"], env
    )
    (big,) = [e for e in results.load(where / "big").records if e["job"] == EXACT and e["status"] == "ok"]
    figures.update(_big_figures(big))
    return figures


def report_speed(where: Path, model: str) -> dict[str, float | str]:
    """`nox -s report`'s work, in process, on a scratch copy of the records with its own memo and charts."""
    shutil.copytree(paths.RESULTS, where, dirs_exist_ok=True)
    memo, drawn = where.parent / "memo", where.parent / "charts"
    figures: dict[str, float | str] = {}
    for name in ("report from scratch", "report with nothing changed"):
        started = time.monotonic()
        report.write(where, cache=charts.Cache(drawn), memo=Memo(memo))
        figures[name] = time.monotonic() - started
    restamped = 0
    for entry in results.load(where, model=model).records:
        entry["host"]["finished_at"] = entry["host"].get("finished_at", "") + " "  # new bytes and rows, same numbers
        results.write(where, entry)
        restamped += 1
    started = time.monotonic()
    report.write(where, cache=charts.Cache(drawn), memo=Memo(memo))  # its rows changed: its charts are redrawn
    figures[REPORT_CHANGED] = time.monotonic() - started
    figures[f"{REPORT_CHANGED}: records"] = f"{restamped} of {model}"
    return figures


def _matrix_speed(bench: list[str], where: Path, model: str) -> dict[str, float | str]:
    figures: dict[str, float | str] = {}
    shutil.copytree(paths.RESULTS, where, dirs_exist_ok=True)
    figures["uncached re-measure"], figures["uncached summary"] = timed([*bench, "--results", str(where), "--force"])
    figures.update(per_job(where))
    figures.update(per_engine(where))
    figures["nothing changed (nox -s matrix)"], figures["nothing changed summary"] = timed(
        ["nox", "-s", "matrix", "--", "--results", str(where)]
    )
    figures["stale records"] = stale(where, model)
    figures["one model changed"], figures["one model summary"] = timed([*bench, "--results", str(where)])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nox -s perf --", description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="first remove every flops-matrix image")
    parser.add_argument("--model", default="seed-conv", help="the model whose change is simulated")
    parser.add_argument("--big-only", action="store_true", help=f"measure the {BIG_MODEL} count alone")
    parser.add_argument("--report-only", action="store_true", help="measure the report alone (no engine needed)")
    parser.add_argument("--exact-only", action="store_true", help=f"measure {EXACT} against {PEER} alone")
    parser.add_argument("--report-model", default="seed", help="the model whose records change for the report")
    parser.add_argument("--out", type=Path, default=paths.ROOT / ".matrix" / "perf.json")
    args = parser.parse_args(argv)
    bench = [sys.executable, "-m", "bench", "matrix"]
    figures: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory(prefix="flops-perf-") as scratch:
        where = Path(scratch) / "results"
        if not (args.big_only or args.exact_only):
            figures.update(report_speed(Path(scratch) / "report" / "results", args.report_model))
        if args.exact_only:
            figures.update(exact_speed(bench, Path(scratch) / "exact"))
        elif not args.report_only:
            if args.cold:
                subprocess.run(["sh", "-c", "docker images -q 'flops-matrix/*' | xargs -r docker rmi -f"], check=False)
                figures["cold run"], _ = timed([*bench, "--results", str(where)])
            if not args.big_only:
                figures.update(_matrix_speed(bench, where, args.model))
            figures.update(big_model(bench, Path(scratch) / "big"))
            if not args.big_only:
                figures.update(exact_speed(bench, Path(scratch) / "exact"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    for name, value in figures.items():
        target = TARGETS.get(name)
        verdict = "met" if isinstance(value, float) and target and value <= target else "MISSED"
        mark = "" if target is None else f"  (target <= {target:g} s: {verdict})"
        with_unit = isinstance(value, float) and not name.endswith(("(s)", "(GiB)", "(x)", "(jobs/s)"))
        shown = f"{value:.1f} s" if with_unit else f"{value:,}" if isinstance(value, int) else str(value)
        print(f"{name}: {shown}{mark}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
