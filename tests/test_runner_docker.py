"""The runner and the build against a real engine, with real containers that misbehave on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest

from bench import bases, cells, images, matrix, paths, results, runner
from bench.results import Key
from tests import samples

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def base_image(client: docker.DockerClient) -> str:
    """The local bookworm base (bootstrapped if missing): a real image with a shell and no Python."""
    resolved = bases.Bases(client, "local", bases.DEFAULT_MIRROR).resolve(cells.load()["torch-latest"])
    return resolved.reference


def probe(client: docker.DockerClient, image: str, command: list[str], timeout: float = 60) -> runner.ProbeRun:
    return runner.probe(client, image, Key("c", "seed", "thop"), {}, timeout, "256m", command=command)


def test_a_crash_is_reported_with_its_last_words(client: docker.DockerClient, base_image: str) -> None:
    run = probe(client, base_image, ["sh", "-c", "echo starting >&2; echo boom >&2; exit 3"])
    assert run.failure == "probe exited with code 3: boom"
    assert run.log_tail == "starting\nboom\n"


def test_garbage_on_stdout_is_reported(client: docker.DockerClient, base_image: str) -> None:
    run = probe(client, base_image, ["sh", "-c", "echo '[INFO] Register count_convNd()'"])
    assert run.failure.startswith("probe printed no JSON document (stdout began: '[INFO] Register")


def test_a_hang_is_stopped_at_the_timeout(client: docker.DockerClient, base_image: str) -> None:
    run = probe(client, base_image, ["sleep", "600"], timeout=3)
    assert run.failure == "probe timed out after 3 s"
    assert run.seconds < 60


def test_the_probe_has_no_network_and_sees_its_files(client: docker.DockerClient, base_image: str) -> None:
    status, stdout, _ = runner.run(client, base_image, ["sh", "-c", "ls /sys/class/net; ls /probe"], {}, 60, "256m")
    lines = stdout.decode().split()
    assert status == 0
    assert "lo" in lines and "eth0" not in lines
    assert "probe.py" in lines


def test_no_container_is_left_behind(client: docker.DockerClient, base_image: str) -> None:
    probe(client, base_image, ["true"])
    assert client.containers.list(all=True, filters={"label": "org.flops-matrix.probe=1"}) == []


def test_a_failed_build_keeps_earlier_results(
    client: docker.DockerClient, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements"
    requirements.mkdir()
    (requirements / "broken.txt").write_text("thop==99.0\n")
    monkeypatch.setattr(paths, "REQUIREMENTS", requirements)
    local = cells.Base(kind="local", python="3.11", requirements="broken.txt", suite="bookworm")
    cell = cells.Cell(
        name="broken",
        framework="torch",
        counters=("thop",),
        summary="pins a thop that does not exist",
        registry=cells.Base(kind="registry", unavailable="test"),
        local=local,
    )
    store = tmp_path / "results"
    results.write(store, samples.ok("broken", "seed", "thop", raw=42))
    options = matrix.Options(results=store, base_mode="local", mirror=bases.DEFAULT_MIRROR)

    summary = matrix.run(client, [cell], ["seed"], options)

    assert summary.counts["failed"] == 1
    failure = json.loads((store / "broken" / "seed" / "thop.failed.json").read_text())
    assert failure["reason"].startswith("build failed: ERROR: ")
    assert "thop==99.0" in failure["reason"] or "thop==99.0" in failure["log_tail"]
    assert json.loads((store / "broken" / "seed" / "thop.json").read_text())["probe"]["raw_total"] == 42
    assert not client.images.list(name=f"{images.REPOSITORY}/broken")
