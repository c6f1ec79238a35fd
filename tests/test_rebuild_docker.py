"""Rebuild anywhere, on real engines that have never built or pulled anything.

- The blog's cells (tf-1.12.0, torch-1.10.1, tf-2.5.3) are built from nothing on an engine with an
  empty data root, from today's archives, and give the committed numbers for the blog's two models.
- Images travel through a real OCI registry (Debian's docker-registry, on loopback): the fresh engine
  pushes tf-1.12.0, and a second empty engine pulls it instead of building and measures the same.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.records import results
from bench.run import bases, verify

pytestmark = pytest.mark.docker

BLOG_CELLS = ("tf-1.12.0", "torch-1.10.1", "tf-2.5.3")
MODELS = "seed,seed-conv"
PUSHED = "tf-1.12.0"


def bench(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=timeout
    )


def empty_engine(name: str, bridge: str, address: str) -> Iterator[str]:
    """A dockerd with a data root made empty first; stopped afterwards (the next use empties it: deleting
    gigabytes of layers takes minutes)."""
    env = os.environ | {"FLOPS_ENGINE_NAME": name, "FLOPS_ENGINE_BRIDGE": bridge, "FLOPS_ENGINE_ADDRESS": address}
    script = ["sh", "docker/second-engine.sh"]
    subprocess.run([*script, "purge"], cwd=paths.ROOT, env=env, check=True, capture_output=True)
    started = subprocess.run([*script, "start"], cwd=paths.ROOT, env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert docker.DockerClient(base_url=url).images.list(all=True) == []  # never built or pulled anything
    yield url
    subprocess.run([*script, "stop"], cwd=paths.ROOT, env=env, capture_output=True)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, client: docker.DockerClient) -> Iterator[str]:
    program = shutil.which("docker-registry")
    assert program, "docker-registry is not installed: run docker/setup-host.sh"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("registry")
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {folder / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    server = subprocess.Popen([program, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    try:
        yield f"127.0.0.1:{port}/flops-matrix-test"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def fresh(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[str]]]:
    """The blog's cells built on an empty engine (tf-1.12.0 pushed to the registry as it is built)."""
    where = tmp_path_factory.mktemp("fresh")
    for url in empty_engine("flops-matrix-fresh", "fm-fresh", "10.214.0.1/24"):
        common = ["--engine", url, "--base", "local", "--models", MODELS, "--results", str(where), "--force"]
        pushed = bench("matrix", *common, "--cells", PUSHED, "--registry", registry)
        rest = bench("matrix", *common, "--cells", ",".join(c for c in BLOG_CELLS if c != PUSHED))
        yield url, where, [pushed, rest]


def counted(where: Path, cells: tuple[str, ...]) -> dict[tuple[str, str, str], dict]:
    found = {}
    for cell in cells:
        for model in MODELS.split(","):
            for path in sorted((where / cell / model).glob("*.json")):
                entry = json.loads(path.read_text())
                if entry["status"] == "ok" and entry["kind"] == "count":
                    key = results.Key(cell, model, entry["job"])
                    found[(cell, model, entry["job"])] = verify.numbers(where, key)
    return found


def test_the_blog_cells_build_from_nothing_and_give_the_committed_numbers(fresh: tuple) -> None:
    url, where, runs = fresh
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        assert "built flops-matrix/" in run.stderr and "Traceback" not in run.stderr
    made = {tag.split(":")[0] for image in docker.DockerClient(base_url=url).images.list() for tag in image.tags}
    assert {f"flops-matrix/{cell}" for cell in BLOG_CELLS} <= made
    assert {bases.LOCAL_REPOSITORY} <= made  # the bases too were bootstrapped for this engine
    now, committed = counted(where, BLOG_CELLS), counted(paths.RESULTS, BLOG_CELLS)
    assert committed and set(now) == set(committed)
    assert {k: v for k, v in now.items() if committed[k] != v} == {}
    for path in sorted(where.glob("*/*/*.json")):
        image = json.loads(path.read_text())["host"]["image"]
        assert image["origin"] == "built" and image["base"]["kind"] == "local"


def test_an_empty_engine_pulls_from_the_registry_and_builds_nothing(
    fresh: tuple, registry: str, tmp_path: Path
) -> None:
    _, pushed_to, runs = fresh
    assert f"pushed {registry}/{PUSHED}:" in runs[0].stderr
    for url in empty_engine("flops-matrix-pull", "fm-pull", "10.215.0.1/24"):
        run = bench(
            "matrix",
            *["--engine", url, "--base", "local", "--models", MODELS, "--cells", PUSHED],
            *["--results", str(tmp_path), "--registry", registry],
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert "pulled " in run.stderr and "building " not in run.stderr
        tags = {tag for image in docker.DockerClient(base_url=url).images.list() for tag in image.tags}
        assert not any(tag.startswith(bases.LOCAL_REPOSITORY) for tag in tags)  # no base: nothing was built
    assert counted(tmp_path, (PUSHED,)) == counted(pushed_to, (PUSHED,)) != {}
    for path in sorted(tmp_path.glob("*/*/*.json")):
        assert json.loads(path.read_text())["host"]["image"]["origin"] == "pulled"
