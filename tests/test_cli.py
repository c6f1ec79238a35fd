"""The command line's promises for bad input: one line on stderr, a non-zero exit, nothing touched."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import paths


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
        (["--models", "resnet-50"], "error: unknown model resnet-50 (known: seed, seed-conv)"),
        (["--ca-bundle", "/nonexistent.pem"], "error: CA bundle /nonexistent.pem (from --ca-bundle) is not a file"),
    ],
)
def test_bad_requests_get_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    run = bench("matrix", "--results", str(tmp_path), *args)
    assert run.returncode == 2
    assert run.stderr.startswith(message)
    assert len(run.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


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
