from pathlib import Path

import pytest

from bench import cells
from bench.probe import catalog


def test_every_cell_in_the_file_is_complete() -> None:
    loaded = cells.load()
    assert list(loaded) == ["tf-1.12.0", "tf-2.3.1", "tf-2.5.3", "torch-1.10.1", "tf-latest", "torch-latest", "twins"]
    for cell in loaded.values():
        assert cell.jobs() and all(c in catalog.COUNTERS for c in cell.counters)
        assert all(c in catalog.CHECKS for c in cell.checks)
        assert all(catalog.COUNTERS[c][0] == cell.framework for c in cell.counters)
        assert not cell.registry.unavailable and cell.registry.image.startswith("python:")


def test_tf_2_3_1_has_no_local_base_and_says_why() -> None:
    local = cells.load()["tf-2.3.1"].local
    assert "3.5-3.8" in local.unavailable


def test_unknown_cell_and_model_are_named_with_the_known_ones() -> None:
    with pytest.raises(cells.CellError, match="unknown cell tf-9.9 .*known: tf-1.12.0"):
        cells.pick(cells.load(), ["tf-1.12.0", "tf-9.9"])
    with pytest.raises(cells.CellError, match="unknown model resnet .*known: seed"):
        cells.pick_models(["resnet"])


def test_no_names_means_everything() -> None:
    assert [c.name for c in cells.pick(cells.load(), None)] == list(cells.load())
    assert cells.pick_models(None) == list(catalog.MODELS)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "x"\nframework = "torch"\ncounters = ["flopsy"]\nsummary = "s"', "unknown counters"),
        (
            'name = "x"\nframework = "torch"\ncounters = ["thop"]\nsummary = "s"\n'
            'local = { suite = "bookworm", python = "3.11" }',
            "local base lacks requirements",
        ),
        (
            'name = "x"\nframework = "torch"\ncounters = ["thop"]\nsummary = "s"\n'
            'local = { suite = "bookworm", python = "3.11", requirements = "nope.txt" }',
            "nope.txt is missing",
        ),
        ('name = "x"\ncounters = ["thop"]', "missing key 'framework'"),
        ('name = "x"\nframework = "torch"\nsummary = "s"', "neither counters nor checks"),
        ('name = "x"\nframework = "torch"\nchecks = ["vibes"]\nsummary = "s"', "unknown checks"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "cells.toml"
    path.write_text(f"[[cell]]\n{entry}\n")
    with pytest.raises(cells.CellError, match=message):
        cells.load(path)


def test_a_cell_defined_twice_is_refused(tmp_path: Path) -> None:
    entry = '[[cell]]\nname = "x"\nframework = "torch"\ncounters = ["thop"]\nsummary = "s"\n'
    path = tmp_path / "cells.toml"
    path.write_text(entry + entry)
    with pytest.raises(cells.CellError, match="defined twice"):
        cells.load(path)
