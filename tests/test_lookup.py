"""`nox -s lookup -- MODEL [COUNTER]`: one model's table from its records, and one line for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from bench.publish import lookup
from bench.records import results
from tests import samples
from tests.test_report import seed_conv


def shown(argv: list[str]) -> tuple[int, str]:
    console = Console(record=True, width=240, force_terminal=False)
    code = lookup.main(argv, console)
    return code, console.export_text()


@pytest.fixture
def where(tmp_path: Path) -> Path:
    for entry in (
        seed_conv(),
        samples.ok(model="seed-conv", counter="thop", cell="torch-y"),
        samples.failed("tf-x", "seed-conv", "tf-profiler-seed"),
        samples.ok(model="other"),
    ):
        results.write(tmp_path, entry)
    return tmp_path


def test_a_model_gets_every_counter_its_number_distance_and_causes(where: Path) -> None:
    code, text = shown(["seed-conv", "--results", str(where)])
    assert code == 0
    assert "seed-conv: analytic reference 13,403,072 FLOPs" in text
    assert "torch-x / thop" in text and "torch-y / thop" in text and "12,614,656" in text
    assert "- 788,416 (94.1%)" in text and "bias adds" in text
    assert "tf-x / tf-profiler-seed" in text and "probe exited with code 1: boom" in text
    assert "other" not in text.split("\n", 1)[1]  # another model's records are not read


def test_a_counter_narrows_the_table(where: Path) -> None:
    code, text = shown(["seed-conv", "tf-profiler-seed", "--results", str(where)])
    assert code == 0 and "tf-x / tf-profiler-seed" in text and "torch-x / thop" not in text


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["nothing"], "error: no records of model 'nothing' under "),
        (["seed-conv", "fvcore"], "error: model 'seed-conv' has no records of counter 'fvcore' (counters: "),
    ],
)
def test_a_model_or_counter_without_records_is_one_line_and_exit_2(
    where: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    code, text = shown([*argv, "--results", str(where)])
    err = capsys.readouterr().err
    assert code == lookup.EXIT_USAGE and text == ""
    assert err.startswith(said) and err.count("\n") == 1
