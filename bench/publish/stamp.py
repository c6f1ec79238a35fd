"""The report's inputs stamp: a matrix run that changed no record, under the code that wrote the report,
leaves the report alone (rewriting it would give the same bytes, minutes later on a fresh machine)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench import paths

NAME = ".report-inputs.sha256"
_CODE = ("bench/**/*.py", "bench/schema/*.json", "docker/cells.toml", "models/*")


def digest(where: Path, convention: str) -> str:
    """The hash of every record under `where`, the code and files the report reads, and the convention."""
    hashed = hashlib.sha256(f"convention {convention}\n".encode())
    for pattern in _CODE:
        for path in sorted(paths.ROOT.glob(pattern)):
            if path.is_file():
                hashed.update(f"{path.relative_to(paths.ROOT)} {_sha256(path)}\n".encode())
    for path in sorted(where.glob("*/*/*.json")):
        hashed.update(f"{path.relative_to(where)} {_sha256(path)}\n".encode())
    return hashed.hexdigest()


def current(where: Path) -> str:
    try:
        return (where / NAME).read_text().strip()
    except OSError:
        return ""


def write(where: Path, value: str) -> None:
    (where / NAME).write_text(value + "\n")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
