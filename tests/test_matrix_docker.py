"""The matrix end to end: real images, the real probe in real containers, results on disk.

One session-wide pair of runs of `python -m bench matrix` over every cell (the first builds what
is missing, the second must rebuild nothing); the tests read what those runs left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import jsonschema
import pytest

from bench import paths
from bench.probe import variants, zoo
from bench.records.results import Key
from bench.reference.convention import PRESETS, parse
from bench.reference.formulas import analyse
from bench.run import cells, matrix, runner
from tests import test_recorded
from tests.test_report import pages

pytestmark = pytest.mark.docker

# The cells this host can build, with the versions their records must show.
EXPECTED = {
    "tf-1.12.0": ("tensorflow", "1.12.0", "2.7."),
    "tf-2.5.3": ("tensorflow", "2.5.3", "3.9."),
    "torch-1.10.1": ("torch", "1.10.1+cu102", "3.9."),
    "tf-latest": ("tensorflow", "2.21.0", "3.11."),
    "torch-latest": ("torch", "2.13.0", "3.11."),  # 2.13.0+cpu from a wheelhouse
    "torch-ultralytics-thop": ("torch", "2.13.0", "3.11."),
    "keras3-jax": ("jax", "0.10.2", "3.11."),
    "keras3-tf": ("tensorflow", "2.21.0", "3.11."),
}
# Every (cell, model, counter or counter@variant) those cells run; those that must give a number; those
# expected to fail. A variant that may fail (meta, fake) is in neither of the last two.
# The models the session's runs measure: the blog's pair, through every cell, counter and variant (the
# zoo's other models are proven by their committed records, tests/test_recorded.py).
MODELS = ["seed", "seed-conv"]
JOBS = [
    (k.cell, k.model, k.job)
    for planned in matrix.plan([cells.load()[c] for c in EXPECTED], MODELS).values()
    for k in planned
    if k.kind == "count"
]
MEASURED = [(c, m, k) for c, m, k in JOBS if not cells.load()[c].expected(k, m) and k not in cells.load()[c].may_fail]
FAILING = [(c, m, k) for c, m, k in JOBS if cells.load()[c].expected(k, m)]
# Hand counts for the seed's Conv2D(1 -> 32, 4x4, stride (1,2)) on 1x1x100x256: 32 x 97 x 127 outputs.
CONV_OUTPUTS = 32 * 97 * 127
CONV_MACS = CONV_OUTPUTS * 4 * 4


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=3600
    )


@pytest.fixture(scope="session")
def runs(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    where = tmp_path_factory.mktemp("results")
    # The local bases: the Pythons below are theirs, and tf-2.3.1 has none (where a registry answers,
    # `--base auto` would pick python:X-slim instead).
    models = ",".join(MODELS)
    first = bench("matrix", "--results", str(where), "--base", "local", "--models", models)
    second = bench("matrix", "--results", str(where), "--base", "local", "--models", models)
    return where, [first, second]


def record(where: Path, cell: str, model: str, counter: str) -> dict:
    path = where / cell / model / f"{counter}.json"
    assert path.is_file(), f"no measurement for {cell} {model} {counter}; failure: {read_failure(path)}"
    return json.loads(path.read_text())


def read_failure(path: Path) -> str:
    failed = path.with_name(path.name.replace(".json", ".failed.json"))
    return json.loads(failed.read_text())["reason"] if failed.is_file() else "none recorded"


def test_both_runs_succeed_and_the_second_builds_nothing(runs: tuple[Path, list]) -> None:
    first, second = runs[1]
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    assert "images built: none" in second.stderr
    assert "building" not in second.stderr
    recorded = len(JOBS) + len(MODELS)  # + twins' checks
    assert f"{recorded} already recorded for the same inputs" in second.stderr
    assert "probing" not in second.stderr and "[1/" not in second.stderr


def test_every_buildable_cell_measures_every_model_with_its_own_versions(runs: tuple[Path, list]) -> None:
    where = runs[0]
    defined = cells.load()
    schema = json.loads((paths.SCHEMAS / "probe-3.schema.json").read_text())
    for cell, (framework, version, python) in EXPECTED.items():
        for model in MODELS:
            for counter in (c for c in defined[cell].counters if not defined[cell].expected(c, model)):
                entry = record(where, cell, model, counter)
                jsonschema.validate(entry["probe"], schema)
                provenance = entry["probe"]["provenance"]
                assert entry["status"] == "ok" and entry["probe"]["flops"] > 0
                assert provenance["framework"]["name"] == framework
                assert provenance["framework"]["version"].startswith(version)
                assert provenance["python"].startswith(python)
                assert any(line.lower().startswith(framework) for line in provenance["pip_freeze"])
                host = entry["host"]
                assert host["image"]["id"].startswith("sha256:") and host["image"]["base"]["kind"] in (
                    "local",
                    "registry",
                )
                assert host["docker_engine"] and host["project_commit"] and host["finished_at"]


def test_a_job_expected_to_fail_is_a_recorded_fact_that_fails_no_run(runs: tuple[Path, list]) -> None:
    assert FAILING  # keras-flops on TensorFlow 2.21
    for cell, model, counter in FAILING:
        failure = json.loads((runs[0] / cell / model / f"{counter}.failed.json").read_text())
        assert failure["host"]["expected_failure"] == cells.load()[cell].expected(counter, model)
        assert failure["reason"].startswith("probe exited with code 1: ")
    assert "failed as expected" in runs[1][0].stderr and runs[1][0].returncode == 0
    assert "(expected)" in pages(runs[0])


def test_tf_2_3_1_is_reported_not_run_with_its_reason(runs: tuple[Path, list]) -> None:
    where = runs[0]
    failure = json.loads((where / "tf-2.3.1" / "seed" / "tf-profiler-seed.failed.json").read_text())
    assert failure["status"] == "not-run"
    assert "CPython 3.5-3.8 only" in failure["reason"]
    assert "| tf-2.3.1 | not-run |" in pages(where)


def test_the_conv_layer_matches_the_hand_count_in_every_counter(runs: tuple[Path, list]) -> None:
    where = runs[0]
    for cell in ("tf-1.12.0", "tf-2.5.3", "tf-latest"):
        ops = {
            i["name"]: i["raw"]
            for i in record(where, cell, "seed-conv", "tf-profiler-seed")["probe"]["breakdown"]["items"]
        }
        assert ops["Conv2D"] == 2 * CONV_MACS
        assert ops["BiasAdd"] == CONV_OUTPUTS
    for cell in ("tf-2.5.3", "tf-latest"):  # a frozen graph holds the layer and nothing else
        assert record(where, cell, "seed-conv", "tf-profiler-frozen")["probe"]["flops"] == 2 * CONV_MACS + CONV_OUTPUTS
    for cell in ("torch-1.10.1", "torch-latest"):
        conv = record(where, cell, "seed-conv", "thop")["probe"]["breakdown"]["items"][0]
        assert conv["name"] == "conv2d"
        assert conv["raw"] - CONV_MACS in (0, CONV_OUTPUTS)  # thop 0.0.31 adds one MAC per output for the bias


def test_onnx_tool_keeps_its_node_table_and_prices_the_conv_by_hand(runs: tuple[Path, list]) -> None:
    # the TorchScript export's Conv has its bias input (+1 per output); tf2onnx's drops the zero bias
    for cell, counter, bias in (("torch-latest", "onnx-tool-torch", CONV_OUTPUTS), ("tf-latest", "onnx-tool-keras", 0)):
        conv = record(runs[0], cell, "seed-conv", counter)["probe"]
        assert [n["raw"] for n in conv["nodes"] if n["op"] == "Conv"] == [CONV_MACS + bias]
        seed = record(runs[0], cell, "seed", counter)["probe"]
        assert sum(n["raw"] for n in seed["nodes"]) == seed["raw_total"]
        assert [n["op"] for n in seed["nodes"] if n["raw"] and n["op"].startswith("GRU")] == ["GRU"]


def test_the_tf_breakdowns_add_up_and_name_every_node(runs: tuple[Path, list]) -> None:
    where = runs[0]
    for cell in ("tf-1.12.0", "tf-2.5.3", "tf-latest"):
        probe = record(where, cell, "seed", "tf-profiler-seed")["probe"]
        assert sum(i["raw"] for i in probe["breakdown"]["items"]) == probe["raw_total"]
        assert sum(n["raw"] for n in probe["nodes"]) == probe["raw_total"]
        assert any(n["name"].startswith("gru/") for n in probe["nodes"])


def test_a_job_that_crashes_in_a_real_image_fails_alone(runs: tuple[Path, list], client: docker.DockerClient) -> None:
    image = record(runs[0], "torch-latest", "seed", "thop")["host"]["image"]["tag"]
    keys = [Key("torch-latest", "seed", "tf-profiler-seed"), Key("torch-latest", "seed", "thop")]
    crashed, counted = runner.run_cell(client, image, "torch-latest", keys, {}, runner.Limits(timeout_s=120))
    assert crashed.document is None
    assert crashed.failure == "probe exited with code 1: ModuleNotFoundError: No module named 'tensorflow'"
    assert "Traceback" in crashed.log_tail
    assert counted.document is not None and counted.document["raw_total"] == 125026016


def test_a_job_over_the_memory_limit_says_so_and_nothing_else(
    runs: tuple[Path, list], client: docker.DockerClient
) -> None:
    image = record(runs[0], "torch-latest", "seed", "thop")["host"]["image"]["tag"]
    keys = [Key("torch-latest", "seed", "thop")]
    (run,) = runner.run_cell(client, image, "torch-latest", keys, {}, runner.Limits(timeout_s=120, memory="100m"))
    assert run.failure == "probe killed for exceeding the memory limit (100m)"


def test_the_report_covers_every_cell(runs: tuple[Path, list]) -> None:
    report = pages(runs[0])
    planned = matrix.plan(list(cells.load().values()), MODELS)
    assert [cell for cell, keys in planned.items() if not keys] == ["torch-libraries"]  # library models only
    for cell, keys in planned.items():
        assert (cell in report) == bool(keys), cell
    assert 1000 < os.path.getsize(runs[0] / "README.md") < 500_000


def test_each_model_is_one_function_in_keras_and_pytorch(runs: tuple[Path, list]) -> None:
    for model in MODELS:
        check = record(runs[0], "twins", model, "equivalence")["probe"]
        assert check["holds"], check["result"]["comparisons"]
        assert all(c["params_equal"] for c in check["result"]["comparisons"])
    seed = record(runs[0], "twins", "seed", "equivalence")["probe"]["result"]["comparisons"]
    blog_pair = next(c for c in seed if not c["same_function_expected"])
    assert blog_pair["max_abs_diff"] > 1e-3  # the blog's PyTorch GRU reads the frames as a batch


def test_every_counted_build_has_the_definitions_parameter_counts(runs: tuple[Path, list]) -> None:
    expected = {"conv": 544, "gru": 1198656, "output": 24832}  # 32*(16+1); 3*(4064*96 + 96*96 + 2*96); 96*256+256
    for cell, (framework, _, _) in EXPECTED.items():
        for counter in (c for c in cells.load()[cell].counters if not cells.load()[cell].expected(c, "seed")):
            layers = {row["name"]: row["params"] for row in record(runs[0], cell, "seed", counter)["probe"]["layers"]}
            if framework == "torch":
                layers = {"conv": layers["conv2d"], "gru": layers["gru"], "output": layers["fc"]}
            assert {k: layers[k] for k in expected} == expected, cell


def test_every_fresh_measurement_reconciles_to_zero_and_a_tampered_one_does_not(runs: tuple[Path, list]) -> None:
    where = runs[0]
    assert test_recorded.check_every_measurement_reconciles_to_zero(where) >= len(MEASURED) * len(
        test_recorded.CONVENTIONS
    )
    test_recorded.check_the_tf_rule_model_says_of_every_node_what_tensorflow_said(where)
    test_recorded.check_a_tampered_node_is_residual_at_its_layer(where)
    test_recorded.check_a_layer_off_by_one_step_is_residual_at_that_layer(where)
    test_recorded.check_a_rule_model_of_another_version_leaves_a_residual(where)


def test_every_record_keeps_the_definition_it_measured(runs: tuple[Path, list]) -> None:
    for entry in test_recorded.measurements(runs[0]):
        assert entry["probe"]["definition"] == zoo.MODELS[entry["model"]]
        assert entry["probe"]["definition_sha256"] == zoo.fingerprint(zoo.MODELS[entry["model"]])


def test_the_reference_agrees_exactly_with_counters_that_count_what_it_counts(runs: tuple[Path, list]) -> None:
    where = runs[0]
    # A frozen Conv2D-only graph holds the layer alone; the profiler prices MACs at 2, bias at 1, ReLU not at all.
    no_activations = parse("act=0")
    reference = sum(no_activations.flops(c.total()) for c in analyse(zoo.MODELS["seed-conv"]))
    for cell in ("tf-2.5.3", "tf-latest"):
        assert record(where, cell, "seed-conv", "tf-profiler-frozen")["probe"]["flops"] == reference
    assert record(where, "keras3-tf", "seed-conv", "keras3-tf-frozen")["probe"]["flops"] == reference  # Keras 3
    # thop 0.1 counts a convolution's MACs and nothing else.
    macs = sum(PRESETS["macs"].flops(c.total()) for c in analyse(zoo.MODELS["seed-conv"]))
    assert record(where, "torch-latest", "seed-conv", "thop")["probe"]["raw_total"] == macs


def test_the_report_opens_with_the_answer(runs: tuple[Path, list]) -> None:
    front = (runs[0] / "README.md").read_text()
    assert front.index("## The blog's question") < front.index("## Every model, every counter family")
    page = (runs[0] / "models" / "seed.md").read_text()
    assert page.index("**`seed`**") < page.index("## `seed`: each counter's total, explained")
    seed = next(line for line in page.splitlines() if line.startswith("**`seed`**"))
    assert "recurrent steps priced, up to 92.7% of the reference" in seed
    assert "tf.profiler prices 0 to 2, thop prices 97" in seed
    assert seed.endswith("the residual is 0 in every row.")


def test_a_variant_runs_under_its_switches_and_the_report_says_where_it_moves(runs: tuple[Path, list]) -> None:
    where = runs[0]
    plain = record(where, "torch-latest", "seed-conv", "ptflops-aten")["probe"]
    moved = record(where, "torch-latest", "seed-conv", "ptflops-aten@inference-mode")["probe"]
    assert moved["provenance"]["variant"] == {
        "name": "inference-mode",
        "switches": variants.VARIANTS["inference-mode"]["switches"],
    }
    assert moved["provenance"]["switches"]["inference_mode"] and not plain["provenance"]["switches"]["inference_mode"]
    # ptflops' aten table has no entry for the composite ops that inference_mode leaves whole (aten.conv2d)
    assert plain["raw_total"] > 0 and moved["raw_total"] == 0
    flop_counter = record(where, "torch-latest", "seed-conv", "torch-flop-counter@inference-mode")["probe"]
    assert (
        flop_counter["raw_total"]
        == record(where, "torch-latest", "seed-conv", "torch-flop-counter")["probe"]["raw_total"]
    )
    failure = json.loads((where / "torch-latest" / "seed" / "thop@meta.failed.json").read_text())
    assert "meta tensors" in failure["reason"] and failure["host"]["expected_failure"] == variants.NO_VALUES
    assert "| `seed-conv` | torch-latest | `ptflops-aten` | `inference-mode` | 13,403,072 | 0 |" in pages(where)
