import os
import tarfile
from pathlib import Path

import pytest

from bench import cells, context, paths
from bench.bases import ResolvedBase


def base(requirements: str = "torch-latest-py311.txt", image_id: str = "sha256:aaa") -> ResolvedBase:
    return ResolvedBase("local", "flops-matrix/base:bookworm", image_id, "3.11", requirements, "test")


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    # Empty files named like wheels: only the names matter to the selection.
    for name in [
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",  # pinned, right Python and machine
        "torch-2.13.0-cp310-cp310-manylinux_2_28_x86_64.whl",  # wrong Python
        "torch-2.13.0-cp311-cp311-manylinux_2_28_aarch64.whl",  # wrong machine
        "torch-2.12.0-cp311-cp311-manylinux_2_28_x86_64.whl",  # not the pinned version
        "thop-0.1.1.post2209072238-py3-none-any.whl",  # pinned, pure Python
        "six-1.17.0-py2.py3-none-any.whl",  # not pinned at all
        "not-a-wheel.whl",
    ]:
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def test_pins_reads_names_and_versions() -> None:
    pins = context.pins(paths.REQUIREMENTS / "tf-1.12.0-py27.txt")
    assert str(pins["tensorflow"].specifier) == "==1.12.0"
    assert "keras-applications" in pins  # names are canonical


def test_a_wheelhouse_gives_only_pinned_wheels_for_this_python_and_machine(wheelhouse: Path) -> None:
    chosen = context.wheels_for(paths.REQUIREMENTS / "torch-latest-py311.txt", "3.11", "amd64", [wheelhouse])
    assert sorted(w.name for w in chosen) == [
        "thop-0.1.1.post2209072238-py3-none-any.whl",
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
    ]


def test_python_2_takes_cp27mu_and_universal_wheels(tmp_path: Path) -> None:
    (tmp_path / "tensorflow-1.12.0-cp27-cp27mu-manylinux1_x86_64.whl").write_bytes(b"")
    (tmp_path / "six-1.17.0-py2.py3-none-any.whl").write_bytes(b"")
    (tmp_path / "tensorboard-1.12.2-py3-none-any.whl").write_bytes(b"")
    chosen = context.wheels_for(paths.REQUIREMENTS / "tf-1.12.0-py27.txt", "2.7", "amd64", [tmp_path])
    assert sorted(w.name for w in chosen) == [
        "six-1.17.0-py2.py3-none-any.whl",
        "tensorflow-1.12.0-cp27-cp27mu-manylinux1_x86_64.whl",
    ]


def test_the_hash_follows_every_input(tmp_path: Path, wheelhouse: Path) -> None:
    cell = cells.load()["torch-latest"]
    ca = tmp_path / "ca.pem"
    ca.write_text("one")
    first = context.assemble(cell, base(), ca, [wheelhouse], "amd64")
    assert context.assemble(cell, base(), ca, [wheelhouse], "amd64").inputs_hash == first.inputs_hash
    ca.write_text("two")
    assert context.assemble(cell, base(), ca, [wheelhouse], "amd64").inputs_hash != first.inputs_hash
    assert context.assemble(cell, base(image_id="sha256:bbb"), ca, [], "amd64").inputs_hash != first.inputs_hash
    assert context.assemble(cell, base(), ca, [], "amd64").inputs_hash != first.inputs_hash
    (wheelhouse / "thop-0.1.1.post2209072238-py3-none-any.whl").write_bytes(b"changed")
    assert context.assemble(cell, base(), ca, [wheelhouse], "amd64").inputs_hash != first.inputs_hash


def test_the_tarball_holds_the_recipe_and_the_chosen_wheels(wheelhouse: Path) -> None:
    built = context.assemble(cells.load()["torch-latest"], base(), None, [wheelhouse], "amd64")
    with built.tarball() as handle, tarfile.open(fileobj=handle) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("ca-bundle.crt").read() == b""  # no bundle: the build trusts its own CAs
    assert {"Dockerfile", "install-python.sh", "check-pins.py", "requirements.txt", "wheels"} <= names
    assert "wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl" in names
    assert built.buildargs == {"BASE": "flops-matrix/base:bookworm", "PYTHON": "3.11"}


def test_ca_bundle_comes_from_the_option_then_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("x")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("PIP_CERT", str(bundle))
    assert context.ca_bundle_from_env(None) == bundle
    monkeypatch.delenv("PIP_CERT")
    assert context.ca_bundle_from_env(None) is None
    with pytest.raises(FileNotFoundError, match="from --ca-bundle"):
        context.ca_bundle_from_env(os.fspath(tmp_path / "missing.pem"))
