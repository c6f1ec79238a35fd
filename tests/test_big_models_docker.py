"""LLaMA-7B counted without its weights in real containers: the counters that can, within the
benchmark's targets, and a not-run record with the reason for every other job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.models import big
from bench.reference import closed_form
from bench.run import cells

pytestmark = pytest.mark.docker

CELLS = ("torch-latest", "keras3-jax")


@pytest.fixture(scope="module")
def where(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    command = [sys.executable, "-m", "bench", "matrix", "--base", "local", "--results", str(out)]
    run = subprocess.run(
        [*command, "--models", "llama-7b", "--cells", ",".join(CELLS)],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.mark.parametrize("cell", CELLS)
def test_the_7b_is_counted_on_shapes_within_the_targets_and_matches_the_closed_form(where: Path, cell: str) -> None:
    counters = [c for c in cells.load()[cell].counters if c in big.abstract_counters()]
    assert len(counters) == 2  # the tool's and the project's own exact counter
    for counter in counters:
        record = json.loads((where / cell / "llama-7b" / f"{counter}.json").read_text())
        probe = record["probe"]
        assert probe["provenance"]["peak_rss_kib"] < 4 * 1024**2 and probe["duration_s"] < 60
        closed = closed_form.decoder(big.MODELS["llama-7b"])
        assert abs(probe["flops"] - closed.total()) / closed.total() < closed_form.TOLERANCE


@pytest.mark.parametrize("cell", CELLS)
def test_every_counter_that_needs_weights_is_recorded_as_not_run_with_the_reason(where: Path, cell: str) -> None:
    for counter in cells.load()[cell].counters:
        if counter in big.abstract_counters():
            continue
        record = json.loads((where / cell / "llama-7b" / f"{counter}.failed.json").read_text())
        assert record["status"] == "not-run" and "25.1 GiB" in record["reason"]
