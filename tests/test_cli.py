"""The command line's promises for bad input: one line on stderr, a non-zero exit, nothing touched."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import cli, paths
from bench.probe import catalog
from bench.records import results
from tests import samples
from tests.test_results import full_disk

CELLS = cli.CELLS_FILE_VARIABLE


def bench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cells", "tf-9.9"], "error: unknown cell tf-9.9 (known: tf-1.12.0, tf-2.3.1"),
        (["--models", "resnet-50"], f"error: unknown model resnet-50 (known: {', '.join(catalog.MODELS)}"),
        (["--ca-bundle", "/nonexistent.pem"], "error: CA bundle /nonexistent.pem (from --ca-bundle) is not a file"),
    ],
)
def test_bad_requests_get_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    run = bench("matrix", "--results", str(tmp_path), *args)
    assert run.returncode == 2
    assert run.stderr.startswith(message)
    assert len(run.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_count_refuses_a_file_it_cannot_count_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "seed.py").write_text("def torch_model():\n    pass\n")  # a zoo model's name
    (tmp_path / "empty.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("")
    for file, message in [
        ("missing.py", "missing.py: not a Python file"),
        ("notes.txt", "notes.txt: not a Python file"),
        ("seed.py", "seed.py: seed is a model of the zoo's; name your file otherwise"),
        ("empty.py", "empty.py: defines neither torch_model() nor keras_model() at its top level"),
    ]:
        run = bench("count", str(tmp_path / file), "--results", str(tmp_path / "results"))
        assert run.returncode == 2, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "results").exists()


def test_no_engine_gets_one_line_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "earlier.json").write_text("{}")
    run = bench("matrix", "--results", str(tmp_path), env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert run.returncode == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no Docker engine answers")
    assert "docker/setup-host.sh" in lines[0]
    assert [p.name for p in tmp_path.iterdir()] == ["earlier.json"]


def test_report_needs_no_engine(tmp_path: Path) -> None:
    run = bench("report", "--results", str(tmp_path), env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "README.md").is_file()


NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory", "1k"], "error: argument --memory: '1k' is below the minimum of 64m"),
        (["--memory", "63m"], "error: argument --memory: '63m' is below the minimum of 64m"),
        (["--memory", "banana"], "error: argument --memory: 'banana' is not a Docker memory size"),
        (["--memory", "4gb"], "error: argument --memory: '4gb' is not a Docker memory size"),
        (["--probe-timeout", "0"], "error: argument --probe-timeout: '0' must be a finite number of seconds above 0"),
        (["--probe-timeout", "-5"], "error: argument --probe-timeout: '-5' must be a finite number"),
        (["--probe-timeout", "nan"], "error: argument --probe-timeout: 'nan' must be a finite number"),
        (["--probe-timeout", "inf"], "error: argument --probe-timeout: 'inf' must be a finite number"),
        (["--probe-timeout", "soon"], "error: argument --probe-timeout: 'soon' is not a number of seconds"),
        (["--probe-timeout", "1e308"], "error: argument --probe-timeout: '1e308' is more than 86400 seconds (a day)"),
        (["--probe-timeout", "1e10"], "error: argument --probe-timeout: '1e10' is more than 86400 seconds (a day)"),
        (["--cells", ""], "error: argument --cells: the list '' is empty"),
        (["--cells", " , "], "error: argument --cells: the list ' , ' is empty"),
        (["--models", ""], "error: argument --models: the list '' is empty"),
        (["--base", "cloud"], "error: argument --base: invalid choice: 'cloud'"),
        (["--jobs", "0"], "error: argument --jobs: '0' must be 1 or more"),
        (["--jobs", "two"], "error: argument --jobs: 'two' is not a whole number"),
        (["--cpus", "0"], "error: argument --cpus: '0' is not a number of CPUs above 0"),
        (["--shard", "3/2"], "error: argument --shard: '3/2' is not a shard i/n with 1 <= i <= n"),
        (["--shard", "0/2"], "error: argument --shard: '0/2' is not a shard i/n"),
        (["--engine", "docker.example:2375"], "error: argument --engine: 'docker.example:2375' is not an engine URL"),
    ],
)
def test_bad_values_are_refused_before_any_engine_is_asked(tmp_path: Path, args: list[str], message: str) -> None:
    run = bench("matrix", "--results", str(tmp_path), *args, env=NO_ENGINE)
    assert run.returncode == 2
    assert run.stderr.startswith(message)
    assert len(run.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--memory", "64m"],
        ["--memory", "4G"],
        ["--memory", "70000000"],
        ["--probe-timeout", "0.5"],
        ["--probe-timeout", "1e3"],
        ["--probe-timeout", "86400"],
        ["--cells", "tf-1.12.0,", "--models", "seed"],
        ["--jobs", "3", "--cpus", "1.5", "--shard", "2/2", "--force"],
        ["--engine", "unix:///nonexistent/other.sock"],
    ],
)
def test_good_values_get_past_the_checks_to_the_engine(tmp_path: Path, args: list[str]) -> None:
    """The twin: the same options with sane values are taken, and the run goes on to look for an engine."""
    run = bench("matrix", "--results", str(tmp_path), *args, env=NO_ENGINE)
    assert run.returncode == 3 and run.stderr.startswith("error: no Docker engine answers"), run.stderr


def test_another_cells_file_is_read_from_the_environment(tmp_path: Path) -> None:
    cells_file = tmp_path / "cells.toml"
    cells_file.write_text('[[cell]]\nname = "solo"\nframework = "torch"\ncounters = ["thop"]\nsummary = "s"\n')
    results = tmp_path / "results"
    run = bench("matrix", "--results", str(results), "--cells", "solo", env=NO_ENGINE)
    assert run.returncode == 2 and run.stderr.startswith("error: unknown cell solo")  # docker/cells.toml has none
    run = bench("matrix", "--results", str(results), "--cells", "solo", env=NO_ENGINE | {CELLS: str(cells_file)})
    assert run.returncode == 3 and run.stderr.startswith("error: no Docker engine answers"), run.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[[cell]]\nname = "solo\n', "not valid TOML: Illegal character '\\n' (at line 2,"),
        (
            '[[cell]]\nname = "solo"\nframework = "torch"\ncounters = "thop"\nsummary = "s"\n',
            "cell solo: key 'counters'",
        ),
    ],
)
def test_a_malformed_cells_file_gets_one_line_naming_it(tmp_path: Path, text: str, where: str) -> None:
    cells_file = tmp_path / "cells.toml"
    cells_file.write_text(text)
    run = bench("matrix", "--results", str(tmp_path / "results"), env=NO_ENGINE | {CELLS: str(cells_file)})
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {cells_file}: {where}")
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_help_names_the_cells_file_variable() -> None:
    run = bench("matrix", "--help")
    assert run.returncode == 0 and CELLS in run.stdout


def test_a_bad_record_is_named_on_stderr_and_the_report_still_written(tmp_path: Path) -> None:
    results.write(tmp_path, samples.ok())
    (tmp_path / "torch-x" / "toy" / "tf.json").write_text('{"schema": ')
    run = bench("report", "--results", str(tmp_path), env=NO_ENGINE)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: left out {tmp_path}/torch-x/toy/tf.json: not valid JSON: Expecting value (line 1, column 12)"
    ]
    assert "**1 record could not be read or trusted**" in (tmp_path / "README.md").read_text()
    assert "## Unreadable or invalid records" in (tmp_path / "details.md").read_text()
    assert "| `toy` | torch-x | `thop` | 10 MAC | x2 | 20 |" in (tmp_path / "models" / "toy.md").read_text()


def test_a_clean_folder_gives_no_warnings(tmp_path: Path) -> None:
    results.write(tmp_path, samples.ok())
    run = bench("report", "--results", str(tmp_path), env=NO_ENGINE)
    assert run.returncode == 0 and "warning:" not in run.stderr


@pytest.mark.parametrize("command", ["report", "matrix"])
def test_a_results_folder_that_cannot_be_made_gets_one_line_and_exit_4(tmp_path: Path, command: str) -> None:
    (tmp_path / "file").write_text("")
    where = tmp_path / "file" / "results"
    run = bench(command, "--results", str(where), env=NO_ENGINE)
    assert run.returncode == cli.EXIT_UNWRITABLE, run.stderr
    assert run.stderr.startswith(f"error: cannot write {where}")
    assert run.stderr.strip().endswith(": Not a directory")
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_full_disk_keeps_the_earlier_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results.write(tmp_path, samples.ok())
    assert cli.main(["report", "--results", str(tmp_path)]) == 0  # the twin: it can be written
    earlier = (tmp_path / "README.md").read_text()
    results.write(tmp_path, samples.ok(raw=99))
    capsys.readouterr()
    monkeypatch.setattr(os, "fsync", full_disk)
    assert cli.main(["report", "--results", str(tmp_path)]) == cli.EXIT_UNWRITABLE
    assert capsys.readouterr().err == f"error: cannot write {tmp_path / 'README.md'}: No space left on device\n"
    assert (tmp_path / "README.md").read_text() == earlier


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "../../fm-evil"\n', "cell '../../fm-evil': key 'name' must be lower-case letters"),
        ('name = "x"\ndockerfile = "../../../../etc/shadow"\n', "cell 'x': key 'dockerfile' must be a file name"),
        ('name = "x"\ndockerfile = "Dockerfile.missing"\n', "cell x: docker/Dockerfile.missing is missing"),
    ],
)
def test_a_cell_that_names_a_path_is_refused_before_any_engine_is_asked(
    tmp_path: Path, entry: str, message: str
) -> None:
    cells_file = tmp_path / "cells.toml"
    body = 'framework = "torch"\ncounters = ["thop"]\nsummary = "s"\nlocal = { unavailable = "u" }\n'
    cells_file.write_text("[[cell]]\n" + entry + body)
    where = tmp_path / "results"
    run = bench("matrix", "--results", str(where), env={**NO_ENGINE, CELLS: str(cells_file)})
    assert run.returncode == 2, run.stderr
    assert run.stderr == f"error: {cells_file}: {message}" + run.stderr.split(message, 1)[1]
    assert len(run.stderr.strip().splitlines()) == 1 and "etc/shadow" not in run.stderr.split("not", 1)[0]
    assert not where.exists() and not (tmp_path.parent / "fm-evil").exists()
    cells_file.write_text('[[cell]]\nname = "x"\n' + body)  # the twin: a plain cell gets past, to the engine
    assert bench("matrix", "--results", str(where), env={**NO_ENGINE, CELLS: str(cells_file)}).returncode == 3


def test_a_failed_run_creates_no_results_folder(tmp_path: Path) -> None:
    where = tmp_path / "new" / "results"
    run = bench("matrix", "--results", str(where), env=NO_ENGINE)
    assert run.returncode == 3 and not (tmp_path / "new").exists()
    results.write(where, samples.ok())  # the twin: the folder appears with the first thing written
    assert where.is_dir()


def test_the_report_checks_it_can_write_before_it_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results.write(tmp_path, samples.ok())
    loads: list[Path] = []
    monkeypatch.setattr(results, "load", lambda where, *_: loads.append(where) or results.Loaded([], [], [], []))
    assert cli.main(["report", "--results", str(tmp_path)]) == 0 and loads == [tmp_path]  # the twin: writable

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(results.tempfile, "TemporaryFile", read_only)
    loads.clear()
    assert cli.main(["report", "--results", str(tmp_path)]) == cli.EXIT_UNWRITABLE
    assert loads == []  # refused before reading a record
