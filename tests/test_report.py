import json
from pathlib import Path

import pytest

from bench.probe import zoo
from bench.publish import explained, markdown, report
from bench.records import results
from bench.reference import convention
from tests import samples
from tests.test_markdown import broken_rows, raw_html


def pages(where: Path) -> str:
    """Every Markdown page `report.write` wrote, in the order `report.render` joins them."""
    models = sorted((where / report.MODELS).glob("*.md"))
    return "\n".join(p.read_text() for p in [where / "README.md", *models, where / report.DETAILS])


def test_the_report_tabulates_each_model_by_counter_in_version_order() -> None:
    text = report.render(
        [
            samples.ok("torch-latest", raw=5),
            samples.ok("torch-1.10.1", raw=1_000_000),
            samples.ok("tf-1.12.0", counter="tf-profiler-seed", raw=3),
        ]
    )
    cells = [line.split(" | ")[0][2:] for line in text.splitlines() if line.startswith("| t") and "`t" in line]
    assert cells[:3] == ["tf-1.12.0", "torch-1.10.1", "torch-latest"]
    assert "| model | tf.profiler (thop 0.0.31) | thop (thop 0.0.31) |" in text  # families, by name
    assert "| [`toy`](models/toy.md) | 0.0% | 0.0-4027.1% |" in text
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
    path, problems = report.write(tmp_path)
    assert path == tmp_path / "README.md" and problems == []
    assert "[`toy`](models/toy.md)" in path.read_text()
    assert "| `toy` | torch-x | `thop` | 10 MAC | x2 | 20 |" in pages(tmp_path)
    assert report.PROBLEMS not in pages(tmp_path)


def test_a_row_measured_from_a_dirty_tree_is_marked_on_its_model_page(tmp_path: Path) -> None:
    clean, dirty = samples.ok(), samples.ok("torch-y")
    dirty["host"]["project_commit"] += results.DIRTY
    results.write(tmp_path, clean)
    report.write(tmp_path)
    assert "Measured from a dirty tree" not in (tmp_path / report.MODELS / "toy.md").read_text()
    results.write(tmp_path, dirty)
    report.write(tmp_path)
    assert (
        "**Measured from a dirty tree** (code that no commit holds, `+dirty`): `torch-y` / `thop`."
        in (tmp_path / report.MODELS / "toy.md").read_text()
    )


def test_an_empty_folder_says_how_to_fill_it(tmp_path: Path) -> None:
    assert "run `nox -s matrix`" in report.render([])


def test_a_long_list_of_skipped_ops_is_summarised() -> None:
    entry = samples.ok()
    entry["probe"]["unsupported"] = [f"op{i} (MatMul): shapes not fully known" for i in range(5)]
    assert "| 5 ops, e.g. op0 (MatMul): shapes not fully known |" in report.render([entry])


def seed_conv(model: str = "seed-conv") -> dict:
    """thop 0.1's count of the seed-conv model: reconciles to residual 0."""
    entry = samples.ok("torch-x", model, "thop", raw=6307328)
    entry["probe"]["breakdown"]["items"] = [
        {"name": "conv2d", "type": "Conv2d", "raw": 6307328, "rule": "count_convNd"},
        {"name": "relu", "type": "ReLU", "raw": 0, "rule": "zero_ops"},
    ]
    entry["probe"]["layers"] = [{"name": "conv2d", "class": "Conv2d", "params": 544, "config": {"bias": True}}]
    entry["probe"]["provenance"]["counter_tool"]["version"] = "0.1.1-2209072238"
    entry["probe"]["definition"] = zoo.MODELS["seed-conv"]
    entry["probe"]["definition_sha256"] = zoo.fingerprint(zoo.MODELS["seed-conv"])
    return entry


def test_measurements_of_zoo_models_are_explained_and_the_convention_switches() -> None:
    entry = seed_conv()
    default = report.render([entry])
    assert "## `seed-conv`: each counter's total, explained" in default
    assert "**13,403,072 FLOPs**" in default and "+ 0 (residual)" in default
    assert "the residual is 0 in every row" in default
    macs = report.render([entry], convention.PRESETS["macs"])
    assert "**6,307,328 FLOPs**" in macs
    assert "per multiply-accumulate" not in macs  # thop reports MACs: nothing to convert under `macs`


# Records that cannot be trusted are listed on their own and left out of every table.


