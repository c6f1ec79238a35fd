"""nox -s perf's jobs per second per engine, from records (pure logic)."""

from __future__ import annotations

from pathlib import Path

from bench import perf
from bench.records import results
from tests import samples


def _write(where: Path, counter: str, engine: str, wall: float, startup: float = 0.0) -> None:
    entry = samples.ok("torch-x", "toy", counter)
    entry["host"] |= {"engine": engine, "probe_wall_s": wall, "probe_startup_s": startup}
    results.write(where, entry)


def test_jobs_per_second_are_counted_per_engine(tmp_path: Path) -> None:
    _write(tmp_path, "thop", "unix:///a", 1.0, 1.0)
    _write(tmp_path, "fvcore", "unix:///a", 2.0)
    _write(tmp_path, "ptflops-pytorch", "unix:///b", 0.5)
    figures = perf.per_engine(tmp_path)
    rate = "jobs per second on engine {} (jobs/s)"
    assert figures == {rate.format("unix:///a"): 0.5, rate.format("unix:///b"): 2.0}


def test_a_failed_job_is_no_job(tmp_path: Path) -> None:
    """The twin: a failure on an engine adds no job, so its rate is not the one of an engine that counted."""
    _write(tmp_path, "thop", "unix:///a", 1.0)
    failed = samples.failed("torch-x", "toy", "fvcore")
    failed["host"] |= {"engine": "unix:///a", "probe_wall_s": 1.0}
    results.write(tmp_path, failed)
    assert perf.per_engine(tmp_path) == {"jobs per second on engine unix:///a (jobs/s)": 1.0}
