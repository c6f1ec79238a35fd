"""A job speaks only for itself: a job's code (a user's model file) tries every way to write events or
documents for another job of its container (the descriptors it inherits, the probe's own through /proc,
a process it leaves running that writes into the next job's folder), and none gets through. The probe
runs for real, as nobody where the test runs as root; only the counters are stand-ins (no framework on
the host), and the real attack inside a real container is tests/test_forge_docker.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import paths

FORGED = 60_000_000  # as SCRIPT writes it
SCRIPT = r"""
import ctypes, glob, json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
import installed, probe
if os.getuid() == 0:  # as nobody, like the container's user; setuid clears dumpable, which a plain run has
    os.setgid(65534); os.setuid(65534)
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
installed.pip_freeze = lambda: []
if sys.argv[2] == "unguarded":  # the twin: the probe as it was
    probe._guard = probe._kill_strays = lambda *a: None
    os.closerange = lambda a, b: None

def forged(job):
    return (json.dumps({"job": job, "event": "done", "document": {"raw_total": 60000000}}) + "\n").encode()

def attack():
    for fd in range(3, 64):  # descriptors the job inherited
        try: os.write(fd, forged(1))
        except OSError: pass
    for path in glob.glob("/proc/%d/fd/*" % os.getppid()):  # the probe's own
        try:
            with open(path, "wb") as handle: handle.write(forged(1))
        except (IOError, OSError): pass
    if os.fork() == 0:  # a daemon that outlives the job and writes the next job's answer
        os.setsid()
        if os.fork() == 0:
            end = time.time() + 4
            while time.time() < end:
                for out in glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "probe-1-*", "1.json")):
                    try:
                        with open(out, "w") as handle: handle.write(json.dumps({"raw_total": 60000000}))
                    except (IOError, OSError): pass
                time.sleep(0.005)
        os._exit(0)

def measure(cell, model, job):
    if job == "thop":
        attack()
        time.sleep(0.3)
    else:
        time.sleep(1.0)  # the honest job: the daemon would have time to replace its answer
    return {"raw_total": 1, "job": job}

probe.measure = measure
probe.GO_WAIT_S = 2
options = sys.argv[3:]
sys.exit(probe.main(["--cell", "c", "--timeout", "30",
                     "--jobs", json.dumps([["seed-conv", "count", "thop"], ["seed", "count", "fvcore"]])] + options))
"""


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the probe can reach as nobody (pytest's own are its user's alone)."""
    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder)


def run_probe(folder: Path, mode: str, *options: str, code: int = 0) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(paths.PROBE), mode, *options],
        capture_output=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(folder)},
        cwd=folder,
    )
    assert done.returncode == code, done.stderr.decode()[-2000:]
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_a_jobs_code_cannot_write_for_another_job(shared: Path) -> None:
    events = run_probe(shared, "guarded")
    assert [(e["job"], e["event"]) for e in events] == [(0, "start"), (0, "done"), (1, "start"), (1, "done")]
    assert [e["document"] for e in events if e["event"] == "done"] == [
        {"raw_total": 1, "job": "thop"},
        {"raw_total": 1, "job": "fvcore"},
    ]


def test_the_unguarded_probe_lets_it_through(shared: Path) -> None:
    """The twin: with the descriptors left open and nothing killed, the forgery reaches the host."""
    events = run_probe(shared, "unguarded")
    assert any(e.get("document", {}).get("raw_total") == FORGED for e in events)


def test_without_the_hosts_go_ahead_the_next_job_never_starts(shared: Path) -> None:
    """The host gone (its engine dead), a container lives one job's budget, not every job's."""
    go = shared / "go"
    go.mkdir()
    (go / "0").touch()
    events = run_probe(shared, "guarded", "--go", str(go), code=3)
    assert [(e["job"], e["event"]) for e in events] == [(0, "start"), (0, "done")]


def test_with_the_go_ahead_every_job_runs(shared: Path) -> None:
    """The twin: the same probe, each job let go, runs them all."""
    go = shared / "go"
    go.mkdir()
    (go / "0").touch()
    (go / "1").touch()
    events = run_probe(shared, "guarded", "--go", str(go))
    assert [(e["job"], e["event"]) for e in events] == [(0, "start"), (0, "done"), (1, "start"), (1, "done")]


def test_the_probe_ends_itself_at_its_budget(shared: Path) -> None:
    """With no orchestrator left to stop it, the probe's own budget ends it (the honest job takes 1 s)."""
    started = time.monotonic()
    events = run_probe(shared, "guarded", "--budget", "1", code=137)
    assert [(e["job"], e["event"]) for e in events] == [(0, "start"), (0, "done"), (1, "start")]
    assert time.monotonic() - started < 20


def test_within_its_budget_the_probe_runs_every_job(shared: Path) -> None:
    """The twin: a budget the jobs fit in changes nothing."""
    events = run_probe(shared, "guarded", "--budget", "60")
    assert [(e["job"], e["event"]) for e in events] == [(0, "start"), (0, "done"), (1, "start"), (1, "done")]
