"""More than one engine, and an orchestrator stopped from outside: against real engines.

The second engine is a real dockerd beside the first (docker/second-engine.sh): its own data
root, socket and bridge. Its images are built on it, so its first use here is a cold build.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.records import results
from bench.run import cells, matrix, runner
from tests import samples

pytestmark = pytest.mark.docker

CELLS = "tf-1.12.0,torch-latest"
MODELS = "seed-conv"  # one model is enough to spread two cells over two engines


def bench(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def second_engine(client: docker.DockerClient) -> str:
    started = subprocess.run(["sh", "docker/second-engine.sh", "start"], cwd=paths.ROOT, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    return started.stdout.strip()


def numbers(where: Path) -> dict[tuple[str, str, str], int]:
    found = {}
    for path in where.glob("*/*/*.json"):
        if not path.name.endswith(".failed.json"):
            entry = json.loads(path.read_text())
            if entry["kind"] == "count":
                found[(entry["cell"], entry["model"], entry["job"])] = entry["probe"]["raw_total"]
    return found


def test_two_engines_give_the_numbers_of_one(second_engine: str, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    first = bench("matrix", "--results", str(one), "--base", "local", "--cells", CELLS, "--models", MODELS)
    assert first.returncode == 0, first.stderr[-2000:]
    default = "unix:///var/run/docker.sock"
    both = bench(
        "matrix",
        "--results",
        str(two),
        "--base",
        "local",
        "--cells",
        CELLS,
        "--models",
        MODELS,
        "--engine",
        default,
        "--engine",
        second_engine,
    )
    assert both.returncode == 0, both.stderr[-2000:]
    planned = matrix.plan([cells.load()[c] for c in CELLS.split(",")], [MODELS])
    measured = sum(1 for keys in planned.values() for k in keys if not cells.load()[k.cell].expected(k.job, k.model))
    assert numbers(two) == numbers(one) and len(numbers(one)) == measured
    engines = {json.loads(p.read_text())["host"]["engine"] for p in two.glob("*/*/*.json")}
    assert engines == {default, second_engine}  # each engine took a cell


def test_a_dying_engine_ends_in_one_line_naming_the_cell(second_engine: str, tmp_path: Path) -> None:
    run = subprocess.Popen(
        [sys.executable, "-m", "bench", "matrix", "--results", str(tmp_path), "--base", "local"]
        + ["--cells", "torch-latest", "--models", "seed", "--engine", second_engine, "--force"],
        cwd=paths.ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=samples.default_signals,
    )
    engine2 = docker.DockerClient(base_url=second_engine)
    try:
        _wait_for_probe(engine2)
        subprocess.run(["sh", "docker/second-engine.sh", "stop"], cwd=paths.ROOT, check=True)
        _, stderr = run.communicate(timeout=300)
    finally:
        run.kill()
        subprocess.run(["sh", "docker/second-engine.sh", "start"], cwd=paths.ROOT, capture_output=True)
    assert run.returncode == 1
    failures = [line for line in stderr.splitlines() if "stopped answering" in line]
    assert failures and "[torch-latest]" in failures[0] and "Traceback" not in stderr
    reasons = [json.loads(p.read_text())["reason"] for p in (tmp_path / "torch-latest" / "seed").glob("*.failed.json")]
    assert any("stopped answering" in reason for reason in reasons)  # the jobs it had not finished


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_within_10_s_removes_its_containers_and_keeps_the_records(
    client: docker.DockerClient, tmp_path: Path, number: int, code: int
) -> None:
    earlier = results.write(tmp_path, samples.ok("torch-latest", "seed", "thop", raw=7))
    kept = earlier.read_bytes()
    run = subprocess.Popen(
        [sys.executable, "-m", "bench", "matrix", "--results", str(tmp_path), "--base", "local"]
        + ["--cells", "torch-latest", "--models", "seed-conv", "--force"],
        cwd=paths.ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=samples.default_signals,
    )
    try:
        _wait_for_probe(client, run.pid)
        run.send_signal(number)
        sent = time.monotonic()
        _, stderr = run.communicate(timeout=120)
        took = time.monotonic() - sent
    finally:
        run.kill()
    assert run.returncode == code and took < 10, (took, stderr[-2000:])
    assert stderr.strip().splitlines()[-1].startswith("error: ")
    assert "results written so far are kept" in stderr.strip().splitlines()[-1] and "Traceback" not in stderr
    left = client.containers.list(all=True, filters={"label": runner.LABEL})
    assert [c for c in left if c.labels.get(runner.LABEL_OWNER, "").endswith(f":{run.pid}")] == []
    assert earlier.read_bytes() == kept and not (tmp_path / "README.md").exists()  # the report: left to later


def _wait_for_probe(client: docker.DockerClient, pid: int | None = None, seconds: float = 600) -> None:
    """Until a probe container runs (started by process `pid`, where given: the engine may be shared)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = client.containers.list(filters={"label": runner.LABEL})
        if [c for c in found if pid is None or c.labels.get(runner.LABEL_OWNER, "").endswith(f":{pid}")]:
            return
        time.sleep(0.2)
    raise AssertionError("no probe container started")
