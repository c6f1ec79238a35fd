from pathlib import Path

from bench import report, results
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
    assert row.endswith("| `seed` / `thop` |")


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
