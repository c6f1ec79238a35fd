"""The matrix's speed, measured on this machine: `nox -s perf` (figures to .matrix/perf.json).

Runs against a scratch copy of results/, on images that are already built (a cold build is
measured with `-- --cold`, which first removes every flops-matrix image):
- uncached: every job re-measured on built images (`--force`);
- nothing changed: `nox -s matrix` end to end, when every job is recorded for its inputs;
- one model changed: the records of one model made stale, so its jobs alone run again;
- per job: the time a job takes beyond its counter's own work, and each container's start and
  framework import.
Targets on a 2-core machine: nothing changed <= 5 s, uncached <= 15 s, one model changed <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import paths, results

TARGETS = {"nothing changed (nox -s matrix)": 5.0, "uncached re-measure": 15.0, "one model changed": 10.0}


def timed(command: list[str]) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nox -s perf --", description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="first remove every flops-matrix image")
    parser.add_argument("--model", default="seed-conv", help="the model whose change is simulated")
    parser.add_argument("--out", type=Path, default=paths.ROOT / ".matrix" / "perf.json")
    args = parser.parse_args(argv)
    bench = [sys.executable, "-m", "bench", "matrix"]
    figures: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory(prefix="flops-perf-") as scratch:
        where = Path(scratch) / "results"
        if args.cold:
            subprocess.run(["sh", "-c", "docker images -q 'flops-matrix/*' | xargs -r docker rmi -f"], check=False)
            figures["cold run"], _ = timed([*bench, "--results", str(where)])
        shutil.copytree(paths.RESULTS, where, dirs_exist_ok=True)
        figures["uncached re-measure"], figures["uncached summary"] = timed(
            [*bench, "--results", str(where), "--force"]
        )
        figures.update(per_job(where))
        figures["nothing changed (nox -s matrix)"], figures["nothing changed summary"] = timed(
            ["nox", "-s", "matrix", "--", "--results", str(where)]
        )
        figures["stale records"] = stale(where, args.model)
        figures["one model changed"], figures["one model summary"] = timed([*bench, "--results", str(where)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    for name, value in figures.items():
        target = TARGETS.get(name)
        verdict = "met" if isinstance(value, float) and target and value <= target else "MISSED"
        mark = "" if target is None else f"  (target <= {target:g} s: {verdict})"
        shown = f"{value:.1f} s" if isinstance(value, float) else str(value)
        print(f"{name}: {shown}{mark}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
