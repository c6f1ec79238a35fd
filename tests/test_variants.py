"""Named variants (`counter@variant`): the registry, job names, cells that list them, the probe's refusal of
an unknown one, the report's section, and the rule-model changes they called for (FlopCounterMode's composite
ops under inference_mode, Keras 3's uniquified TensorFlow scopes). Each property has its failing twin."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import paths
from bench.counters import adapter_for, flop_counter, tf_profiler
from bench.explain import variations
from bench.explain.reconcile import reconcile
from bench.probe import catalog, variants
from bench.publish import explained, report
from bench.reference.convention import PRESETS
from bench.run import cells
from tests.test_cli import CELLS, NO_ENGINE, bench
from tests.test_counters_fvcore_ptflops import record as module_record
from tests.test_report import seed_conv

TORCH_CELL = 'name = "x"\nframework = "torch"\ncounters = ["thop", "torch-flop-counter"]\nsummary = "s"\n'


def test_every_variant_is_complete_and_applies_to_a_framework_with_counters() -> None:
    frameworks = {entry.framework for entry in catalog.COUNTERS.values()}
    for name, spec in variants.VARIANTS.items():
        assert variants.SEPARATOR not in name
        assert set(spec) == {"framework", "kinds", "summary", "switches", "enter", "may_fail", "unmodelled"}, name
        assert spec["framework"] in frameworks and spec["summary"] and spec["switches"] and callable(spec["enter"])


def test_job_names_split_and_join() -> None:
    assert variants.split("thop@no-grad") == ("thop", "no-grad")
    assert variants.split("thop") == ("thop", "")
    assert variants.job("thop", "meta") == "thop@meta" and variants.job("thop", "") == "thop"


@pytest.mark.parametrize(
    ("job", "what", "name"),
    [
        ("thop@bogus", "variant", "bogus"),
        ("thop@", "variant", ""),
        ("bogus@no-grad", "counter", "bogus"),
        ("tf-profiler-frozen@no-grad", "variant for tf-profiler-frozen", "no-grad"),  # a torch switch on TF
    ],
)
def test_an_unknown_part_of_a_job_is_named(job: str, what: str, name: str) -> None:
    assert variants.unknown(job, catalog.COUNTERS)[:2] == (what, name)


def test_known_jobs_are_not_refused() -> None:
    assert variants.unknown("thop", catalog.COUNTERS) is None
    assert all(variants.unknown(f"thop@{v}", catalog.COUNTERS) is None for v in variants.VARIANTS)


def probe(*jobs: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "probe.py", "--cell", "x", "--jobs", json.dumps(list(jobs))],
        cwd=paths.ROOT / "bench" / "probe",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_probe_refuses_an_unknown_variant_in_one_line() -> None:
    run = probe(["seed", "count", "thop@bogus"])
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("probe: unknown variant 'bogus' (known: fake, inference-mode, meta,")
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_probe_takes_a_known_variant_past_the_request_check() -> None:
    """The twin: a known variant is not refused (the job then runs, and fails alone without torch here)."""
    run = probe(["seed", "count", "thop@no-grad"])
    assert "unknown" not in run.stderr and '"event": "start"' in run.stdout


def load(tmp_path: Path, entry: str) -> dict[str, cells.Cell]:
    path = tmp_path / "cells.toml"
    path.write_text(f"[[cell]]\n{entry}\n")
    return cells.load(path)


def test_a_cell_runs_each_counter_plainly_then_under_each_variant(tmp_path: Path) -> None:
    cell = load(tmp_path, TORCH_CELL + 'variants = ["no-grad", "meta"]')["x"]
    assert [job for _, job in cell.jobs()] == [
        "thop",
        "torch-flop-counter",
        "thop@no-grad",
        "thop@meta",
        "torch-flop-counter@no-grad",
        "torch-flop-counter@meta",
    ]
    assert cell.may_fail == {j: variants.NO_VALUES for j in ("thop@meta", "torch-flop-counter@meta")}
    assert cell.expected_failures == {}
    assert [job for _, job in load(tmp_path, TORCH_CELL)["x"].jobs()] == ["thop", "torch-flop-counter"]


def test_a_counter_expected_to_fail_is_expected_to_fail_under_its_variants(tmp_path: Path) -> None:
    entry = TORCH_CELL + 'variants = ["no-grad"]\nexpected_failures = { "thop" = "why" }'
    cell = load(tmp_path, entry)["x"]
    assert cell.expected("thop", "seed") == cell.expected("thop@no-grad", "seed") == "why"
    assert cell.expected("torch-flop-counter@no-grad", "seed") == ""  # the twin: another counter's variant


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (TORCH_CELL + 'variants = ["bogus"]', r"cell x: unknown variants \['bogus'\] \(known: \['fake'"),
        (
            'name = "x"\nframework = "tensorflow"\ncounters = ["tf-profiler-frozen"]\nsummary = "s"\n'
            'variants = ["no-grad"]',
            r"variants \['no-grad'\] apply to none of its counters",
        ),
        (TORCH_CELL + 'variants = "no-grad"', "key 'variants' must be a list of strings"),
    ],
)
def test_bad_variants_in_a_cell_are_refused(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(cells.CellError, match=message):
        load(tmp_path, entry)


def test_an_unknown_variant_in_the_cells_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "cells.toml"
    path.write_text(f'[[cell]]\n{TORCH_CELL}variants = ["bogus"]\n')
    run = bench("matrix", "--results", str(tmp_path / "results"), env=NO_ENGINE | {CELLS: str(path)})
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert run.stderr.startswith(f"error: {path}: cell x: unknown variants ['bogus']")


def test_torch_cells_list_variants_that_their_torch_has() -> None:
    loaded = cells.load()
    assert set(loaded["torch-latest"].variants) == set(variants.VARIANTS)
    assert loaded["torch-1.10.1"].variants == ("no-grad", "inference-mode", "mkldnn-off")  # no sdpa_kernel, meta
    assert not any(cell.variants for cell in loaded.values() if cell.framework != "torch")


# --- the host: a variant's record is read by its counter's adapter, and the report says where it moves


def variant_of(entry: dict, variant: str, raw: int, switches: dict) -> dict:
    moved = copy.deepcopy(entry)
    moved["job"] = moved["probe"]["counter"] = variants.job(entry["job"], variant)
    moved["probe"]["raw_total"] = raw
    moved["probe"]["flops"] = raw * moved["probe"]["flops_per_unit"]
    moved["probe"]["provenance"]["switches"] = switches
    return moved


PLAIN_SWITCHES = {"grad_enabled": True, "device": "cpu"}


def test_a_variant_is_read_by_its_counters_adapter() -> None:
    assert adapter_for("thop@meta") is adapter_for("thop")
    with pytest.raises(KeyError):
        adapter_for("bogus@meta")


def test_the_report_shows_a_variant_that_moves_a_total_and_the_switches_that_differ() -> None:
    plain = seed_conv()
    plain["probe"]["provenance"]["switches"] = PLAIN_SWITCHES
    same = variant_of(plain, "no-grad", 6307328, {"grad_enabled": False, "device": "cpu"})
    moved = variant_of(plain, "meta", 6307328 + 10, {"grad_enabled": True, "device": "meta"})
    entries = [plain, same, moved]
    found = variations.tally(entries, [reconcile(e, PRESETS["default"]) for e in entries])
    assert found.measured == 2
    (move,) = found.moved  # the twin: `same` equals the plain total and is not listed
    assert (move.variant, move.plain, move.moved) == ("meta", 12614656, 12614676)
    assert move.switches == (variations.SwitchChange("device", "cpu", "meta"),)
    assert move.causes == (variations.CauseChange(None, 0, 20),) and move.residual == 20
    assert explained.switch(move.switches[0]) == "device: cpu -> meta"
    assert explained.cause_change(move.causes[0]) == "residual: + 0 -> + 20"
    page = report.render(entries)
    assert "## How a counter is called" in page and "| `seed-conv` | torch-x | `thop` | `meta` |" in page
    assert "Of 2 variant measurements, 1 move" in page
    assert "(thop@meta)" not in page.split("## How a counter is called")[0]  # plain totals only up there


def test_without_variants_the_report_has_no_such_section() -> None:
    assert "## How a counter is called" not in report.render([seed_conv()])


# --- rule models the variants called for


def test_flop_counter_prices_the_composite_ops_it_decomposes_itself() -> None:
    """Under inference_mode nn.Conv2d reaches FlopCounterMode as aten.conv2d: priced as its convolution."""
    node = {
        "name": "conv2d/aten.conv2d#1",
        "op": "aten.conv2d",
        "raw": 12614656,
        "rule": "no-rule",
        "shape": "(1, 32, 97, 127)",
        "inputs": [],
        "input_shapes": ["(1, 1, 100, 256)", "(32, 1, 4, 4)", "(32,)"],
        "attrs": {"module": "conv2d", "overload": "default", "pointwise": False},
    }
    assert flop_counter.node_macs(node) == 6307328
    assert flop_counter.node_macs(dict(node, op="aten.conv_bogus")) == 0  # the twin: no such composite
    linear = {"op": "aten.linear", "shape": "(1, 97, 256)", "input_shapes": ["(1, 97, 96)", "(256, 96)", "(256,)"]}
    assert flop_counter.node_macs(linear) == 97 * 96 * 256
    gru = {
        "op": "aten.gru",
        "shape": "(1, 97, 96)",
        "input_shapes": ["(1, 97, 4064)", "(1, 97, 96)", "[(288, 4064), (288, 96), (288,), (288,)]"],
    }
    assert flop_counter.node_macs(gru) == 97 * 288 * (4064 + 96)


def test_keras3_scopes_with_tensorflows_suffix_map_onto_their_layers() -> None:
    names = {"conv", "gru", "conv_1"}
    assert tf_profiler._layer_of("functional_1/gru_1/while/MatMul".split("/"), names) == "gru"
    assert tf_profiler._layer_of("functional_1/conv_1/BiasAdd".split("/"), names) == "conv_1"  # exact name first
    assert tf_profiler._layer_of("functional_1/convx_1/BiasAdd".split("/"), names) is None
    assert tf_profiler._layer_of("functional_1/gru_a/MatMul".split("/"), names) is None


def test_ptflops_aten_prices_nothing_where_its_table_lacks_every_op_the_module_ran() -> None:
    """Under inference_mode ptflops' aten backend sees aten.conv2d, aten.gru, aten.linear: zero-ops, no step."""
    unpriced = [(name, 0, "") for name in ("conv2d", "relu", "gru", "fc", "sigmoid")]
    result = reconcile(module_record("ptflops-aten@inference-mode", unpriced), PRESETS["default"])
    assert result.raw_total == 0 and result.residual == 0
    assert result.priced_steps == {"gru": 0} and result.why["gru"] == ("ptflops (aten backend) priced no op in gru",)
    counted = [(name, 5 if name == "gru" else 0, "") for name, _, _ in unpriced]  # the twin: a count with no rule
    wrong = reconcile(module_record("ptflops-aten@inference-mode", counted), PRESETS["macs"])
    assert wrong.residual == 5 and [r.place for r in wrong.residuals] == ["gru"]


def test_a_variant_runs_only_on_models_whose_kinds_its_switch_changes() -> None:
    recurrent = {"layers": [{"name": "r", "kind": "residual", "body": [{"name": "g", "kind": "gru"}], "shortcut": []}]}
    convolution = {"layers": [{"name": "c", "kind": "conv2d"}]}
    assert variants.kinds(recurrent) == {"residual", "gru"}  # a composite's parts count
    assert variants.runs_on("thop@mkldnn-off", recurrent)
    assert not variants.runs_on("thop@mkldnn-off", convolution)  # the twin: no recurrent kernel to switch
    assert variants.runs_on("thop@inference-mode", convolution)  # every defined model
    assert not variants.runs_on("thop@inference-mode", {"python": "mine.py"})  # no definition: plain calls only
    assert not variants.runs_on("thop@meta", recurrent, abstract=True)  # too big to hold: one way only
    assert variants.runs_on("thop", {"python": "mine.py"})
