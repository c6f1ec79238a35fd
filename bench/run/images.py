"""Cell images, tagged by the hash of their declared inputs: never rebuilt when unchanged, and, with a
registry, built once for every engine that can pull."""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bench import paths
from bench.errors import first_line, plain
from bench.progress import Heartbeat, say
from bench.run.bases import ResolvedBase
from bench.run.cells import Cell
from bench.run.context import BuildContext, Declaration

REPOSITORY = "flops-matrix"
LABEL_CELL = "org.flops-matrix.cell"
LABEL_INPUTS = "org.flops-matrix.inputs-hash"
LABEL_BUILD = "org.flops-matrix.build"  # JSON: the base it was built on, the wheel-folder files it took
TAIL_LINES = 30
_REGISTRY = re.compile(r"^[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._-]+)*$")


class BuildFailed(RuntimeError):
    def __init__(self, reason: str, log_tail: str) -> None:
        super().__init__(reason)
        self.log_tail = log_tail


@dataclass(frozen=True)
class CellImage:
    tag: str
    id: str
    origin: str  # "built", "present" (already on the engine) or "pulled"
    declaration: Declaration
    build: dict  # the LABEL_BUILD record: base provenance, wheel-folder files

    @property
    def built(self) -> bool:
        return self.origin == "built"

    def provenance(self) -> dict[str, object]:
        return {
            "tag": self.tag,
            "id": self.id,
            "origin": self.origin,
            "inputs_hash": self.declaration.inputs_hash,
            "wheelhouse_files": list(self.build.get("wheelhouse_files", [])),
            "base": dict(self.build.get("base", {})),
        }


def tag_for(declaration: Declaration) -> str:
    return f"{REPOSITORY}/{declaration.cell}:{declaration.inputs_hash[:16]}"


def check_registry(registry: str) -> str:
    """HOST[:PORT][/PREFIX], lower case, without a scheme: what image references accept."""
    name = registry.rstrip("/")
    if not _REGISTRY.match(name):
        raise ValueError(f"--registry {registry!r}: expected HOST[:PORT][/PREFIX], e.g. localhost:5000/flops-matrix")
    return name


def remote_for(registry: str, declaration: Declaration) -> tuple[str, str]:
    """(repository, tag) of the cell's image in the registry: the full inputs hash is the tag."""
    return f"{registry}/{declaration.cell}", declaration.inputs_hash


def find(client: docker.DockerClient, declaration: Declaration, registry: str | None = None) -> CellImage | None:
    """The image for these declared inputs if the engine has it, or else the registry (pulled); None else."""
    tag = tag_for(declaration)
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return _pull(client, registry, declaration, tag) if registry else None
    say(f"image {tag} is up to date", declaration.cell)
    return _described(image, tag, "present", declaration)


def build(
    client: docker.DockerClient,
    cell: Cell,
    base: ResolvedBase,
    context: BuildContext,
    registry: str | None = None,
    log_dir: Path = paths.LOGS,
) -> CellImage:
    """Build the image (progress lines, the full log under .matrix/logs), drop the cell's superseded
    images, and push it to the registry when one is named."""
    declaration = context.declaration
    tag = tag_for(declaration)
    image = _build(client, cell, base, context, tag, log_dir)
    _remove_superseded(client, cell, image.id)
    if registry:
        _push(client, registry, declaration, image)
    return _described(image, tag, "built", declaration)


def _described(image: docker.models.images.Image, tag: str, origin: str, declaration: Declaration) -> CellImage:
    try:
        build = json.loads((image.labels or {}).get(LABEL_BUILD, "{}"))
    except ValueError:
        build = {}
    return CellImage(tag, image.id, origin, declaration, build if isinstance(build, dict) else {})


