"""Stops that stop: SIGINT and SIGTERM end a run within 10 s with its containers removed and its records
kept; the report, which can take minutes, is left to the next run or `nox -s report`. Here the engine,
the run and a report that takes 300 s are stand-ins, in a real process that gets a real signal (with
real containers: tests/test_engines_docker.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import paths
from tests import samples

SCRIPT = """
import sys, time
from bench import cli
from bench.run import engine
from bench.run import matrix
from bench.publish import report
from bench.run import runner
engine.engines = lambda urls: []
def run(*args):
    print("running", file=sys.stderr, flush=True)
    time.sleep(0.5 if sys.argv[2] == "finish" else 600)
    return matrix.Summary()
matrix.run = run
def slow_report(*args):
    print("report", file=sys.stderr, flush=True)
    time.sleep(300)
report.write = slow_report
runner.stop_all = lambda: print("containers removed", file=sys.stderr, flush=True)
sys.exit(cli.main(["matrix", "--results", sys.argv[1], "--cells", "torch-latest", "--models", "seed"]))
"""


def start(where: Path, mode: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(where), mode],
        cwd=paths.ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=samples.default_signals,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    while line.endswith(" publish it\n"):  # the warning a run from a dirty checkout starts with
        line = process.stderr.readline()
    assert line == "running\n"
    return process


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_run_within_10_s(tmp_path: Path, number: int, code: int) -> None:
    process = start(tmp_path, "hang")
    process.send_signal(number)
    sent = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert time.monotonic() - sent < 10
    assert process.returncode == code
    assert stderr.splitlines()[0] == "containers removed" and "report" not in stderr.splitlines()
    (line,) = stderr.splitlines()[1:]
    assert line.startswith("error: ") and "results written so far are kept" in line and "nox -s report" in line


def test_a_run_that_ends_writes_the_report(tmp_path: Path) -> None:
    """The twin: the same run let finish rewrites the report, which a stop would have waited 300 s for."""
    process = start(tmp_path, "finish")
    try:
        assert process.stderr is not None
        while "report" not in (line := process.stderr.readline()):
            assert line, "the run ended without writing the report"
    finally:
        process.kill()
        process.communicate()
