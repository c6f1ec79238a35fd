"""Records carry their own seal: a record edited after measurement, however consistently, is named and
left out of the report, and a run measures it again rather than take it as recorded."""

from __future__ import annotations

import json
from pathlib import Path

from bench.publish import report
from bench.records import results, seal
from bench.run import matrix
from tests import samples
from tests.test_cli import NO_ENGINE, bench
from tests.test_report import pages

KEY = results.Key("torch-x", "toy", "thop")
FILE = "torch-x/toy/thop.json"


def edit_consistently(path: Path, raw: int = 30_000_000) -> None:
    """What a careful hand does: the raw total, flops and breakdown changed together."""
    entry = json.loads(path.read_text())
    probe = entry["probe"]
    probe["raw_total"], probe["flops"] = raw, raw * probe["flops_per_unit"]
    probe["breakdown"]["items"][0]["raw"] = raw
    path.write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n")


def written(where: Path) -> Path:
    entry = samples.ok()
    entry["host"]["inputs_key"] = "k"
    return results.write(where, entry)


def test_the_host_seals_what_it_writes_and_the_report_keeps_it(tmp_path: Path) -> None:
    path = written(tmp_path)
    entry = json.loads(path.read_text())
    assert entry["host"][seal.FIELD] == seal.digest(entry) and not seal.edited(entry)
    _, problems = report.write(tmp_path)
    assert problems == []


def test_a_consistent_hand_edit_is_named_and_left_out(tmp_path: Path) -> None:
    edit_consistently(written(tmp_path))
    assert results.load(tmp_path).problems == []  # the arithmetic holds: only the seal can tell
    run = bench("report", "--results", str(tmp_path), env=NO_ENGINE)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0] == f"warning: left out {tmp_path}/{FILE}: {seal.EDITED}"
    readme = pages(tmp_path)
    assert "edited after measurement" in readme and f"`{FILE}`" in readme
    assert "60,000,000" not in readme and "30,000,000" not in readme
    assert "60000000" not in (tmp_path / "flops.csv").read_text()


def test_an_edited_record_is_not_taken_as_recorded(tmp_path: Path) -> None:
    path = written(tmp_path)
    assert matrix.recorded_key(tmp_path, KEY) == "k"
    edit_consistently(path)
    assert matrix.recorded_key(tmp_path, KEY) == ""  # measured again on the next run


def test_without_its_seal_the_same_edit_passes(tmp_path: Path) -> None:
    """The twin: the same edit of a record the host did not seal is published, and taken as recorded."""
    entry = samples.ok()
    entry["host"]["inputs_key"] = "k"
    path = KEY.path(tmp_path, "ok")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(entry))
    edit_consistently(path)
    _, problems = report.write(tmp_path)
    assert problems == [] and matrix.recorded_key(tmp_path, KEY) == "k"
    assert "60,000,000" in pages(tmp_path)
