"""The torch-libraries image, for real: torchvision's model classes build and run while its compiled ops do
not load (and without the image's declared schemas the package does not even import), each registry entry's
input is the one its library states, and one small library model is counted end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from bench import paths
from bench.models import libraries

pytestmark = pytest.mark.docker

CELL = "torch-libraries"
MODEL = "torchvision:squeezenet1_1"  # small: 0.35 GFLOPs


@pytest.fixture(scope="module")
def measured(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One small library model through the cell's counters: the results folder and the image it was measured in."""
    out = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [sys.executable, "-m", "bench", "matrix", "--base", "local", "--results", str(out)]
        + ["--cells", CELL, "--models", MODEL],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((out / CELL / libraries.disk_name(MODEL) / "exact.json").read_text())
    return out, record["host"]["image"]["id"]


def python_in(client: docker.DockerClient, image: str, script: str, before: str = "") -> tuple[int, str]:
    """Run a Python script in the image, offline (after a shell command `before`): exit code and output."""
    command = f"{before} /opt/venv/bin/python -c '{script}' 2>&1"
    container = client.containers.run(image, ["sh", "-c", command], network_disabled=True, detach=True)
    try:
        code = container.wait(timeout=600)["StatusCode"]
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


BUILD_AND_RUN = """
import torch, torchvision
model = torchvision.models.get_model("resnet18", weights=None).eval()
print("extension", torchvision.extension._has_ops(), "logits", tuple(model(torch.randn(1, 3, 224, 224)).shape))
"""


def test_torchvisions_model_classes_build_and_run_a_forward_pass(
    client: docker.DockerClient, measured: tuple[Path, str]
) -> None:
    code, out = python_in(client, measured[1], BUILD_AND_RUN)
    assert code == 0 and "extension False logits (1, 1000)" in out, out


def test_torchvisions_compiled_ops_do_not_load_as_stated(
    client: docker.DockerClient, measured: tuple[Path, str]
) -> None:
    code, out = python_in(client, measured[1], "import torchvision._C")
    assert code == 1 and "ImportError: libcudart.so.13: cannot open shared object file" in out, out
    nms = "import torch, torchvision; torchvision.ops.nms(torch.rand(3, 4), torch.rand(3), 0.5)"
    code, out = python_in(client, measured[1], nms)
    assert code == 1 and "RuntimeError: Couldn't load custom C++ ops." in out, out


def test_without_the_declared_schemas_torchvision_does_not_import(
    client: docker.DockerClient, measured: tuple[Path, str]
) -> None:
    remove = "rm /opt/venv/lib/python3.11/site-packages/torchvision_cpu_schemas.pth &&"
    code, out = python_in(client, measured[1], BUILD_AND_RUN, before=remove)
    assert code == 1 and "RuntimeError: operator torchvision::nms does not exist" in out, out


INPUTS = """
import json, timm, torchvision
tv = {n: list(torchvision.models.get_model_weights(n).DEFAULT.transforms().crop_size) for n in NAMES["torchvision"]}
tm = {n: list(timm.create_model(n, pretrained=False).pretrained_cfg["input_size"][1:]) for n in NAMES["timm"]}
print(json.dumps({"torchvision": tv, "timm": tm, "listed": torchvision.models.list_models(module=torchvision.models)}))
"""


def test_each_entrys_input_is_the_one_its_library_states_and_every_family_is_covered(
    client: docker.DockerClient, measured: tuple[Path, str]
) -> None:
    names = {library: list(libraries.LIBRARIES[library].models) for library in ("torchvision", "timm")}
    code, out = python_in(client, measured[1], f"NAMES = {json.dumps(names)}\n" + INPUTS)
    assert code == 0, out
    stated = json.loads(out.strip().splitlines()[-1])
    for library in ("torchvision", "timm"):
        for name, entry in libraries.LIBRARIES[library].models.items():
            side = stated[library][name]
            assert entry.input[2:] == tuple(side if len(side) == 2 else side * 2), (library, name, side)
    families = {entry.family for entry in libraries.TORCHVISION.values()}
    uncovered = [n for n in stated["listed"] if not any(n.startswith(f) for f in families)]
    assert not uncovered, f"torchvision families with no registry model: {uncovered}"


def test_one_library_model_is_counted_end_to_end(measured: tuple[Path, str]) -> None:
    record = json.loads((measured[0] / CELL / "torchvision-squeezenet1_1" / "torch-flop-counter.json").read_text())
    probe = record["probe"]
    assert record["model"] == "torchvision-squeezenet1_1" and probe["definition"]["python"]
    assert "torchvision:squeezenet1_1, as torchvision builds it" in probe["definition"]["summary"]
    assert 0.3e9 < probe["flops"] / 2 < 0.4e9  # torchvision's stated 0.35 GFLOPs are multiply-adds
