"""Batches and the user's models through real containers: one model at two batch sizes (which
counters count the batch, which one sample), and the README's two example models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.explain.reconcile import reconcile
from bench.probe import catalog
from bench.reference.convention import PRESETS
from bench.run import cells
from tests.test_report import pages

pytestmark = pytest.mark.docker

CELLS = ["torch-latest", "tf-2.5.3"]  # between them, per-batch and per-sample counters of both frameworks
VARIANT = "seed-conv@2x1x100x256"


def bench(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bench", "matrix", "--base", "local", "--cells", ",".join(CELLS), *args]
    return subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def runs(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("results")
    first = bench("--results", str(where), "--models", "seed-conv,mine,mine_code")
    assert first.returncode == 0, first.stderr[-3000:]
    defaults = {p: p.read_bytes() for p in where.glob("*/seed-conv/*.json")}
    second = bench("--results", str(where), "--models", "seed-conv", "--batch", "2")
    assert second.returncode == 0, second.stderr[-3000:]
    assert {p: p.read_bytes() for p in where.glob("*/seed-conv/*.json")} == defaults  # nothing overwritten
    return where


def counted(where: Path, cell: str, model: str) -> dict[str, dict]:
    found = {}
    for counter in cells.load()[cell].counters:
        path = where / cell / model / f"{counter}.json"
        if path.is_file():
            found[counter] = json.loads(path.read_text())
    return found


def in_model(record: dict) -> float:
    """The count less the work a counter sees outside the model (tf.profiler's input generator, say),
    which does not grow with the batch; the residual-0 check below holds that part to its rule model."""
    result = reconcile(record, PRESETS["default"])
    return result.total - sum(a.flops for a in result.adjustments if a.cause == "outside")


@pytest.mark.parametrize("cell", CELLS)
def test_a_batch_of_two_doubles_the_per_batch_counts_and_leaves_the_per_sample_ones(runs: Path, cell: str) -> None:
    one, two = counted(runs, cell, "seed-conv"), counted(runs, cell, VARIANT)
    expected = [c for c in cells.load()[cell].counters if not cells.load()[cell].expected(c, "seed-conv")]
    assert sorted(one) == sorted(two) == sorted(expected)
    ratios = {c: in_model(two[c]) / in_model(one[c]) for c in expected}
    assert ratios == {c: 1.0 if catalog.COUNTERS[c].per_sample else 2.0 for c in expected}
    assert {c for c in expected if catalog.COUNTERS[c].per_sample}  # each cell has a per-sample counter to tell apart
    for record in two.values():
        assert record["probe"]["definition"]["input"] == [2, 1, 100, 256]
        assert reconcile(record, PRESETS["default"]).residual == 0  # the reference scaled with the batch


@pytest.mark.parametrize("cell", CELLS)
def test_the_readme_definition_runs_through_every_counter_and_reconciles(runs: Path, cell: str) -> None:
    measured = counted(runs, cell, "mine")
    assert sorted(measured) == sorted(
        c for c in cells.load()[cell].counters if not cells.load()[cell].expected(c, "mine")
    )
    for record in measured.values():
        assert record["probe"]["definition"]["summary"].startswith("a small audio tagger")
        assert reconcile(record, PRESETS["default"]).residual == 0


def test_python_code_is_counted_by_every_counter_of_its_frameworks(runs: Path) -> None:
    torch = counted(runs, "torch-latest", "mine_code")
    assert sorted(torch) == sorted(cells.load()["torch-latest"].counters)
    tensorflow = counted(runs, "tf-2.5.3", "mine_code")
    assert sorted(tensorflow) == sorted(cells.load()["tf-2.5.3"].counters)
    conv = 32 * 32 * 8 * 3 * 3 * 3  # the conv's multiply-accumulates, which every counter prices
    for record in [*torch.values(), *tensorflow.values()]:
        assert record["probe"]["raw_total"] * record["probe"]["flops_per_unit"] >= 2 * conv
    # exact, by hand: the conv's MACs, its bias adds and ReLUs (8 x 32 x 32 each), the adaptive pool (one op per
    # input value), the Linear's MACs and bias adds
    assert torch["exact"]["probe"]["raw_total"] == 2 * conv + 3 * 8 * 32 * 32 + 2 * 128 * 10 + 10
    page = pages(runs)
    assert "### `mine_code`: `torch_model()`" in page and "no analytic reference" in page
    assert "the exact count (`exact` in torch-latest): 469,514 FLOPs" in page


def test_count_sets_every_counter_of_a_users_file_against_the_exact_count(runs: Path) -> None:
    """`nox -s count`: the runs above already hold its jobs, so it measures nothing and shows them."""
    command = [sys.executable, "-m", "bench", "count", "models/mine_code.py", "--base", "local", "--cells",
               ",".join(CELLS), "--results", str(runs)]  # fmt: skip
    done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "torch_model(): 469,514 FLOPs, the exact count (exact in torch-latest)" in done.stdout
    sheet = (runs / "counts" / "mine_code.csv").read_text().splitlines()
    torch_rows = [line for line in sheet if line.startswith("torch_model,")]
    ok = [p for p in (runs / "torch-latest" / "mine_code").glob("*.json") if not p.name.endswith(".failed.json")]
    assert len(torch_rows) == len(ok) > len(counted(runs, "torch-latest", "mine_code"))  # each job once, variants too
    assert "torch_model,torch-latest,exact,469514,469514,0,1.000000," in sheet
    assert "`keras_model()`" in (runs / "counts" / "mine_code.md").read_text()
