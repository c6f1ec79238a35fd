"""--verify's draw and comparison (pure logic: hand-made records in a folder, never results)."""

from __future__ import annotations

from pathlib import Path

from bench.records import results
from bench.run import verify
from tests import samples

PLANNED = {"torch-x": [results.Key("torch-x", f"m{n}", "thop") for n in range(6)]}


def recorded(where: Path, raws: dict[str, int]) -> None:
    for model, raw in raws.items():
        results.write(where, samples.ok(model=model, raw=raw))


def test_a_draw_is_seeded_and_takes_recorded_measurements_only(tmp_path: Path) -> None:
    recorded(tmp_path, {f"m{n}": 10 for n in range(5)})  # m5 has no record
    drawn = verify.draw(tmp_path, PLANNED, 3, seed=7)
    assert drawn == verify.draw(tmp_path, PLANNED, 3, seed=7) and len(drawn) == 3
    assert all(key.model != "m5" for key in drawn)
    assert len(verify.draw(tmp_path, PLANNED, 50, seed=7)) == 5  # all of them, when fewer than asked


def test_the_same_numbers_give_no_difference(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    recorded(before, {"m0": 10, "m1": 12})
    recorded(after, {"m0": 10, "m1": 12})
    assert verify.differences(before, after, PLANNED["torch-x"][:2]) == []


def test_a_number_that_moved_is_named_with_both_values(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    recorded(before, {"m0": 10, "m1": 12})
    recorded(after, {"m0": 10, "m1": 13})
    assert verify.differences(before, after, PLANNED["torch-x"][:2]) == [
        "torch-x / m1 / thop: raw_total 12 -> 13, flops 24 -> 26"
    ]


def test_a_job_that_gave_nothing_this_time_is_named_with_its_reason(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    recorded(before, {"m0": 10})
    results.write(after, samples.failed(model="m0", reason="probe exited with code 1: boom"))
    assert verify.differences(before, after, PLANNED["torch-x"][:1]) == [
        "torch-x / m0 / thop: no measurement this time: probe exited with code 1: boom"
    ]
