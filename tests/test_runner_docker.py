"""The runner and the build against a real engine, with real containers that misbehave on purpose."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.progress import Progress
from bench.records import results
from bench.records.results import Key
from bench.run import bases, cells, context, engine, images, matrix, runner
from tests import samples

pytestmark = pytest.mark.docker

KEYS = [Key("c", "seed", "thop"), Key("c", "seed-conv", "thop"), Key("c", "seed", "tf-profiler-seed")]


@pytest.fixture(scope="module")
def base_image(client: docker.DockerClient) -> str:
    """The local bookworm base (bootstrapped if missing): a real image with a shell and no Python."""
    resolved = bases.Bases(client, "local", bases.DEFAULT_MIRROR).resolve(cells.load()["torch-latest"])
    return resolved.reference


def ours(client: docker.DockerClient) -> list:
    """This process's probe containers (the engine may be shared with other runs)."""
    return client.containers.list(all=True, filters={"label": f"{runner.LABEL_OWNER}={runner.owner()}"})


def runs(
    client: docker.DockerClient, image: str, script: str, keys: list[Key] = KEYS[:1], timeout: float = 60
) -> list[runner.ProbeRun]:
    limits = runner.Limits(timeout_s=timeout, memory="256m", cpus=1)
    return list(runner.run_cell(client, image, "c", keys, {}, limits, command=lambda _: ["sh", "-c", script]))


def test_a_crash_is_reported_with_its_last_words(client: docker.DockerClient, base_image: str) -> None:
    (run,) = runs(client, base_image, "echo starting >&2; echo boom >&2; exit 3")
    assert run.failure == "probe exited with code 3: boom"
    assert run.log_tail == "starting\nboom\n"


def test_garbage_on_stdout_is_reported(client: docker.DockerClient, base_image: str) -> None:
    (run,) = runs(client, base_image, "echo '[INFO] Register count_convNd()'")
    assert run.failure.startswith("probe printed no JSON document (stdout began: '[INFO] Register")


def test_a_hang_is_stopped_at_the_timeout(client: docker.DockerClient, base_image: str) -> None:
    started = time.monotonic()
    (run,) = runs(client, base_image, "sleep 600", timeout=3)
    assert run.failure == "probe timed out after 3 s"
    assert time.monotonic() - started < 30


def test_the_jobs_a_dead_container_leaves_get_a_new_one(client: docker.DockerClient, base_image: str) -> None:
    script = """echo '{"job": 0, "event": "start"}'; echo '{"job": 0, "event": "failed", "reason": "r"}'; exit 5"""
    found = runs(client, base_image, script, keys=KEYS)
    assert [(r.key, r.failure) for r in found] == [
        (KEYS[0], "r"),
        (KEYS[1], "probe exited with code 5"),
        (KEYS[2], "r"),  # the third job ran in a second container
    ]


def test_the_probe_is_locked_down(client: docker.DockerClient, base_image: str) -> None:
    script = (
        "id -u; ls /sys/class/net; ls /probe; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status;"
        " touch /x 2>/dev/null || echo ro-root; touch /probe/x 2>/dev/null || echo ro-probe;"
        " touch /tmp/x && echo tmp-ok; echo home=$HOME"
    )
    container = runner.create(client, base_image, ["sh", "-c", script], {}, runner.Limits(cpus=1.5, pids=256))
    try:
        container.start()
        container.wait(timeout=60)
        out = container.logs(stdout=True, stderr=False).decode().split()
        config = container.attrs["HostConfig"]
    finally:
        runner.remove(container)
    assert out[0] == "65534"  # nobody
    assert "lo" in out and "eth0" not in out and "probe.py" in out
    assert out[out.index("CapEff:") + 1] == "0000000000000000" and out[out.index("NoNewPrivs:") + 1] == "1"
    assert {"ro-root", "ro-probe", "tmp-ok", "home=/tmp"} <= set(out)
    assert config["ReadonlyRootfs"] and config["CapDrop"] == ["ALL"] and config["PidsLimit"] == 256
    assert config["NanoCpus"] == 1_500_000_000 and "no-new-privileges" in config["SecurityOpt"]


def test_no_container_is_left_behind(client: docker.DockerClient, base_image: str) -> None:
    runs(client, base_image, "true")
    assert ours(client) == []


def test_a_killed_runs_containers_are_removed_and_a_live_ones_kept(
    client: docker.DockerClient, base_image: str
) -> None:
    dead = client.containers.create(
        base_image, ["sleep", "600"], labels={runner.LABEL: "1", runner.LABEL_OWNER: f"{socket.gethostname()}:999999"}
    )
    live = client.containers.create(
        base_image, ["sleep", "600"], labels={runner.LABEL: "1", runner.LABEL_OWNER: f"{socket.gethostname()}:1"}
    )
    try:
        assert runner.remove_leftovers(client) == 1
        ids = {c.id for c in client.containers.list(all=True, filters={"label": runner.LABEL})}
        assert dead.id not in ids and live.id in ids
    finally:
        live.remove(force=True)


