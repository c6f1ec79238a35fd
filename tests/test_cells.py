import re
from pathlib import Path

import pytest

from bench.probe import catalog
from bench.run import cells


def test_every_cell_in_the_file_is_complete() -> None:
    loaded = cells.load()
    assert list(loaded) == [
        "tf-1.12.0",
        "tf-2.3.1",
        "tf-2.5.3",
        "torch-1.10.1",
        "tf-latest",
        "torch-latest",
        "torch-ultralytics-thop",
        "torch-libraries",
        "keras3-jax",
        "keras3-tf",
        "twins",
    ]
    for cell in loaded.values():
        assert cell.jobs() and all(c in catalog.COUNTERS for c in cell.counters)
        assert all(c in catalog.CHECKS for c in cell.checks)
        assert all(catalog.COUNTERS[c].framework == cell.framework for c in cell.counters)
        assert not cell.registry.unavailable and cell.registry.image.startswith("python:")


def test_tf_2_3_1_has_no_local_base_and_says_why() -> None:
    local = cells.load()["tf-2.3.1"].local
    assert "3.5-3.8" in local.unavailable


def test_unknown_cell_and_model_are_named_with_the_known_ones() -> None:
    with pytest.raises(cells.CellError, match="unknown cell tf-9.9 .*known: tf-1.12.0"):
        cells.pick(cells.load(), ["tf-1.12.0", "tf-9.9"])
    with pytest.raises(cells.CellError, match="unknown model resnet .*known: .*seed"):
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


def test_an_empty_list_is_refused_not_taken_for_all() -> None:
    with pytest.raises(cells.CellError, match="list of cells is empty"):
        cells.pick(cells.load(), [])
    with pytest.raises(cells.CellError, match="list of models is empty"):
        cells.pick_models([])


GOOD = '[[cell]]\nname = "x"\nframework = "torch"\ncounters = ["thop"]\nsummary = "s"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('name = "x"', 'name = "x'), r"not valid TOML: .*\(at line 2, column \d+\)"),
        (GOOD + "[oops\n", r"not valid TOML: .*line 6"),
        (GOOD.replace('["thop"]', '"thop"'), "cell x: key 'counters' must be a list of strings, not str 'thop'"),
        (GOOD.replace('"s"', "3"), "cell x: key 'summary' must be a string, not int"),
        (GOOD.replace('name = "x"', "name = 5"), "cell #1 \\(no name\\): key 'name' must be a string"),
        (GOOD + 'countres = ["thop"]\n', "cell x: unknown key 'countres'"),
        (GOOD + "env = { A = 1 }\n", "cell x: key 'env' must be a table of strings"),
        (GOOD + 'local = { suite = 7, python = "3.11", requirements = "r" }\n', "cell x: local base: key 'suite'"),
        (GOOD + 'local = { sweet = "bookworm" }\n', "cell x: local base: unknown key 'sweet'"),
        (GOOD + 'registry = "python:3.11-slim"\n', "cell x: key 'registry' must be a table"),
        (GOOD.replace('summary = "s"\n', ""), "cell x: missing key 'summary'"),
        ('cell = "x"\n', "expected only \\[\\[cell\\]\\] tables"),
        ("[[cells]]\n", "expected only \\[\\[cell\\]\\] tables, found 'cells'"),
        ("", "defines no \\[\\[cell\\]\\]"),
        (GOOD.replace('"x"', '"../../fm-evil"'), "cell '../../fm-evil': key 'name' must be lower-case letters"),
        (GOOD.replace('"x"', '"X"'), "cell 'X': key 'name' must be lower-case letters"),
        (GOOD + 'dockerfile = "../../../../etc/shadow"\n', "cell 'x': key 'dockerfile' must be a file name in docker/"),
        (GOOD + 'dockerfile = "Dockerfile.nope"\n', "cell x: docker/Dockerfile.nope is missing"),
        (
            GOOD + 'local = { suite = "bookworm", python = "3.11", requirements = "../../../etc/passwd" }\n',
            "cell x: local base: key 'requirements' must be a file name in docker/requirements/",
        ),
        (
            GOOD + 'local = { suite = "bookworm; rm -rf /", python = "3.11", requirements = "r" }\n',
            "cell x: local base: key 'suite' must be a Debian suite",
        ),
        (
            GOOD + 'registry = { image = "python:3.11-slim", python = "3.11 --x", requirements = "r" }\n',
            "cell x: registry base: key 'python' must be a Python version",
        ),
    ],
)
def test_a_malformed_cells_file_is_named_with_the_line_or_the_cell_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "cells.toml"
    path.write_text(text)
    with pytest.raises(cells.CellError, match=f"^{re.escape(str(path))}: .*{message}") as raised:
        cells.load(path)
    assert "\n" not in str(raised.value)


