import hashlib
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from bench import paths
from bench.run import bases, cells, context


def declared(cell: str = "torch-latest", kind: str = "local") -> context.Declaration:
    return context.declare(cells.load()[cell], bases.declare(cells.load()[cell], kind))


@pytest.fixture
def bootstrap(tmp_path: Path) -> Path:
    """A stand-in for the pip wheel cache: a file whose sha256 the test writes into a copy of the lock."""
    folder = tmp_path / "bootstrap"
    folder.mkdir()
    (folder / "pip-24.3.1-py3-none-any.whl").write_bytes(b"pip")
    return folder


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


def test_the_hash_is_made_of_declared_inputs_alone(tmp_path: Path, wheelhouse: Path) -> None:
    """What a machine holds (CA bundle, wheel folder, the base image's id) never changes the hash, so a
    record made on one machine is found on every other; what the repository declares always does."""
    first = declared()
    assert declared().inputs_hash == first.inputs_hash
    ca = tmp_path / "ca.pem"
    ca.write_text("a proxy's CA")
    with_machine = context.assemble(first, ca, [wheelhouse], "amd64", bootstrap=paths.BOOTSTRAP)
    assert with_machine.inputs_hash == first.inputs_hash
    assert declared(kind="registry").inputs_hash != first.inputs_hash
    assert declared("torch-ultralytics-thop").inputs_hash != first.inputs_hash


@pytest.mark.parametrize("name", ["Dockerfile", "install-python.sh", "check-pins.py", "requirements.txt", "debian.txt"])
def test_the_hash_follows_every_declared_file(name: str) -> None:
    first = declared()
    assert context.inputs_hash(first.base, first.buildargs, dict(first.files)) == first.inputs_hash
    changed = dict(first.files) | {name: b"changed"}
    assert context.inputs_hash(first.base, first.buildargs, changed) != first.inputs_hash


def test_the_hash_follows_the_base_declaration() -> None:
    first = declared()
    other = replace(first.base, recipe=first.base.recipe + " --include=x")
    assert context.inputs_hash(other, first.buildargs, dict(first.files)) != first.inputs_hash
    assert context.inputs_hash(first.base, first.buildargs | {"PYTHON": "3.12"}, dict(first.files)) != first.inputs_hash


def _real_sha(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def test_missing_debian_pins_are_refused_naming_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "DEBIAN", tmp_path)
    cell = cells.load()["torch-latest"]
    with pytest.raises(context.ContextError, match="bookworm-python3.11.txt is missing"):
        context.declare(cell, bases.declare(cell, "local"))


def test_the_bootstrap_pip_must_have_a_hash_the_lock_pins(tmp_path: Path, bootstrap: Path) -> None:
    lock = tmp_path / "lock.txt"
    good = _real_sha(b"pip")
    lock.write_text(f"pip==24.3.1 \\\n    --hash=sha256:{good}\n")
    assert context.bootstrap_pip(lock, bootstrap, []) == bootstrap / "pip-24.3.1-py3-none-any.whl"
    lock.write_text("pip==24.3.1\n")
    with pytest.raises(context.ContextError, match="pins no pip with hashes"):
        context.bootstrap_pip(lock, bootstrap, [])


def test_every_lock_pins_every_requirement_with_a_hash() -> None:
    for lock in sorted(paths.REQUIREMENTS.glob("*.txt")):
        entries = context.lock_entries(lock)
        assert {"pip", "setuptools", "wheel"} <= set(entries), lock.name
        unhashed = [name for name, (_, hashes) in entries.items() if not hashes]
        assert not unhashed, f"{lock.name}: {unhashed}"
        assert all(str(r.specifier).startswith("==") for r, _ in entries.values()), lock.name


def test_the_tarball_holds_the_recipe_the_chosen_wheels_and_pip(wheelhouse: Path, tmp_path: Path) -> None:
    lock = paths.REQUIREMENTS / "torch-latest-py311.txt"
    pip_hashes = context.lock_entries(lock)["pip"][1]
    assert pip_hashes
    built = context.assemble(declared(), None, [wheelhouse], "amd64")
    with built.tarball() as handle, tarfile.open(fileobj=handle) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("ca-bundle.crt").read() == b""  # no bundle: the build trusts its own CAs
        pip = next(n for n in names if n.startswith("bootstrap/pip-"))
        assert _real_sha(tar.extractfile(pip).read()) in pip_hashes
    assert {"Dockerfile", "install-python.sh", "check-pins.py", "requirements.txt", "debian.txt", "wheels"} <= names
    assert "wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl" in names
    assert built.declaration.buildargs == {"BASE": "flops-matrix/base:bookworm", "PYTHON": "3.11"}


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