def test_a_failed_build_keeps_earlier_results(
    client: docker.DockerClient, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements"
    requirements.mkdir()
    lock = _tools_of(paths.REQUIREMENTS / "torch-latest-py311.txt")  # so that the build gets as far as pip
    (requirements / "broken.txt").write_text(lock + "thop==99.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
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
    options = matrix.Options(results=store, base_mode="local", ca_bundle=context.ca_bundle_from_env(None))

    summary = matrix.run(engine.engines([]), [cell], ["seed"], options, Progress(live=False), threading.Event())

    assert summary.counts["failed"] == 1
    failure = json.loads((store / "broken" / "seed" / "thop.failed.json").read_text())
    assert failure["reason"].startswith("build failed: ERROR: ")
    assert "thop==99.0" in failure["reason"] or "thop==99.0" in failure["log_tail"]
    assert json.loads((store / "broken" / "seed" / "thop.json").read_text())["probe"]["raw_total"] == 42
    assert not client.images.list(name=f"{images.REPOSITORY}/broken")


def test_a_debian_pin_the_archive_no_longer_has_stops_the_build_in_one_line(
    client: docker.DockerClient, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = tmp_path / "debian"
    pins.mkdir()
    real = (paths.DEBIAN / "bookworm-python3.11.txt").read_text()
    wanted = next(line for line in real.splitlines() if line.startswith("python3.11="))
    (pins / "bookworm-python3.11.txt").write_text(real.replace(wanted, "python3.11=0.0-gone"))
    monkeypatch.setattr(paths, "DEBIAN", pins)
    cell = cells.load()["torch-ultralytics-thop"]
    store = tmp_path / "results"
    options = matrix.Options(results=store, base_mode="local", ca_bundle=context.ca_bundle_from_env(None))

    summary = matrix.run(engine.engines([]), [cell], ["seed-conv"], options, Progress(live=False), threading.Event())

    assert summary.counts["failed"] >= 1
    failure = json.loads((store / cell.name / "seed-conv" / "thop.failed.json").read_text())
    reason = failure["reason"]
    assert reason.startswith(
        "build failed: ERROR: Debian pins no longer in the archive: python3.11=0.0-gone (the archive has: "
    )
    assert wanted.split("=", 1)[1] in reason.split("the archive has:")[1]  # the versions it does have
    assert reason.endswith("refresh them with: nox -s lock -- --upgrade")


def _tools_of(lock: Path) -> str:
    """The entries of pip, setuptools and wheel in a lock, with their hash lines."""
    kept, keep = [], False
    for line in lock.read_text().splitlines():
        if line[:1].isalnum():
            keep = line.startswith(("pip==", "setuptools==", "wheel=="))
        if keep:
            kept.append(line)
    return "\n".join(kept) + "\n"


def test_an_event_for_a_job_that_does_not_exist_fails_that_job_in_one_line(
    client: docker.DockerClient, base_image: str
) -> None:
    script = """echo '{"job": 0, "event": "start"}'; echo '{"job": 7, "event": "done", "document": {}}'; sleep 600"""
    started = time.monotonic()
    found = runs(client, base_image, script, keys=KEYS[:2])
    assert found[0].failure == "probe sent an event that does not fit: job 7 is not one of the 2 jobs asked"
    assert found[1].key == KEYS[1] and time.monotonic() - started < 30  # the container was not waited out
    assert ours(client) == []


GO = """
echo '{"job": 0, "event": "start"}'; echo '{"job": 0, "event": "failed", "reason": "r0"}'
for i in $(seq 100); do [ -e /probe/go/1 ] && break; sleep 0.1; done
[ -e /probe/go/1 ] || exit 3
echo '{"job": 1, "event": "start"}'; echo '{"job": 1, "event": "failed", "reason": "r1"}'
"""


def test_the_host_lets_each_job_of_a_running_container_go(client: docker.DockerClient, base_image: str) -> None:
    """The go-ahead reaches a running container with a read-only root, job by job."""
    found = runs(client, base_image, GO, keys=KEYS[:2])
    assert [(r.key, r.failure) for r in found] == [(KEYS[0], "r0"), (KEYS[1], "r1")]


def test_without_a_go_ahead_the_job_does_not_run(client: docker.DockerClient, base_image: str) -> None:
    """The twin: the same probe waiting for a go-ahead the host never sends (job 1 is not asked) stops."""
    found = runs(client, base_image, GO.replace("go/1", "go/9"), keys=KEYS[:2])
    assert found[0].failure == "r0" and found[1].failure == "probe exited with code 3"
