"""A cell's build context, and the hash of its declared inputs that names the image and keys its records.

The hash covers what the repository declares (the base's declaration, the Dockerfile, the install
script, the lock, the Debian pins), never what a machine makes or holds: the base image's id, the CA
bundle a proxy needs, the wheel folder a file came from, or the pip wheel fetched to bootstrap with
(the lock's hashes pin each of those files). So every machine computes the same hash.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from bench import paths
from bench.run.bases import DeclaredBase
from bench.run.cells import Cell

# Bump when the way images are assembled changes in a way the files do not show.
CONTEXT_VERSION = "2"
_ARCH_SUFFIX = {"amd64": "_x86_64", "arm64": "_aarch64"}


class ContextError(RuntimeError):
    """A build context cannot be assembled (the bootstrap pip cannot be had, say); one line says why."""


@dataclass(frozen=True)
class Declaration:
    """What an image is declared to be built from; `inputs_hash` names it on every machine alike."""

    cell: str
    base: DeclaredBase
    files: dict[str, Path | bytes]  # name in the context -> file to copy, or its content
    buildargs: dict[str, str]
    inputs_hash: str


@dataclass(frozen=True)
class BuildContext:
    declaration: Declaration
    files: dict[str, Path | bytes]  # the declared files plus the machine's: CA bundle, wheels, bootstrap pip
    wheels: tuple[str, ...]  # wheel-folder files copied in

    @property
    def inputs_hash(self) -> str:
        return self.declaration.inputs_hash

    def tarball(self) -> IO[bytes]:
        """The context as an uncompressed tar in a temporary file, ready for the engine."""
        handle = tempfile.TemporaryFile()
        with tarfile.open(fileobj=handle, mode="w") as tar:
            tar.addfile(_dir_entry("wheels"))
            for name, source in sorted(self.files.items()):
                if isinstance(source, Path):
                    tar.add(source, arcname=name, recursive=False)
                else:
                    info = tarfile.TarInfo(name)
                    info.size = len(source)
                    info.mode = 0o644
                    tar.addfile(info, io.BytesIO(source))
        handle.seek(0)
        return handle


def ca_bundle_from_env(explicit: str | None) -> Path | None:
    """The CA bundle builds should trust: the option's, else SSL_CERT_FILE's, else PIP_CERT's."""
    for origin, value in (
        ("--ca-bundle", explicit),
        ("SSL_CERT_FILE", os.environ.get("SSL_CERT_FILE")),
        ("PIP_CERT", os.environ.get("PIP_CERT")),
    ):
        if value:
            path = Path(value)
            if not path.is_file():
                raise FileNotFoundError(f"CA bundle {value} (from {origin}) is not a file")
            return path
    return None


def lock_entries(requirements: Path) -> dict[str, tuple[Requirement, tuple[str, ...]]]:
    """name -> (requirement, its sha256 hashes) for each requirement of a lock (continuation lines joined)."""
    found: dict[str, tuple[Requirement, tuple[str, ...]]] = {}
    logical = requirements.read_text().replace("\\\n", " ")
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        words = line.split()
        hashes = tuple(w.split(":", 1)[1] for w in words[1:] if w.startswith("--hash=sha256:"))
        try:
            requirement = Requirement(words[0])
        except InvalidRequirement as error:
            raise ValueError(f"{requirements.name}: cannot read {words[0]!r}: {error}") from None
        found[canonicalize_name(requirement.name)] = (requirement, hashes)
    return found


def pins(requirements: Path) -> dict[str, Requirement]:
    """name -> requirement for each line of a pinned requirements file."""
    return {name: requirement for name, (requirement, _) in lock_entries(requirements).items()}


def wheels_for(requirements: Path, python: str, arch: str, wheelhouses: list[Path]) -> list[Path]:
    """Wheelhouse files that satisfy a pin and install on this Python and machine."""
    wanted = pins(requirements)
    cp = "cp" + python.replace(".", "")
    interpreters = {cp, "py" + python.split(".")[0], "py" + python.replace(".", "")}
    abis = {cp, cp + "m", cp + "mu", "abi3", "none"}
    suffix = _ARCH_SUFFIX.get(arch, "_" + arch)
    chosen = []
    for house in wheelhouses:
        for wheel in sorted(house.glob("*.whl")):
            try:
                name, version, _build, tags = parse_wheel_filename(wheel.name)
            except InvalidWheelFilename:
                continue
            pin = wanted.get(name)
            if pin is None or not pin.specifier.contains(version, prereleases=True):
                continue
            if any(
                t.interpreter in interpreters and t.abi in abis and (t.platform == "any" or t.platform.endswith(suffix))
                for t in tags
            ):
                chosen.append(wheel)
    return chosen