def _pull(client: docker.DockerClient, registry: str, declaration: Declaration, tag: str) -> CellImage | None:
    repository, remote_tag = remote_for(registry, declaration)
    try:
        image = client.images.pull(repository, tag=remote_tag)
    except docker.errors.APIError as error:  # not there (or no registry): build it instead
        say(f"not pulled from {registry}: {first_line(error.explanation or error)}", declaration.cell)
        return None
    if (image.labels or {}).get(LABEL_INPUTS) != declaration.inputs_hash:
        say(f"{repository}:{remote_tag} does not carry these inputs' label: building instead", declaration.cell)
        return None
    image.tag(*tag.split(":"))
    say(f"pulled {repository}:{remote_tag[:16]} as {tag}", declaration.cell)
    return _described(client.images.get(tag), tag, "pulled", declaration)


def _push(
    client: docker.DockerClient, registry: str, declaration: Declaration, image: docker.models.images.Image
) -> None:
    repository, remote_tag = remote_for(registry, declaration)
    image.tag(repository, remote_tag)
    for chunk in client.images.push(repository, tag=remote_tag, stream=True, decode=True):
        if chunk.get("error"):
            raise BuildFailed(f"push to {registry} failed: {first_line(chunk['error'])}", "")
    say(f"pushed {repository}:{remote_tag[:16]}", declaration.cell)


def _build(
    client: docker.DockerClient, cell: Cell, base: ResolvedBase, context: BuildContext, tag: str, log_dir: Path
) -> docker.models.images.Image:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{cell.name}-{context.inputs_hash[:16]}.build.log"
    say(f"building {tag} from {base.reference} (log: {log_path})", cell.name)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    heartbeat = Heartbeat(cell.name)
    build = json.dumps({"base": base.provenance(), "wheelhouse_files": list(context.wheels)}, sort_keys=True)
    with log_path.open("w") as log, context.tarball() as tarball:
        stream = client.api.build(
            fileobj=tarball,
            custom_context=True,
            tag=tag,
            buildargs=context.declaration.buildargs,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels={LABEL_CELL: cell.name, LABEL_INPUTS: context.inputs_hash, LABEL_BUILD: build},
        )
        try:
            for chunk in stream:
                text = plain(str(chunk.get("stream") or chunk.get("status") or ""))
                error = chunk.get("error")
                log.write(text + (f"ERROR: {plain(str(error))}\n" if error else ""))
                for line in text.splitlines():
                    if line.strip():
                        tail.append(line.rstrip())
                        if line.startswith("Step "):
                            say(line.strip()[:160], cell.name)
                        else:
                            heartbeat.tick(line.strip())
                if error:
                    raise BuildFailed(f"build failed: {_cause(tail, plain(str(error)))}", "\n".join(tail))
        except docker.errors.APIError as error:
            raise BuildFailed(f"build failed: {plain(str(error.explanation or error))}", "\n".join(tail)) from None
    image = client.images.get(tag)
    say(f"built {tag} ({image.attrs.get('Size', 0) / 1e6:,.0f} MB)", cell.name)
    return image


def _remove_superseded(client: docker.DockerClient, cell: Cell, current: str) -> None:
    """Drop the cell's images built from older inputs: each is gigabytes, and none will be used again."""
    for old in client.images.list(name=f"{REPOSITORY}/{cell.name}"):
        if old.id == current:
            continue
        try:
            client.images.remove(old.id, force=False)
            say(f"removed superseded image {', '.join(old.tags) or old.short_id}", cell.name)
        except docker.errors.APIError as error:  # in use by a container, say: leave it
            say(f"kept superseded image {old.short_id}: {error.explanation or error}", cell.name)


def _cause(tail: deque[str], engine_error: str) -> str:
    """The last error line the build's own tools printed (pip, apt, install-python.sh), else the engine's."""
    for line in reversed(tail):
        text = line.strip()
        if text.startswith(("ERROR:", "E:", "error:")) and "returned a non-zero code" not in text:
            return text[:400]
    return engine_error.strip().splitlines()[-1][:400]