def test_a_total_edited_alone_is_listed_as_invalid_and_left_out(tmp_path: Path) -> None:
    path = results.write(tmp_path, seed_conv())
    twin, problems = report.write(tmp_path)  # the twin: the record as measured is reported, residual 0
    assert problems == [] and "+ 0 (residual)" in pages(tmp_path)
    assert "| [`seed-conv`](models/seed-conv.md) | 94.1% |" in twin.read_text()
    record = json.loads(path.read_text())
    record["probe"]["raw_total"] += 1000
    path.write_text(json.dumps(record))
    written, problems = report.write(tmp_path)
    text = pages(tmp_path)
    assert [str(p) for p in problems] == [
        "torch-x/seed-conv/thop.json: probe flops 12,614,656 is not raw_total 6,308,328 x flops_per_unit 2"
    ]
    assert f"## {report.PROBLEMS}" in text and "**1 record could not be read or trusted**" in text
    assert "| `torch-x/seed-conv/thop.json` | probe flops 12,614,656 is not raw_total 6,308,328" in text
    assert "(residual)" not in text and "| `seed-conv` |" not in text and "No measurements yet" in text


def test_an_unreadable_record_is_listed_and_the_rest_reported(tmp_path: Path) -> None:
    results.write(tmp_path, samples.ok())
    (tmp_path / "torch-x" / "other").mkdir()
    (tmp_path / "torch-x" / "other" / "thop.json").write_text('{"schema": "flops-matrix/res')
    written, problems = report.write(tmp_path)
    assert [p.path for p in problems] == ["torch-x/other/thop.json"]
    assert "not valid JSON" in problems[0].reason
    assert (
        "| `toy` | torch-x | `thop` | 10 MAC | x2 | 20 |" in pages(tmp_path) and report.PROBLEMS in written.read_text()
    )


def test_a_record_the_reconciliation_cannot_read_is_listed_and_the_rest_reported() -> None:
    strange = seed_conv("strange")
    strange["probe"]["definition"] = {"input": [1, 4], "layers": [{"name": "x", "kind": "warp"}]}
    text, problems = report.compose([strange, seed_conv()])
    assert [p.path for p in problems] == ["torch-x/strange/thop.json"]
    assert "cannot be reconciled: KeyError" in problems[0].reason and "'warp'" in problems[0].reason
    assert (
        "## `seed-conv`: each counter's total, explained" in text and "`strange`" not in text.split(report.PROBLEMS)[0]
    )
    assert report.compose([seed_conv()])[1] == []  # the twin


# Whatever a record holds reaches the page as text: no table row breaks, no markup gets in.

MODEL = "a|b\n<script>alert(1)</script>"
REASON = "x | y\nz"


def hostile_report() -> str:
    measured = seed_conv(MODEL)
    measured["cell"] = measured["probe"]["cell"] = "cell|<b>&"
    failed = samples.failed("tf-x", MODEL, "thop", reason=REASON)
    return report.render([measured, failed, samples.ok()])


def damage(text: str) -> list[str]:
    """Table rows that break, and lines with markup a record smuggled in."""
    found, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            found += broken_rows("\n".join(block))
            block = []
        if raw_html(line):
            found.append(line)
    return found


def test_hostile_names_and_reasons_neither_break_tables_nor_inject_markup() -> None:
    text = hostile_report()
    assert damage(text) == []
    assert "x \\| y z" in text  # the reason, escaped, on one line
    assert "## `a|b <script>alert(1)</script>`: each counter's total, explained" in text
    assert "| `a\\|b <script>alert(1)</script>` | cell\\|&lt;b&gt;&amp; |" in text


def test_the_same_report_without_escaping_is_seen_to_break(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown, "_cell", str)
    for module in (report, explained):
        monkeypatch.setattr(module, "text", str)
        monkeypatch.setattr(module, "code", lambda value: f"`{value}`")
    assert damage(hostile_report())


def test_the_switches_a_counter_ran_under_are_shown() -> None:
    entry = samples.ok()
    entry["probe"]["provenance"]["switches"] = {
        "grad_enabled": False,
        "training": False,
        "device": "cpu",
        "mkldnn_enabled": True,
    }
    assert "| no_grad, eval, cpu |" in report.render([entry])
    assert "| no_grad, eval, cpu |" not in report.render([samples.ok()])  # the twin: none recorded, none shown


def test_the_switches_a_variant_sets_are_shown() -> None:
    entry = samples.ok()
    seen = {"grad_enabled": False, "inference_mode": True, "training": False, "device": "cpu", "mkldnn_enabled": True}
    entry["probe"]["provenance"]["switches"] = seen | {"tensor_type": "FakeTensor", "sdpa_backends": ["math"]}
    assert "| inference_mode, eval, cpu, FakeTensor, SDPA math |" in report.render([entry])
    entry["probe"]["provenance"]["switches"] = seen | {"tensor_type": "Tensor", "sdpa_backends": ["flash", "math"]}
    assert "| inference_mode, eval, cpu |" in report.render([entry])  # the twin: defaults add nothing