def test_a_well_formed_cells_file_loads(tmp_path: Path) -> None:
    """The twin of the malformed ones: the same entry, well formed, is one cell."""
    path = tmp_path / "cells.toml"
    path.write_text(GOOD + 'env = { A = "1" }\nlocal = { unavailable = "not here" }\n')
    (cell,) = cells.load(path).values()
    assert (cell.name, cell.counters, cell.env, cell.local.unavailable) == ("x", ("thop",), {"A": "1"}, "not here")


def test_a_missing_cells_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(cells.CellError, match=f"{re.escape(str(tmp_path))}/nope.toml: cannot read: No such file"):
        cells.load(tmp_path / "nope.toml")


def test_an_expected_failure_must_name_a_job_of_its_cell(tmp_path: Path) -> None:
    text = cells.paths.CELLS_FILE.read_text()
    good = tmp_path / "good.toml"
    good.write_text(text)
    assert cells.load(good)["tf-latest"].expected_failures
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('expected_failures = { "keras-flops"', 'expected_failures = { "keras-flop"'))
    with pytest.raises(cells.CellError, match="expected_failures names \\['keras-flop'\\]"):
        cells.load(bad)


def test_an_expected_failure_can_name_the_models_it_holds_for(tmp_path: Path) -> None:
    text = cells.paths.CELLS_FILE.read_text()
    entry = '\n[[cell]]\nname = "x"\nframework = "torch"\ncounters = ["thop", "fvcore"]\nsummary = "s"\n'
    unavailable = 'registry = { unavailable = "u" }\nlocal = { unavailable = "u" }\n'
    good = tmp_path / "good.toml"
    good.write_text(
        text
        + entry
        + 'expected_failures = { "fvcore" = { avgpool = "why", llama-7b = "big" }, "*" = { vgg16 = "all" } }\n'
        + unavailable
    )
    cell = cells.load(good)["x"]
    assert cell.expected("fvcore", "avgpool") == "why" and cell.expected("thop", "vgg16") == "all"
    assert cell.expected("fvcore", "llama-7b") == "big"  # a model too big to hold is a model too
    assert cell.expected("fvcore", "maxpool") == "" and cell.expected("thop", "avgpool") == ""  # the twins
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text + entry + 'expected_failures = { "fvcore" = { avgpol = "why", llama-8b = "w" } }\n' + unavailable
    )
    with pytest.raises(cells.CellError, match="expected_failures names models \\['avgpol', 'llama-8b'\\]"):
        cells.load(bad)


def test_names_that_stay_inside_docker_load(tmp_path: Path) -> None:
    """The twin of the path checks: plain names, and the Dockerfile that is there, are taken."""
    path = tmp_path / "cells.toml"
    path.write_text(GOOD.replace('"x"', '"tf-1.12.0_b"') + 'dockerfile = "Dockerfile"\nlocal = { unavailable = "u" }\n')
    (cell,) = cells.load(path).values()
    assert (cell.name, cell.dockerfile) == ("tf-1.12.0_b", "Dockerfile")
