"""A cell's build context, and the hash of everything in it that names the image."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from bench import paths
from bench.bases import ResolvedBase
from bench.cells import Cell

# Bump when the way images are assembled changes in a way the files do not show.
CONTEXT_VERSION = "1"
_ARCH_SUFFIX = {"amd64": "_x86_64", "arm64": "_aarch64"}


@dataclass(frozen=True)
class BuildContext:
    files: dict[str, Path | bytes]  # name in the context -> file to copy, or its content
    buildargs: dict[str, str]
    inputs_hash: str
    wheels: tuple[str, ...]  # wheelhouse files copied in

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


def pins(requirements: Path) -> dict[str, Requirement]:
    """name -> requirement for each line of a pinned requirements file."""
    found: dict[str, Requirement] = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise ValueError(f"{requirements.name}: cannot read {line!r}: {error}") from None
        found[canonicalize_name(requirement.name)] = requirement
    return found


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


def assemble(
    cell: Cell, base: ResolvedBase, ca_bundle: Path | None, wheelhouses: list[Path], arch: str
) -> BuildContext:
    requirements = paths.REQUIREMENTS / base.requirements
    wheels = wheels_for(requirements, base.python, arch, wheelhouses)
    files: dict[str, Path | bytes] = {
        "Dockerfile": paths.DOCKER / cell.dockerfile,
        "install-python.sh": paths.DOCKER / "install-python.sh",
        "check-pins.py": paths.DOCKER / "check-pins.py",
        "requirements.txt": requirements,
        "ca-bundle.crt": ca_bundle if ca_bundle else b"",
    }
    files.update({f"wheels/{wheel.name}": wheel for wheel in wheels})
    buildargs = {"BASE": base.reference, "PYTHON": base.python}
    digest = hashlib.sha256(f"context {CONTEXT_VERSION}\nbase {base.image_id}\n".encode())
    for key, value in sorted(buildargs.items()):
        digest.update(f"arg {key}={value}\n".encode())
    for name, source in sorted(files.items()):
        digest.update(f"file {name} {_sha256(source)}\n".encode())
    return BuildContext(files, buildargs, digest.hexdigest(), tuple(w.name for w in wheels))


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
