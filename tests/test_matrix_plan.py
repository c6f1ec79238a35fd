"""The matrix's pure decisions: which cells a shard runs, and when a recorded result still stands."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from bench import paths
from bench.models import selection
from bench.probe import zoo
from bench.progress import Progress
from bench.records import results
from bench.run import cells, matrix, runner

ALL = list(cells.load().values())
KEY = results.Key("torch-latest", "seed", "thop")


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_split_the_cells_once_each(count: int) -> None:
    shards = [matrix.shard(ALL, i, count) for i in range(1, count + 1)]
    names = [c.name for shard in shards for c in shard]
    assert sorted(names) == sorted(c.name for c in ALL)


def test_a_shard_does_not_move_when_a_cell_is_added() -> None:
    none = cells.Base(kind="local", unavailable="test")
    extra = cells.Cell(name="zz-new", framework="torch", counters=("thop",), summary="", registry=none, local=none)
    before = [c.name for c in matrix.shard(ALL, 1, 3)]
    after = [c.name for c in matrix.shard([*ALL, extra], 1, 3) if c.name != "zz-new"]
    assert before == after


def test_the_inputs_key_follows_every_input(monkeypatch: pytest.MonkeyPatch) -> None:
    key = matrix.inputs_key("image-a", KEY)
    assert key == matrix.inputs_key("image-a", KEY)
    assert key != matrix.inputs_key("image-b", KEY)
    assert key != matrix.inputs_key("image-a", results.Key("torch-latest", "seed-conv", "thop"))
    changed = dict(zoo.MODELS["seed"], input=[2, 1, 100, 256])
    monkeypatch.setitem(zoo.MODELS, "seed", changed)
    assert key != matrix.inputs_key("image-a", KEY)  # the definition changed
    monkeypatch.undo()
    monkeypatch.setattr(runner, "probe_hash", lambda job="": "other probe")
    assert key != matrix.inputs_key("image-a", KEY)


def test_a_result_stands_only_for_the_inputs_it_was_measured_from(tmp_path: Path) -> None:
    assert matrix.recorded_key(tmp_path, KEY) == ""
    entry = results.record(KEY, "ok", probe={}, host={"inputs_key": "abc"})
    path = KEY.path(tmp_path, "ok")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(entry))
    assert matrix.recorded_key(tmp_path, KEY) == "abc"
    path.write_text("{truncated")
    assert matrix.recorded_key(tmp_path, KEY) == ""  # unreadable: measured again


def test_one_image_is_made_by_one_holder_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers (or two runs: the lock is a file lock too) that need the same image wait for each other."""
    monkeypatch.setattr(paths, "LOCKS", tmp_path)
    inside, overlaps = [], []

    def hold(name: str) -> None:
        with matrix._locked(name):
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(list(inside))
            time.sleep(0.2)
            inside.remove(name)

    same = [threading.Thread(target=hold, args=("image-x",)) for _ in range(2)]
    for thread in same:
        thread.start()
    for thread in same:
        thread.join()
    assert overlaps == []
    other = [threading.Thread(target=hold, args=(name,)) for name in ("image-x", "image-y")]
    for thread in other:
        thread.start()
    for thread in other:
        thread.join()
    assert overlaps  # the twin: different images are made side by side


def test_a_failure_said_again_in_the_same_words_is_not_rewritten(tmp_path: Path) -> None:
    """A rerun that changed nothing leaves `git diff results/` empty, not-run cells included."""

    def write(reason: str, when: str) -> str:
        matrix.write_all(tmp_path, [KEY], "not-run", reason, "", {"finished_at": when}, matrix.Summary(), Progress())
        return KEY.path(tmp_path, "not-run").read_text()

    first = write("no base", "monday")
    assert write("no base", "tuesday") == first
    assert "tuesday" in write("another reason", "tuesday")  # the twin: new words are written


