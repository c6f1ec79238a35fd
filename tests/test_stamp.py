"""The report's inputs stamp: the same records and code give the same stamp; a changed record, report
code or convention gives another, so a matrix run that changed something always rewrites the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import paths
from bench.publish import stamp
from bench.records import results
from tests import samples


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in checkout: one module of report code."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "report.py").write_text("# the report\n")
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    return tmp_path


def test_the_same_inputs_give_the_stamp_written(root: Path, tmp_path: Path) -> None:
    where = tmp_path / "results"
    results.write(where, samples.ok())
    stamp.write(where, stamp.digest(where, "default"))
    assert stamp.current(where) == stamp.digest(where, "default")


def test_a_changed_record_code_or_convention_changes_the_stamp(root: Path, tmp_path: Path) -> None:
    where = tmp_path / "results"
    results.write(where, samples.ok())
    first = stamp.digest(where, "default")
    assert stamp.digest(where, "macs") != first
    (root / "bench" / "report.py").write_text("# the report, changed\n")
    second = stamp.digest(where, "default")
    assert second != first
    results.write(where, samples.ok(raw=11))
    assert stamp.digest(where, "default") != second


def test_no_stamp_is_no_match(tmp_path: Path) -> None:
    assert stamp.current(tmp_path) == ""
