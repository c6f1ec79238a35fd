"""The matrix's cells, read from docker/cells.toml (the one place they are listed)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench import paths
from bench.probe import catalog


class CellError(ValueError):
    """A cell definition or a request for cells that cannot be honoured."""


@dataclass(frozen=True)
class Base:
    """One way to get a cell's Python: a registry image or a local Debian bootstrap."""

    kind: str  # "registry" or "local"
    python: str = ""
    requirements: str = ""
    image: str = ""  # registry only: e.g. python:3.8-slim
    suite: str = ""  # local only: Debian suite to bootstrap
    unavailable: str = ""  # why this base cannot be had, when it cannot


@dataclass(frozen=True)
class Cell:
    name: str
    framework: str
    counters: tuple[str, ...]
    summary: str
    registry: Base
    local: Base
    checks: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    dockerfile: str = "Dockerfile"

    def base(self, kind: str) -> Base:
        return self.registry if kind == "registry" else self.local

    def jobs(self) -> list[tuple[str, str]]:
        """(kind, name) of what the cell runs per model: its counters, then its checks."""
        return [("count", c) for c in self.counters] + [("check", c) for c in self.checks]


def _base(cell: str, kind: str, raw: dict) -> Base:
    if raw.get("unavailable"):
        return Base(kind=kind, unavailable=raw["unavailable"])
    where = "image" if kind == "registry" else "suite"
    missing = [key for key in ("python", "requirements", where) if not raw.get(key)]
    if missing:
        raise CellError(f"cell {cell}: {kind} base lacks {', '.join(missing)}")
    base = Base(kind=kind, **raw)
    if not (paths.REQUIREMENTS / base.requirements).is_file():
        raise CellError(f"cell {cell}: requirements file docker/requirements/{base.requirements} is missing")
    return base


def _cell(raw: dict) -> Cell:
    name = raw.get("name", "?")
    unknown = [c for c in raw.get("counters", []) if c not in catalog.COUNTERS]
    if unknown:
        raise CellError(f"cell {name}: unknown counters {unknown} (the probe knows {sorted(catalog.COUNTERS)})")
    unknown = [c for c in raw.get("checks", []) if c not in catalog.CHECKS]
    if unknown:
        raise CellError(f"cell {name}: unknown checks {unknown} (the probe knows {sorted(catalog.CHECKS)})")
    if not raw.get("counters") and not raw.get("checks"):
        raise CellError(f"cell {name}: has neither counters nor checks")
    try:
        return Cell(
            name=raw["name"],
            framework=raw["framework"],
            counters=tuple(raw.get("counters", [])),
            summary=raw["summary"],
            checks=tuple(raw.get("checks", [])),
            registry=_base(name, "registry", raw.get("registry", {"unavailable": "no registry base defined"})),
            local=_base(name, "local", raw.get("local", {"unavailable": "no local base defined"})),
            env=dict(raw.get("env", {})),
            dockerfile=raw.get("dockerfile", "Dockerfile"),
        )
    except KeyError as missing:
        raise CellError(f"cell {name}: missing key {missing}") from None


def load(path: Path = paths.CELLS_FILE) -> dict[str, Cell]:
    """All cells, in file order."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    cells: dict[str, Cell] = {}
    for entry in raw.get("cell", []):
        cell = _cell(entry)
        if cell.name in cells:
            raise CellError(f"cell {cell.name} is defined twice in {path.name}")
        cells[cell.name] = cell
    return cells


def order_key(name: str) -> list:
    """Cell names in reading order: tf before torch, versions numerically, `latest` last."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.-]", name)]


def pick(available: dict[str, Cell], names: list[str] | None) -> list[Cell]:
    """The requested cells (all when none are named), or a CellError naming the unknown ones."""
    if not names:
        return list(available.values())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise CellError(f"unknown cell {', '.join(unknown)} (known: {', '.join(available)})")
    return [available[n] for n in names]


def pick_models(names: list[str] | None) -> list[str]:
    if not names:
        return list(catalog.MODELS)
    unknown = [n for n in names if n not in catalog.MODELS]
    if unknown:
        raise CellError(f"unknown model {', '.join(unknown)} (known: {', '.join(catalog.MODELS)})")
    return names
