"""The rule models against real records: the ones committed under results/ here, and the fresh
ones of a matrix run in test_matrix_docker.py (which calls the same checks).

Each property comes with its failing twin: a record tampered consistently (node, op-type
breakdown and total), a rule model of another counter version, a layer off by one step.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench import paths
from bench.counters import ADAPTERS, adapter_for, exact, rules, tf_profiler
from bench.explain import peers
from bench.explain.reconcile import Cause, reconcile
from bench.models import big, libraries, selection
from bench.probe import catalog, variants, zoo
from bench.publish.words import residual_items
from bench.records import results, seal
from bench.records.results import DIRTY
from bench.reference.convention import PRESETS, Convention, parse
from bench.reference.formulas import analyse
from bench.run import cells, matrix

CONVENTIONS = (PRESETS["default"], PRESETS["macs"], parse("mac=1,act:tanh=4"))


def measurements(where: Path) -> list[dict]:
    """The counts of models with a definition to reconcile with: a model given as code (a library's too) has
    none, and its counts are set against the exact count instead (bench/explain/peers.py)."""
    records = results.load(where).records
    return [e for e in records if e["status"] == "ok" and e["kind"] == "count" and not peers.is_code(e)]


def find(where: Path, cell: str, model: str, counter: str) -> dict:
    return json.loads((where / cell / model / f"{counter}.json").read_text())


def tamper(record: dict, node: str, amount: int) -> dict:
    """Add `amount` to one graph node, to its op type's line of the breakdown and to the totals."""
    record = copy.deepcopy(record)
    probe = record["probe"]
    target = next(n for n in probe["nodes"] if n["name"] == node)
    target["raw"] += amount
    next(i for i in probe["breakdown"]["items"] if i["name"] == target["op"])["raw"] += amount
    probe["raw_total"] += amount
    probe["flops"] += amount * probe["flops_per_unit"]
    return record


def unmodelled(job: str) -> str:
    """Why a variant's records may keep a residual (its registry says the rule models do not model it), or ""."""
    variant = variants.split(job)[1]
    return variants.VARIANTS[variant]["unmodelled"] if variant else ""


def check_every_measurement_reconciles_to_zero(where: Path) -> int:
    rows = 0
    for entry in measurements(where):
        for convention in CONVENTIONS:
            result = reconcile(entry, convention)
            if not unmodelled(entry["job"]):
                assert result.residual == 0, (entry["cell"], entry["model"], entry["job"], result.residuals)
            assert result.total == result.reference + sum(a.flops for a in result.adjustments) + result.residual
            rows += 1
    return rows


def _second_biases(entry: dict, convention: Convention) -> list[tuple[Cause, float]]:
    """The one adjustment an exact count may have: PyTorch's second bias vector on an LSTM or RNN, exactly the
    definition's bias adds of those layers (bench/counters/exact.py, TORCH_TWO_BIASES)."""
    if catalog.COUNTERS[variants.split(entry["job"])[0]].framework != "torch":
        return []
    definition = entry["probe"]["definition"]
    kinds = {spec["name"]: spec["kind"] for spec in definition["layers"]}
    adds = sum(c.total()["bias"] for c in analyse(definition) if kinds[c.name] in exact.TORCH_TWO_BIASES)
    return [(Cause.BIAS, adds * convention.weight("bias"))] if adds * convention.weight("bias") else []


def check_every_exact_record_is_the_reference(entries: list[dict]) -> int:
    """The project's own counters (those that count the reference's components) give the reference itself:
    under every convention and variant, no adjustment at all and no residual (their rule model is the identity
    on components: not explained, equal), but PyTorch's second bias where its build holds one."""
    checked = 0
    for entry in entries:
        if not adapter_for(entry["job"]).components:
            continue
        for convention in CONVENTIONS:
            result = reconcile(entry, convention)
            said = (entry["model"], entry["job"], convention.name, result.adjustments, result.residuals)
            found = [(a.cause, a.flops) for a in result.adjustments]
            assert found == _second_biases(entry, convention) and result.residual == 0, said
            assert result.total == result.reference + sum(flops for _, flops in found), said
        checked += 1
    return checked


def check_the_tf_rule_model_says_of_every_node_what_tensorflow_said(where: Path) -> int:
    """Each graph counter's rule model says of every node what the tool said (counted, no rule, shapes unknown),
    and every node of TensorFlow's graph counters (their catalog breakdown is by op type) is checked: none
    left out, and some at all."""
    checked = seen = 0
    for entry in measurements(where):
        probe = entry["probe"]
        if catalog.COUNTERS[variants.split(entry["job"])[0]].breakdown == "op_type":
            seen += len(probe["nodes"])
        adapter = adapter_for(entry["job"])
        if adapter.rule_status is None:
            continue
        wrong = [n["name"] for n in probe["nodes"] if adapter.rule_status(n, probe) != n["rule"]]
        assert not wrong, (entry["cell"], entry["model"], entry["job"], wrong[:5])
        checked += len(probe["nodes"])
    assert checked == seen > 0, f"checked {checked} of the {seen} nodes of TensorFlow's graph counters"
    return checked


def check_a_tampered_node_is_residual_at_its_layer(where: Path) -> None:
    record = find(where, "tf-2.5.3", "seed", "tf-profiler-seed")
    result = reconcile(tamper(record, "gru/gru_cell_1/MatMul", 1000), PRESETS["default"])
    assert result.residual == 1000
    assert [(r.place, r.flops) for r in result.residuals] == [("gru", 1000)]
    assert (
        "gru/gru_cell_1/MatMul: counted 2,341,864 FLOPs, rule model 2,340,864" in residual_items(result.residuals[0])[0]
    )


def check_a_layer_off_by_one_step_is_residual_at_that_layer(where: Path) -> None:
    record = find(where, "tf-1.12.0", "seed", "tf-profiler-seed")
    gru = next(c for c in analyse(record["probe"]["definition"]) if c.name == "gru")
    step = PRESETS["default"].flops(gru.step)
    result = reconcile(tamper(record, "gru/while/MatMul", int(step)), PRESETS["default"])
    assert [(r.place, r.flops) for r in result.residuals] == [("gru", step)]
    assert result.priced_steps == {"gru": 2}  # the structure did not change, so neither did the prediction


def check_a_rule_model_of_another_version_leaves_a_residual(where: Path) -> None:
    record = find(where, "tf-latest", "seed", "tf-profiler-seed")
    record["probe"]["provenance"]["counter_tool"]["version"] = "2.5.3"  # no AddV2 rule
    places = {r.place for r in reconcile(record, PRESETS["default"]).residuals}
    assert "gru" in places and "conv" not in places
    tf = rules.version("2.5.3")
    assert any(tf_profiler.rule_status(n, tf) != n["rule"] for n in record["probe"]["nodes"])
    thop = find(where, "torch-1.10.1", "seed-conv", "thop")
    thop["probe"]["provenance"]["counter_tool"]["version"] = "0.1.1"  # no conv bias
    assert [r.place for r in reconcile(thop, PRESETS["default"]).residuals] == ["conv"]


def check_every_record_is_from_a_commit(where: Path) -> int:
    """No record was measured from code that no commit holds (a dirty tree). A not-run record measured
    nothing: it says why the host did not run a job, and stands as long as the reason does."""
    entries = [e for e in results.load(where).records if e["status"] != "not-run"]
    dirty = [(e["cell"], e["model"], e["job"]) for e in entries if e["host"].get("project_commit", "").endswith(DIRTY)]
    assert not dirty, f"measured from a dirty tree: {dirty[:5]}"
    return len(entries)


def check_every_record_stands_for_todays_inputs(where: Path) -> int:
    """Each record's inputs key is the one today's declared inputs give (so a fresh clone, on any engine,
    finds it and runs nothing), or it is a not-run record, which keys nothing."""
    declared_in = {name: matrix.declarations(cell, "auto")[0] for name, cell in cells.load().items()}
    stale, found = [], 0
    for entry in results.load(where).records:
        if entry["status"] == "not-run":
            continue
        key = results.Key(entry["cell"], entry["model"], entry["job"], entry["kind"])
        declared = declared_in[key.cell]
        definition = selection.find(key.model, paths.MODELS).definition  # today's, as a run would take it
        wanted = {matrix.inputs_key(d.inputs_hash, key, definition) for d in declared.values()}
        if entry["host"].get("inputs_key") not in wanted:
            stale.append((key.cell, key.model, key.job))
        found += 1
    assert not stale, f"{len(stale)} records are not for today's inputs, e.g. {stale[:3]}"
    return found


def check_every_planned_job_has_its_record(where: Path) -> int:
    """Each job the matrix plans (the zoo, then the models too big to hold, in every cell, and every job of the
    library models measured at all) has a record standing for it (a measurement, a failure or a not-run), and no
    record stands for a job not planned."""
    everything = cells.load()
    recorded = {(e["cell"], e["model"], e["job"]) for e in results.load(where).records}
    measured_libraries = sorted({model for _, model, _ in recorded if libraries.is_disk_name(model)})
    planned: set[tuple[str, str, str]] = set()
    for names in (list(zoo.MODELS), list(big.MODELS), measured_libraries):
        chosen = {m.name: m for m in selection.select(selection.Request(names))}
        for keys in matrix.plan(list(everything.values()), list(chosen), chosen).values():
            planned |= {(k.cell, k.model, k.job) for k in keys}
    missing, stray = sorted(planned - recorded), sorted(recorded - planned)
    assert not missing, f"{len(missing)} planned jobs lack a record, e.g. {missing[:3]}"
    assert not stray, f"{len(stray)} records stand for no planned job, e.g. {stray[:3]}"
    return len(recorded)


def test_every_planned_job_has_its_committed_record() -> None:
    assert check_every_planned_job_has_its_record(paths.RESULTS) > 1000


def test_a_missing_record_is_named(tmp_path: Path) -> None:
    shutil.copytree(paths.RESULTS, tmp_path, dirs_exist_ok=True)
    (tmp_path / "tf-1.12.0" / "seed" / "tf-profiler-seed.json").unlink()
    wanted = r"1 planned jobs lack a record, e.g. \[\('tf-1.12.0', 'seed', 'tf-profiler-seed'\)\]"
    with pytest.raises(AssertionError, match=wanted):
        check_every_planned_job_has_its_record(tmp_path)


def test_a_record_for_a_job_not_planned_is_named(tmp_path: Path) -> None:
    shutil.copytree(paths.RESULTS, tmp_path, dirs_exist_ok=True)
    record = find(tmp_path, "tf-1.12.0", "seed", "tf-profiler-seed")
    record["job"] = record["probe"]["counter"] = "thop"  # a counter tf-1.12.0 does not run
    (tmp_path / "tf-1.12.0" / "seed" / "thop.json").write_text(json.dumps(seal.sealed(record)))
    with pytest.raises(
        AssertionError, match=r"1 records stand for no planned job, e.g. \[\('tf-1.12.0', 'seed', 'thop'\)\]"
    ):
        check_every_planned_job_has_its_record(tmp_path)


def test_every_committed_record_was_measured_from_a_commit() -> None:
    assert check_every_record_is_from_a_commit(paths.RESULTS) > 1000


def test_a_record_from_a_dirty_tree_is_refused(tmp_path: Path) -> None:
    copied = tmp_path / "tf-1.12.0" / "seed"
    copied.mkdir(parents=True)
    record = find(paths.RESULTS, "tf-1.12.0", "seed", "tf-profiler-seed")
    record["host"]["project_commit"] += DIRTY
    (copied / "tf-profiler-seed.json").write_text(json.dumps(record))
    with pytest.raises(AssertionError, match="dirty tree"):
        check_every_record_is_from_a_commit(tmp_path)


def test_every_committed_record_stands_for_todays_inputs() -> None:
    assert check_every_record_stands_for_todays_inputs(paths.RESULTS) > 1000


def test_a_changed_lock_makes_the_committed_records_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copied = tmp_path / "tf-1.12.0" / "seed"
    copied.mkdir(parents=True)
    shutil.copy(paths.RESULTS / "tf-1.12.0" / "seed" / "tf-profiler-seed.json", copied)
    assert check_every_record_stands_for_todays_inputs(tmp_path) == 1
    locks = tmp_path / "requirements"
    shutil.copytree(paths.REQUIREMENTS, locks)
    lock = locks / "tf-1.12.0-py27.txt"
    lock.write_text(lock.read_text() + "# one more line\n")
    monkeypatch.setattr(paths, "REQUIREMENTS", locks)
    with pytest.raises(AssertionError, match="not for today's inputs"):
        check_every_record_stands_for_todays_inputs(tmp_path)


def test_every_committed_measurement_reconciles_to_zero() -> None:
    assert check_every_measurement_reconciles_to_zero(paths.RESULTS) >= 1000 * len(CONVENTIONS)


def test_every_committed_exact_record_is_the_reference() -> None:
    """As many exact records as the matrix plans exact jobs that can count: on the zoo, and on the models too big
    to hold where the counter counts on shapes alone and the cell does not declare it fails."""
    everything = {cell.name: cell for cell in cells.load().values()}
    names = [*zoo.MODELS, *big.MODELS]
    chosen = {m.name: m for m in selection.select(selection.Request(names))}
    planned = [k for keys in matrix.plan(list(everything.values()), names, chosen).values() for k in keys]

    def counts(k: results.Key) -> bool:
        counter = variants.split(k.job)[0]
        if k.kind != "count" or not adapter_for(k.job).components or everything[k.cell].expected(k.job, k.model):
            return False
        return k.model in zoo.MODELS or bool(catalog.COUNTERS[counter].abstract)

    wanted = sum(map(counts, planned))
    assert wanted > 200
    assert check_every_exact_record_is_the_reference(measurements(paths.RESULTS)) == wanted


@pytest.mark.parametrize("change", [{"conv2d": {"mac": 1}}, {"conv2d": {"act:relu": -1}}, {"gru": {"bias": -96}}])
def test_an_exact_record_off_by_one_component_fails_the_check(change: dict) -> None:
    from tests.test_counters_exact import _record

    assert check_every_exact_record_is_the_reference([_record(zoo.MODELS["seed"])]) == 1
    wrong = _record(zoo.MODELS["seed"], {module: Counter(c) for module, c in change.items()})
    with pytest.raises(AssertionError, match="seed"):
        check_every_exact_record_is_the_reference([dict(wrong, model="seed")])


def test_the_tf_rule_model_says_of_every_committed_node_what_tensorflow_said() -> None:
    assert check_the_tf_rule_model_says_of_every_node_what_tensorflow_said(paths.RESULTS) > 0


def copied(tmp_path: Path, *records: tuple[str, str, str]) -> Path:
    """A results folder holding these committed records alone."""
    for cell, model, counter in records:
        (tmp_path / cell / model).mkdir(parents=True, exist_ok=True)
        shutil.copy(paths.RESULTS / cell / model / f"{counter}.json", tmp_path / cell / model)
    return tmp_path


def test_the_tf_node_check_checks_every_node_of_the_tf_records(tmp_path: Path) -> None:
    where = copied(tmp_path, ("tf-1.12.0", "seed", "tf-profiler-seed"), ("torch-latest", "seed", "thop"))
    nodes = find(where, "tf-1.12.0", "seed", "tf-profiler-seed")["probe"]["nodes"]
    assert check_the_tf_rule_model_says_of_every_node_what_tensorflow_said(where) == len(nodes) > 0


def test_the_tf_node_check_fails_without_tf_records(tmp_path: Path) -> None:
    where = copied(tmp_path, ("torch-latest", "seed", "thop"))
    with pytest.raises(AssertionError, match="checked 0 of the 0 nodes"):
        check_the_tf_rule_model_says_of_every_node_what_tensorflow_said(where)


def test_the_tf_node_check_fails_where_a_tf_counter_checks_no_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = copied(tmp_path, ("tf-1.12.0", "seed", "tf-profiler-seed"))
    nodes = len(find(where, "tf-1.12.0", "seed", "tf-profiler-seed")["probe"]["nodes"])
    unchecked = dataclasses.replace(ADAPTERS["tf-profiler-seed"], rule_status=None)
    monkeypatch.setitem(ADAPTERS, "tf-profiler-seed", unchecked)
    with pytest.raises(AssertionError, match=f"checked 0 of the {nodes} nodes"):
        check_the_tf_rule_model_says_of_every_node_what_tensorflow_said(where)


def test_the_tf_node_check_fails_where_the_rule_model_says_otherwise(tmp_path: Path) -> None:
    where = copied(tmp_path, ("tf-1.12.0", "seed", "tf-profiler-seed"))
    path = where / "tf-1.12.0" / "seed" / "tf-profiler-seed.json"
    record = json.loads(path.read_text())
    node = next(n for n in record["probe"]["nodes"] if n["rule"] == "counted")
    node["rule"] = "no-rule"  # what TensorFlow would have said had it no rule for the op
    path.write_text(json.dumps(seal.sealed(record)))
    with pytest.raises(AssertionError, match=node["name"]):
        check_the_tf_rule_model_says_of_every_node_what_tensorflow_said(where)


def test_a_tampered_committed_node_is_residual_at_its_layer() -> None:
    check_a_tampered_node_is_residual_at_its_layer(paths.RESULTS)


def test_a_committed_layer_off_by_one_step_is_residual_at_that_layer() -> None:
    check_a_layer_off_by_one_step_is_residual_at_that_layer(paths.RESULTS)


def test_a_rule_model_of_another_version_leaves_a_residual_on_committed_records() -> None:
    check_a_rule_model_of_another_version_leaves_a_residual(paths.RESULTS)


def test_the_report_of_a_tampered_copy_shows_the_residual_on_that_row_alone(tmp_path: Path) -> None:
    copied = tmp_path / "results"
    shutil.copytree(paths.RESULTS, copied)
    path = copied / "tf-2.5.3" / "seed" / "tf-profiler-seed.json"
    tampered = tamper(json.loads(path.read_text()), "gru/gru_cell_1/MatMul", 1000)
    path.write_text(json.dumps(seal.sealed(tampered)))  # sealed again: this is about the reconciliation
    done = subprocess.run(
        [sys.executable, "-m", "bench", "report", "--results", str(copied)],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    residuals = section_residuals("\n".join(page.read_text() for page in sorted((copied / "models").glob("*.md"))))
    assert residuals.pop(("seed", "tf-2.5.3", "`tf-profiler-seed`")) == "1,000"
    assert len(residuals) >= 13 and set(residuals.values()) == {"0"}, residuals


def section_residuals(report: str) -> dict[tuple[str, str, str], str]:
    """(model, cell, counter) -> the residual column of each model section's table."""
    found, model = {}, None
    for line in report.splitlines():
        if line.startswith("## "):
            model = line.split("`")[1] if line.endswith("each counter's total, explained") else None
        elif model and line.startswith("| ") and not line.startswith("| cell"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            found[(model, cells[0], cells[1])] = cells[-1]
    return found


@pytest.mark.parametrize("bias", [1, -1])
def test_pytorchs_second_bias_is_the_only_adjustment_the_check_accepts(bias: int) -> None:
    """The one adjustment allowed is exactly the definition's bias adds again: one bias add more or less fails."""
    from tests.test_counters_exact import _record

    definition = zoo.MODELS["lstm"]
    assert check_every_exact_record_is_the_reference([dict(_record(definition), model="lstm")]) == 1
    wrong = _record(definition, {definition["layers"][0]["torch"][0]: Counter({"bias": bias})})
    with pytest.raises(AssertionError, match="lstm"):
        check_every_exact_record_is_the_reference([dict(wrong, model="lstm")])
