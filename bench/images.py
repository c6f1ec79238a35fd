"""Cell images, tagged by the hash of their inputs so that unchanged cells are never rebuilt."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bench import paths
from bench.bases import ResolvedBase
from bench.cells import Cell
from bench.context import BuildContext
from bench.progress import Heartbeat, say

REPOSITORY = "flops-matrix"
LABEL_CELL = "org.flops-matrix.cell"
LABEL_INPUTS = "org.flops-matrix.inputs-hash"
TAIL_LINES = 30


class BuildFailed(RuntimeError):
    def __init__(self, reason: str, log_tail: str) -> None:
        super().__init__(reason)
        self.log_tail = log_tail


@dataclass(frozen=True)
class CellImage:
    tag: str
    id: str
    built: bool  # False when an image with these inputs already existed
    context: BuildContext
    base: ResolvedBase

    def provenance(self) -> dict[str, object]:
        return {
            "tag": self.tag,
            "id": self.id,
            "inputs_hash": self.context.inputs_hash,
            "wheelhouse_files": list(self.context.wheels),
            "base": self.base.provenance(),
        }


def tag_for(cell: Cell, context: BuildContext) -> str:
    return f"{REPOSITORY}/{cell.name}:{context.inputs_hash[:16]}"


def ensure(
    client: docker.DockerClient, cell: Cell, base: ResolvedBase, context: BuildContext, log_dir: Path = paths.LOGS
) -> CellImage:
    """The cell's image: the existing one for these inputs, or a fresh build with progress lines."""
    tag = tag_for(cell, context)
    try:
        image = client.images.get(tag)
        say(f"image {tag} is up to date", cell.name)
        return CellImage(tag, image.id, False, context, base)
    except docker.errors.ImageNotFound:
        pass
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{cell.name}-{context.inputs_hash[:16]}.build.log"
    say(f"building {tag} from {base.reference} (log: {log_path})", cell.name)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    heartbeat = Heartbeat(cell.name)
    with log_path.open("w") as log, context.tarball() as tarball:
        stream = client.api.build(
            fileobj=tarball,
            custom_context=True,
            tag=tag,
            buildargs=context.buildargs,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels={LABEL_CELL: cell.name, LABEL_INPUTS: context.inputs_hash},
        )
        try:
            for chunk in stream:
                text = str(chunk.get("stream") or chunk.get("status") or "")
                error = chunk.get("error")
                log.write(text + (f"ERROR: {error}\n" if error else ""))
                for line in text.splitlines():
                    if line.strip():
                        tail.append(line.rstrip())
                        if line.startswith("Step "):
                            say(line.strip()[:160], cell.name)
                        else:
                            heartbeat.tick(line.strip())
                if error:
                    raise BuildFailed(f"build failed: {_cause(tail, str(error))}", "\n".join(tail))
        except docker.errors.APIError as error:
            raise BuildFailed(f"build failed: {error.explanation or error}", "\n".join(tail)) from None
    image = client.images.get(tag)
    say(f"built {tag} ({image.attrs.get('Size', 0) / 1e6:,.0f} MB)", cell.name)
    _remove_superseded(client, cell, image.id)
    return CellImage(tag, image.id, True, context, base)


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
    """The last error line the build's own tools printed (pip, apt), else the engine's message."""
    for line in reversed(tail):
        text = line.replace("\x1b[91m", "").replace("\x1b[0m", "").strip()
        if text.startswith(("ERROR:", "E:", "error:")) and "returned a non-zero code" not in text:
            return text[:300]
    return engine_error.strip().splitlines()[-1][:300]
