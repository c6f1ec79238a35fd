"""Base images: the registry's `python:X-slim`, or Debian bootstrapped here with mmdebstrap.

A base is declared (`declare`: what FROM names, which Python, which pins, how it is made) apart from
the image an engine holds for it (`Bases.resolve`): records and images are keyed by the declaration,
which every machine computes alike, and the made image's id and date are provenance only.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import docker
import docker.errors

from bench import paths
from bench.errors import first_line
from bench.progress import say
from bench.run.cells import Base, Cell

MODES = ("auto", "registry", "local")
DEFAULT_MIRROR: str | None = None  # mmdebstrap's own default
LOCAL_REPOSITORY = "flops-matrix/base"
RECIPE_LABEL = "org.flops-matrix.base.recipe"
BOOTSTRAP = ("mmdebstrap", "--variant=minbase")


def kinds(mode: str) -> tuple[str, ...]:
    """The kinds of base a mode allows, in the order they are tried."""
    if mode not in MODES:
        raise ValueError(f"base mode {mode!r} is not one of {', '.join(MODES)}")
    return {"auto": ("registry", "local"), "registry": ("registry",), "local": ("local",)}[mode]


@dataclass(frozen=True)
class DeclaredBase:
    """A base as cells.toml and docker/ declare it: the same on every machine."""

    kind: str
    reference: str  # what the Dockerfile's FROM names
    python: str
    requirements: str  # the lock under docker/requirements/
    recipe: str  # how it is made, without when or where
    debian_pins: Path | None  # the Debian packages the image installs, pinned (local bases)


def declare(cell: Cell, kind: str) -> DeclaredBase:
    """The cell's base of this kind; BaseUnavailable where cells.toml says it cannot be had."""
    base = cell.base(kind)
    if base.unavailable:
        raise BaseUnavailable(base.unavailable)
    if kind == "registry":
        return DeclaredBase(kind, base.image, base.python, base.requirements, f"registry image {base.image}", None)
    recipe = f"{' '.join(BOOTSTRAP)} {base.suite}, docker import"
    pins = paths.DEBIAN / f"{base.suite}-python{base.python}.txt"
    return DeclaredBase(kind, f"{LOCAL_REPOSITORY}:{base.suite}", base.python, base.requirements, recipe, pins)


class BaseUnavailable(RuntimeError):
    """Neither base a cell allows can be had here; the message says why."""


@dataclass(frozen=True)
class ResolvedBase:
    kind: str
    reference: str  # what the Dockerfile's FROM names
    image_id: str
    recipe: str  # how the image came to be: pulled from where, or bootstrapped how

    def provenance(self) -> dict[str, str]:
        return {"kind": self.kind, "reference": self.reference, "id": self.image_id, "recipe": self.recipe}


class Bases:
    """Finds or makes each cell's base image once per matrix run."""

    def __init__(self, client: docker.DockerClient, mode: str, mirror: str | None) -> None:
        kinds(mode)  # refuses an unknown mode
        self._client = client
        self._mode = mode
        self._mirror = mirror
        self._registry_error = ""  # set once a pull has failed: do not wait on it again

    def resolve(self, cell: Cell) -> ResolvedBase:
        allowed = kinds(self._mode)
        reasons = []
        for kind in allowed:
            base = cell.base(kind)
            try:
                if base.unavailable:
                    raise BaseUnavailable(base.unavailable)
                return self._registry(base) if kind == "registry" else self._local(base)
            except BaseUnavailable as why:
                reasons.append(f"{kind} base: {why}")
                if kind != allowed[-1]:
                    say(f"no {kind} base: {why}", cell.name)
        raise BaseUnavailable("; ".join(reasons))

    def _registry(self, base: Base) -> ResolvedBase:
        try:
            image = self._client.images.get(base.image)
            recipe = f"registry image {base.image}, already present"
        except docker.errors.ImageNotFound:
            if self._registry_error:
                raise BaseUnavailable(f"{base.image} not pulled: {self._registry_error}") from None
            say(f"pulling {base.image}")
            try:
                image = self._client.images.pull(base.image)
            except docker.errors.NotFound as error:
                raise BaseUnavailable(f"{base.image} not pulled: {first_line(error.explanation or error)}") from None
            except docker.errors.APIError as error:
                self._registry_error = f"the registry did not answer ({first_line(error.explanation or error)})"
                raise BaseUnavailable(f"{base.image} not pulled: {self._registry_error}") from None
            recipe = f"registry image {base.image}, pulled"
        digests = image.attrs.get("RepoDigests") or []
        if digests:
            recipe += f" ({digests[0]})"
        return ResolvedBase("registry", base.image, image.id, recipe)

    def _local(self, base: Base) -> ResolvedBase:
        reference = self.local_image(base.suite)
        image = self._client.images.get(reference)
        recipe = image.labels.get(RECIPE_LABEL, "local image of unknown origin")
        return ResolvedBase("local", reference, image.id, recipe)

    def local_image(self, suite: str) -> str:
        """The local base of this Debian suite, bootstrapped when the engine lacks it."""
        reference = f"{LOCAL_REPOSITORY}:{suite}"
        try:
            self._client.images.get(reference)
        except docker.errors.ImageNotFound:
            self._bootstrap(suite, reference)
        return reference

    def _bootstrap(self, suite: str, reference: str) -> docker.models.images.Image:
        if shutil.which("mmdebstrap") is None:
            raise BaseUnavailable(f"{reference} is missing and mmdebstrap is not installed; run docker/setup-host.sh")
        command = [*BOOTSTRAP, suite]
        mirror = [self._mirror] if self._mirror else []  # else mmdebstrap's own default
        when = datetime.now(timezone.utc)
        recipe = f"{' '.join([*command, '<tar>', *mirror])} at {when:%Y-%m-%dT%H:%MZ}, docker import"
        say(f"bootstrapping {reference} with mmdebstrap" + (f" ({self._mirror})" if mirror else ""))
        with tempfile.TemporaryDirectory(prefix="flops-matrix-base-") as tmp:
            tarball = Path(tmp) / f"{suite}.tar"
            run = subprocess.run([*command, str(tarball), *mirror], capture_output=True, text=True)
            if run.returncode != 0:
                tail = " | ".join(run.stderr.strip().splitlines()[-3:])
                raise BaseUnavailable(f"mmdebstrap {suite} failed (exit {run.returncode}): {tail}")
            repository, tag = reference.split(":")
            self._client.api.import_image(
                src=str(tarball), repository=repository, tag=tag, changes=[f'LABEL {RECIPE_LABEL}="{recipe}"']
            )
        return self._client.images.get(reference)
