"""The matrix on a real Ray cluster (--ray): two nodes on this host, each bound to its own Docker engine.

The cluster: a head that only coordinates (the driver attaches to it, so that either engine's node can be
killed) and two nodes offering `docker_engine`, one with the default engine, one with a second dockerd
(docker/second-engine.sh, under names of its own). The second engine gets the cells' images from the
first (docker save | load: an image's tag is its inputs hash), so nothing is built cold.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.run import cells, cluster, images, matrix, runner
from tests import samples

CELLS = "tf-1.12.0,torch-latest"
MODELS = "seed-conv"
KILLED = "torch-latest"  # the cell with many jobs: its node is killed after it sent some
DEFAULT = "unix:///var/run/docker.sock"
SECOND = {"FLOPS_ENGINE_NAME": "flops-matrix-ray", "FLOPS_ENGINE_BRIDGE": "fm-ray"}
SECOND |= {"FLOPS_ENGINE_ADDRESS": "10.216.0.1/24"}
RAY = str(Path(sys.executable).parent / "ray")


def bench(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bench", "matrix", "--base", "local", "--cells", CELLS, "--models", MODELS]
    return subprocess.run([*command, *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=3600)


def numbers(where: Path) -> dict[tuple[str, str, str], int]:
    """Each measurement's raw total, by (cell, model, job)."""
    found = {}
    for path in where.glob("*/*/*.json"):
        entry = json.loads(path.read_text())
        if entry["status"] == "ok" and entry["kind"] == "count":
            found[(entry["cell"], entry["model"], entry["job"])] = entry["probe"]["raw_total"]
    return found


def engines_of(where: Path, cell: str = "*") -> set[str]:
    return {json.loads(p.read_text())["host"].get("engine", "") for p in where.glob(f"{cell}/*/*.json")}