def declare(cell: Cell, base: DeclaredBase) -> Declaration:
    """The cell's declared inputs on this base, and their hash: no engine, no network."""
    debian = base.debian_pins.read_bytes() if base.debian_pins and base.debian_pins.is_file() else b""
    if base.debian_pins and not debian:
        raise ContextError(f"{base.debian_pins} is missing: make the Debian pins with nox -s lock")
    files: dict[str, Path | bytes] = {
        "Dockerfile": paths.DOCKER / cell.dockerfile,
        "install-python.sh": paths.DOCKER / "install-python.sh",
        "check-pins.py": paths.DOCKER / "check-pins.py",
        "requirements.txt": paths.REQUIREMENTS / base.requirements,
        "debian.txt": debian,
    }
    buildargs = {"BASE": base.reference, "PYTHON": base.python}
    return Declaration(cell.name, base, files, buildargs, inputs_hash(base, buildargs, files))


def inputs_hash(base: DeclaredBase, buildargs: dict[str, str], files: dict[str, Path | bytes]) -> str:
    digest = hashlib.sha256(f"context {CONTEXT_VERSION}\nbase {base.kind} {base.recipe}\n".encode())
    for key, value in sorted(buildargs.items()):
        digest.update(f"arg {key}={value}\n".encode())
    for name, source in sorted(files.items()):
        digest.update(f"file {name} {_sha256(source)}\n".encode())
    return digest.hexdigest()


def assemble(
    declaration: Declaration,
    ca_bundle: Path | None,
    wheelhouses: list[Path],
    arch: str,
    bootstrap: Path = paths.BOOTSTRAP,
) -> BuildContext:
    """The declared files plus what this machine brings: the CA bundle, wheel-folder files that match
    the lock, and PyPI's wheel of the pip the lock pins (fetched once, checked against the lock)."""
    requirements = paths.REQUIREMENTS / declaration.base.requirements
    wheels = wheels_for(requirements, declaration.base.python, arch, wheelhouses)
    pip = bootstrap_pip(requirements, bootstrap, wheelhouses)
    files = dict(declaration.files) | {
        "ca-bundle.crt": ca_bundle if ca_bundle else b"",
        f"bootstrap/{pip.name}": pip,
    }
    files.update({f"wheels/{wheel.name}": wheel for wheel in wheels})
    return BuildContext(declaration, files, tuple(w.name for w in wheels))


def bootstrap_pip(requirements: Path, cache: Path, wheelhouses: list[Path]) -> Path:
    """PyPI's wheel of the pip that the lock pins, whose hash the lock holds: from a wheel folder or the
    cache, else downloaded by the host's pip (from the index the user configured) into the cache."""
    entry = lock_entries(requirements).get("pip")
    if entry is None or not entry[1]:
        raise ContextError(f"{requirements.name} pins no pip with hashes: run nox -s lock")
    requirement, hashes = entry
    version = next(iter(requirement.specifier)).version
    for folder in [cache, *wheelhouses]:
        for wheel in sorted(folder.glob(f"pip-{version}-*.whl")):
            if _sha256(wheel) in hashes:
                return wheel
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", tmp]
        run = subprocess.run([*command, f"pip=={version}"], capture_output=True, text=True)
        got = sorted(Path(tmp).glob(f"pip-{version}-*.whl"))
        if run.returncode != 0 or not got:
            tail = " | ".join(run.stderr.strip().splitlines()[-2:])
            raise ContextError(f"cannot download pip=={version} to bootstrap the image with: {tail}")
        if _sha256(got[0]) not in hashes:
            raise ContextError(f"{got[0].name}: its sha256 is not among the hashes {requirements.name} pins")
        target = cache / got[0].name
        os.replace(got[0], target)
        return target


def _sha256(source: Path | bytes) -> str:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dir_entry(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info
