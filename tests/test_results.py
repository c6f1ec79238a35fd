import json
from pathlib import Path

import pytest

from bench import results
from tests import samples


def test_a_measurement_lands_in_its_own_file(tmp_path: Path) -> None:
    path = results.write(tmp_path, samples.ok())
    assert path == tmp_path / "torch-x" / "toy" / "thop.json"
    assert json.loads(path.read_text())["probe"]["flops"] == 20
    assert [p.name for p in path.parent.iterdir()] == ["thop.json"]  # no temporary files left


def test_a_failure_never_replaces_a_measurement(tmp_path: Path) -> None:
    results.write(tmp_path, samples.ok(raw=7))
    failure = results.write(tmp_path, samples.failed())
    assert failure.name == "thop.failed.json"
    standing = json.loads((tmp_path / "torch-x" / "toy" / "thop.json").read_text())
    assert standing["probe"]["raw_total"] == 7
    assert {e["status"] for e in results.load(tmp_path)} == {"ok", "failed"}


def test_a_new_measurement_clears_the_failure_beside_it(tmp_path: Path) -> None:
    results.write(tmp_path, samples.failed())
    results.write(tmp_path, samples.ok(raw=9))
    assert [e["status"] for e in results.load(tmp_path)] == ["ok"]


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status 'maybe'"):
        results.record(results.Key("a", "b", "c"), "maybe")


def test_load_ignores_json_that_is_not_a_record(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.json").write_text('{"something": "else"}')
    assert results.load(tmp_path) == []


def test_project_commit_names_a_commit() -> None:
    commit = results.project_commit()
    assert len(commit.removesuffix("+dirty")) == 40 or commit.startswith("unknown")
