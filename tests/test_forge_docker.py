"""A user's model file that tries to forge records, run for real in torch-latest: `models/forge.py`
writes `done` events for other jobs into every descriptor it holds and into those of the probe and of
the container's first process through /proc, and leaves a process behind that rewrites the next jobs'
answers consistently (raw total, flops and breakdown together). No record it does not own changes;
every forged number is refused. (The twin, the unguarded probe letting the same attack through:
tests/test_probe_isolation.py.)"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from bench.models import selection
from bench.progress import Progress
from bench.run import cells, engine, matrix

pytestmark = pytest.mark.docker

FORGED = 60_000_000  # as FORGE writes it
FORGE = """
import glob, json, os, time


def _line(job):
    document = {"raw_total": 60000000, "flops": 2 * 60000000, "counter": "thop", "model": "seed-conv"}
    return (json.dumps({"job": job, "event": "done", "document": document}) + "\\n").encode()


def _rewrite(path):
    with open(path) as handle:
        doc = json.load(handle)
    items = doc["breakdown"]["items"]
    items[0]["raw"] += 60000000 - doc["raw_total"]
    doc["raw_total"], doc["flops"] = 60000000, 60000000 * doc["flops_per_unit"]
    with open(path, "w") as handle:
        json.dump(doc, handle)


def torch_model():
    import torch

    for job in range(1, 8):
        for fd in range(3, 256):
            try:
                os.write(fd, _line(job))
            except OSError:
                pass
        for path in glob.glob("/proc/%d/fd/*" % os.getppid()) + glob.glob("/proc/1/fd/*"):
            try:
                with open(path, "wb") as handle:
                    handle.write(_line(job))
            except (IOError, OSError):
                pass
    mine = set(glob.glob("/tmp/probe-*"))  # this job's folder, and the earlier ones: only later jobs are forged
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            seen, end = set(), time.time() + 300
            while time.time() < end:
                for path in glob.glob("/tmp/probe-*/*.json"):
                    if path not in seen and os.path.dirname(path) not in mine:
                        try:
                            _rewrite(path)
                            seen.add(path)
                        except (IOError, OSError, ValueError, KeyError, IndexError):
                            pass
                time.sleep(0.001)
        os._exit(0)
    return torch.nn.Linear(4, 4), torch.randn(1, 4)
"""


def test_a_forging_model_changes_no_record_but_its_own_honest_ones(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "forge.py").write_text(FORGE)
    chosen = selection.select(selection.Request(["forge", "seed-conv"], folder=folder))
    cell = replace(cells.load()["torch-latest"], counters=("thop", "torchinfo", "fvcore"), variants=())
    store = tmp_path / "results"
    options = matrix.Options(results=store, base_mode="local", force=True, models={m.name: m for m in chosen})
    matrix.run(engine.engines([]), [cell], [m.name for m in chosen], options, Progress(live=False), threading.Event())
    records = {p.relative_to(store).as_posix(): json.loads(p.read_text()) for p in store.rglob("*.json")}
    assert records and not [name for name, r in records.items() if str(FORGED) in json.dumps(r.get("probe"))]
    assert records["torch-latest/seed-conv/thop.json"]["probe"]["raw_total"] == 32 * 97 * 127 * 4 * 4
    honest = [r for name, r in records.items() if name.startswith("torch-latest/forge/") and r["status"] == "ok"]
    assert honest and all(r["probe"]["raw_total"] < 1000 for r in honest)  # a Linear(4, 4)