def test_a_failure_stands_for_its_inputs_only_where_the_cell_expects_it(tmp_path: Path) -> None:
    cell = cells.load()["tf-latest"]
    expected = results.Key("tf-latest", "seed", "keras-flops")
    other = results.Key("tf-latest", "seed", "tf-profiler-seed")
    why = cell.expected("keras-flops", "seed")

    def fail(key: results.Key, reason: str) -> None:
        entry = results.record(key, "failed", reason="boom", host={"inputs_key": "k", "expected_failure": reason})
        path = key.path(tmp_path, "failed")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry))

    fail(expected, why)
    fail(other, why)
    assert matrix._recorded(tmp_path, expected, "k", cell)
    assert not matrix._recorded(tmp_path, expected, "other inputs", cell)
    assert not matrix._recorded(tmp_path, other, "k", cell)  # the twin: an unexpected failure is run again
    fail(expected, "")  # recorded before cells.toml expected it: run again, to be recorded as expected
    assert not matrix._recorded(tmp_path, expected, "k", cell)


def test_a_counters_own_probe_module_keys_that_counter_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = tmp_path / "probe"
    shutil.copytree(paths.PROBE, probe, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(paths, "PROBE", probe)

    def keys() -> dict[str, str]:
        runner.probe_hash.cache_clear()
        jobs = ["thop", "thop@meta", "calflops", "deepspeed", "fvcore"]
        found = {job: matrix.inputs_key("image", results.Key("torch-latest", "seed", job)) for job in jobs}
        return found | {"equivalence": matrix.inputs_key("image", results.Key("twins", "seed", "equivalence", "check"))}

    before = keys()
    with (probe / "count_calflops.py").open("a") as handle:
        handle.write("# changed\n")
    after = keys()
    # calflops changed, and DeepSpeed's module imports calflops' breakdown; thop's, fvcore's and the check's did not
    assert {job for job in before if before[job] != after[job]} == {"calflops", "deepspeed"}
    (probe / "count_new.py").write_text(
        'COUNTERS = {"new": {"framework": "torch", "unit": "FLOP", "recipe": "r",'
        ' "function": "f", "breakdown": "module"}}\n'
    )
    assert keys() == after  # a counter added in a module of its own re-keys no other job
    (probe / "count_new.py").unlink()
    with (probe / "build_torch.py").open("a") as handle:
        handle.write("# changed\n")
    assert all(after[job] != key for job, key in keys().items())  # a shared file: every job again
    runner.probe_hash.cache_clear()


def test_a_users_code_runs_in_a_container_of_its_own() -> None:
    chosen = {m.name: m for m in selection.select(selection.Request(["seed", "mine_code", "seed-conv", "mine"]))}
    keys = [results.Key("torch-latest", name, job) for name in chosen for job in ("thop", "fvcore")]
    groups = matrix.containers(keys, chosen)
    assert [sorted({k.model for k in group}) for group in groups] == [["mine", "seed", "seed-conv"], ["mine_code"]]
    assert sorted(map(str, (k for group in groups for k in group))) == sorted(map(str, keys))  # every job, once
    assert matrix.containers([k for k in keys if k.model != "mine_code"], chosen) == [
        [k for k in keys if k.model != "mine_code"]
    ]


def test_one_container_for_all_would_put_the_code_beside_the_others() -> None:
    """The twin: the grouping the test demands is not what a single container gives."""
    chosen = {m.name: m for m in selection.select(selection.Request(["seed", "mine_code"]))}
    keys = [results.Key("torch-latest", name, "thop") for name in chosen]
    assert matrix.containers(keys, chosen) != [keys]
    assert matrix.containers(keys, {}) == [keys]  # without knowing it is code, nothing would split it


def test_a_model_given_as_code_runs_every_variant_of_its_frameworks_counters() -> None:
    chosen = {m.name: m for m in selection.select(selection.Request(["mine_code", "seed-conv"]))}
    torch_latest = cells.load()["torch-latest"]
    jobs = {name: {k.job for k in matrix.plan([torch_latest], [name], chosen)["torch-latest"]} for name in chosen}
    assert jobs["mine_code"] == {job for kind, job in torch_latest.jobs() if kind == "count"}
    assert "exact@fake" in jobs["mine_code"] and "exact@no-grad" in jobs["mine_code"]
    # the twin: a defined model of convolutions runs only the variants that can change what it runs
    assert "exact@fake" not in jobs["seed-conv"] and "exact@inference-mode" in jobs["seed-conv"]