def measured() -> int:
    """The planned jobs not expected to fail."""
    table = cells.load()
    planned = matrix.plan([table[c] for c in CELLS.split(",")], [MODELS])
    return sum(1 for keys in planned.values() for k in keys if not table[k.cell].expected(k.job, k.model))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`ray start --block` processes, each in its own session; stopped by killing each one's process tree
    (Ray's workers are the raylet's children, in process groups of their own)."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="fm-ray-", dir="/tmp"))  # short: Ray's sockets live here
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, docker_host: str | None, args: list[str]) -> None:
        env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("DOCKER_HOST", None)
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        log = (self.temp / f"{name}.log").open("w")
        self.nodes[name] = subprocess.Popen(
            [RAY, "start", "--block", "--temp-dir", str(self.temp / name), "--disable-usage-stats", *args],
            cwd=paths.ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def engine_node(self, name: str, docker_host: str) -> None:
        resources = json.dumps({cluster.RESOURCE: 1})
        self.start(name, docker_host, ["--address", self.address, "--num-cpus", "1", "--resources", resources])

    def wait_for(self, engines: int, seconds: float = 120) -> None:
        """Until the cluster offers `engines` Docker engines."""
        probe = "import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR')"
        probe += f"; print(int(ray.cluster_resources().get('{cluster.RESOURCE}', 0)))"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            stopped = {name: node.returncode for name, node in self.nodes.items() if node.poll() is not None}
            assert not stopped, f"Ray nodes ended: {stopped}; see {self.temp}/*.log"
            try:
                found = subprocess.run(
                    [sys.executable, "-c", probe, self.address], capture_output=True, text=True, timeout=30
                )
            except subprocess.TimeoutExpired:
                continue
            if found.stdout.strip() == str(engines):
                return
            time.sleep(1)
        raise AssertionError(f"the Ray cluster did not offer {engines} engines within {seconds:g} s")

    def kill(self, name: str) -> None:
        """The node's raylet, its workers and every other process of it, at once (SIGKILL)."""
        for pid in _tree(self.nodes[name].pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.nodes[name].wait(30)

    def stop(self) -> None:
        for name in list(self.nodes):
            self.kill(name)
        subprocess.run(["rm", "-rf", str(self.temp)], check=False)


def _tree(root: int) -> list[int]:
    """`root` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@pytest.fixture(scope="module")
def second_engine(client: docker.DockerClient) -> Iterator[str]:
    env = os.environ | SECOND
    started = subprocess.run(
        ["sh", "docker/second-engine.sh", "start"], cwd=paths.ROOT, env=env, capture_output=True, text=True
    )
    try:
        assert started.returncode == 0, started.stderr
        yield started.stdout.strip()
    finally:
        subprocess.run(["sh", "docker/second-engine.sh", "purge"], cwd=paths.ROOT, env=env, capture_output=True)
        subprocess.run(["ip", "link", "del", SECOND["FLOPS_ENGINE_BRIDGE"]], capture_output=True)


@pytest.fixture(scope="module")
def one_engine(second_engine: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cells on the default engine alone (no Ray): the numbers to match; then their images on the second."""
    where = tmp_path_factory.mktemp("one")
    started = time.monotonic()
    run = bench("--results", str(where), "--engine", DEFAULT)
    assert run.returncode == 0, run.stderr[-2000:]
    print(f"\n1 engine: {time.monotonic() - started:.1f} s", file=sys.stderr)
    for name in CELLS.split(","):
        saved = subprocess.Popen(["docker", "-H", DEFAULT, "save", _image(name)], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "-H", second_engine, "load"], stdin=saved.stdout, capture_output=True)
        assert saved.wait() == 0 and loaded.returncode == 0, loaded.stderr
    return where


@pytest.fixture(scope="module")
def ray_cluster(second_engine: str) -> Iterator[Cluster]:
    nodes = Cluster()
    try:
        head = ["--head", "--port", str(nodes.port), "--num-cpus", "0", "--include-dashboard", "false"]
        head += ["--dashboard-port", str(_free_port())]
        nodes.start("head", None, head)
        nodes.engine_node("default", DEFAULT)
        nodes.engine_node("second", second_engine)
        nodes.wait_for(2)
        yield nodes
    finally:
        nodes.stop()
        for url in (DEFAULT, second_engine):  # what a killed node left: the tests after count leftovers
            runner.remove_leftovers(docker.DockerClient(base_url=url))


@pytest.mark.docker
def test_two_ray_nodes_give_the_numbers_of_one_engine(
    one_engine: Path, ray_cluster: Cluster, second_engine: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = bench("--results", str(tmp_path), "--ray", ray_cluster.address)
    print(f"\n2 Ray nodes: {time.monotonic() - started:.1f} s", file=sys.stderr)
    assert run.returncode == 0, run.stderr[-2000:]
    assert numbers(tmp_path) == numbers(one_engine) and len(numbers(one_engine)) == measured()
    assert engines_of(tmp_path) == {DEFAULT, second_engine}  # each node took a cell
    again = bench("--results", str(tmp_path), "--ray", ray_cluster.address)  # the same cache as a local run
    assert again.returncode == 0 and f"{measured()} already recorded for the same inputs" in again.stderr


@pytest.mark.docker
def test_a_killed_node_loses_no_record_and_its_cell_finishes_on_the_other(
    one_engine: Path, ray_cluster: Cluster, second_engine: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "bench", "matrix", "--base", "local", "--cells", CELLS, "--models", MODELS]
    run = subprocess.Popen(
        [*command, "--results", str(tmp_path), "--ray", ray_cluster.address],
        cwd=paths.ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=samples.default_signals,
    )
    try:
        sent = _first_records(tmp_path / KILLED, 2)
        before = {path: path.read_bytes() for path in tmp_path.glob("*/*/*.json")}
        killed = json.loads(sent[0].read_text())["host"]["engine"]
        ray_cluster.kill("default" if killed == DEFAULT else "second")
        _, stderr = run.communicate(timeout=600)
    finally:
        run.kill()
    assert run.returncode == 0, stderr[-2000:]
    assert all(path.read_bytes() == data for path, data in before.items())  # nothing sent was lost or redone
    assert numbers(tmp_path) == numbers(one_engine)
    assert engines_of(tmp_path, KILLED) == {DEFAULT, second_engine}  # the rest of the cell: on the other node
    lost = [line for line in stderr.splitlines() if "Ray node lost" in line]
    assert len(lost) == 1 and f"[{KILLED}]" in lost[0] and "Traceback" not in stderr


def _first_records(where: Path, count: int, seconds: float = 600) -> list[Path]:
    """Until `count` measurements of the cell are written."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = sorted(where.glob("*/*.json"))
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {count} records under {where}")


def test_different_numbers_are_seen(tmp_path: Path) -> None:
    """The twin of the comparisons above: one raw total off, or one engine alone, and they fail."""
    from bench.records import results

    one, two = tmp_path / "one", tmp_path / "two"
    for where, raw, engine in ((one, 7, DEFAULT), (two, 8, DEFAULT)):
        entry = samples.ok("torch-x", "toy", "thop", raw=raw)
        entry["host"]["engine"] = engine
        results.write(where, entry)
    assert numbers(one) != numbers(two)
    assert engines_of(two) != {DEFAULT, "unix:///run/flops-matrix-ray/docker.sock"}


@pytest.mark.docker
def test_sigterm_stops_a_ray_run_in_one_line_and_removes_its_containers(
    one_engine: Path, ray_cluster: Cluster, second_engine: str, tmp_path: Path
) -> None:
    """Ray's driver installs its own SIGTERM handler, which would end the run with no word: the CLI's stands."""
    command = [sys.executable, "-m", "bench", "matrix", "--base", "local", "--cells", KILLED, "--models", MODELS]
    run = subprocess.Popen(
        [*command, "--results", str(tmp_path), "--ray", ray_cluster.address],
        cwd=paths.ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=samples.default_signals,
    )
    try:
        _first_records(tmp_path / KILLED, 1)
        workers = {pid for node in ray_cluster.nodes.values() for pid in _tree(node.pid)}  # the probes' owners
        run.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, stderr = run.communicate(timeout=120)
        took = time.monotonic() - sent
    finally:
        run.kill()
    assert run.returncode == 143 and took < 10, (took, stderr[-2000:])
    assert stderr.strip().splitlines()[-1].startswith("error: stopped by SIGTERM; results written so far are kept")
    owners = {f"{socket.gethostname()}:{pid}" for pid in workers}

    def left() -> dict[str, list[str]]:
        found = {}
        for url in (DEFAULT, second_engine):
            listed = docker.DockerClient(base_url=url).containers.list(all=True, filters={"label": runner.LABEL})
            found[url] = [c.name for c in listed if c.labels.get(runner.LABEL_OWNER) in owners]
        return found

    deadline = time.monotonic() + 6 * runner.STOP_S  # the node's task removes its containers once cancelled
    while any(left().values()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not any(left().values()), left()


def _image(cell: str) -> str:
    declared, _ = matrix.declarations(cells.load()[cell], "local")
    return images.tag_for(declared["local"])
