from pathlib import Path

from bench import report, results
from bench.probe import zoo
from bench.reference import convention
from tests import samples


def test_the_report_tabulates_models_by_cell_in_version_order() -> None:
    text = report.render(
        [
            samples.ok("torch-latest", raw=5),
            samples.ok("torch-1.10.1", raw=1_000_000),
            samples.ok("tf-1.12.0", counter="tf-profiler-seed", raw=3),
        ]
    )
    header = next(line for line in text.splitlines() if line.startswith("| model | tf"))
    assert header == "| model | tf-1.12.0 | torch-1.10.1 | torch-latest |"
    assert "2,000,000 (thop)" in text
    assert "1,000,000 MAC" in text and "| x2 |" in text
    assert "sigmoid (Sigmoid): no thop rule" in text
    assert "Not run" not in text


def test_cells_that_did_not_run_are_listed_once_per_reason() -> None:
    entries = [
        samples.failed("tf-2.3.1", model, "tf-profiler-seed", "not-run", "no Python 3.8 | here")
        for model in ("seed", "seed-conv")
    ]
    text = report.render(entries + [samples.ok()])
    rows = [line for line in text.splitlines() if line.startswith("| tf-2.3.1 |")]
    assert len(rows) == 1
    assert "`seed` / `tf-profiler-seed`, `seed-conv` / `tf-profiler-seed`" in rows[0]
    assert "no Python 3.8 \\| here" in rows[0]


def test_a_failure_beside_a_measurement_says_the_measurement_stands() -> None:
    text = report.render([samples.ok(), samples.failed()])
    row = next(line for line in text.splitlines() if line.startswith("| torch-x | failed"))
    assert row.endswith("| `toy` / `thop` |")


def test_write_reads_only_the_json_records(tmp_path: Path) -> None:
    results.write(tmp_path, samples.ok())
    path = report.write(tmp_path)
    assert path == tmp_path / "README.md"
    assert "20 (thop)" in path.read_text()


def test_an_empty_folder_says_how_to_fill_it(tmp_path: Path) -> None:
    assert "run `nox -s matrix`" in report.render([])


def test_a_long_list_of_skipped_ops_is_summarised() -> None:
    entry = samples.ok()
    entry["probe"]["unsupported"] = [f"op{i} (MatMul): shapes not fully known" for i in range(5)]
    assert "| 5 ops, e.g. op0 (MatMul): shapes not fully known |" in report.render([entry])


def test_measurements_of_zoo_models_are_explained_and_the_convention_switches() -> None:
    entry = samples.ok("torch-x", "seed-conv", "thop", raw=6307328)
    entry["probe"]["breakdown"]["items"] = [
        {"name": "conv2d", "type": "Conv2d", "raw": 6307328, "rule": "count_convNd"},
        {"name": "relu", "type": "ReLU", "raw": 0, "rule": "zero_ops"},
    ]
    entry["probe"]["layers"] = [{"name": "conv2d", "class": "Conv2d", "params": 544, "config": {"bias": True}}]
    entry["probe"]["provenance"]["counter_tool"]["version"] = "0.1.1-2209072238"
    entry["probe"]["definition"] = zoo.MODELS["seed-conv"]
    entry["probe"]["definition_sha256"] = zoo.fingerprint(zoo.MODELS["seed-conv"])
    default = report.render([entry])
    assert "## `seed-conv`: each counter's total, explained" in default
    assert "**13,403,072 FLOPs**" in default and "+ 0 (residual)" in default
    assert "the residual is 0 in every row" in default
    macs = report.render([entry], convention.PRESETS["macs"])
    assert "**6,307,328 FLOPs**" in macs
    assert "per multiply-accumulate" not in macs  # thop reports MACs: nothing to convert under `macs`
